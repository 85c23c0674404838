package compat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * Shared pieces of the broker-core scenarios ({@link Core}): the content of message {@code idx} of a run,
 * the check of a consumed message against it, a tally of what was consumed, topic set-up, and the gate
 * files through which the harness restarts the broker at chosen points of a scenario.
 */
final class CoreSupport {
    private CoreSupport() {
    }

    /** A scenario verdict: the message becomes the FAIL line. */
    static final class Failure extends Exception {
        Failure(String message) {
            super(message);
        }
    }

    /** A user property value outside ASCII: the broker must carry property bytes through unchanged. */
    static final String UTF8_VALUE = "v\u00e4lue-\u2713-\u00a7";

    static String newRun() {
        return Long.toString(System.nanoTime() % 1_000_000_007L, 36);
    }

    static long remaining(long deadline) {
        return Math.max(1, deadline - System.currentTimeMillis());
    }

    static void check(boolean ok, String what) throws Failure {
        if (!ok) {
            throw new Failure(what);
        }
    }

    // ------------------------------------------------------------------ message content

    static String body(String run, int idx) {
        StringBuilder b = new StringBuilder("core-").append(run).append('-').append(idx).append('-');
        for (int k = 0; k < idx % 23; k++) {
            b.append((char) ('a' + k));
        }
        return b.append("-\u00fc\u2713").toString();
    }

    /** Two keys (space separated on the wire), so key lists survive the broker too. */
    static String keys(String run, int idx) {
        return "k-" + run + "-" + idx + " kk-" + idx;
    }

    static Message message(String topic, String run, int idx, String tag) {
        Message m = new Message(topic, tag, keys(run, idx), body(run, idx).getBytes(StandardCharsets.UTF_8));
        m.putUserProperty("c-idx", Integer.toString(idx));
        m.putUserProperty("c-run", run);
        m.putUserProperty("c-utf8", UTF8_VALUE);
        return m;
    }

    /** The message's index, or -1 if it has none (or not one of this run). */
    static int index(MessageExt m, String run) {
        if (!run.equals(m.getUserProperty("c-run"))) {
            return -1;
        }
        try {
            return Integer.parseInt(m.getUserProperty("c-idx"));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    /** What is wrong with a consumed message, or null. {@code tagOf} gives the tag message i was sent with. */
    static String problem(MessageExt m, String topic, String run, int n, IntFunction<String> tagOf, int brokerPort) {
        int idx = index(m, run);
        if (idx < 0 || idx >= n) {
            return "message " + m.getMsgId() + " (queue " + m.getQueueId() + " offset " + m.getQueueOffset()
                + ") is not one of this run's " + n + " (c-idx=" + m.getUserProperty("c-idx") + ")";
        }
        List<String> bad = new ArrayList<>();
        String body = new String(m.getBody(), StandardCharsets.UTF_8);
        if (!body(run, idx).equals(body)) {
            bad.add("body '" + body + "'");
        }
        if (!keys(run, idx).equals(m.getKeys())) {
            bad.add("keys '" + m.getKeys() + "'");
        }
        String tag = tagOf.apply(idx);
        if (tag == null ? m.getTags() != null : !tag.equals(m.getTags())) {
            bad.add("tags '" + m.getTags() + "' (sent '" + tag + "')");
        }
        if (!UTF8_VALUE.equals(m.getUserProperty("c-utf8"))) {
            bad.add("property c-utf8='" + m.getUserProperty("c-utf8") + "'");
        }
        if (!topic.equals(m.getTopic())) {
            bad.add("topic '" + m.getTopic() + "'");
        }
        if (m.getReconsumeTimes() != 0) {
            bad.add("reconsumeTimes " + m.getReconsumeTimes());
        }
        if (m.getStoreTimestamp() < m.getBornTimestamp() - 1000 || m.getStoreTimestamp() <= 0) {
            bad.add("storeTimestamp " + m.getStoreTimestamp() + " vs bornTimestamp " + m.getBornTimestamp());
        }
        SocketAddress sh = m.getStoreHost();
        if (brokerPort > 0 && (!(sh instanceof InetSocketAddress) || ((InetSocketAddress) sh).getPort() != brokerPort)) {
            bad.add("storeHost " + sh + " (broker port " + brokerPort + ")");
        }
        return bad.isEmpty() ? null : "message " + idx + ": " + String.join(", ", bad);
    }

    static int port(String addr) {
        return Integer.parseInt(addr.substring(addr.lastIndexOf(':') + 1));
    }

    // ------------------------------------------------------------------ what was sent

    /** The broker's answer to the send of one message. */
    static final class Sent {
        final String msgId;
        final String offsetMsgId;
        final int queueId;
        final long queueOffset;

        Sent(String msgId, String offsetMsgId, int queueId, long queueOffset) {
            this.msgId = msgId;
            this.offsetMsgId = offsetMsgId;
            this.queueId = queueId;
            this.queueOffset = queueOffset;
        }
    }

    static void checkResult(SendResult r, String topic, String what) throws Failure {
        check(r != null, what + ": no send result");
        check(r.getSendStatus() == SendStatus.SEND_OK, what + ": status " + r.getSendStatus());
        check(r.getMsgId() != null && r.getMessageQueue() != null && topic.equals(r.getMessageQueue().getTopic()),
            what + ": bad result " + r);
        check(r.getOffsetMsgId() != null && !r.getOffsetMsgId().isEmpty(), what + ": no offsetMsgId in " + r);
    }

    /** Splits the result of a batch send (comma-joined ids, first queue offset) into one entry per message. */
    static List<Sent> splitBatch(SendResult r, int count, String what) throws Failure {
        String[] ids = r.getMsgId().split(",");
        String[] offsetIds = r.getOffsetMsgId().split(",");
        check(ids.length == count, what + ": " + ids.length + " msgIds for " + count + " messages: " + r.getMsgId());
        check(offsetIds.length == count,
            what + ": " + offsetIds.length + " offsetMsgIds for " + count + " messages: " + r.getOffsetMsgId());
        List<Sent> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new Sent(ids[i], offsetIds[i], r.getMessageQueue().getQueueId(), r.getQueueOffset() + i));
        }
        return out;
    }

