// Broker-core scenarios (issue 4) for the Go client: compat-go core-<case> [flags].
//
// The same cases and checks as the Java programs (java/src/main/java/compat/Core*.java):
//
//	core-send-modes  sync, async, oneway and batch sends; one push consumer gets each exactly once
//	core-groups      -mode clustering|broadcasting: two push consumers in one group
//	core-lite-pull   -mode subscribe: pull consumer Subscribe + Poll + ACK;
//	                 -mode assign: PullFrom the middle of every queue, then from 0 again
//	core-ordered     QueueSelector by order key, orderly push consumer
//	core-tags        "TagA || TagB" and "TagC" subscriptions, plus the broker-side filter seen in
//	                 the raw body of a PullFrom
//	core-restart     the broker is restarted by the harness at four gates (see core_restart below)
//	core-bulk        -n messages of -size bytes in async batches, every body compared
//
// Exit status 0 and "OK" last mean the scenario passed; otherwise the last line on stderr
// starts with "FAIL:".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

type coreOpts struct {
	ns, broker, brokerName, mode, gateDir string
	n, m, batch, keys, size, inflight     int
	timeout                               time.Duration
	deadline                              time.Time
	run                                   string
}

var coreScenarios = map[string]func(coreOpts) error{
	"core-send-modes": coreSendModes,
	"core-groups":     coreGroups,
	"core-lite-pull":  coreLitePull,
	"core-ordered":    coreOrdered,
	"core-tags":       coreTags,
	"core-restart":    coreRestart,
	"core-bulk":       coreBulk,
}

// runCore runs one core scenario with its own flags; returns the exit status.
func runCore(name string, f func(coreOpts) error, args []string) int {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var o coreOpts
	fs.StringVar(&o.ns, "ns", "127.0.0.1:9876", "nameserver address")
	fs.StringVar(&o.broker, "broker", "", "broker address (topics are created there)")
	fs.StringVar(&o.brokerName, "broker-name", "broker-a", "broker name")
	fs.StringVar(&o.mode, "mode", "", "variant of the case")
	fs.StringVar(&o.gateDir, "gate-dir", "", "gate directory shared with the harness (core-restart)")
	fs.IntVar(&o.n, "n", 80, "number of messages")
	fs.IntVar(&o.m, "m", 20, "number of messages after the last restart (core-restart)")
	fs.IntVar(&o.batch, "batch", 8, "batch size")
	fs.IntVar(&o.keys, "keys", 8, "order keys (core-ordered)")
	fs.IntVar(&o.size, "size", 1024, "body size (core-bulk)")
	fs.IntVar(&o.inflight, "inflight", 8, "async batches in flight (core-bulk)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "overall time limit")
	_ = fs.Parse(args)
	o.deadline = time.Now().Add(o.timeout)
	o.run = strconv.FormatInt(time.Now().UnixNano()%1000000007, 36)
	rlog.SetLogLevel("error")
	go func() {
		time.Sleep(o.timeout + 15*time.Second)
		fmt.Fprintln(os.Stderr, "FAIL: hard deadline passed, client hung")
		os.Exit(3)
	}()
	t0 := time.Now()
	if err := f(o); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: "+err.Error())
		return 1
	}
	fmt.Printf("scenario took %d ms\n", time.Since(t0).Milliseconds())
	fmt.Println("OK")
	return 0
}

// ---------------------------------------------------------------------------- content

const coreUTF8Value = "v\u00e4lue-\u2713-\u00a7"

func coreBody(run string, idx int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "core-%s-%d-", run, idx)
	for k := 0; k < idx%23; k++ {
		b.WriteByte(byte('a' + k))
	}
	b.WriteString("-\u00fc\u2713")
	return b.String()
}

func coreKeys(run string, idx int) []string {
	return []string{fmt.Sprintf("k-%s-%d", run, idx), fmt.Sprintf("kk-%d", idx)}
}

func coreMessage(topic, run string, idx int, tag string) *primitive.Message {
	m := primitive.NewMessage(topic, []byte(coreBody(run, idx)))
	// WithProperties replaces the whole map: first.
	m.WithProperties(map[string]string{"c-idx": strconv.Itoa(idx), "c-run": run, "c-utf8": coreUTF8Value})
	if tag != "" {
		m.WithTag(tag)
	}
	m.WithKeys(coreKeys(run, idx))
	return m
}

func coreIndex(m *primitive.MessageExt, run string) int {
	if m.GetProperty("c-run") != run {
		return -1
	}
	i, err := strconv.Atoi(m.GetProperty("c-idx"))
	if err != nil {
		return -1
	}
	return i
}

func queueOf(m *primitive.MessageExt) int {
	if m.Queue == nil {
		return -1
	}
	return m.Queue.QueueId
}

type coreSent struct {
	msgID, offsetMsgID string
	queueID            int
	queueOffset        int64
}

// coreTally records consumed messages; safe for concurrent use.
type coreTally struct {
	topic, run string
	n          int
	tagOf      func(int) string
	brokerPort string
	sent       map[int]coreSent // read-only once consumption starts (may be nil)

	mu       sync.Mutex
	counts   map[int]int
	offsets  map[int]map[int64]int
	problems []string
	total    int
}

func newTally(topic, run string, n int, tagOf func(int) string, broker string, sent map[int]coreSent) *coreTally {
	return &coreTally{topic: topic, run: run, n: n, tagOf: tagOf, brokerPort: broker[strings.LastIndex(broker, ":")+1:],
		sent: sent, counts: map[int]int{}, offsets: map[int]map[int64]int{}}
}

