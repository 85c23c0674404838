// core-reply: request-reply with the Go client (issue 5), the checks of
// java/src/main/java/compat/CoreReply.java. A responder (push consumer + producer) answers every
// request with consumer.CreateReplyMessage + SendSync (the client sends SEND_REPLY_MESSAGE); the
// requester's Request(ctx, timeout, msg) must return the reply the broker pushes to it
// (PUSH_REPLY_MESSAGE_TO_CLIENT): body, user property, topic DefaultCluster_REPLY_TOPIC, the
// request's CORRELATION_ID, MSG_TYPE "reply" and the broker's PUSH_REPLY_TIME.
//
// v2.1.2's CreateReplyMessage parses the body into properties and leaves Body empty; the
// responder sets Body itself.
package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

const replyTopic = "DefaultCluster_REPLY_TOPIC"

func init() {
	coreScenarios["core-reply"] = coreReply
}

func coreReply(o coreOpts) error {
	const queues = 2
	topic := "core_reply_go_" + o.run
	if err := coreCreateTopic(o, topic, queues); err != nil {
		return err
	}
	responder, err := coreProducer(o, "PG_RESP_"+topic, "core-responder-"+o.run)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var errs []string
	var warmedUp atomic.Bool
	c, err := corePushConsumer(o, "CG_"+topic, "core-responder-"+o.run)
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			if consumer.GetReplyToClient(m) == "" {
				warmedUp.Store(true) // the requester's warm-up message: no reply
				continue
			}
			reply, err := consumer.CreateReplyMessage(m, nil)
			if err == nil {
				reply.Body = []byte("reply:" + string(m.Body))
				reply.WithProperty("c-from", "responder-"+o.run)
				var res *primitive.SendResult
				res, err = responder.SendSync(context.Background(), reply)
				if err == nil && res.Status != primitive.SendOK {
					err = fmt.Errorf("status %v", res.Status)
				}
			}
			first := string(m.Body) == fmt.Sprintf("request-%s-0", o.run)
			if err != nil && first && strings.Contains(err.Error(), "not found") {
				continue // the first request before the requester's heartbeat: retried below
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("reply to %s: %v", m.MsgId, err))
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
	for len(heldQueues(c, topic)) != queues {
		if time.Now().After(o.deadline) {
			return fmt.Errorf("the responder never held the %d queues of %s", queues, topic)
		}
		time.Sleep(50 * time.Millisecond)
	}

	requester, err := coreProducer(o, "PG_REQ_"+topic, "core-requester-"+o.run)
	if err != nil {
		return err
	}
	// The broker pushes a reply to the requester's connection only once the requester's heartbeat
	// has registered it as a producer: the Go client heartbeats 1 s after start, and then every
	// 30 s, to the brokers it knows by then. A plain send first makes the broker known; the first
	// request is retried until that heartbeat has happened (its reply is otherwise refused with
	// "channel of <client> not found").
	if _, err := requester.SendSync(context.Background(), primitive.NewMessage(topic, []byte("warm-up"))); err != nil {
		return fmt.Errorf("warm-up send: %w", err)
	}
	for !warmedUp.Load() {
		if time.Now().After(o.deadline) {
			return fmt.Errorf("the responder never consumed the warm-up message")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t0 := time.Now()
	for i := 0; i < o.n; i++ {
		body := fmt.Sprintf("request-%s-%d", o.run, i)
		m := primitive.NewMessage(topic, []byte(body))
		m.WithTag("TagReq")
		reply, err := requester.Request(context.Background(), 5*time.Second, m)
		for i == 0 && err != nil && time.Now().Before(o.deadline) {
			fmt.Printf("first request: %v; retrying\n", err)
			m = primitive.NewMessage(topic, []byte(body))
			m.WithTag("TagReq")
			reply, err = requester.Request(context.Background(), 5*time.Second, m)
		}
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if reply == nil {
			return fmt.Errorf("request %d: no reply", i)
		}
		if p := replyProblem(reply, m, "reply:"+body, o.run); p != "" {
			return fmt.Errorf("request %d: %s", i, p)
		}
	}
	fmt.Printf("requests: %d synchronous replies in %d ms\n", o.n, time.Since(t0).Milliseconds())
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("responder: %s", strings.Join(errs, "; "))
	}
	return nil
}

func replyProblem(reply, request *primitive.Message, body, run string) string {
	var bad []string
	if string(reply.Body) != body {
		bad = append(bad, fmt.Sprintf("body %q", reply.Body))
	}
	if reply.Topic != replyTopic {
		bad = append(bad, fmt.Sprintf("topic %q", reply.Topic))
	}
	corr := request.GetProperty("CORRELATION_ID")
	if corr == "" || reply.GetProperty("CORRELATION_ID") != corr {
		bad = append(bad, fmt.Sprintf("CORRELATION_ID %q (request %q)", reply.GetProperty("CORRELATION_ID"), corr))
	}
	if reply.GetProperty("MSG_TYPE") != "reply" {
		bad = append(bad, fmt.Sprintf("MSG_TYPE %q", reply.GetProperty("MSG_TYPE")))
	}
	if reply.GetProperty("c-from") != "responder-"+run {
		bad = append(bad, fmt.Sprintf("property c-from %q", reply.GetProperty("c-from")))
	}
	if reply.GetProperty("PUSH_REPLY_TIME") == "" {
		bad = append(bad, "no PUSH_REPLY_TIME (set by the broker's push)")
	}
	return strings.Join(bad, ", ")
}