    /** Compares a consumed message with what the broker said when it was sent. */
    static String sentMismatch(MessageExt m, Sent s) {
        List<String> bad = new ArrayList<>();
        if (!s.msgId.equals(m.getMsgId())) {
            bad.add("msgId '" + m.getMsgId() + "', send returned '" + s.msgId + "'");
        }
        if (m.getQueueId() != s.queueId || m.getQueueOffset() != s.queueOffset) {
            bad.add("stored at queue " + m.getQueueId() + " offset " + m.getQueueOffset() + ", send returned queue "
                + s.queueId + " offset " + s.queueOffset);
        }
        if (m instanceof MessageClientExt) {
            String off = ((MessageClientExt) m).getOffsetMsgId();
            if (!s.offsetMsgId.equals(off)) {
                bad.add("offsetMsgId '" + off + "', send returned '" + s.offsetMsgId + "'");
            }
        }
        return bad.isEmpty() ? null : String.join(", ", bad);
    }

    // ------------------------------------------------------------------ what was consumed

    /** Tally of consumed messages: count per index, per-queue offsets, problems. Thread-safe. */
    static final class Tally {
        final String topic;
        final String run;
        final int n;
        final IntFunction<String> tagOf;
        final int brokerPort;
        final Map<Integer, Sent> sent;
        final ConcurrentHashMap<Integer, AtomicInteger> counts = new ConcurrentHashMap<>();
        final ConcurrentHashMap<Integer, Map<Long, Integer>> offsetsByQueue = new ConcurrentHashMap<>();
        final List<String> problems = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger total = new AtomicInteger();

        Tally(String topic, String run, int n, IntFunction<String> tagOf, int brokerPort, Map<Integer, Sent> sent) {
            this.topic = topic;
            this.run = run;
            this.n = n;
            this.tagOf = tagOf;
            this.brokerPort = brokerPort;
            this.sent = sent;
        }