func (t *coreTally) problem(m *primitive.MessageExt) string {
	idx := coreIndex(m, t.run)
	if idx < 0 || idx >= t.n {
		return fmt.Sprintf("message %s (queue %d offset %d) is not one of this run's %d (c-idx=%q)", m.MsgId,
			queueOf(m), m.QueueOffset, t.n, m.GetProperty("c-idx"))
	}
	var bad []string
	if string(m.Body) != coreBody(t.run, idx) {
		bad = append(bad, fmt.Sprintf("body %q", m.Body))
	}
	if m.GetKeys() != strings.Join(coreKeys(t.run, idx), " ") {
		bad = append(bad, fmt.Sprintf("keys %q", m.GetKeys()))
	}
	if m.GetTags() != t.tagOf(idx) {
		bad = append(bad, fmt.Sprintf("tags %q (sent %q)", m.GetTags(), t.tagOf(idx)))
	}
	if m.GetProperty("c-utf8") != coreUTF8Value {
		bad = append(bad, fmt.Sprintf("property c-utf8=%q", m.GetProperty("c-utf8")))
	}
	if m.Topic != t.topic {
		bad = append(bad, fmt.Sprintf("topic %q", m.Topic))
	}
	if m.ReconsumeTimes != 0 {
		bad = append(bad, fmt.Sprintf("reconsumeTimes %d", m.ReconsumeTimes))
	}
	if m.StoreTimestamp <= 0 || m.StoreTimestamp < m.BornTimestamp-1000 {
		bad = append(bad, fmt.Sprintf("storeTimestamp %d vs bornTimestamp %d", m.StoreTimestamp, m.BornTimestamp))
	}
	if !strings.HasSuffix(m.StoreHost, ":"+t.brokerPort) {
		bad = append(bad, fmt.Sprintf("storeHost %q (broker port %s)", m.StoreHost, t.brokerPort))
	}
	if s, ok := t.sent[idx]; ok {
		if s.msgID != "" && s.msgID != m.MsgId {
			bad = append(bad, fmt.Sprintf("msgId %q, send returned %q", m.MsgId, s.msgID))
		}
		if s.offsetMsgID != m.OffsetMsgId {
			bad = append(bad, fmt.Sprintf("offsetMsgId %q, send returned %q", m.OffsetMsgId, s.offsetMsgID))
		}
		if s.queueID != queueOf(m) || s.queueOffset != m.QueueOffset {
			bad = append(bad, fmt.Sprintf("stored at queue %d offset %d, send returned queue %d offset %d",
				queueOf(m), m.QueueOffset, s.queueID, s.queueOffset))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("message %d: %s", idx, strings.Join(bad, ", "))
}

// accept records one message; returns its index or -1.
func (t *coreTally) accept(m *primitive.MessageExt) int {
	p := t.problem(m)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	if p != "" {
		t.problems = append(t.problems, p)
		return -1
	}
	idx := coreIndex(m, t.run)
	t.counts[idx]++
	q := queueOf(m)
	if t.offsets[q] == nil {
		t.offsets[q] = map[int64]int{}
	}
	if prev, ok := t.offsets[q][m.QueueOffset]; ok && prev != idx {
		t.problems = append(t.problems, fmt.Sprintf("queue %d offset %d delivered as message %d and as message %d",
			q, m.QueueOffset, prev, idx))
	}
	t.offsets[q][m.QueueOffset] = idx
	return idx
}

func (t *coreTally) addProblem(p string) {
	t.mu.Lock()
	t.problems = append(t.problems, p)
	t.mu.Unlock()
}

func (t *coreTally) distinct() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.counts)
}

func (t *coreTally) has(idx int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[idx] > 0
}

func (t *coreTally) hasProblems() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.problems) > 0
}

func (t *coreTally) failOnProblems() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.problems) > 0 {
		return fmt.Errorf("%d bad deliveries, first: %s", len(t.problems), t.problems[0])
	}
	return nil
}

func (t *coreTally) duplicates() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var idx []int
	for i, c := range t.counts {
		if c > 1 {
			idx = append(idx, i)
		}
	}
	sort.Ints(idx)
	var out []string
	for k, i := range idx {
		if k == 5 {
			out = append(out, fmt.Sprintf("and %d more", len(idx)-5))
			break
		}
		out = append(out, fmt.Sprintf("%d (x%d)", i, t.counts[i]))
	}
	return strings.Join(out, ", ")
}

func (t *coreTally) duplicateCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := 0
	for _, v := range t.counts {
		if v > 1 {
			c += v - 1
		}
	}
	return c
}

