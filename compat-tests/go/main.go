// Command compat-go drives the official rocketmq-client-go/v2 client against a
// nameserver (ours or the Java reference) for the compat harness.
//
// Usage: compat-go <scenario> [flags]
//
// Scenarios:
//
//	send-push   create a topic on -broker, wait for its route on -ns, send -n
//	            messages synchronously with keys, tags and user properties, then
//	            push-consume them and check every body, key, tag and property.
//	acl         ACL 1.0 with primitive.Credentials (acl.go).
//
// Exit status 0 means the scenario passed; on failure the last line printed on
// stderr starts with "FAIL:" and says why. Every wait is bounded by -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

type options struct {
	ns      string
	broker  string
	topic   string
	group   string
	n       int
	timeout time.Duration
	run     string
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compat-go send-push -ns ADDR -broker ADDR -topic T -n N")
		os.Exit(2)
	}
	scenario := os.Args[1]
	if scenario == "acl" { // ACL 1.0 with credentials: acl.go, own flags
		os.Exit(runACL(os.Args[2:]))
	}
	if f, ok := coreScenarios[scenario]; ok { // broker-core scenarios: core.go, own flags
		os.Exit(runCore(scenario, f, os.Args[2:]))
	}
	fs := flag.NewFlagSet(scenario, flag.ExitOnError)
	var o options
	fs.StringVar(&o.ns, "ns", "127.0.0.1:9876", "nameserver address")
	fs.StringVar(&o.broker, "broker", "", "broker address to create the topic on (empty: do not create)")
	fs.StringVar(&o.topic, "topic", "", "topic name (default: generated)")
	fs.StringVar(&o.group, "group", "", "group name (default: derived from topic)")
	fs.IntVar(&o.n, "n", 100, "number of messages")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "overall time limit of the scenario")
	_ = fs.Parse(os.Args[2:])
	o.run = strconv.FormatInt(time.Now().UnixNano()%1000000007, 36)
	if o.topic == "" {
		o.topic = "compat_go_" + o.run
	}
	if o.group == "" {
		o.group = "GID_" + o.topic
	}
	rlog.SetLogLevel("error")

	// A hard deadline: whatever the client does, the process ends.
	go func() {
		time.Sleep(o.timeout + 15*time.Second)
		fmt.Fprintln(os.Stderr, "FAIL: hard deadline passed, client hung")
		os.Exit(3)
	}()

	var err error
	switch scenario {
	case "send-push":
		err = sendPush(o)
	default:
		err = fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: "+err.Error())
		os.Exit(1)
	}
	fmt.Println("OK")
	os.Exit(0)
}

// expected describes message i of a run; the consumer checks against it.
type expected struct {
	body, key, tag string
	props          map[string]string
}

func expect(o options, i int) expected {
	return expected{
		body: fmt.Sprintf("go-body-%s-%d-%s", o.run, i, strings.Repeat("x", i%17)),
		key:  fmt.Sprintf("key-%s-%d", o.run, i),
		tag:  fmt.Sprintf("Tag%d", i%3),
		props: map[string]string{
			"compat-idx": strconv.Itoa(i),
			"compat-run": o.run,
		},
	}
}

func waitRoute(ctx context.Context, o options) error {
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{o.ns})))
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer adm.Close()
	if o.broker != "" {
		err = adm.CreateTopic(ctx, admin.WithTopicCreate(o.topic), admin.WithBrokerAddrCreate(o.broker),
			admin.WithReadQueueNums(4), admin.WithWriteQueueNums(4))
		if err != nil {
			return fmt.Errorf("create topic %s on %s: %w", o.topic, o.broker, err)
		}
	}
	var last error
	for {
		qs, err := adm.FetchPublishMessageQueues(ctx, o.topic)
		if err == nil && len(qs) > 0 {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("route of %s never appeared on nameserver %s: %v", o.topic, o.ns, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func sendPush(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := waitRoute(ctx, o); err != nil {
		return err
	}

	p, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{o.ns}),
		producer.WithGroupName("PG_"+o.topic),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(5*time.Second),
	)
	if err != nil {
		return fmt.Errorf("new producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return fmt.Errorf("producer start: %w", err)
	}
	sentIDs := make(map[string]string, o.n)
	for i := 0; i < o.n; i++ {
		e := expect(o, i)
		msg := primitive.NewMessage(o.topic, []byte(e.body))
		// WithProperties replaces the whole property map, so it goes first.
		msg.WithProperties(e.props)
		msg.WithTag(e.tag)
		msg.WithKeys([]string{e.key})
		res, err := p.SendSync(ctx, msg)
		if err != nil {
			_ = p.Shutdown()
			return fmt.Errorf("send %d: %w", i, err)
		}
		if res.Status != primitive.SendOK {
			_ = p.Shutdown()
			return fmt.Errorf("send %d: status %v", i, res.Status)
		}
		if res.MsgID == "" || res.MessageQueue == nil || res.MessageQueue.Topic != o.topic {
			_ = p.Shutdown()
			return fmt.Errorf("send %d: bad result %v", i, res)
		}
		sentIDs[e.key] = res.MsgID
	}
	_ = p.Shutdown()
	fmt.Printf("sent %d messages to %s\n", o.n, o.topic)

	var mu sync.Mutex
	got := make(map[string]bool, o.n)
	var problems []string
	done := make(chan struct{})
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName(o.group),
		consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		return fmt.Errorf("new consumer: %w", err)
	}
	err = c.Subscribe(o.topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			idx, convErr := strconv.Atoi(m.GetProperty("compat-idx"))
			if convErr != nil || idx < 0 || idx >= o.n {
				problems = append(problems, fmt.Sprintf("message %s without a valid compat-idx", m.MsgId))
				continue
			}
			e := expect(o, idx)
			var bad []string
			if string(m.Body) != e.body {
				bad = append(bad, fmt.Sprintf("body %q", m.Body))
			}
			if m.GetKeys() != e.key {
				bad = append(bad, fmt.Sprintf("keys %q", m.GetKeys()))
			}
			if m.GetTags() != e.tag {
				bad = append(bad, fmt.Sprintf("tags %q", m.GetTags()))
			}
			for k, v := range e.props {
				if m.GetProperty(k) != v {
					bad = append(bad, fmt.Sprintf("property %s=%q", k, m.GetProperty(k)))
				}
			}
			if m.Topic != o.topic {
				bad = append(bad, fmt.Sprintf("topic %q", m.Topic))
			}
			if id := sentIDs[e.key]; id != m.MsgId {
				bad = append(bad, fmt.Sprintf("msgId %q, send returned %q", m.MsgId, id))
			}
			if len(bad) > 0 {
				problems = append(problems, fmt.Sprintf("message %d: %s", idx, strings.Join(bad, ", ")))
				continue
			}
			got[e.key] = true
		}
		if len(got) == o.n || len(problems) > 0 {
			select {
			case <-done:
			default:
				close(done)
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
	select {
	case <-done:
	case <-ctx.Done():
	}
	_ = c.Shutdown()
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		return fmt.Errorf("%d bad messages, first: %s", len(problems), problems[0])
	}
	if len(got) != o.n {
		return fmt.Errorf("consumed %d of %d distinct messages before the time limit", len(got), o.n)
	}
	fmt.Printf("consumed and checked %d messages\n", o.n)
	return nil
}