        /** Records one consumed message; returns its index or -1. */
        int accept(MessageExt m) {
            total.incrementAndGet();
            String p = problem(m, topic, run, n, tagOf, brokerPort);
            if (p != null) {
                problems.add(p);
                return -1;
            }
            int idx = index(m, run);
            if (sent != null) {
                Sent s = sent.get(idx);
                if (s != null) {
                    String mm = sentMismatch(m, s);
                    if (mm != null) {
                        problems.add("message " + idx + ": " + mm);
                    }
                }
            }
            counts.computeIfAbsent(idx, k -> new AtomicInteger()).incrementAndGet();
            Map<Long, Integer> offs = offsetsByQueue.computeIfAbsent(m.getQueueId(), k -> new ConcurrentHashMap<>());
            Integer prev = offs.putIfAbsent(m.getQueueOffset(), idx);
            if (prev != null && prev != idx) {
                problems.add("queue " + m.getQueueId() + " offset " + m.getQueueOffset() + " delivered as message " + prev
                    + " and as message " + idx);
            }
            return idx;
        }

        int distinct() {
            return counts.size();
        }

        /** Indices consumed more than once, up to a few, as text; empty if none. */
        String duplicates() {
            List<String> d = new ArrayList<>();
            int more = 0;
            for (Map.Entry<Integer, AtomicInteger> e : new TreeMap<>(counts).entrySet()) {
                if (e.getValue().get() > 1) {
                    if (d.size() < 5) {
                        d.add(e.getKey() + " (x" + e.getValue().get() + ")");
                    } else {
                        more++;
                    }
                }
            }
            return d.isEmpty() ? "" : String.join(", ", d) + (more > 0 ? " and " + more + " more" : "");
        }

        int duplicateCount() {
            int c = 0;
            for (AtomicInteger v : counts.values()) {
                c += Math.max(0, v.get() - 1);
            }
            return c;
        }

        /** Expected indices not consumed, up to a few, as text; empty if none. */
        String missing(Iterable<Integer> expected) {
            List<String> miss = new ArrayList<>();
            int more = 0;
            for (int i : expected) {
                if (!counts.containsKey(i)) {
                    if (miss.size() < 8) {
                        miss.add(Integer.toString(i));
                    } else {
                        more++;
                    }
                }
            }
            return miss.isEmpty() ? "" : String.join(", ", miss) + (more > 0 ? " and " + more + " more" : "");
        }

        void failOnProblems() throws Failure {
            synchronized (problems) {
                if (!problems.isEmpty()) {
                    throw new Failure(problems.size() + " bad deliveries, first: " + problems.get(0));
                }
            }
        }

        /**
         * Every queue's delivered offsets must be exactly 0..count-1 (a fresh topic), and the broker's max
         * offsets must add up to {@code expectedTotal}: nothing stored twice, nothing skipped.
         */
        void checkOffsets(DefaultMQAdminExt admin, String brokerName, int queues, long expectedTotal) throws Exception {
            long sum = 0;
            for (int q = 0; q < queues; q++) {
                Map<Long, Integer> offs = offsetsByQueue.getOrDefault(q, Collections.emptyMap());
                long max = admin.maxOffset(new MessageQueue(topic, brokerName, q));
                check(offs.size() == max, "queue " + q + ": consumed " + offs.size() + " distinct offsets, broker max offset "
                    + max);
                for (long o = 0; o < max; o++) {
                    check(offs.containsKey(o), "queue " + q + ": offset " + o + " never delivered (max offset " + max + ")");
                }
                sum += max;
            }
            check(sum == expectedTotal, "the queues hold " + sum + " messages, " + expectedTotal + " were sent");
        }
    }

    // ------------------------------------------------------------------ clients

    static DefaultMQAdminExt admin(String ns, String run) throws Exception {
        return Routes.startAdmin(ns, "core-admin-" + run);
    }

    /** Creates {@code topic} with {@code queues} queues on the broker and waits until the nameserver routes it. */
    static void createTopic(DefaultMQAdminExt admin, String ns, String broker, String topic, int queues, long deadline)
        throws Exception {
        Routes.createTopic(admin, broker, topic, queues);
        check(Routes.waitRoute(admin, topic, true, remaining(deadline)),
            "route of " + topic + " never appeared on nameserver " + ns);
    }

