// Delivery scenarios (issue 5) for the Go client: compat-go core-<case> [flags], the same cases
// and checks as java/src/main/java/compat/CoreDelivery.java where the Go client v2.1.2 has the
// feature (it has no message query API, so no core-queries):
//
//	core-retry-dlq     ConsumeRetryLater: reconsume times 0, 1, 2, then the message is in %DLQ%<group>
//	                   with its origin (the Go client sends its MaxReconsumeTimes, 2, in the send-back)
//	core-delay         delay levels 1 and 2 (1 s, 2 s in the harness's broker.conf) arrive on time
//	core-transaction   NewTransactionProducer: commit, rollback, unknown then commit on check
//	core-orderly-lock  two orderly push consumers in one group; the second joins after the first
//	                   consumed half: the Go client does not unlock the queues it gives up, so the
//	                   broker must refuse the second one's locks (60 s lock life): only the first
//	                   consumes, from the queues it kept, every key in order
package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

func init() {
	coreScenarios["core-retry-dlq"] = coreRetryDlq
	coreScenarios["core-delay"] = coreDelay
	coreScenarios["core-transaction"] = coreTransaction
	coreScenarios["core-orderly-lock"] = coreOrderlyLock
}

// retryKind: 0 = always ConsumeRetryLater, 1 = once, 2 = success.
func retryKind(i int) int {
	switch i % 4 {
	case 0:
		return 0
	case 1:
		return 1
	}
	return 2
}

func coreRetryDlq(o coreOpts) error {
	const maxTimes = 2
	n := o.n
	topic := "core_retry_go_" + o.run
	group := "GID_" + topic
	if err := coreCreateTopic(o, topic, 2); err != nil {
		return err
	}
	// The retry topic exists before the consumer starts: the Go client fetches routes every 30 s
	// only, so a retry topic the broker creates at the first heartbeat would be pulled from 30 s
	// later (the Java 4.9.8 scenario covers that creation).
	if err := coreCreateTopic(o, "%RETRY%"+group, 1); err != nil {
		return err
	}
	var mu sync.Mutex
	seen := map[int][]int{}
	var problems []string
	c, err := corePushConsumer(o, group, "core-consumer-"+o.run, consumer.WithMaxReconsumeTimes(maxTimes),
		consumer.WithConsumeMessageBatchMaxSize(1))
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		result := consumer.ConsumeSuccess
		for _, m := range msgs {
			idx := coreIndex(m, o.run)
			if idx < 0 || idx >= n {
				problems = append(problems, fmt.Sprintf("foreign message %v", m))
				continue
			}
			if string(m.Body) != coreBody(o.run, idx) || m.Topic != topic {
				problems = append(problems, fmt.Sprintf("message %d (reconsume %d): topic %q body %q", idx,
					m.ReconsumeTimes, m.Topic, m.Body))
			}
			seen[idx] = append(seen[idx], int(m.ReconsumeTimes))
			kind := retryKind(idx)
			if kind == 0 || (kind == 1 && m.ReconsumeTimes == 0) {
				result = consumer.ConsumeRetryLater
			}
		}
		return result, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	sent := map[int]*primitive.SendResult{}
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, "R"))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
		sent[i] = res
	}
	t0 := time.Now()
	fmt.Printf("sent %d messages\n", n)
	expected := func(i int) []int {
		k := map[int]int{0: maxTimes + 1, 1: 2, 2: 1}[retryKind(i)]
		out := make([]int, k)
		for t := range out {
			out[t] = t
		}
		return out
	}
	done := waitFor(o.deadline, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := 0; i < n; i++ {
			if len(seen[i]) < len(expected(i)) {
				return false
			}
		}
		return true
	})
	fmt.Printf("deliveries complete after %d ms: %v\n", time.Since(t0).Milliseconds(), done)
	time.Sleep(1500 * time.Millisecond) // a further delivery would show up now (retry levels are 1 s)
	mu.Lock()
	if len(problems) > 0 {
		mu.Unlock()
		return fmt.Errorf("%d bad deliveries, first: %s", len(problems), problems[0])
	}
	for i := 0; i < n; i++ {
		if fmt.Sprint(seen[i]) != fmt.Sprint(expected(i)) {
			mu.Unlock()
			return fmt.Errorf("message %d: reconsumeTimes seen %v, expected %v (all arrived: %v)", i, seen[i], expected(i), done)
		}
	}
	fmt.Printf("consumer saw reconsumeTimes counting up: %v\n", seen)
	mu.Unlock()

	dlq := "%DLQ%" + group
	want := 0
	for i := 0; i < n; i++ {
		if retryKind(i) == 0 {
			want++
		}
	}
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName("core-dlq-reader-"+o.run),
		consumer.WithInstance("core-dlq-"+o.run),
	)
	if err != nil {
		return fmt.Errorf("new pull consumer: %w", err)
	}
	// Start needs a subscription (for the route of the DLQ topic, registered by the broker when it
	// created it).
	if err := pc.Subscribe(dlq, consumer.MessageSelector{}); err != nil {
		return fmt.Errorf("subscribe to %s: %w", dlq, err)
	}
	if err := pc.Start(); err != nil {
		return fmt.Errorf("pull consumer start: %w", err)
	}
	mq := primitive.MessageQueue{Topic: dlq, BrokerName: o.brokerName, QueueId: 0}
	inDlq := map[int]*primitive.MessageExt{}
	var off int64
	var last error
	for len(inDlq) < want && time.Now().Before(o.deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := pc.PullFrom(ctx, &mq, off, 32)
		cancel()
		if err != nil || res.Status != primitive.PullFound {
			last = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, m := range res.GetMessageExts() {
			idx := coreIndex(m, o.run)
			if idx < 0 || retryKind(idx) != 0 {
				return fmt.Errorf("DLQ holds message %d (%v)", idx, m)
			}
			if inDlq[idx] != nil {
				return fmt.Errorf("DLQ holds message %d twice", idx)
			}
			inDlq[idx] = m
		}
		off = res.NextBeginOffset
	}
	if len(inDlq) != want {
		return fmt.Errorf("DLQ holds %d messages, expected %d (last pull error: %v)", len(inDlq), want, last)
	}
	for idx, m := range inDlq {
		s := sent[idx]
		var bad []string
		if string(m.Body) != coreBody(o.run, idx) {
			bad = append(bad, "body")
		}
		if m.Topic != dlq {
			bad = append(bad, "topic "+m.Topic)
		}
		if m.GetProperty("RETRY_TOPIC") != topic {
			bad = append(bad, "RETRY_TOPIC "+m.GetProperty("RETRY_TOPIC"))
		}
		if m.GetProperty("ORIGIN_MESSAGE_ID") != s.OffsetMsgID {
			bad = append(bad, fmt.Sprintf("ORIGIN_MESSAGE_ID %s, the original's offsetMsgId is %s",
				m.GetProperty("ORIGIN_MESSAGE_ID"), s.OffsetMsgID))
		}
		if m.GetProperty("UNIQ_KEY") != s.MsgID {
			bad = append(bad, fmt.Sprintf("UNIQ_KEY %s, sent as %s", m.GetProperty("UNIQ_KEY"), s.MsgID))
		}
		if m.ReconsumeTimes != maxTimes+1 {
			bad = append(bad, fmt.Sprintf("reconsumeTimes %d", m.ReconsumeTimes))
		}
		if m.GetProperty("c-utf8") != coreUTF8Value {
			bad = append(bad, "c-utf8 "+m.GetProperty("c-utf8"))
		}
		if len(bad) > 0 {
			return fmt.Errorf("DLQ message %d: %v", idx, bad)
		}
	}
	fmt.Printf("consumed; %d messages in %s with their origin\n", want, dlq)
	return nil
}

