package compat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;
import static compat.CoreSupport.remaining;

/**
 * {@code --n} messages each sent synchronously, asynchronously, oneway and in batches of {@code --batch} (index
 * ranges [0,n), [n,2n), [2n,3n), [3n,4n)), then one push consumer (fresh group, first offset) must receive every
 * one of the 4n exactly once with body, keys, tag and user properties intact. Sync, async and batch messages are
 * also matched against their send result (msgId, offsetMsgId, queue and queue offset); oneway ones, which have no
 * result, by count and content. Finally every queue's delivered offsets must be exactly 0..max-1 and the max
 * offsets must add up to 4n.
 */
final class CoreSendModes {
    private CoreSendModes() {
    }

    static final int QUEUES = 4;

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        int n = a.getInt("n", 40);
        int batch = a.getInt("batch", 8);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_modes_" + run;
        IntFunction<String> tagOf = i -> "Tag" + (i % 3);

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        Map<Integer, CoreSupport.Sent> sent = new ConcurrentHashMap<>();

        long t0 = System.currentTimeMillis();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)));
            CoreSupport.checkResult(r, topic, "sync send " + i);
            sent.put(i, new CoreSupport.Sent(r.getMsgId(), r.getOffsetMsgId(), r.getMessageQueue().getQueueId(),
                r.getQueueOffset()));
        }

        CountDownLatch acks = new CountDownLatch(n);
        List<String> asyncErrors = Collections.synchronizedList(new ArrayList<>());
        for (int i = n; i < 2 * n; i++) {
            final int idx = i;
            p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)), new SendCallback() {
                @Override
                public void onSuccess(SendResult r) {
                    try {
                        CoreSupport.checkResult(r, topic, "async send " + idx);
                        sent.put(idx, new CoreSupport.Sent(r.getMsgId(), r.getOffsetMsgId(),
                            r.getMessageQueue().getQueueId(), r.getQueueOffset()));
                    } catch (CoreSupport.Failure f) {
                        asyncErrors.add(f.getMessage());
                    }
                    acks.countDown();
                }

                @Override
                public void onException(Throwable e) {
                    asyncErrors.add("async send " + idx + ": " + e);
                    acks.countDown();
                }
            });
        }
        check(acks.await(remaining(deadline), TimeUnit.MILLISECONDS),
            "only " + (n - acks.getCount()) + " of " + n + " async sends completed before the time limit");
        check(asyncErrors.isEmpty(), asyncErrors.size() + " async sends failed, first: "
            + (asyncErrors.isEmpty() ? "" : asyncErrors.get(0)));

        for (int i = 2 * n; i < 3 * n; i++) {
            p.sendOneway(CoreSupport.message(topic, run, i, tagOf.apply(i)));
        }

        for (int from = 3 * n; from < 4 * n; from += batch) {
            List<Message> msgs = new ArrayList<>();
            for (int i = from; i < Math.min(4 * n, from + batch); i++) {
                msgs.add(CoreSupport.message(topic, run, i, tagOf.apply(i)));
            }
            SendResult r = p.send(msgs);
            String what = "batch send of " + from + ".." + (from + msgs.size() - 1);
            CoreSupport.checkResult(r, topic, what);
            List<CoreSupport.Sent> parts = CoreSupport.splitBatch(r, msgs.size(), what);
            for (int k = 0; k < parts.size(); k++) {
                sent.put(from + k, parts.get(k));
            }
        }
        System.out.println("sent " + n + " sync, " + n + " async, " + n + " oneway, " + n + " batched in "
            + (System.currentTimeMillis() - t0) + " ms");

        int total = 4 * n;
        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, total, tagOf, CoreSupport.port(broker), sent);
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "GID_" + topic, "core-consumer-" + run);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                tally.accept(m);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        boolean all = CoreSupport.waitFor(() -> tally.distinct() >= total || !tally.problems.isEmpty(), deadline);
        tally.failOnProblems();
        check(all, "consumed " + tally.distinct() + " of " + total + " distinct messages before the time limit; missing "
            + tally.missing(IntStream.range(0, total).boxed().collect(Collectors.toList())));
        // Anything delivered twice or extra shows up within this grace period.
        Thread.sleep(1500);
        tally.failOnProblems();
        String dup = tally.duplicates();
        check(dup.isEmpty(), "delivered more than once: " + dup);
        check(tally.total.get() == total, tally.total.get() + " deliveries for " + total + " messages");
        tally.checkOffsets(admin, brokerName, QUEUES, total);
        System.out.println("consumed and checked " + total + " messages, each exactly once");
    }
}