    static DefaultMQProducer producer(String ns, String group, String instance) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer(group);
        p.setNamesrvAddr(ns);
        p.setInstanceName(instance);
        p.setSendMsgTimeout(5000);
        p.start();
        return p;
    }

    static DefaultMQPushConsumer pushConsumer(String ns, String group, String instance) {
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
        c.setNamesrvAddr(ns);
        c.setInstanceName(instance);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        return c;
    }

    /**
     * {@code setMessageModel} by enum constant name: the enum moved from {@code common.protocol.heartbeat} (4.x) to
     * {@code remoting.protocol.heartbeat} (5.x).
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static void setMessageModel(Object consumer, String model) throws Exception {
        for (java.lang.reflect.Method m : consumer.getClass().getMethods()) {
            if (m.getName().equals("setMessageModel") && m.getParameterCount() == 1) {
                Class<? extends Enum> type = (Class<? extends Enum>) m.getParameterTypes()[0];
                m.invoke(consumer, Enum.valueOf(type, model));
                return;
            }
        }
        throw new NoSuchMethodException("setMessageModel");
    }

    /**
     * Pushes one warm-up message into each queue of {@code topic} and waits until the consumer has seen all of
     * them (its listener must hand warm-up messages to {@code warmed} via {@link #isWarmUp}). Timing checks start
     * after that round trip: a Java client raises its subscription version on rebalance and may skip the heartbeat
     * carrying it (its heartbeat lock is held by the periodic heartbeat), so the broker answers
     * SUBSCRIPTION_NOT_LATEST, as Java's does, until the next heartbeat 30 s later.
     */
    static void warmUp(DefaultMQProducer p, String topic, String run, java.util.Set<Integer> warmed, long deadline)
        throws Exception {
        List<MessageQueue> mqs = p.fetchPublishMessageQueues(topic);
        for (MessageQueue mq : mqs) {
            Message w = new Message(topic, "W", ("warm-up " + run).getBytes(StandardCharsets.UTF_8));
            w.putUserProperty("c-warm", run);
            checkResult(p.send(w, mq), topic, "warm-up send");
        }
        check(waitFor(() -> warmed.size() >= mqs.size(), deadline), "warm-up messages never consumed: queues "
            + warmed + " of " + mqs.size());
    }

    /** Whether {@code m} is one of this run's warm-up messages; if so its queue is recorded in {@code warmed}. */
    static boolean isWarmUp(MessageExt m, String run, java.util.Set<Integer> warmed) {
        if (!run.equals(m.getUserProperty("c-warm"))) {
            return false;
        }
        warmed.add(m.getQueueId());
        return true;
    }

    /** Polls {@code cond} every 20 ms until it holds or the deadline passes. */
    static boolean waitFor(java.util.function.BooleanSupplier cond, long deadline) throws InterruptedException {
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    // ------------------------------------------------------------------ gates

    /**
     * Points where the harness acts on the broker. {@code mark(name)} creates {@code DIR/name.mark}; the harness
     * restarts (or kills and restarts) the broker and then creates {@code DIR/name.release}. Without a gate
     * directory every gate is open.
     */
    static final class Gate {
        private final Path dir;

        Gate(String dir) {
            this.dir = dir == null || dir.isEmpty() ? null : Paths.get(dir);
        }

        boolean enabled() {
            return dir != null;
        }

        void mark(String name) throws IOException {
            if (dir == null) {
                return;
            }
            Path tmp = dir.resolve(name + ".mark.tmp");
            Files.write(tmp, Long.toString(System.currentTimeMillis()).getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, dir.resolve(name + ".mark"), StandardCopyOption.ATOMIC_MOVE);
            System.out.println("gate " + name + " marked");
        }

        boolean released(String name) {
            return dir == null || Files.exists(dir.resolve(name + ".release"));
        }

        /** Marks {@code name} and blocks until the harness releases it. */
        void pass(String name, long deadline) throws Exception {
            mark(name);
            check(waitFor(() -> released(name), deadline), "gate " + name + " never released by the harness");
            System.out.println("gate " + name + " released");
        }
    }
}