func (t *coreTally) missing(expected []int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	more := 0
	for _, i := range expected {
		if t.counts[i] == 0 {
			if len(out) < 8 {
				out = append(out, strconv.Itoa(i))
			} else {
				more++
			}
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(out, ", ")
}

// checkOffsets: every queue's delivered offsets are exactly 0..k-1 and the k add up to total.
func (t *coreTally) checkOffsets(queues, total int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	sum := 0
	for q := 0; q < queues; q++ {
		offs := t.offsets[q]
		for o := int64(0); o < int64(len(offs)); o++ {
			if _, ok := offs[o]; !ok {
				return fmt.Errorf("queue %d: offsets delivered are not 0..%d: %d missing", q, len(offs)-1, o)
			}
		}
		sum += len(offs)
	}
	if sum != total {
		return fmt.Errorf("the queues delivered %d distinct offsets, %d messages were sent", sum, total)
	}
	return nil
}

func rangeInts(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// waitFor polls cond every 20 ms until it holds or the deadline passes.
func waitFor(deadline time.Time, cond func() bool) bool {
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// ---------------------------------------------------------------------------- clients

func coreCreateTopic(o coreOpts, topic string, queues int) error {
	ctx, cancel := context.WithDeadline(context.Background(), o.deadline)
	defer cancel()
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{o.ns})))
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	// Not closed: the shared client would go with it.
	err = adm.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(o.broker),
		admin.WithReadQueueNums(queues), admin.WithWriteQueueNums(queues))
	if err != nil {
		return fmt.Errorf("create topic %s on %s: %w", topic, o.broker, err)
	}
	var last error
	for {
		qs, err := adm.FetchPublishMessageQueues(ctx, topic)
		if err == nil && len(qs) == queues {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("route of %s never appeared on nameserver %s: %v", topic, o.ns, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func coreProducer(o coreOpts, group, instance string, extra ...producer.Option) (rocketmq.Producer, error) {
	opts := append([]producer.Option{
		producer.WithNameServer([]string{o.ns}),
		producer.WithGroupName(group),
		producer.WithInstanceName(instance),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(5 * time.Second),
	}, extra...)
	p, err := rocketmq.NewProducer(opts...)
	if err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("producer start: %w", err)
	}
	return p, nil
}

func corePushConsumer(o coreOpts, group, instance string, extra ...consumer.Option) (rocketmq.PushConsumer, error) {
	opts := append([]consumer.Option{
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, extra...)
	c, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	return c, nil
}

func checkSent(res *primitive.SendResult, err error, topic, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.Status != primitive.SendOK {
		return fmt.Errorf("%s: status %v", what, res.Status)
	}
	if res.MessageQueue == nil || res.MessageQueue.Topic != topic || res.OffsetMsgID == "" {
		return fmt.Errorf("%s: bad result %v", what, res)
	}
	return nil
}

func sentOf(res *primitive.SendResult) coreSent {
	return coreSent{msgID: res.MsgID, offsetMsgID: res.OffsetMsgID, queueID: res.MessageQueue.QueueId,
		queueOffset: res.QueueOffset}
}

// heldQueues: the queues of topic a push consumer holds after its last rebalance, read from its
// running info (GetConsumerRunningInfo is exported by the concrete type, not by the interface).
func heldQueues(c rocketmq.PushConsumer, topic string) []int {
	m := reflect.ValueOf(c).MethodByName("GetConsumerRunningInfo")
	if !m.IsValid() {
		return nil
	}
	info := m.Call([]reflect.Value{reflect.ValueOf(false)})[0]
	if info.IsNil() {
		return nil
	}
	table := info.Elem().FieldByName("MQTable")
	var out []int
	for _, k := range table.MapKeys() {
		mq := k.Interface().(primitive.MessageQueue)
		if mq.Topic == topic {
			out = append(out, mq.QueueId)
		}
	}
	sort.Ints(out)
	return out
}

// ---------------------------------------------------------------------------- send modes

func coreSendModes(o coreOpts) error {
	const queues = 4
	n := o.n
	topic := "core_modes_go_" + o.run
	tagOf := func(i int) string { return fmt.Sprintf("Tag%d", i%3) }
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	ctx := context.Background()
	sent := map[int]coreSent{}
	var mu sync.Mutex
	t0 := time.Now()
	for i := 0; i < n; i++ {
		res, err := p.SendSync(ctx, coreMessage(topic, o.run, i, tagOf(i)))
		if err := checkSent(res, err, topic, fmt.Sprintf("sync send %d", i)); err != nil {
			return err
		}
		sent[i] = sentOf(res)
	}
	var wg sync.WaitGroup
	var asyncErrs []string
	for i := n; i < 2*n; i++ {
		idx := i
		wg.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err := checkSent(res, err, topic, fmt.Sprintf("async send %d", idx)); err != nil {
				asyncErrs = append(asyncErrs, err.Error())
				return
			}
			sent[idx] = sentOf(res)
		}, coreMessage(topic, o.run, i, tagOf(i)))
		if err != nil {
			wg.Done()
			return fmt.Errorf("async send %d: %w", i, err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(o.deadline)):
		return fmt.Errorf("async sends did not all complete before the time limit")
	}
	if len(asyncErrs) > 0 {
		return fmt.Errorf("%d async sends failed, first: %s", len(asyncErrs), asyncErrs[0])
	}
	for i := 2 * n; i < 3*n; i++ {
		if err := p.SendOneWay(ctx, coreMessage(topic, o.run, i, tagOf(i))); err != nil {
			return fmt.Errorf("oneway send %d: %w", i, err)
		}
	}
	for from := 3 * n; from < 4*n; from += o.batch {
		var msgs []*primitive.Message
		for i := from; i < 4*n && i < from+o.batch; i++ {
			msgs = append(msgs, coreMessage(topic, o.run, i, tagOf(i)))
		}
		what := fmt.Sprintf("batch send of %d..%d", from, from+len(msgs)-1)
		res, err := p.SendSync(ctx, msgs...)
		if err := checkSent(res, err, topic, what); err != nil {
			return err
		}
		// The Go client gives batch messages no client-side unique id; the broker's offset
		// message ids come comma-joined, one per message.
		ids := strings.Split(res.OffsetMsgID, ",")
		if len(ids) != len(msgs) {
			return fmt.Errorf("%s: %d offsetMsgIds for %d messages: %s", what, len(ids), len(msgs), res.OffsetMsgID)
		}
		for k := range msgs {
			sent[from+k] = coreSent{offsetMsgID: ids[k], queueID: res.MessageQueue.QueueId,
				queueOffset: res.QueueOffset + int64(k)}
		}
	}
	fmt.Printf("sent %d sync, %d async, %d oneway, %d batched in %d ms\n", n, n, n, n, time.Since(t0).Milliseconds())

	total := 4 * n
	tally := newTally(topic, o.run, total, tagOf, o.broker, sent)
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
	all := waitFor(o.deadline, func() bool { return tally.distinct() >= total || tally.hasProblems() })
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	if !all {
		return fmt.Errorf("consumed %d of %d distinct messages before the time limit; missing %s", tally.distinct(),
			total, tally.missing(rangeInts(0, total)))
	}
	time.Sleep(1500 * time.Millisecond)
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	if d := tally.duplicates(); d != "" {
		return fmt.Errorf("delivered more than once: %s", d)
	}
	if err := tally.checkOffsets(queues, total); err != nil {
		return err
	}
	fmt.Printf("consumed and checked %d messages, each exactly once\n", total)
	return nil
}

// ---------------------------------------------------------------------------- groups

func coreGroups(o coreOpts) error {
	const queues = 4
	var model consumer.MessageModel
	switch o.mode {
	case "clustering":
		model = consumer.Clustering
	case "broadcasting":
		model = consumer.BroadCasting
	default:
		return fmt.Errorf("unknown -mode %q", o.mode)
	}
	broadcast := model == consumer.BroadCasting
	n := o.n
	topic := "core_" + o.mode + "_go_" + o.run
	tagOf := func(i int) string { return fmt.Sprintf("T%d", i%2) }
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	var tallies [2]*coreTally
	var received [2]map[int]bool
	var rmu sync.Mutex
	var cs [2]rocketmq.PushConsumer
	for k := 0; k < 2; k++ {
		tallies[k] = newTally(topic, o.run, n, tagOf, o.broker, nil)
		received[k] = map[int]bool{}
		c, err := corePushConsumer(o, "GID_"+topic, fmt.Sprintf("core-%s-%d-%s", o.mode, k, o.run),
			consumer.WithConsumerModel(model))
		if err != nil {
			return err
		}
		t, rq := tallies[k], received[k]
		err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			for _, m := range msgs {
				rmu.Lock()
				rq[queueOf(m)] = true
				rmu.Unlock()
				t.accept(m)
			}
			return consumer.ConsumeSuccess, nil
		})
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		if err := c.Start(); err != nil {
			return fmt.Errorf("consumer %d start: %w", k, err)
		}
		cs[k] = c
	}
	last, stableSince := "", time.Now()
	for {
		h0, h1 := heldQueues(cs[0], topic), heldQueues(cs[1], topic)
		union := map[int]int{}
		for _, q := range h0 {
			union[q]++
		}
		for _, q := range h1 {
			union[q]++
		}
		overlap := false
		for _, c := range union {
			if c > 1 {
				overlap = true
			}
		}
		settled := len(h0) == queues && len(h1) == queues
		if !broadcast {
			settled = len(h0) > 0 && len(h1) > 0 && !overlap && len(union) == queues
		}
		now := fmt.Sprint(h0, " / ", h1)
		if settled && now == last {
			if time.Since(stableSince) >= time.Second {
				fmt.Println("assignment settled: " + now)
				break
			}
		} else {
			stableSince = time.Now()
		}
		last = now
		if time.Now().After(o.deadline) {
			return fmt.Errorf("queue assignment never settled, last: %s", now)
		}
		time.Sleep(50 * time.Millisecond)
	}

	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, tagOf(i)))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
	}
	fmt.Printf("sent %d messages\n", n)
	all := waitFor(o.deadline, func() bool {
		if broadcast {
			return tallies[0].distinct() >= n && tallies[1].distinct() >= n
		}
		return tallies[0].distinct()+tallies[1].distinct() >= n
	})
	time.Sleep(1500 * time.Millisecond)
	for _, t := range tallies {
		if err := t.failOnProblems(); err != nil {
			return err
		}
	}
	counts := fmt.Sprintf("%d + %d", tallies[0].distinct(), tallies[1].distinct())
	if !all {
		return fmt.Errorf("consumed %s distinct messages of %d before the time limit", counts, n)
	}
	for k := 0; k < 2; k++ {
		if d := tallies[k].duplicates(); d != "" {
			return fmt.Errorf("consumer %d got messages more than once: %s", k, d)
		}
	}
	rmu.Lock()
	defer rmu.Unlock()
	if broadcast {
		for k := 0; k < 2; k++ {
			if tallies[k].distinct() != n {
				return fmt.Errorf("consumer %d received %d of %d", k, tallies[k].distinct(), n)
			}
		}
		fmt.Printf("each consumer received all %d messages exactly once\n", n)
		return nil
	}
	for i := 0; i < n; i++ {
		got := 0
		for k := 0; k < 2; k++ {
			if tallies[k].has(i) {
				got++
			}
		}
		if got != 1 {
			return fmt.Errorf("message %d consumed by %d consumers", i, got)
		}
	}
	for q := range received[0] {
		if received[1][q] {
			return fmt.Errorf("both consumers received from queue %d", q)
		}
	}
	if len(received[0]) == 0 || len(received[1]) == 0 {
		return fmt.Errorf("one consumer received nothing: queues %v / %v", received[0], received[1])
	}
	fmt.Printf("consumers split the queues %v / %v: %s = %d messages, each exactly once\n", received[0], received[1],
		counts, n)
	return nil
}

