package compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Timer messages (5.x): {@code --n} messages with deliver times 2-3 s ahead (5.x client: {@code setDeliverTimeMs}, and
 * every third {@code setDelayTimeSec(2)}; 4.9.x client: the {@code TIMER_DELIVER_MS} / {@code TIMER_DELAY_SEC}
 * properties set by hand, which that version does not reserve) go to a 4-queue topic a push consumer is already
 * subscribed to. Each must arrive once, not before its deliver time minus the broker's precision (1 s: the broker
 * rounds deliver times down to it) and at most 2 s after it, intact (the usual content checks) and with the broker's
 * bookkeeping properties {@code TIMER_OUT_MS}, {@code TIMER_ENQUEUE_MS}, {@code TIMER_DEQUEUE_MS}, {@code REAL_TOPIC}.
 * A deliver time 4 days ahead (beyond {@code timerMaxDelaySec}) must be refused with MESSAGE_ILLEGAL (13).
 */
final class CoreTimer {
    private CoreTimer() {
    }

    static final int QUEUES = 4;
    static final long PRECISION_MS = 1000;
    static final long LATE_MS = 2000;

    /** Sets a timer property: through the 5.x API when there is one, else by hand. */
    static void setTimer(Message m, String method, String property, long value) throws Exception {
        try {
            Reflect.call(m, method, value);
        } catch (NoSuchMethodException e) {
            m.putUserProperty(property, Long.toString(value));
        }
    }

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 12);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_timer_" + run;

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        int port = CoreSupport.port(broker);

        Map<Integer, Long> arrived = new ConcurrentHashMap<>();
        Map<Integer, MessageExt> got = new ConcurrentHashMap<>();
        AtomicInteger dups = new AtomicInteger();
        List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "CG_" + topic, "core-timer-consumer-" + run);
        c.subscribe(topic, "*");
        java.util.Set<Integer> warmed = ConcurrentHashMap.newKeySet();
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                if (CoreSupport.isWarmUp(m, run, warmed)) {
                    continue;
                }
                int idx = CoreSupport.index(m, run);
                if (idx < 0) {
                    problems.add("foreign message " + m.getMsgId());
                    continue;
                }
                if (arrived.putIfAbsent(idx, now) != null) {
                    dups.incrementAndGet();
                }
                got.putIfAbsent(idx, m);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();

        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        CoreSupport.warmUp(p, topic, run, warmed, deadline);
        // Too far ahead: refused.
        Message far = CoreSupport.message(topic, run, n, "TagT");
        setTimer(far, "setDeliverTimeMs", "TIMER_DELIVER_MS", System.currentTimeMillis() + 4L * 24 * 3600 * 1000);
        try {
            SendResult r = p.send(far);
            throw new CoreSupport.Failure("a deliver time 4 days ahead was accepted: " + r);
        } catch (MQBrokerException e) {
            check(e.getResponseCode() == 13, "4 days ahead: response code " + e.getResponseCode() + " (want 13)");
            check(String.valueOf(e.getErrorMessage()).contains("timer message illegal"),
                "4 days ahead: remark " + e.getErrorMessage());
        }

        long[] due = new long[n];
        for (int i = 0; i < n; i++) {
            Message m = CoreSupport.message(topic, run, i, "TagT");
            long sendAt = System.currentTimeMillis();
            if (i % 3 == 2) {
                setTimer(m, "setDelayTimeSec", "TIMER_DELAY_SEC", 2);
                due[i] = sendAt + 2000;
            } else {
                due[i] = sendAt + 2000 + (i % 4) * 300;
                setTimer(m, "setDeliverTimeMs", "TIMER_DELIVER_MS", due[i]);
            }
            SendResult r = p.send(m);
            CoreSupport.checkResult(r, topic, "send " + i);
        }
        System.out.println("sent " + n + " timer messages due in 2-3 s");
        boolean all = CoreSupport.waitFor(() -> arrived.size() >= n, Math.min(deadline,
            System.currentTimeMillis() + 15_000));
        Thread.sleep(500);
        check(all, "only " + arrived.size() + " of " + n + " timer messages arrived");
        check(problems.isEmpty(), String.join("; ", problems));
        long worstEarly = Long.MIN_VALUE;
        long worstLate = Long.MIN_VALUE;
        for (int i = 0; i < n; i++) {
            long at = arrived.get(i);
            MessageExt m = got.get(i);
            String bad = CoreSupport.problem(m, topic, run, n, k -> "TagT", port);
            check(bad == null, bad);
            check(at >= due[i] - PRECISION_MS, "message " + i + " arrived " + (due[i] - at) + " ms before its time");
            check(at <= due[i] + LATE_MS, "message " + i + " arrived " + (at - due[i]) + " ms after its time");
            worstEarly = Math.max(worstEarly, due[i] - at);
            worstLate = Math.max(worstLate, at - due[i]);
            for (String k : new String[] {"TIMER_OUT_MS", "TIMER_ENQUEUE_MS", "TIMER_DEQUEUE_MS"}) {
                check(m.getProperty(k) != null, "message " + i + " has no " + k + ": " + m.getProperties());
            }
            check(topic.equals(m.getProperty("REAL_TOPIC")), "message " + i + " REAL_TOPIC " + m.getProperty("REAL_TOPIC"));
        }
        check(dups.get() == 0, dups.get() + " timer messages arrived twice");
        System.out.println("push: all " + n + " arrived once; earliest " + worstEarly + " ms before, latest "
            + worstLate + " ms after the deliver time");
        p.shutdown();
        c.shutdown();
    }
}
