// Command compat-go-tls drives rocketmq-client-go/v2 with TLS (WithTls, added after
// v2.1.2) against a nameserver and broker for the compat harness: it creates a topic,
// sends -n messages synchronously, push-consumes them and checks every body, all over
// TLS; with -expect-plain-refused it then checks that a plaintext producer cannot send.
// Exit status 0 and a last line "OK" mean pass; a failure ends with a "FAIL:" line.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
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
	ns, broker, topic, run string
	n                      int
	timeout                time.Duration
	plainRefused           bool
}

func main() {
	var o options
	flag.StringVar(&o.ns, "ns", "127.0.0.1:9876", "nameserver address")
	flag.StringVar(&o.broker, "broker", "", "broker address to create the topic on")
	flag.StringVar(&o.topic, "topic", "", "topic name (default: generated)")
	flag.IntVar(&o.n, "n", 20, "number of messages")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "overall time limit")
	flag.BoolVar(&o.plainRefused, "expect-plain-refused", true, "check that a plaintext producer cannot send")
	flag.Parse()
	o.run = strconv.FormatInt(time.Now().UnixNano()%1000000007, 36)
	if o.topic == "" {
		o.topic = "compat_go_tls_" + o.run
	}
	rlog.SetLogLevel("error")
	go func() { // whatever the client does, the process ends
		time.Sleep(o.timeout + 15*time.Second)
		fmt.Fprintln(os.Stderr, "FAIL: hard deadline passed, client hung")
		os.Exit(3)
	}()
	if err := runTLS(o); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: "+err.Error())
		os.Exit(1)
	}
	fmt.Println("OK")
	os.Exit(0)
}

func body(o options, i int) string { return fmt.Sprintf("go-tls-%s-%d", o.run, i) }

func createTopic(ctx context.Context, o options) error {
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{o.ns})),
		admin.WithTls(true))
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer adm.Close()
	if err := adm.CreateTopic(ctx, admin.WithTopicCreate(o.topic), admin.WithBrokerAddrCreate(o.broker),
		admin.WithReadQueueNums(4), admin.WithWriteQueueNums(4)); err != nil {
		return fmt.Errorf("create topic %s on %s: %w", o.topic, o.broker, err)
	}
	for {
		qs, err := adm.FetchPublishMessageQueues(ctx, o.topic)
		if err == nil && len(qs) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("route of %s never appeared on %s: %v", o.topic, o.ns, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func newProducer(o options, group string, useTLS bool) (rocketmq.Producer, error) {
	p, err := rocketmq.NewProducer(producer.WithNameServer([]string{o.ns}), producer.WithGroupName(group),
		producer.WithRetry(0), producer.WithSendMsgTimeout(5*time.Second), producer.WithTls(useTLS))
	if err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("producer start: %w", err)
	}
	return p, nil
}

func runTLS(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := createTopic(ctx, o); err != nil {
		return err
	}
	p, err := newProducer(o, "PG_"+o.topic, true)
	if err != nil {
		return err
	}
	for i := 0; i < o.n; i++ {
		res, err := p.SendSync(ctx, primitive.NewMessage(o.topic, []byte(body(o, i))))
		if err != nil || res.Status != primitive.SendOK {
			_ = p.Shutdown()
			return fmt.Errorf("TLS send %d: %v %v", i, res, err)
		}
	}
	_ = p.Shutdown()
	fmt.Printf("sent %d messages over TLS to %s\n", o.n, o.topic)

	var mu sync.Mutex
	got := make(map[int]bool, o.n)
	var problem string
	done := make(chan struct{})
	c, err := rocketmq.NewPushConsumer(consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName("GID_"+o.topic), consumer.WithConsumerModel(consumer.Clustering),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset), consumer.WithTls(true))
	if err != nil {
		return fmt.Errorf("new consumer: %w", err)
	}
	err = c.Subscribe(o.topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			matched := false
			for i := 0; i < o.n && !matched; i++ {
				if string(m.Body) == body(o, i) {
					got[i], matched = true, true
				}
			}
			if !matched && problem == "" {
				problem = fmt.Sprintf("unexpected body %q", m.Body)
			}
		}
		if len(got) == o.n || problem != "" {
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
	n, prob := len(got), problem
	mu.Unlock()
	if prob != "" {
		return fmt.Errorf("consume over TLS: %s", prob)
	}
	if n != o.n {
		return fmt.Errorf("consumed %d of %d messages over TLS", n, o.n)
	}
	fmt.Printf("consumed %d messages over TLS\n", n)

	if o.plainRefused {
		// Plaintext: the nameserver (permissive) answers, the enforcing broker must not.
		pp, err := newProducer(o, "PG_plain_"+o.topic, false)
		if err != nil {
			return err
		}
		sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
		res, err := pp.SendSync(sctx, primitive.NewMessage(o.topic, []byte("plain")))
		scancel()
		_ = pp.Shutdown()
		if err == nil {
			return fmt.Errorf("a plaintext producer could send to the broker: %v", res)
		}
		fmt.Printf("plaintext send refused: %v\n", err)
	}
	return nil
}