// ---------------------------------------------------------------------------- pull consumer

func coreLitePull(o coreOpts) error {
	const queues = 4
	n := o.n
	topic := "core_lite_" + o.mode + "_go_" + o.run
	group := "GID_" + topic
	tagOf := func(i int) string { return fmt.Sprintf("L%d", i%4) }
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	sent := map[int]coreSent{}
	layout := map[int]map[int64]int{} // queue -> offset -> index
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, tagOf(i)))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
		s := sentOf(res)
		sent[i] = s
		if layout[s.queueID] == nil {
			layout[s.queueID] = map[int64]int{}
		}
		layout[s.queueID][s.queueOffset] = i
	}
	fmt.Printf("sent %d messages\n", n)
	tally := newTally(topic, o.run, n, tagOf, o.broker, sent)
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName(group),
		consumer.WithInstance("core-pull-"+o.run),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		return fmt.Errorf("new pull consumer: %w", err)
	}
	if err := pc.Subscribe(topic, consumer.MessageSelector{}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := pc.Start(); err != nil {
		return fmt.Errorf("pull consumer start: %w", err)
	}
	ctx := context.Background()
	switch o.mode {
	case "subscribe":
		for tally.distinct() < n && !tally.hasProblems() {
			if time.Now().After(o.deadline) {
				return fmt.Errorf("polled %d of %d before the time limit; missing %s", tally.distinct(), n,
					tally.missing(rangeInts(0, n)))
			}
			cr, err := pc.Poll(ctx, 500*time.Millisecond)
			if err != nil {
				continue // ErrNoNewMsg
			}
			for _, m := range cr.GetMsgList() {
				tally.accept(m)
			}
			pc.ACK(ctx, cr, consumer.ConsumeSuccess)
		}
		until := time.Now().Add(time.Second)
		for time.Now().Before(until) {
			if cr, err := pc.Poll(ctx, 200*time.Millisecond); err == nil {
				for _, m := range cr.GetMsgList() {
					tally.accept(m)
				}
				pc.ACK(ctx, cr, consumer.ConsumeSuccess)
			}
		}
		if err := tally.failOnProblems(); err != nil {
			return err
		}
		if d := tally.duplicates(); d != "" {
			return fmt.Errorf("polled more than once: %s", d)
		}
		if err := tally.checkOffsets(queues, n); err != nil {
			return err
		}
		fmt.Printf("polled all %d exactly once\n", n)
		return nil
	case "assign":
		expected := []int{}
		seekTo := map[int]int64{}
		lastOff := map[int]int64{}
		for q := 0; q < queues; q++ {
			mid := int64(len(layout[q]) / 2)
			seekTo[q] = mid
			for off := mid; off < int64(len(layout[q])); off++ {
				expected = append(expected, layout[q][off])
			}
			mq := &primitive.MessageQueue{Topic: topic, BrokerName: o.brokerName, QueueId: q}
			off := mid
			for off < int64(len(layout[q])) {
				if time.Now().After(o.deadline) {
					return fmt.Errorf("queue %d: pulled up to offset %d of %d before the time limit", q, off, len(layout[q]))
				}
				res, err := pc.PullFrom(ctx, mq, off, 16)
				if err != nil {
					return fmt.Errorf("PullFrom(queue %d, offset %d): %w", q, off, err)
				}
				if res.Status != primitive.PullFound {
					return fmt.Errorf("PullFrom(queue %d, offset %d) with %d stored: status %v", q, off, len(layout[q]),
						res.Status)
				}
				for _, m := range res.GetMessageExts() {
					idx := tally.accept(m)
					if idx < 0 {
						continue
					}
					if m.QueueOffset < mid {
						tally.addProblem(fmt.Sprintf("queue %d offset %d pulled from offset %d", q, m.QueueOffset, off))
					}
					if prev, ok := lastOff[q]; ok && m.QueueOffset <= prev {
						tally.addProblem(fmt.Sprintf("queue %d: offset %d after %d", q, m.QueueOffset, prev))
					}
					lastOff[q] = m.QueueOffset
				}
				if res.NextBeginOffset <= off {
					return fmt.Errorf("PullFrom(queue %d, offset %d): next begin offset %d", q, off, res.NextBeginOffset)
				}
				off = res.NextBeginOffset
			}
		}
		if err := tally.failOnProblems(); err != nil {
			return err
		}
		if d := tally.duplicates(); d != "" {
			return fmt.Errorf("pulled more than once: %s", d)
		}
		if m := tally.missing(expected); m != "" {
			return fmt.Errorf("never pulled: %s", m)
		}
		if tally.distinct() != len(expected) {
			return fmt.Errorf("pulled %d, expected %d", tally.distinct(), len(expected))
		}
		// Rewind queue 0.
		mid0 := seekTo[0]
		if mid0 == 0 {
			return fmt.Errorf("queue 0 holds too few messages (%d) to rewind", len(layout[0]))
		}
		mq0 := &primitive.MessageQueue{Topic: topic, BrokerName: o.brokerName, QueueId: 0}
		res, err := pc.PullFrom(ctx, mq0, 0, int(mid0))
		if err != nil {
			return fmt.Errorf("PullFrom(queue 0, offset 0): %w", err)
		}
		msgs := res.GetMessageExts()
		if res.Status != primitive.PullFound || int64(len(msgs)) != mid0 {
			return fmt.Errorf("PullFrom(queue 0, offset 0, %d): status %v with %d messages", mid0, res.Status, len(msgs))
		}
		for k, m := range msgs {
			if m.QueueOffset != int64(k) || coreIndex(m, o.run) != layout[0][int64(k)] {
				return fmt.Errorf("rewind: message %d of the pull is queue 0 offset %d index %d, want offset %d index %d",
					k, m.QueueOffset, coreIndex(m, o.run), k, layout[0][int64(k)])
			}
		}
		fmt.Printf("seek: pulled the %d messages after the seek points exactly once; rewind of queue 0 re-read offsets 0..%d\n",
			len(expected), mid0-1)
		return nil
	}
	return fmt.Errorf("unknown -mode %q", o.mode)
}