func coreDelay(o coreOpts) error {
	n := o.n
	levelMs := []int64{0, 1000, 2000}
	const tolerance = 4000
	topic := "core_delay_go_" + o.run
	tagOf := func(i int) string { return fmt.Sprintf("D%d", i%3) }
	if err := coreCreateTopic(o, topic, 2); err != nil {
		return err
	}
	tally := newTally(topic, o.run, n, tagOf, o.broker, nil)
	var mu sync.Mutex
	arrived := map[int]int64{}
	c, err := corePushConsumer(o, "GID_"+topic, "core-consumer-"+o.run)
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		now := time.Now().UnixMilli()
		for _, m := range msgs {
			if idx := tally.accept(m); idx >= 0 {
				mu.Lock()
				if _, ok := arrived[idx]; !ok {
					arrived[idx] = now
				}
				mu.Unlock()
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	if !waitFor(o.deadline, func() bool { return len(heldQueues(c, topic)) == 2 }) {
		return fmt.Errorf("consumer never got its queues")
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	sentAt := map[int]int64{}
	for i := 0; i < n; i++ {
		m := coreMessage(topic, o.run, i, tagOf(i))
		if i%3 > 0 {
			m.WithDelayTimeLevel(i % 3)
		}
		sentAt[i] = time.Now().UnixMilli()
		res, err := p.SendSync(context.Background(), m)
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
	}
	fmt.Printf("sent %d messages with delay levels 0, 1, 2\n", n)
	all := waitFor(o.deadline, func() bool { return tally.distinct() >= n })
	time.Sleep(500 * time.Millisecond)
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	if !all {
		return fmt.Errorf("consumed %d of %d: missing %s", tally.distinct(), n, tally.missing(rangeInts(0, n)))
	}
	if d := tally.duplicates(); d != "" {
		return fmt.Errorf("delivered more than once: %s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	var lat []string
	for i := 0; i < n; i++ {
		took := arrived[i] - sentAt[i]
		want := levelMs[i%3]
		lat = append(lat, fmt.Sprintf("%d:%d", i, took))
		if took < want-50 {
			return fmt.Errorf("message %d (level %d, %d ms) arrived after %d ms: too early", i, i%3, want, took)
		}
		if took > want+tolerance {
			return fmt.Errorf("message %d (level %d, %d ms) arrived after %d ms: too late", i, i%3, want, took)
		}
	}
	fmt.Printf("consumed %d delayed messages, ms after send: %v\n", n, lat)
	return nil
}

// txListener answers by message index: i%3 == 0 commit, 1 rollback, 2 unknown (commit when checked).
type txListener struct {
	run    string
	n      int
	topic  string
	mu     sync.Mutex
	checks map[int]int
	bad    []string
}

func (l *txListener) index(m *primitive.Message) int {
	i, err := strconv.Atoi(m.GetProperty("c-idx"))
	if err != nil || m.GetProperty("c-run") != l.run || i < 0 || i >= l.n {
		return -1
	}
	return i
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch l.index(m) % 3 {
	case 0:
		return primitive.CommitMessageState
	case 1:
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	i := l.index(&m.Message)
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 {
		l.bad = append(l.bad, fmt.Sprintf("check of a foreign message %v", m))
		return primitive.UnknowState
	}
	l.checks[i]++
	if m.Topic != l.topic || string(m.Body) != coreBody(l.run, i) {
		l.bad = append(l.bad, fmt.Sprintf("check of message %d: topic %q body %q", i, m.Topic, m.Body))
	}
	if i%3 == 1 {
		return primitive.RollbackMessageState
	}
	return primitive.CommitMessageState
}

func coreTransaction(o coreOpts) error {
	n := o.n
	topic := "core_tx_go_" + o.run
	tagOf := func(i int) string { return fmt.Sprintf("T%d", i%3) }
	if err := coreCreateTopic(o, topic, 2); err != nil {
		return err
	}
	l := &txListener{run: o.run, n: n, topic: topic, checks: map[int]int{}}
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNameServer([]string{o.ns}),
		producer.WithGroupName("PG_"+topic),
		producer.WithInstanceName("core-tx-producer-"+o.run),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("new transaction producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return fmt.Errorf("transaction producer start: %w", err)
	}
	tally := newTally(topic, o.run, n, tagOf, o.broker, nil)
	c, err := corePushConsumer(o, "GID_"+topic, "core-consumer-"+o.run)
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			tally.accept(m)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	states := map[int]primitive.LocalTransactionState{0: primitive.CommitMessageState, 1: primitive.RollbackMessageState,
		2: primitive.UnknowState}
	for i := 0; i < n; i++ {
		res, err := p.SendMessageInTransaction(context.Background(), coreMessage(topic, o.run, i, tagOf(i)))
		if err != nil {
			return fmt.Errorf("transactional send %d: %w", i, err)
		}
		if res.SendResult == nil || res.Status != primitive.SendOK || res.MessageQueue == nil || res.MessageQueue.Topic != topic {
			return fmt.Errorf("transactional send %d: %v", i, res)
		}
		if res.State != states[i%3] {
			return fmt.Errorf("transactional send %d: local state %v", i, res.State)
		}
	}
	fmt.Printf("sent %d transactional messages: commit, rollback, unknown\n", n)
	var committed []int
	for i := 0; i < n; i++ {
		if i%3 != 1 {
			committed = append(committed, i)
		}
	}
	all := waitFor(o.deadline, func() bool { return tally.distinct() >= len(committed) || tally.hasProblems() })
	time.Sleep(2500 * time.Millisecond)
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		return fmt.Errorf("%d bad checks, first: %s", len(l.bad), l.bad[0])
	}
	if !all {
		return fmt.Errorf("consumed %d of the %d committed: missing %s", tally.distinct(), len(committed), tally.missing(committed))
	}
	for i := 0; i < n; i++ {
		if tally.has(i) != (i%3 != 1) {
			return fmt.Errorf("message %d (kind %d) consumed: %v", i, i%3, tally.has(i))
		}
		if (i%3 == 2) != (l.checks[i] > 0) {
			return fmt.Errorf("message %d (kind %d) checked %d times", i, i%3, l.checks[i])
		}
	}
	if d := tally.duplicates(); d != "" {
		return fmt.Errorf("delivered more than once: %s", d)
	}
	fmt.Printf("consumed the %d committed once, none rolled back; checks: %v\n", len(committed), l.checks)
	return nil
}

func coreOrderlyLock(o coreOpts) error {
	const queues = 4
	n, keys := o.n, o.keys
	topic := "core_orderly2_go_" + o.run
	group := "GID_" + topic
	tagOf := func(i int) string { return fmt.Sprintf("O%d", i%keys) }
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run, producer.WithQueueSelector(keySelector{keys}))
	if err != nil {
		return err
	}
	tally := newTally(topic, o.run, n, tagOf, o.broker, nil)
	var mu sync.Mutex
	nextSeq := map[int]int{}
	queuesOf := map[string]map[int]bool{"A": {}, "B": {}}
	var cs [2]rocketmq.PushConsumer
	var keptA, heldB []int
	for k, who := range []string{"A", "B"} {
		who := who
		c, err := corePushConsumer(o, group, "core-consumer-"+who+"-"+o.run, consumer.WithConsumerOrder(true),
			consumer.WithConsumeMessageBatchMaxSize(2))
		if err != nil {
			return err
		}
		err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			q := queueOf(msgs[0])
			for _, m := range msgs {
				idx := tally.accept(m)
				if idx < 0 {
					continue
				}
				key, seq := idx%keys, idx/keys
				mu.Lock()
				want := nextSeq[key]
				if seq != want {
					tally.addProblem(fmt.Sprintf("key %d: consumer %s got its message #%d when #%d was due", key, who, seq, want))
				}
				nextSeq[key] = seq + 1
				mu.Unlock()
			}
			time.Sleep(time.Duration(5*len(msgs)) * time.Millisecond)
			mu.Lock()
			queuesOf[who][q] = true
			mu.Unlock()
			return consumer.ConsumeSuccess, nil
		})
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		cs[k] = c
	}
	if err := cs[0].Start(); err != nil {
		return fmt.Errorf("consumer A start: %w", err)
	}
	if !waitFor(o.deadline, func() bool { return len(heldQueues(cs[0], topic)) == queues }) {
		return fmt.Errorf("consumer A never held all %d queues", queues)
	}
	half := n / 2
	for i := 0; i < n; i++ {
		if i == half {
			if !waitFor(o.deadline, func() bool { return tally.distinct() >= half }) {
				return fmt.Errorf("consumer A did not consume the first half: %d", tally.distinct())
			}
			if err := cs[1].Start(); err != nil {
				return fmt.Errorf("consumer B start: %w", err)
			}
			// The Go client v2.1.2 does not unlock the queues a rebalance takes away from an orderly
			// consumer (a TODO in its removeUnnecessaryMessageQueue): A's locks stay live on the broker
			// until they expire (60 s), so the broker must refuse B's locks all that time.
			time.Sleep(3 * time.Second)
			keptA, heldB = heldQueues(cs[0], topic), heldQueues(cs[1], topic)
			if len(heldB) != 0 || len(keptA) == 0 || len(keptA) == queues {
				return fmt.Errorf("3 s after B joined: A holds %v, B holds %v; expected A to keep part of the queues "+
					"and B to hold none (A's locks are live)", keptA, heldB)
			}
			fmt.Printf("B joined after A consumed %d: A keeps %v, B was refused the others\n", tally.distinct(), keptA)
		}
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, tagOf(i)))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
		if res.MessageQueue.QueueId != (i%keys)%queues {
			return fmt.Errorf("send %d (key %d) landed in queue %d", i, i%keys, res.MessageQueue.QueueId)
		}
	}
	fmt.Printf("sent %d messages for %d order keys\n", n, keys)
	// Due: the first half, and of the second half what went to the queues A kept.
	kept := map[int]bool{}
	for _, q := range keptA {
		kept[q] = true
	}
	var due []int
	for i := 0; i < n; i++ {
		if i < half || kept[(i%keys)%queues] {
			due = append(due, i)
		}
	}
	all := waitFor(o.deadline, func() bool { return tally.distinct() >= len(due) || tally.hasProblems() })
	time.Sleep(time.Second)
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	if !all || tally.distinct() != len(due) {
		return fmt.Errorf("consumed %d, expected the %d of the first half and of A's queues: missing %s", tally.distinct(),
			len(due), tally.missing(due))
	}
	mu.Lock()
	defer mu.Unlock()
	if d := tally.duplicates(); d != "" {
		return fmt.Errorf("delivered more than once: %s", d)
	}
	if len(queuesOf["B"]) != 0 {
		return fmt.Errorf("consumer B consumed from queues %v although A's locks were live", queuesOf["B"])
	}
	fmt.Printf("consumed %d messages, every key in order, B none while A held the locks\n", len(due))
	return nil
}
