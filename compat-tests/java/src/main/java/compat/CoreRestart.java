package compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Broker restarts around production and consumption; the harness restarts the broker (SIGTERM, or kill -9) on
 * the same store and port whenever this program marks a gate ({@link CoreSupport.Gate}):
 * <ol>
 *   <li>{@code --n} messages are sent synchronously; after half of them gate {@code produce} is marked and the
 *   sends go on, slowly, while the broker goes down and comes back (failed sends are retried; only SEND_OK counts
 *   as acknowledged);</li>
 *   <li>gate {@code produced}: the broker restarts between production and consumption;</li>
 *   <li>a push consumer (group G, offsets committed every second, small pull batches) consumes; after half, gate
 *   {@code consume} is marked and consumption goes on slowly through the restart. Every acknowledged message
 *   must arrive (duplicates are allowed here: at-least-once), then the consumer shuts down (commits);</li>
 *   <li>gate {@code consumed}: the broker restarts once more after the committed offsets had time to be
 *   persisted;</li>
 *   <li>{@code --m} new messages are sent and a new consumer of group G must receive exactly those: it resumes
 *   from the committed offsets, so no old message comes again.</li>
 * </ol>
 */
final class CoreRestart {
    private CoreRestart() {
    }

    static final int QUEUES = 4;

    static String msgIds(Map<Integer, String> acked) {
        return acked.size() + " acknowledged";
    }

    /** Sends message {@code i} until SEND_OK (retrying failures); returns the msgId. */
    static String sendUntilOk(DefaultMQProducer p, String topic, String run, int i, IntFunction<String> tagOf,
                              long deadline, AtomicInteger failures) throws Exception {
        while (true) {
            String why;
            try {
                SendResult r = p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)));
                if (r.getSendStatus() == SendStatus.SEND_OK) {
                    CoreSupport.checkResult(r, topic, "send " + i);
                    return r.getMsgId();
                }
                why = "status " + r.getSendStatus();
            } catch (Exception e) {
                why = e.toString();
            }
            int f = failures.incrementAndGet();
            if (f <= 5) {
                System.out.println("send " + i + " failed (will retry): " + why);
            }
            check(System.currentTimeMillis() < deadline, "send " + i + " never succeeded before the time limit: " + why);
            Thread.sleep(100);
        }
    }

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 400);
        int m = a.getInt("m", 20);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        CoreSupport.Gate gate = new CoreSupport.Gate(a.get("gate-dir", ""));
        String run = CoreSupport.newRun();
        String topic = "core_restart_" + run;
        String group = "GID_" + topic;
        IntFunction<String> tagOf = i -> "R" + (i % 2);
        int port = CoreSupport.port(broker);

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        p.setSendMsgTimeout(2000);

        // 1. produce, with a restart in the middle
        Map<Integer, String> acked = new ConcurrentHashMap<>();
        AtomicInteger failures = new AtomicInteger();
        long t0 = System.currentTimeMillis();
        for (int i = 0; i < n; i++) {
            if (i == n / 2) {
                gate.mark("produce");
            }
            if (i >= n / 2 && !gate.released("produce")) {
                Thread.sleep(20);
            }
            acked.put(i, sendUntilOk(p, topic, run, i, tagOf, deadline, failures));
        }
        check(CoreSupport.waitFor(() -> gate.released("produce"), deadline), "gate produce never released");
        System.out.println("produced " + n + " (" + failures.get() + " failed attempts retried) in "
            + (System.currentTimeMillis() - t0) + " ms");

        // 2. restart between production and consumption
        gate.pass("produced", deadline);

        // 3. consume, with a restart in the middle
        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, n + m, tagOf, port, null);
        Set<String> receivedIds = ConcurrentHashMap.newKeySet();
        AtomicInteger consumed = new AtomicInteger();
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, group, "core-consumer-a-" + run);
        c.setPersistConsumerOffsetInterval(1000);
        c.setPullBatchSize(4);
        c.setPullThresholdForQueue(8);
        c.setConsumeMessageBatchMaxSize(1);
        c.setConsumeThreadMin(1);
        c.setConsumeThreadMax(1);
        c.subscribe(topic, "*");
        List<String> gateErrors = new ArrayList<>();
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt msg : msgs) {
                tally.accept(msg);
                receivedIds.add(msg.getMsgId());
                int k = consumed.incrementAndGet();
                try {
                    if (k == n / 2) {
                        gate.mark("consume");
                    }
                    if (k >= n / 2 && !gate.released("consume")) {
                        Thread.sleep(20);
                    }
                } catch (Exception e) {
                    gateErrors.add(e.toString());
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        boolean all = CoreSupport.waitFor(() -> receivedIds.containsAll(acked.values()) || !tally.problems.isEmpty(),
            deadline);
        tally.failOnProblems();
        check(gateErrors.isEmpty(), "gate: " + gateErrors);
        if (!all) {
            List<Integer> missing = new ArrayList<>();
            for (Map.Entry<Integer, String> e : acked.entrySet()) {
                if (!receivedIds.contains(e.getValue())) {
                    missing.add(e.getKey());
                }
            }
            java.util.Collections.sort(missing);
            throw new CoreSupport.Failure(missing.size() + " of " + msgIds(acked)
                + " messages never consumed (lost?), first: " + missing.subList(0, Math.min(10, missing.size())));
        }
        check(CoreSupport.waitFor(() -> gate.released("consume"), deadline), "gate consume never released");
        System.out.println("consumed all " + msgIds(acked) + " messages (" + consumed.get() + " deliveries, "
            + tally.duplicateCount() + " duplicates)");
        Thread.sleep(2500);  // two commit rounds of the consumer
        c.shutdown();

        // 4. restart after the offsets were committed
        gate.pass("consumed", deadline);

        // 5. new messages; a new consumer of the group must get exactly those
        Map<Integer, String> acked2 = new ConcurrentHashMap<>();
        for (int i = n; i < n + m; i++) {
            acked2.put(i, sendUntilOk(p, topic, run, i, tagOf, deadline, failures));
        }
        CoreSupport.Tally tally2 = new CoreSupport.Tally(topic, run, n + m, tagOf, port, null);
        Set<String> receivedIds2 = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer c2 = CoreSupport.pushConsumer(ns, group, "core-consumer-b-" + run);
        c2.subscribe(topic, "*");
        c2.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt msg : msgs) {
                int idx = tally2.accept(msg);
                receivedIds2.add(msg.getMsgId());
                if (idx >= 0 && idx < n) {
                    tally2.problems.add("message " + idx + " (queue " + msg.getQueueId() + " offset " + msg.getQueueOffset()
                        + ") consumed again by a new consumer of the group: committed offsets lost");
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c2.start();
        boolean all2 = CoreSupport.waitFor(() -> receivedIds2.containsAll(acked2.values()) || !tally2.problems.isEmpty(),
            deadline);
        Thread.sleep(1500);
        tally2.failOnProblems();
        check(all2, "the new consumer got " + tally2.distinct() + " of the " + m + " new messages before the time limit");
        String dup = tally2.duplicates();
        check(dup.isEmpty(), "the new consumer got messages more than once: " + dup);
        System.out.println("a new consumer of the group resumed at the committed offsets: exactly the " + m
            + " new messages");
    }
}
