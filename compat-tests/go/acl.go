// The "acl" scenario: ACL 1.0 with the Go client's primitive.Credentials against a broker with
// aclEnable=true. The admin account creates the test topic and the DENY topic (the Go admin API
// does not report a broker refusal, so the non-admin topic creation is checked by the Java
// scenario only; and it signs CreateTopic only after a method that registers its ACL hook); the non-admin account sends -n messages and push-consumes all of them; the
// same access key with a wrong secret and the DENY topic are refused with SYSTEM_ERROR (1) and
// the AclException text. (client-go v2.1.2 has no TLS, so there is no Go TLS scenario.)
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

type aclOpts struct {
	ns, broker, topic, group, denied string
	user, adm                        primitive.Credentials
	n                                int
	timeout                          time.Duration
	run                              string
}

func runACL(args []string) int {
	fs := flag.NewFlagSet("acl", flag.ExitOnError)
	var o aclOpts
	fs.StringVar(&o.ns, "ns", "127.0.0.1:9876", "nameserver address")
	fs.StringVar(&o.broker, "broker", "", "broker address")
	fs.StringVar(&o.topic, "topic", "", "topic the account may PUB|SUB")
	fs.StringVar(&o.group, "group", "", "group the account may SUB")
	fs.StringVar(&o.denied, "denied-topic", "", "topic the account has DENY on")
	fs.StringVar(&o.user.AccessKey, "ak", "", "access key")
	fs.StringVar(&o.user.SecretKey, "sk", "", "secret key")
	fs.StringVar(&o.adm.AccessKey, "admin-ak", "", "admin access key")
	fs.StringVar(&o.adm.SecretKey, "admin-sk", "", "admin secret key")
	fs.IntVar(&o.n, "n", 20, "number of messages")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "overall time limit")
	_ = fs.Parse(args)
	o.run = strconv.FormatInt(time.Now().UnixNano()%1000000007, 36)
	rlog.SetLogLevel("error")
	go func() {
		time.Sleep(o.timeout + 15*time.Second)
		fmt.Fprintln(os.Stderr, "FAIL: hard deadline passed, client hung")
		os.Exit(3)
	}()
	if err := aclScenario(o); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: "+err.Error())
		return 1
	}
	fmt.Println("OK")
	return 0
}

func aclCreateTopics(ctx context.Context, o aclOpts) error {
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{o.ns})),
		admin.WithCredentials(o.adm))
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	defer adm.Close()
	// v2.1.2's admin installs its signing hook (RegisterACL) only inside a few methods, such as
	// GetAllSubscriptionGroup, not in CreateTopic: call one first so the creations are signed.
	if _, err := adm.GetAllSubscriptionGroup(ctx, o.broker, 5*time.Second); err != nil {
		return fmt.Errorf("signed admin request: %w", err)
	}
	for _, t := range []string{o.topic, o.denied} {
		err = adm.CreateTopic(ctx, admin.WithTopicCreate(t), admin.WithBrokerAddrCreate(o.broker),
			admin.WithReadQueueNums(2), admin.WithWriteQueueNums(2))
		if err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	for _, t := range []string{o.topic, o.denied} {
		for {
			qs, err := adm.FetchPublishMessageQueues(ctx, t)
			if err == nil && len(qs) > 0 {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("route of %s never appeared (the admin account's creation failed?): %v", t, err)
			case <-time.After(300 * time.Millisecond):
			}
		}
	}
	return nil
}

func aclProducer(o aclOpts, c primitive.Credentials, name string) (rocketmq.Producer, error) {
	p, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{o.ns}),
		producer.WithGroupName("PG_go_acl_"+name+"_"+o.run),
		producer.WithInstanceName("go-acl-"+name+"-"+o.run),
		producer.WithCredentials(c),
		producer.WithRetry(0),
		producer.WithSendMsgTimeout(5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("producer start: %w", err)
	}
	return p, nil
}

// aclRefused is nil when one send to topic with c fails with SYSTEM_ERROR and want.
func aclRefused(ctx context.Context, o aclOpts, c primitive.Credentials, topic, what, want string) error {
	p, err := aclProducer(o, c, what)
	if err != nil {
		return err
	}
	defer func() { _ = p.Shutdown() }()
	res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("refused-"+what)))
	if err == nil {
		return fmt.Errorf("%s: send succeeded (%v)", what, res)
	}
	full := "CODE: 1, DESC: org.apache.rocketmq.acl.common.AclException: " + want
	if !strings.Contains(err.Error(), full) {
		return fmt.Errorf("%s: error %q, want it to contain %q", what, err.Error(), full)
	}
	fmt.Printf("%s refused as expected: %s\n", what, err.Error())
	return nil
}

func aclScenario(o aclOpts) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := aclCreateTopics(ctx, o); err != nil {
		return err
	}
	fmt.Printf("admin account created %s and %s\n", o.topic, o.denied)

	p, err := aclProducer(o, o.user, "user")
	if err != nil {
		return err
	}
	for i := 0; i < o.n; i++ {
		body := fmt.Sprintf("go-acl-%s-%d", o.run, i)
		res, err := p.SendSync(ctx, primitive.NewMessage(o.topic, []byte(body)))
		if err != nil || res.Status != primitive.SendOK {
			_ = p.Shutdown()
			return fmt.Errorf("signed send %d: %v %v", i, res, err)
		}
	}
	_ = p.Shutdown()
	fmt.Printf("signed producer sent %d messages\n", o.n)

	var mu sync.Mutex
	got := map[int]bool{}
	done := make(chan struct{})
	prefix := fmt.Sprintf("go-acl-%s-", o.run)
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer([]string{o.ns}),
		consumer.WithGroupName(o.group),
		consumer.WithInstance("go-acl-consumer-"+o.run),
		consumer.WithCredentials(o.user),
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
			b := string(m.Body)
			if !strings.HasPrefix(b, prefix) {
				continue // an earlier run's message (the cluster is shared)
			}
			if i, err := strconv.Atoi(strings.TrimPrefix(b, prefix)); err == nil {
				got[i] = true
			}
		}
		if len(got) == o.n {
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
	n := len(got)
	mu.Unlock()
	if n != o.n {
		return fmt.Errorf("signed push consumer got %d of %d messages", n, o.n)
	}
	fmt.Printf("signed push consumer got all %d messages\n", o.n)

	wrong := o.user
	wrong.SecretKey += "-wrong"
	if err := aclRefused(ctx, o, wrong, o.topic, "wrong-secret", "Check signature failed for accessKey="+o.user.AccessKey); err != nil {
		return err
	}
	return aclRefused(ctx, o, o.user, o.denied, "denied-topic", "No permission for topic:"+o.denied)
}