// ---------------------------------------------------------------------------- ordered

type keySelector struct{ keys int }

// Select maps the message's order key (property c-idx modulo keys) to queue key % len(mqs).
func (s keySelector) Select(m *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	idx, _ := strconv.Atoi(m.GetProperty("c-idx"))
	return mqs[(idx%s.keys)%len(mqs)]
}

func coreOrdered(o coreOpts) error {
	const queues = 4
	n, keys := o.n, o.keys
	topic := "core_ordered_go_" + o.run
	tagOf := func(i int) string { return fmt.Sprintf("O%d", i%keys) }
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run, producer.WithQueueSelector(keySelector{keys}))
	if err != nil {
		return err
	}
	sent := map[int]coreSent{}
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, tagOf(i)))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
		if res.MessageQueue.QueueId != (i%keys)%queues {
			return fmt.Errorf("send %d (key %d) landed in queue %d", i, i%keys, res.MessageQueue.QueueId)
		}
		sent[i] = sentOf(res)
	}
	fmt.Printf("sent %d messages for %d order keys\n", n, keys)
	tally := newTally(topic, o.run, n, tagOf, o.broker, sent)
	var mu sync.Mutex
	nextSeq := map[int]int{}
	lastOff := map[int]int64{}
	c, err := corePushConsumer(o, "GID_"+topic, "core-consumer-"+o.run, consumer.WithConsumerOrder(true),
		consumer.WithConsumeMessageBatchMaxSize(3))
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			idx := tally.accept(m)
			if idx < 0 {
				continue
			}
			key, seq := idx%keys, idx/keys
			mu.Lock()
			want := nextSeq[key]
			nextSeq[key] = want + 1
			if seq != want {
				tally.addProblem(fmt.Sprintf("key %d: got its message #%d (index %d) when #%d was due", key, seq, idx, want))
			}
			if queueOf(m) != key%queues {
				tally.addProblem(fmt.Sprintf("key %d message in queue %d", key, queueOf(m)))
			}
			if prev, ok := lastOff[queueOf(m)]; ok && m.QueueOffset != prev+1 {
				tally.addProblem(fmt.Sprintf("queue %d: offset %d after %d", queueOf(m), m.QueueOffset, prev))
			}
			lastOff[queueOf(m)] = m.QueueOffset
			mu.Unlock()
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	all := waitFor(o.deadline, func() bool { return tally.distinct() >= n || tally.hasProblems() })
	time.Sleep(time.Second)
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	if !all {
		return fmt.Errorf("consumed %d of %d before the time limit", tally.distinct(), n)
	}
	if d := tally.duplicates(); d != "" {
		return fmt.Errorf("delivered more than once: %s", d)
	}
	if err := tally.checkOffsets(queues, n); err != nil {
		return err
	}
	fmt.Printf("consumed %d messages in order for each of %d keys\n", n, keys)
	return nil
}

