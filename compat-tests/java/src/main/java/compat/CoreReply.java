package compat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.RequestCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;
import static compat.CoreSupport.remaining;

/**
 * Request-reply: a responder (push consumer of a fresh group, with its own producer) answers every request with
 * {@code MessageUtil.createReplyMessage} + {@code send} (the client turns that into SEND_REPLY_MESSAGE(_V2)); the
 * requester's {@code request(msg, timeout)} must return that reply, pushed to it by the broker
 * (PUSH_REPLY_MESSAGE_TO_CLIENT): body, the responder's user property, topic {@code <cluster>_REPLY_TOPIC}, the
 * request's CORRELATION_ID, MSG_TYPE {@code reply} and the broker's PUSH_REPLY_TIME. {@code --n} synchronous requests,
 * then one with a {@code RequestCallback}. Every reply send must be SEND_OK, and (storeReplyMessageEnable defaults to
 * true) the reply topic's queue 0 must have grown by exactly the number of replies.
 */
final class CoreReply {
    private CoreReply() {
    }

    static final int QUEUES = 2;

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        String cluster = a.get("cluster", "DefaultCluster");
        int n = a.getInt("n", 10);
        long requestTimeout = a.getLong("request-timeout-ms", 5000);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_reply_" + run;
        String replyTopic = cluster + "_REPLY_TOPIC";

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        MessageQueue replyQueue = new MessageQueue(replyTopic, brokerName, 0);
        long storedBefore = admin.maxOffset(replyQueue);

        DefaultMQProducer responder = CoreSupport.producer(ns, "PG_RESP_" + topic, "core-responder-" + run);
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean warmedUp = new AtomicBoolean();
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "CG_" + topic, "core-responder-" + run);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                if (MessageUtil.getReplyToClient(m) == null) {
                    warmedUp.set(true); // the requester's warm-up message: no reply
                    continue;
                }
                try {
                    String body = new String(m.getBody(), StandardCharsets.UTF_8);
                    Message reply = MessageUtil.createReplyMessage(m, ("reply:" + body).getBytes(StandardCharsets.UTF_8));
                    reply.putUserProperty("c-from", "responder-" + run);
                    SendResult r = responder.send(reply);
                    if (r.getSendStatus() != SendStatus.SEND_OK) {
                        errors.add("reply to " + body + ": " + r.getSendStatus());
                    }
                } catch (Exception e) {
                    errors.add("reply to " + m.getMsgId() + ": " + e);
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        check(CoreSupport.waitFor(() -> held(c, topic) == QUEUES, deadline),
            "the responder never held the " + QUEUES + " queues of " + topic);

        // A plain message first (from the responder's producer: the requester must still find the topic's route
        // unknown in its first request(), which is when it sends the heartbeat that registers it with the broker),
        // until the responder consumes it: a fresh 5.x push consumer may pause its pulls for a while at start
        // (SUBSCRIPTION_NOT_LATEST while its heartbeat is on the way, with either broker), longer than a request's
        // timeout.
        CoreSupport.checkResult(responder.send(new Message(topic, "TagWarmUp", "warm-up".getBytes(StandardCharsets.UTF_8))),
            topic, "warm-up send");
        check(CoreSupport.waitFor(warmedUp::get, deadline), "the responder never consumed the warm-up message");

        DefaultMQProducer requester = CoreSupport.producer(ns, "PG_REQ_" + topic, "core-requester-" + run);
        long t0 = System.currentTimeMillis();
        for (int i = 0; i < n; i++) {
            String body = "request-" + run + "-" + i;
            Message m = new Message(topic, "TagReq", body.getBytes(StandardCharsets.UTF_8));
            Message reply = requester.request(m, requestTimeout);
            check(reply != null, "request " + i + ": no reply");
            String problem = problem(reply, m, "reply:" + body, replyTopic, run);
            check(problem == null, "request " + i + ": " + problem);
        }
        System.out.println("requests: " + n + " synchronous replies in " + (System.currentTimeMillis() - t0) + " ms");

        String body = "request-" + run + "-async";
        Message m = new Message(topic, "TagReq", body.getBytes(StandardCharsets.UTF_8));
        AtomicReference<Object> got = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        requester.request(m, new RequestCallback() {
            @Override
            public void onSuccess(Message reply) {
                // The client calls this once when the request is sent (reply still null unless it already
                // arrived), and again with the reply when the broker pushes it.
                if (reply != null) {
                    got.set(reply);
                    done.countDown();
                }
            }

            @Override
            public void onException(Throwable e) {
                got.set(e);
                done.countDown();
            }
        }, requestTimeout);
        check(done.await(remaining(deadline), TimeUnit.MILLISECONDS), "the callback request never completed");
        check(got.get() instanceof Message, "callback request failed: " + got.get());
        String problem = problem((Message) got.get(), m, "reply:" + body, replyTopic, run);
        check(problem == null, "callback request: " + problem);
        System.out.println("requests: the callback request got its reply");

        check(errors.isEmpty(), "responder: " + errors);
        // The broker pushes a reply before it stores it: wait for the last store.
        long[] after = {storedBefore};
        CoreSupport.waitFor(() -> {
            try {
                after[0] = admin.maxOffset(replyQueue);
            } catch (Exception e) {
                return false;
            }
            return after[0] - storedBefore >= n + 1;
        }, deadline);
        long storedAfter = after[0];
        check(storedAfter - storedBefore == n + 1,
            "the broker stored " + (storedAfter - storedBefore) + " replies in " + replyTopic + ", expected " + (n + 1));
        System.out.println("replies stored in " + replyTopic + ": " + (storedAfter - storedBefore));
    }

    private static int held(DefaultMQPushConsumer c, String topic) {
        Set<MessageQueue> mqs = c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().keySet();
        int k = 0;
        for (MessageQueue mq : mqs) {
            if (mq.getTopic().equals(topic)) {
                k++;
            }
        }
        return k;
    }

    /** What is wrong with {@code reply} to {@code request}, or null. */
    private static String problem(Message reply, Message request, String body, String replyTopic, String run) {
        List<String> bad = new ArrayList<>();
        String got = new String(reply.getBody(), StandardCharsets.UTF_8);
        if (!body.equals(got)) {
            bad.add("body '" + got + "'");
        }
        if (!replyTopic.equals(reply.getTopic())) {
            bad.add("topic '" + reply.getTopic() + "'");
        }
        String corr = request.getProperty("CORRELATION_ID");
        if (corr == null || !corr.equals(reply.getProperty("CORRELATION_ID"))) {
            bad.add("CORRELATION_ID '" + reply.getProperty("CORRELATION_ID") + "' (request: '" + corr + "')");
        }
        if (!"reply".equals(reply.getProperty("MSG_TYPE"))) {
            bad.add("MSG_TYPE '" + reply.getProperty("MSG_TYPE") + "'");
        }
        if (!("responder-" + run).equals(reply.getUserProperty("c-from"))) {
            bad.add("user property c-from '" + reply.getUserProperty("c-from") + "'");
        }
        if (reply.getProperty("PUSH_REPLY_TIME") == null) {
            bad.add("no PUSH_REPLY_TIME (set by the broker's push)");
        }
        return bad.isEmpty() ? null : String.join(", ", bad);
    }
}
