// core-trace: message trace with the Go client (issue 5), the checks of
// java/src/main/java/compat/CoreTrace.java against a broker with traceTopicEnable=true: a producer
// and a push consumer with WithTrace write trace records to RMQ_SYS_TRACE_TOPIC; the topic is read
// back from offset 0 (PullFrom) and must hold, for every message of the run, a Pub record
// (producer group, topic, msgId, offsetMsgId, success) and the consumer's SubBefore (group, msgId)
// and SubAfter (msgId, success) records. Records end with '\002', fields are separated by '\001'.
package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

const traceTopic = "RMQ_SYS_TRACE_TOPIC"

func init() {
	coreScenarios["core-trace"] = coreTrace
}

func coreTrace(o coreOpts) error {
	const queues = 2
	topic := "core_trace_go_" + o.run
	pg, cg := "PG_"+topic, "CG_"+topic
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	traceCfg := func() *primitive.TraceConfig {
		return &primitive.TraceConfig{Access: primitive.Local, Resolver: primitive.NewPassthroughResolver([]string{o.ns})}
	}
	var mu sync.Mutex
	consumed := map[string]bool{}
	c, err := corePushConsumer(o, cg, "core-trace-consumer-"+o.run, consumer.WithTrace(traceCfg()))
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			consumed[m.MsgId] = true
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("consumer start: %w", err)
	}
	for len(heldQueues(c, topic)) != queues {
		if time.Now().After(o.deadline) {
			return fmt.Errorf("the consumer never held the %d queues of %s", queues, topic)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p, err := coreProducer(o, pg, "core-trace-producer-"+o.run, producer.WithTrace(traceCfg()))
	if err != nil {
		return err
	}
	offsetIDs := map[string]string{}
	for i := 0; i < o.n; i++ {
		res, err := p.SendSync(context.Background(), coreMessage(topic, o.run, i, "TagT"))
		if err := checkSent(res, err, topic, fmt.Sprintf("send %d", i)); err != nil {
			return err
		}
		offsetIDs[res.MsgID] = res.OffsetMsgID
	}
	for {
		mu.Lock()
		done := 0
		for id := range offsetIDs {
			if consumed[id] {
				done++
			}
		}
		mu.Unlock()
		if done == o.n {
			break
		}
		if time.Now().After(o.deadline) {
			return fmt.Errorf("consumed %d of %d", done, o.n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("consumed %d traced messages\n", o.n)

	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName("CG_trace_reader_"+o.run),
		consumer.WithInstance("core-trace-reader-"+o.run),
	)
	if err != nil {
		return fmt.Errorf("new pull consumer: %w", err)
	}
	if err := pc.Subscribe(traceTopic, consumer.MessageSelector{}); err != nil {
		return fmt.Errorf("subscribe %s: %w", traceTopic, err)
	}
	if err := pc.Start(); err != nil {
		return fmt.Errorf("pull consumer start: %w", err)
	}
	pub, before, after := map[string]bool{}, map[string]bool{}, map[string]bool{}
	mq := &primitive.MessageQueue{Topic: traceTopic, BrokerName: o.brokerName, QueueId: 0}
	records := 0
	var off int64
	for len(pub) < o.n || len(before) < o.n || len(after) < o.n {
		if time.Now().After(o.deadline) {
			return fmt.Errorf("trace records of the run in %s: Pub %d, SubBefore %d, SubAfter %d of %d",
				traceTopic, len(pub), len(before), len(after), o.n)
		}
		res, err := pc.PullFrom(context.Background(), mq, off, 32)
		if err != nil || res.Status != primitive.PullFound {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, m := range res.GetMessageExts() {
			for _, rec := range strings.Split(string(m.Body), "\002") {
				f := strings.Split(rec, "\001")
				if len(f) == 0 || f[0] == "" {
					continue
				}
				records++
				switch f[0] {
				case "Pub": // Pub, time, region, group, topic, msgId, tags, keys, storeHost, bodyLength,
					// cost, msgType, offsetMsgId, success[, clientHost]
					if len(f) < 14 || f[4] != topic {
						continue
					}
					want, ok := offsetIDs[f[5]]
					if f[3] != pg || !ok || f[12] != want || f[13] != "true" || f[6] != "TagT" {
						return fmt.Errorf("bad Pub record: %s", strings.ReplaceAll(rec, "\001", "|"))
					}
					pub[f[5]] = true
				case "SubBefore": // SubBefore, time, region, group, requestId, msgId, retryTimes, keys[, clientHost]
					if len(f) < 8 || f[3] != cg {
						continue
					}
					if _, ok := offsetIDs[f[5]]; !ok {
						return fmt.Errorf("SubBefore record of an unknown message: %s", strings.ReplaceAll(rec, "\001", "|"))
					}
					before[f[5]] = true
				case "SubAfter": // SubAfter, requestId, msgId, cost, success, keys, contextCode[, time, group]
					if len(f) < 7 {
						continue
					}
					if _, ok := offsetIDs[f[2]]; !ok {
						continue
					}
					if f[4] != "true" {
						return fmt.Errorf("SubAfter record not successful: %s", strings.ReplaceAll(rec, "\001", "|"))
					}
					after[f[2]] = true
				}
			}
		}
		off = res.NextBeginOffset
	}
	fmt.Printf("trace topic %s: %d records read; Pub %d, SubBefore %d, SubAfter %d for the %d messages\n",
		traceTopic, records, len(pub), len(before), len(after), o.n)
	return nil
}