// ---------------------------------------------------------------------------- tags

func coreTag(i int) string {
	return [...]string{"TagA", "TagB", "TagC", ""}[i%4]
}

func coreTags(o coreOpts) error {
	const queues = 4
	n := o.n
	topic := "core_tags_go_" + o.run
	filterTopic := "core_tagfilter_go_" + o.run
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	if err := coreCreateTopic(o, filterTopic, 1); err != nil {
		return err
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	sent := map[int]coreSent{}
	for i := 0; i < n; i++ {
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, coreTag(i)))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
		sent[i] = sentOf(res)
	}
	fmt.Printf("sent %d messages tagged TagA/TagB/TagC/none\n", n)
	exprs := []string{"TagA || TagB", "TagC"}
	var tallies [2]*coreTally
	var want [2]int
	for k, expr := range exprs {
		expr := expr
		t := newTally(topic, o.run, n, coreTag, o.broker, sent)
		tallies[k] = t
		for i := 0; i < n; i++ {
			if coreTag(i) != "" && strings.Contains(expr, coreTag(i)) {
				want[k]++
			}
		}
		c, err := corePushConsumer(o, fmt.Sprintf("GID_%s_%d", topic, k), fmt.Sprintf("core-consumer-%d-%s", k, o.run))
		if err != nil {
			return err
		}
		err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr},
			func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				for _, m := range msgs {
					idx := t.accept(m)
					if idx >= 0 && (coreTag(idx) == "" || !strings.Contains(expr, coreTag(idx))) {
						t.addProblem(fmt.Sprintf("subscription %q received message %d tagged %q", expr, idx, coreTag(idx)))
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
	}
	all := waitFor(o.deadline, func() bool {
		return tallies[0].distinct() >= want[0] && tallies[1].distinct() >= want[1] || tallies[0].hasProblems() ||
			tallies[1].hasProblems()
	})
	time.Sleep(1500 * time.Millisecond)
	for k, expr := range exprs {
		if err := tallies[k].failOnProblems(); err != nil {
			return err
		}
		if !all || tallies[k].distinct() != want[k] {
			return fmt.Errorf("%q received %d of %d", expr, tallies[k].distinct(), want[k])
		}
		if d := tallies[k].duplicates(); d != "" {
			return fmt.Errorf("%q received more than once: %s", expr, d)
		}
	}
	fmt.Printf("push: 'TagA || TagB' received exactly its %d, 'TagC' exactly its %d\n", want[0], want[1])

	// Broker-side filtering: the raw body of a pull holds what the broker sent, before the
	// client's own tag filter.
	mq := &primitive.MessageQueue{Topic: filterTopic, BrokerName: o.brokerName, QueueId: 0}
	fp, err := coreProducer(o, "PG_"+filterTopic, "core-fproducer-"+o.run, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	if err != nil {
		return err
	}
	for i := 0; i < 46; i++ {
		tg := "TagC"
		if i >= 43 {
			tg = "TagB"
		} else if i >= 40 {
			tg = "TagA"
		}
		m := coreMessage(filterTopic, o.run, i, tg)
		m.Queue = mq
		res, err := fp.SendSync(context.Background(), m)
		if err := checkSent(res, err, filterTopic, fmt.Sprintf("send %d to %s", i, filterTopic)); err != nil {
			return err
		}
		if res.QueueOffset != int64(i) {
			return fmt.Errorf("send %d to %s got queue offset %d", i, filterTopic, res.QueueOffset)
		}
	}
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName("GID_"+filterTopic),
		consumer.WithInstance("core-pull-"+o.run),
	)
	if err != nil {
		return fmt.Errorf("new pull consumer: %w", err)
	}
	if err := pc.Subscribe(filterTopic, consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA || TagB"}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := pc.Start(); err != nil {
		return fmt.Errorf("pull consumer start: %w", err)
	}
	res, err := pc.PullFrom(context.Background(), mq, 0, 32)
	if err != nil {
		return fmt.Errorf("PullFrom(%s queue 0, offset 0, 32): %w", filterTopic, err)
	}
	raw := primitive.DecodeMessage(res.GetBody())
	var rawIdx, gotIdx []int
	for _, m := range raw {
		rawIdx = append(rawIdx, coreIndex(m, o.run))
	}
	for _, m := range res.GetMessageExts() {
		gotIdx = append(gotIdx, coreIndex(m, o.run))
	}
	wantIdx := rangeInts(40, 46)
	if res.Status != primitive.PullFound || fmt.Sprint(rawIdx) != fmt.Sprint(wantIdx) || fmt.Sprint(gotIdx) != fmt.Sprint(wantIdx) {
		return fmt.Errorf("pull(TagA || TagB, offset 0, max 32) of 40 TagC then 3 TagA and 3 TagB: status %v, the broker "+
			"sent messages %v, the client kept %v (want %v): the broker did not filter by tag", res.Status, rawIdx, gotIdx,
			wantIdx)
	}
	if res.NextBeginOffset != 46 || res.MaxOffset != 46 || res.MinOffset != 0 {
		return fmt.Errorf("pull(TagA || TagB): next begin offset %d, min %d, max %d; want 46, 0, 46", res.NextBeginOffset,
			res.MinOffset, res.MaxOffset)
	}
	fmt.Println("broker-side filter: the broker sent exactly the 6 TagA/TagB of 46, next offset 46")
	return nil
}

// ---------------------------------------------------------------------------- restart

type gate struct{ dir string }

func (g gate) mark(name string) error {
	if g.dir == "" {
		return nil
	}
	tmp := filepath.Join(g.dir, name+".mark.tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(time.Now().UnixMilli(), 10)), 0o644); err != nil {
		return err
	}
	fmt.Printf("gate %s marked\n", name)
	return os.Rename(tmp, filepath.Join(g.dir, name+".mark"))
}

