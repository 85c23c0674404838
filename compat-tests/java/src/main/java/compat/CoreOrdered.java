package compat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Ordered messages: {@code --n} messages for {@code --keys} order keys (message i belongs to key i % keys and is
 * that key's (i / keys)-th), sent synchronously with a {@code MessageQueueSelector} that maps key k to queue
 * k % 4. A {@code MessageListenerOrderly} push consumer (which locks its queues on the broker) must see every
 * key's messages in sending order with no gap and no repeat, each in the queue its key maps to, and every queue's
 * offsets in increasing order; the sends must have landed in the selected queues.
 */
final class CoreOrdered {
    private CoreOrdered() {
    }

    static final int QUEUES = 4;

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        int n = a.getInt("n", 160);
        int keys = a.getInt("keys", 8);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_ordered_" + run;
        IntFunction<String> tagOf = i -> "O" + (i % keys);

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        MessageQueueSelector selector = (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size());
        Map<Integer, CoreSupport.Sent> sent = new ConcurrentHashMap<>();
        for (int i = 0; i < n; i++) {
            int key = i % keys;
            SendResult r = p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)), selector, key);
            CoreSupport.checkResult(r, topic, "send " + i);
            check(r.getMessageQueue().getQueueId() == key % QUEUES,
                "send " + i + " (key " + key + ") landed in queue " + r.getMessageQueue().getQueueId());
            sent.put(i, new CoreSupport.Sent(r.getMsgId(), r.getOffsetMsgId(), r.getMessageQueue().getQueueId(),
                r.getQueueOffset()));
        }
        System.out.println("sent " + n + " messages for " + keys + " order keys");

        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, n, tagOf, CoreSupport.port(broker), sent);
        Map<Integer, AtomicInteger> nextSeq = new ConcurrentHashMap<>();
        Map<Integer, Long> lastOffset = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "GID_" + topic, "core-consumer-" + run);
        c.setConsumeMessageBatchMaxSize(3);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                int idx = tally.accept(m);
                if (idx < 0) {
                    continue;
                }
                int key = idx % keys;
                int seq = idx / keys;
                int want = nextSeq.computeIfAbsent(key, k -> new AtomicInteger()).getAndIncrement();
                if (seq != want) {
                    problems.add("key " + key + ": got its message #" + seq + " (index " + idx + ") when #" + want
                        + " was due");
                }
                if (m.getQueueId() != key % QUEUES) {
                    problems.add("key " + key + " message in queue " + m.getQueueId());
                }
                Long prev = lastOffset.put(m.getQueueId(), m.getQueueOffset());
                if (prev != null && m.getQueueOffset() != prev + 1) {
                    problems.add("queue " + m.getQueueId() + ": offset " + m.getQueueOffset() + " after " + prev);
                }
            }
            return ConsumeOrderlyStatus.SUCCESS;
        });
        c.start();
        boolean all = CoreSupport.waitFor(() -> tally.distinct() >= n || !tally.problems.isEmpty() || !problems.isEmpty(),
            deadline);
        Thread.sleep(1000);
        tally.failOnProblems();
        check(problems.isEmpty(), problems.size() + " order violations, first: " + (problems.isEmpty() ? "" : problems.get(0)));
        check(all, "consumed " + tally.distinct() + " of " + n + " before the time limit");
        String dup = tally.duplicates();
        check(dup.isEmpty(), "delivered more than once: " + dup);
        tally.checkOffsets(admin, brokerName, QUEUES, n);
        System.out.println("consumed " + n + " messages in order for each of " + keys + " keys");
    }
}
