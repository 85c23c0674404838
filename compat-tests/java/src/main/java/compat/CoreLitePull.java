package compat;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * {@code DefaultLitePullConsumer}, after {@code --n} messages were sent synchronously to a 4-queue topic.
 *
 * <p>{@code --mode subscribe}: subscribe to the topic, poll until every message arrived exactly once (checked
 * against its send result), then {@code commitSync()}: the broker must report each queue's committed offset as
 * its max offset.
 *
 * <p>{@code --mode assign}: assign all four queues, poll all messages once, then seek each queue to the middle of
 * what it holds; polling must
 * yield exactly the messages from those offsets on, each once, and nothing before them. Then seek queue 0 back to
 * 0: polling yields its first half again, in order.
 */
final class CoreLitePull {
    private CoreLitePull() {
    }

    static final int QUEUES = 4;

    /**
     * {@code seek}, retried on a client-side failure. {@code seek} interrupts the queue's running pull task; in the
     * 5.x client an interrupt that lands while that task waits for the request semaphore surfaces as a
     * RemotingSendRequestException, on which the client closes the (shared) connection to the broker and fails every
     * request in flight on it, including seek's own GET_MIN_OFFSET. The next attempt reconnects.
     */
    static void seek(DefaultLitePullConsumer c, MessageQueue mq, long offset) throws Exception {
        for (int attempt = 1; ; attempt++) {
            try {
                c.seek(mq, offset);
                return;
            } catch (MQClientException e) {
                if (attempt >= 5) {
                    throw e;
                }
                System.out.println("seek(queue " + mq.getQueueId() + ", " + offset + ") failed in the client, retrying: " + e
                    + (e.getCause() != null ? " / " + e.getCause() : ""));
                Thread.sleep(200);
            }
        }
    }

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        String mode = a.get("mode");
        int n = a.getInt("n", 80);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_lite_" + mode + "_" + run;
        String group = "GID_" + topic;
        IntFunction<String> tagOf = i -> "L" + (i % 4);

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        Map<Integer, CoreSupport.Sent> sent = new ConcurrentHashMap<>();
        // queue -> offset -> index
        Map<Integer, TreeMap<Long, Integer>> layout = new HashMap<>();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)));
            CoreSupport.checkResult(r, topic, "send " + i);
            CoreSupport.Sent s = new CoreSupport.Sent(r.getMsgId(), r.getOffsetMsgId(), r.getMessageQueue().getQueueId(),
                r.getQueueOffset());
            sent.put(i, s);
            layout.computeIfAbsent(s.queueId, k -> new TreeMap<>()).put(s.queueOffset, i);
        }
        System.out.println("sent " + n + " messages, per queue: "
            + layout.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue().size()).collect(Collectors.joining(" ")));

        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, n, tagOf, CoreSupport.port(broker), sent);
        DefaultLitePullConsumer c = new DefaultLitePullConsumer(group);
        c.setNamesrvAddr(ns);
        c.setInstanceName("core-lite-" + run);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setPollTimeoutMillis(500);
        if (mode.equals("subscribe")) {
            c.subscribe(topic, "*");
            c.start();
            List<Integer> all = IntStream.range(0, n).boxed().collect(Collectors.toList());
            while (tally.distinct() < n && tally.problems.isEmpty()) {
                check(System.currentTimeMillis() < deadline, "polled " + tally.distinct() + " of " + n
                    + " messages before the time limit; missing " + tally.missing(all));
                for (MessageExt m : c.poll(500)) {
                    tally.accept(m);
                }
            }
            // Late duplicates would come with the next polls.
            long until = System.currentTimeMillis() + 1000;
            while (System.currentTimeMillis() < until) {
                for (MessageExt m : c.poll(200)) {
                    tally.accept(m);
                }
            }
            tally.failOnProblems();
            String dup = tally.duplicates();
            check(dup.isEmpty(), "polled more than once: " + dup);
            tally.checkOffsets(admin, brokerName, QUEUES, n);
            c.commitSync();
            // commitSync persists with a oneway request: poll the broker's view for a while.
            Collection<MessageQueue> mqs = c.fetchMessageQueues(topic);
            check(mqs.size() == QUEUES, "fetchMessageQueues returned " + mqs);
            String lastView = "";
            boolean committed = false;
            long until2 = Math.min(deadline, System.currentTimeMillis() + 10_000);
            while (!committed && System.currentTimeMillis() < until2) {
                committed = true;
                StringBuilder view = new StringBuilder();
                for (MessageQueue mq : mqs) {
                    long want = admin.maxOffset(mq);
                    Long got = c.committed(mq);
                    view.append(" q").append(mq.getQueueId()).append(": committed ").append(got).append(" max ").append(want);
                    if (got == null || got != want) {
                        committed = false;
                    }
                }
                lastView = view.toString();
                if (!committed) {
                    Thread.sleep(200);
                }
            }
            check(committed, "committed offsets on the broker do not reach the max offsets:" + lastView);
            System.out.println("polled all " + n + " exactly once; committed offsets =" + lastView);
        } else if (mode.equals("assign")) {
            c.start();
            Collection<MessageQueue> mqs = c.fetchMessageQueues(topic);
            check(mqs.size() == QUEUES, "fetchMessageQueues returned " + mqs);
            c.assign(mqs);
            // Read everything once before seeking. assign() starts a pull task per queue at once;
            // seeking while one of them still has a FOUND pull in flight races inside the 4.9.8
            // client (the stale task's late updatePullOffset rewinds the queue: duplicates, seen
            // against our broker and possible against any). With every queue drained, the tasks
            // wait in long polls that seek interrupts cleanly.
            Set<Integer> firstRead = new HashSet<>();
            while (firstRead.size() < n) {
                check(System.currentTimeMillis() < deadline, "first read: polled " + firstRead.size() + " of " + n
                    + " messages before the time limit");
                for (MessageExt m : c.poll(500)) {
                    int idx = CoreSupport.index(m, run);
                    check(idx >= 0 && idx < n, "first read: foreign message at queue " + m.getQueueId() + " offset "
                        + m.getQueueOffset());
                    check(firstRead.add(idx), "first read: message " + idx + " polled twice");
                }
            }
            System.out.println("first read: all " + n + " messages polled once");
            List<Integer> expected = new ArrayList<>();
            Map<Integer, Long> seekTo = new TreeMap<>();
            for (MessageQueue mq : mqs) {
                TreeMap<Long, Integer> q = layout.getOrDefault(mq.getQueueId(), new TreeMap<>());
                long mid = q.size() / 2;
                seek(c, mq, mid);
                seekTo.put(mq.getQueueId(), mid);
                expected.addAll(q.tailMap(mid, true).values());
            }
            System.out.println("seek to " + seekTo + ": expecting " + expected.size() + " messages");
            Map<Integer, Long> lastOffset = new HashMap<>();
            List<String> problems = new ArrayList<>();
            while (tally.distinct() < expected.size() && tally.problems.isEmpty() && problems.isEmpty()) {
                check(System.currentTimeMillis() < deadline, "polled " + tally.distinct() + " of " + expected.size()
                    + " messages before the time limit; missing " + tally.missing(expected));
                for (MessageExt m : c.poll(500)) {
                    int idx = tally.accept(m);
                    if (idx < 0) {
                        continue;
                    }
                    long from = seekTo.getOrDefault(m.getQueueId(), 0L);
                    if (m.getQueueOffset() < from) {
                        problems.add("queue " + m.getQueueId() + " offset " + m.getQueueOffset() + " (message " + idx
                            + ") polled after seek to " + from);
                    }
                    Long prev = lastOffset.put(m.getQueueId(), m.getQueueOffset());
                    if (prev != null && m.getQueueOffset() <= prev) {
                        problems.add("queue " + m.getQueueId() + ": offset " + m.getQueueOffset() + " after " + prev);
                    }
                }
            }
            long until = System.currentTimeMillis() + 1000;
            while (System.currentTimeMillis() < until) {
                for (MessageExt m : c.poll(200)) {
                    tally.accept(m);
                    problems.add("extra message at queue " + m.getQueueId() + " offset " + m.getQueueOffset());
                }
            }
            tally.failOnProblems();
            check(problems.isEmpty(), problems.size() + " problems, first: " + (problems.isEmpty() ? "" : problems.get(0)));
            String dup = tally.duplicates();
            check(dup.isEmpty(), "polled more than once: " + dup);
            for (int idx : expected) {
                check(tally.counts.containsKey(idx), "message " + idx + " never polled");
            }
            check(tally.distinct() == expected.size(), "polled " + tally.distinct() + ", expected " + expected.size());

            // Rewind queue 0 and read its first half again.
            MessageQueue q0 = null;
            for (MessageQueue mq : mqs) {
                if (mq.getQueueId() == 0) {
                    q0 = mq;
                }
            }
            check(q0 != null, "no queue 0 in " + mqs);
            TreeMap<Long, Integer> l0 = layout.getOrDefault(0, new TreeMap<>());
            long mid0 = seekTo.get(0);
            check(mid0 > 0, "queue 0 holds too few messages (" + l0.size() + ") to rewind");
            seek(c, q0, 0);
            List<Long> again = new ArrayList<>();
            long until2 = Math.min(deadline, System.currentTimeMillis() + 15_000);
            while (again.size() < mid0 && System.currentTimeMillis() < until2) {
                for (MessageExt m : c.poll(500)) {
                    check(m.getQueueId() == 0, "after seek(queue 0, 0) polled queue " + m.getQueueId() + " offset "
                        + m.getQueueOffset());
                    int idx = CoreSupport.index(m, run);
                    check(idx >= 0 && l0.get(m.getQueueOffset()) != null && l0.get(m.getQueueOffset()) == idx,
                        "after rewind: queue 0 offset " + m.getQueueOffset() + " is message " + idx);
                    again.add(m.getQueueOffset());
                }
            }
            for (long o = 0; o < mid0; o++) {
                check(again.size() > o && again.get((int) o) == o, "after seek(queue 0, 0) polled offsets " + again
                    + ", expected 0.." + (mid0 - 1) + " first");
            }
            System.out.println("seek: polled the " + expected.size() + " messages after the seek points exactly once; "
                + "rewind of queue 0 re-read offsets 0.." + (mid0 - 1));
        } else {
            throw new CoreSupport.Failure("unknown --mode " + mode);
        }
    }
}
