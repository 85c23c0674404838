package compat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Volume: {@code --n} messages of {@code --size} bytes (default one million of 1 KiB) sent in asynchronous
 * batches of {@code --batch} with at most {@code --inflight} batches outstanding, while a push consumer (fresh
 * group, first offset) consumes them. Every body is generated from the message's index (written at its start)
 * and compared byte for byte on arrival; every index must arrive exactly once. Prints the rates.
 */
final class CoreBulk {
    private CoreBulk() {
    }

    static byte[] body(String run, int idx, int size) {
        byte[] b = new byte[size];
        byte[] head = (idx + ":" + run + ":").getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(head, 0, b, 0, Math.min(head.length, size));
        for (int j = head.length; j < size; j++) {
            b[j] = (byte) ('a' + (idx * 31 + j) % 26);
        }
        return b;
    }

    /** The index written at the start of a body, or -1. */
    static int indexOf(byte[] b) {
        int v = 0;
        int j = 0;
        for (; j < b.length && j < 11 && b[j] >= '0' && b[j] <= '9'; j++) {
            v = v * 10 + (b[j] - '0');
        }
        return j == 0 || j >= b.length || b[j] != ':' ? -1 : v;
    }

    /** SYSTEM_BUSY: the broker's flow control refused the request; nothing was stored, so it is resent. */
    static final int SYSTEM_BUSY = 2;
    static final int MAX_BUSY_RETRIES = 1000;

    /** Sends one batch asynchronously; resends it after 'broker busy'; releases a window permit when done. */
    static void sendBatch(DefaultMQProducer p, List<Message> msgs, int first, AtomicInteger acked, AtomicInteger busyRetries,
                          AtomicReference<String> sendError, Semaphore window) {
        SendCallback cb = new SendCallback() {
            @Override
            public void onSuccess(SendResult r) {
                if (r.getSendStatus() != SendStatus.SEND_OK) {
                    sendError.compareAndSet(null, "batch at " + first + ": status " + r.getSendStatus());
                } else {
                    acked.addAndGet(msgs.size());
                }
                window.release();
            }

            @Override
            public void onException(Throwable e) {
                if (e instanceof MQBrokerException && ((MQBrokerException) e).getResponseCode() == SYSTEM_BUSY
                    && busyRetries.incrementAndGet() <= MAX_BUSY_RETRIES) {
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                    }
                    sendBatch(p, msgs, first, acked, busyRetries, sendError, window);
                    return;
                }
                sendError.compareAndSet(null, "batch at " + first + ": " + e);
                window.release();
            }
        };
        try {
            p.send(msgs, cb, 30_000);
        } catch (Exception e) {
            sendError.compareAndSet(null, "batch at " + first + ": " + e);
            window.release();
        }
    }

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 1_000_000);
        int size = a.getInt("size", 1024);
        int batch = a.getInt("batch", 64);
        int inflight = a.getInt("inflight", 16);
        int queues = a.getInt("queues", 8);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 180_000);
        String run = CoreSupport.newRun();
        String topic = "core_bulk_" + run;

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, queues, deadline);

        BitSet seen = new BitSet(n);
        AtomicLong consumed = new AtomicLong();
        AtomicLong duplicates = new AtomicLong();
        AtomicLong bad = new AtomicLong();
        AtomicReference<String> firstBad = new AtomicReference<>();
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "GID_" + topic, "core-bulk-consumer-" + run);
        c.setConsumeMessageBatchMaxSize(32);
        c.setPullBatchSize(32);
        c.setConsumeThreadMin(2);
        c.setConsumeThreadMax(2);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                byte[] b = m.getBody();
                int idx = indexOf(b);
                boolean ok = idx >= 0 && idx < n && b.length == size && java.util.Arrays.equals(b, body(run, idx, size));
                if (!ok) {
                    bad.incrementAndGet();
                    firstBad.compareAndSet(null, "queue " + m.getQueueId() + " offset " + m.getQueueOffset() + ": body of "
                        + b.length + " bytes starting '" + new String(b, 0, Math.min(24, b.length), StandardCharsets.US_ASCII)
                        + "' (index " + idx + ")");
                    continue;
                }
                synchronized (seen) {
                    if (seen.get(idx)) {
                        duplicates.incrementAndGet();
                        continue;
                    }
                    seen.set(idx);
                }
                consumed.incrementAndGet();
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();

        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-bulk-producer-" + run);
        p.setMaxMessageSize(4 * 1024 * 1024);
        Semaphore window = new Semaphore(inflight);
        AtomicInteger acked = new AtomicInteger();
        AtomicReference<String> sendError = new AtomicReference<>();
        AtomicInteger busyRetries = new AtomicInteger();
        long t0 = System.currentTimeMillis();
        for (int from = 0; from < n && sendError.get() == null; from += batch) {
            List<Message> msgs = new ArrayList<>(batch);
            for (int i = from; i < Math.min(n, from + batch); i++) {
                msgs.add(new Message(topic, body(run, i, size)));
            }
            check(window.tryAcquire(CoreSupport.remaining(deadline), TimeUnit.MILLISECONDS),
                "sending stalled: " + acked.get() + " of " + n + " acknowledged before the time limit");
            sendBatch(p, msgs, from, acked, busyRetries, sendError, window);
        }
        check(window.tryAcquire(inflight, CoreSupport.remaining(deadline), TimeUnit.MILLISECONDS),
            "only " + acked.get() + " of " + n + " sends acknowledged before the time limit");
        check(sendError.get() == null, "send failed: " + sendError.get());
        long produceMs = System.currentTimeMillis() - t0;
        System.out.printf("produced %d x %d B in %.1f s (%.0f msg/s, %d batches resent after 'broker busy'); consumed %d "
            + "so far%n", n, size, produceMs / 1000.0, n * 1000.0 / Math.max(1, produceMs), busyRetries.get(), consumed.get());

        long lastReport = System.currentTimeMillis();
        while (consumed.get() + bad.get() < n) {
            check(System.currentTimeMillis() < deadline, "consumed " + consumed.get() + " of " + n
                + " before the time limit (" + bad.get() + " bad)");
            if (System.currentTimeMillis() - lastReport > 10_000) {
                lastReport = System.currentTimeMillis();
                System.out.println("consumed " + consumed.get() + " of " + n);
            }
            Thread.sleep(50);
        }
        long consumeMs = System.currentTimeMillis() - t0;
        check(bad.get() == 0, bad.get() + " bad messages, first: " + firstBad.get());
        Thread.sleep(1000);
        check(duplicates.get() == 0, duplicates.get() + " messages consumed more than once");
        int distinct;
        synchronized (seen) {
            distinct = seen.cardinality();
        }
        check(distinct == n, "consumed " + distinct + " distinct of " + n);
        System.out.printf("consumed and checked all %d bodies in %.1f s from the first send (%.0f msg/s end to end)%n",
            n, consumeMs / 1000.0, n * 1000.0 / Math.max(1, consumeMs));
    }
}