func (g gate) released(name string) bool {
	if g.dir == "" {
		return true
	}
	_, err := os.Stat(filepath.Join(g.dir, name+".release"))
	return err == nil
}

func (g gate) pass(name string, deadline time.Time) error {
	if err := g.mark(name); err != nil {
		return err
	}
	if !waitFor(deadline, func() bool { return g.released(name) }) {
		return fmt.Errorf("gate %s never released by the harness", name)
	}
	fmt.Printf("gate %s released\n", name)
	return nil
}

func sendUntilOK(p rocketmq.Producer, o coreOpts, topic string, i int, tagOf func(int) string, failures *int32) (string, error) {
	for {
		var why string
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, tagOf(i)))
		if err == nil && res.Status == primitive.SendOK {
			if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
				return "", err
			}
			return res.MsgID, nil
		}
		if err != nil {
			why = err.Error()
		} else {
			why = fmt.Sprintf("status %v", res.Status)
		}
		if f := atomic.AddInt32(failures, 1); f <= 5 {
			fmt.Printf("send %d failed (will retry): %s\n", i, why)
		}
		if time.Now().After(o.deadline) {
			return "", fmt.Errorf("send %d never succeeded before the time limit: %s", i, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// coreRestart: see CoreRestart.java; the same four gates (produce, produced, consume, consumed).
func coreRestart(o coreOpts) error {
	const queues = 4
	n, m := o.n, o.m
	g := gate{o.gateDir}
	topic := "core_restart_go_" + o.run
	group := "GID_" + topic
	tagOf := func(i int) string { return fmt.Sprintf("R%d", i%2) }
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	p, err := coreProducer(o, "PG_"+topic, "core-producer-"+o.run)
	if err != nil {
		return err
	}
	var failures int32
	acked := map[int]string{}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if i == n/2 {
			if err := g.mark("produce"); err != nil {
				return err
			}
		}
		if i >= n/2 && !g.released("produce") {
			time.Sleep(20 * time.Millisecond)
		}
		id, err := sendUntilOK(p, o, topic, i, tagOf, &failures)
		if err != nil {
			return err
		}
		acked[i] = id
	}
	if !waitFor(o.deadline, func() bool { return g.released("produce") }) {
		return fmt.Errorf("gate produce never released")
	}
	fmt.Printf("produced %d (%d failed attempts retried) in %d ms\n", n, atomic.LoadInt32(&failures), time.Since(t0).Milliseconds())
	if err := g.pass("produced", o.deadline); err != nil {
		return err
	}

	tally := newTally(topic, o.run, n+m, tagOf, o.broker, nil)
	var idsMu sync.Mutex
	ids := map[string]bool{}
	var consumed int32
	var gateErr atomic.Value
	c, err := corePushConsumer(o, group, "core-consumer-a-"+o.run, consumer.WithPullBatchSize(4),
		consumer.WithPullThresholdForQueue(8), consumer.WithConsumeMessageBatchMaxSize(1), consumer.WithConsumeGoroutineNums(1))
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, msg := range msgs {
			tally.accept(msg)
			idsMu.Lock()
			ids[msg.MsgId] = true
			idsMu.Unlock()
			k := atomic.AddInt32(&consumed, 1)
			if int(k) == n/2 {
				if err := g.mark("consume"); err != nil {
					gateErr.Store(err.Error())
				}
			}
			if int(k) >= n/2 && !g.released("consume") {
				time.Sleep(20 * time.Millisecond)
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
	allAcked := func(want map[int]string) func() bool {
		return func() bool {
			idsMu.Lock()
			defer idsMu.Unlock()
			for _, id := range want {
				if !ids[id] {
					return false
				}
			}
			return true
		}
	}
	all := waitFor(o.deadline, func() bool { return allAcked(acked)() || tally.hasProblems() })
	if err := tally.failOnProblems(); err != nil {
		return err
	}
	if v := gateErr.Load(); v != nil {
		return fmt.Errorf("gate: %v", v)
	}
	if !all {
		idsMu.Lock()
		var missing []int
		for i, id := range acked {
			if !ids[id] {
				missing = append(missing, i)
			}
		}
		idsMu.Unlock()
		sort.Ints(missing)
		if len(missing) > 10 {
			missing = missing[:10]
		}
		return fmt.Errorf("acknowledged messages never consumed (lost?), first: %v", missing)
	}
	if !waitFor(o.deadline, func() bool { return g.released("consume") }) {
		return fmt.Errorf("gate consume never released")
	}
	fmt.Printf("consumed all %d acknowledged messages (%d deliveries, %d duplicates)\n", len(acked),
		atomic.LoadInt32(&consumed), tally.duplicateCount())
	// The Go client commits every 5 s and (oneway) at shutdown: wait for a periodic commit.
	time.Sleep(6 * time.Second)
	_ = c.Shutdown()
	if err := g.pass("consumed", o.deadline); err != nil {
		return err
	}

	acked2 := map[int]string{}
	for i := n; i < n+m; i++ {
		id, err := sendUntilOK(p, o, topic, i, tagOf, &failures)
		if err != nil {
			return err
		}
		acked2[i] = id
	}
	tally2 := newTally(topic, o.run, n+m, tagOf, o.broker, nil)
	idsMu.Lock()
	ids = map[string]bool{}
	idsMu.Unlock()
	c2, err := corePushConsumer(o, group, "core-consumer-b-"+o.run)
	if err != nil {
		return err
	}
	err = c2.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, msg := range msgs {
			idx := tally2.accept(msg)
			idsMu.Lock()
			ids[msg.MsgId] = true
			idsMu.Unlock()
			if idx >= 0 && idx < n {
				tally2.addProblem(fmt.Sprintf("message %d (queue %d offset %d) consumed again by a new consumer of the group: "+
					"committed offsets lost", idx, queueOf(msg), msg.QueueOffset))
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c2.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	all2 := waitFor(o.deadline, func() bool { return allAcked(acked2)() || tally2.hasProblems() })
	time.Sleep(1500 * time.Millisecond)
	if err := tally2.failOnProblems(); err != nil {
		return err
	}
	if !all2 {
		return fmt.Errorf("the new consumer got %d of the %d new messages before the time limit", tally2.distinct(), m)
	}
	if d := tally2.duplicates(); d != "" {
		return fmt.Errorf("the new consumer got messages more than once: %s", d)
	}
	fmt.Printf("a new consumer of the group resumed at the committed offsets: exactly the %d new messages\n", m)
	return nil
}

// ---------------------------------------------------------------------------- bulk

func bulkBody(run string, idx, size int) []byte {
	b := make([]byte, size)
	head := fmt.Sprintf("%d:%s:", idx, run)
	copy(b, head)
	for j := len(head); j < size; j++ {
		b[j] = byte('a' + (idx*31+j)%26)
	}
	return b
}

func bulkIndex(b []byte) int {
	v, j := 0, 0
	for ; j < len(b) && j < 11 && b[j] >= '0' && b[j] <= '9'; j++ {
		v = v*10 + int(b[j]-'0')
	}
	if j == 0 || j >= len(b) || b[j] != ':' {
		return -1
	}
	return v
}

// sendBulkBatch sends one batch asynchronously and frees its window slot when done; a batch the
// broker refused with SYSTEM_BUSY (flow control: nothing stored) is sent again.
func sendBulkBatch(p rocketmq.Producer, msgs []*primitive.Message, first int, acked, busyRetries *int64,
	sendErr *atomic.Value, window chan struct{}) {
	err := p.SendAsync(context.Background(), func(_ context.Context, res *primitive.SendResult, err error) {
		if err != nil {
			if strings.HasPrefix(err.Error(), "CODE: 2,") && atomic.AddInt64(busyRetries, 1) <= 1000 {
				time.Sleep(50 * time.Millisecond)
				go sendBulkBatch(p, msgs, first, acked, busyRetries, sendErr, window)
				return
			}
			sendErr.CompareAndSwap(nil, fmt.Sprintf("batch at %d: %v", first, err))
		} else if res.Status != primitive.SendOK {
			sendErr.CompareAndSwap(nil, fmt.Sprintf("batch at %d: status %v", first, res.Status))
		} else {
			atomic.AddInt64(acked, int64(len(msgs)))
		}
		<-window
	}, msgs...)
	if err != nil {
		sendErr.CompareAndSwap(nil, fmt.Sprintf("batch at %d: %v", first, err))
		<-window
	}
}

func coreBulk(o coreOpts) error {
	const queues = 8
	n, size := o.n, o.size
	topic := "core_bulk_go_" + o.run
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	seen := make([]bool, n)
	var mu sync.Mutex
	var consumed, dups, bad int64
	var firstBad atomic.Value
	c, err := corePushConsumer(o, "GID_"+topic, "core-bulk-consumer-"+o.run, consumer.WithPullBatchSize(32),
		consumer.WithConsumeMessageBatchMaxSize(32))
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			idx := bulkIndex(m.Body)
			if idx < 0 || idx >= n || len(m.Body) != size || string(m.Body) != string(bulkBody(o.run, idx, size)) {
				atomic.AddInt64(&bad, 1)
				firstBad.CompareAndSwap(nil, fmt.Sprintf("queue %d offset %d: %d bytes starting %q", queueOf(m),
					m.QueueOffset, len(m.Body), m.Body[:min(24, len(m.Body))]))
				continue
			}
			mu.Lock()
			if seen[idx] {
				dups++
				mu.Unlock()
				continue
			}
			seen[idx] = true
			mu.Unlock()
			atomic.AddInt64(&consumed, 1)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	p, err := coreProducer(o, "PG_"+topic, "core-bulk-producer-"+o.run)
	if err != nil {
		return err
	}
	window := make(chan struct{}, o.inflight)
	var acked int64
	var sendErr atomic.Value
	var busyRetries int64
	t0 := time.Now()
	for from := 0; from < n && sendErr.Load() == nil; from += 64 {
		var msgs []*primitive.Message
		for i := from; i < n && i < from+64; i++ {
			msgs = append(msgs, primitive.NewMessage(topic, bulkBody(o.run, i, size)))
		}
		select {
		case window <- struct{}{}:
		case <-time.After(time.Until(o.deadline)):
			return fmt.Errorf("sending stalled: %d of %d acknowledged before the time limit", atomic.LoadInt64(&acked), n)
		}
		sendBulkBatch(p, msgs, from, &acked, &busyRetries, &sendErr, window)
	}
	for k := 0; k < o.inflight; k++ {
		select {
		case window <- struct{}{}:
		case <-time.After(time.Until(o.deadline)):
			return fmt.Errorf("only %d of %d sends acknowledged before the time limit", atomic.LoadInt64(&acked), n)
		}
	}
	if v := sendErr.Load(); v != nil {
		return fmt.Errorf("send failed: %v", v)
	}
	produce := time.Since(t0)
	fmt.Printf("produced %d x %d B in %.1f s (%.0f msg/s, %d batches resent after 'broker busy'); consumed %d so far\n",
		n, size, produce.Seconds(), float64(n)/produce.Seconds(), atomic.LoadInt64(&busyRetries), atomic.LoadInt64(&consumed))
	last := time.Now()
	for atomic.LoadInt64(&consumed)+atomic.LoadInt64(&bad) < int64(n) {
		if time.Now().After(o.deadline) {
			return fmt.Errorf("consumed %d of %d before the time limit (%d bad)", atomic.LoadInt64(&consumed), n,
				atomic.LoadInt64(&bad))
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Printf("consumed %d of %d\n", atomic.LoadInt64(&consumed), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	all := time.Since(t0)
	if b := atomic.LoadInt64(&bad); b > 0 {
		return fmt.Errorf("%d bad messages, first: %v", b, firstBad.Load())
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if dups > 0 {
		return fmt.Errorf("%d messages consumed more than once", dups)
	}
	fmt.Printf("consumed and checked all %d bodies in %.1f s from the first send (%.0f msg/s end to end)\n", n,
		all.Seconds(), float64(n)/all.Seconds())
	return nil
}
