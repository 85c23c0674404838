package compat;

import java.io.BufferedWriter;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * Programs behind the fixture scenarios (harness/scenarios/fixtures.py), with an entry point of their own:
 * {@code java -cp ... compat.FixtureMain <wire-session|store-produce|store-consume> [--key value]...}.
 *
 * <ul>
 *   <li>{@code wire-session}: a short, deterministic session (topic creation, route query, heartbeat,
 *   SEND_MESSAGE_V2 with awkward property values, a compressed body, a batch, offset queries and updates,
 *   pulls that find and do not find messages) run through the recording proxy.</li>
 *   <li>{@code store-produce}: sends a known set of messages (several topics and queues, tags, keys, a
 *   batch, bodies over 4 KiB that the client compresses) to explicit queues, commits consumer offsets for
 *   one group, and appends one TSV line per stored message to {@code --manifest}.</li>
 *   <li>{@code store-consume}: push-consumes with {@code --group} and checks every message against the
 *   manifest: all of them at or after the group's committed offset (from {@code --start-offsets}), none
 *   before, no unknown ones, same message id, keys, tags and body digest.</li>
 * </ul>
 * Prints {@code OK} last on success, {@code FAIL: reason} on stderr otherwise.
 */
public final class FixtureMain {
    private FixtureMain() {
    }

    public static void main(String[] argv) {
        if (argv.length == 0) {
            System.err.println("usage: compat.FixtureMain <wire-session|store-produce|store-consume> [--key value]...");
            System.exit(2);
        }
        Args args = Args.parse(Arrays.copyOfRange(argv, 1, argv.length));
        Watchdog.start(args.getLong("hard-timeout-ms", args.getLong("timeout-ms", 60_000) + 20_000));
        int rc;
        try {
            switch (argv[0]) {
                case "wire-session":
                    rc = wireSession(args);
                    break;
                case "store-produce":
                    rc = storeProduce(args);
                    break;
                case "store-consume":
                    rc = storeConsume(args);
                    break;
                default:
                    System.err.println("FAIL: unknown program " + argv[0]);
                    rc = 2;
            }
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.println("FAIL: " + t);
            rc = 1;
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(rc);
    }

    // ------------------------------------------------------------------------------------ wire session

    static int wireSession(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name", "broker-a");
        String topic = a.get("topic");
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        System.out.println("client " + ClientVersion.describe() + " serialize="
            + System.getProperty("rocketmq.serialize.type", "JSON"));

        DefaultMQAdminExt admin = Routes.startAdmin(ns, "fixture-admin");
        try {
            Routes.createTopic(admin, broker, topic, 2);
            if (!Routes.waitRoute(admin, topic, true, Math.max(1000, deadline - System.currentTimeMillis()))) {
                System.err.println("FAIL: route of " + topic + " never appeared");
                return 1;
            }
        } finally {
            admin.shutdown();
        }

        DefaultMQProducer producer = new DefaultMQProducer("PG_" + topic);
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("fixture-producer");
        producer.setVipChannelEnabled(false);
        producer.setSendMsgTimeout(5000);
        producer.start();
        MessageQueue q0 = new MessageQueue(topic, brokerName, 0);
        try {
            Message m1 = new Message(topic, "TagA", "wire-key-1 wire-key-2",
                "wire body one".getBytes(StandardCharsets.UTF_8));
            m1.putUserProperty("fx-quote", "say \"hi\" \\ back/slash \u00e9 \u2713 \t tab");
            m1.putUserProperty("fx-unicode", "\u4e2d\u6587 \ud83d\ude00");
            expectOk(producer.send(m1, q0), "plain send");

            StringBuilder big = new StringBuilder();
            for (int i = 0; big.length() < 6000; i++) {
                big.append("compressible line ").append(i % 7).append('\n');
            }
            Message m2 = new Message(topic, "TagB", "wire-key-big", big.toString().getBytes(StandardCharsets.UTF_8));
            expectOk(producer.send(m2, q0), "compressed send");

            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Message m = new Message(topic, "TagA", "wire-batch-" + i, ("batch " + i).getBytes(StandardCharsets.UTF_8));
                m.putUserProperty("fx-batch", Integer.toString(i));
                batch.add(m);
            }
            expectOk(producer.send(batch, q0), "batch send");

            // An explicit heartbeat now that the producer knows the broker (the periodic one is 30 s away).
            Object factory = Reflect.call(producer.getDefaultMQProducerImpl(), "getmQClientFactory");
            Method hb = factory.getClass().getMethod("sendHeartbeatToAllBrokerWithLock");
            hb.invoke(factory);
        } finally {
            producer.shutdown();
        }

        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer("CG_" + topic);
        consumer.setNamesrvAddr(ns);
        consumer.setInstanceName("fixture-consumer");
        consumer.setVipChannelEnabled(false);
        consumer.start();
        try {
            Set<MessageQueue> mqs = consumer.fetchSubscribeMessageQueues(topic);
            if (mqs.size() != 2) {
                System.err.println("FAIL: expected 2 queues, got " + mqs);
                return 1;
            }
            long min = consumer.minOffset(q0);
            long max = consumer.maxOffset(q0);
            long byTime = consumer.searchOffset(q0, System.currentTimeMillis() - 3_600_000L);
            if (min != 0 || max != 5 || byTime != 0) {
                System.err.println("FAIL: min/max/search offsets " + min + "/" + max + "/" + byTime + ", expected 0/5/0");
                return 1;
            }
            long before = consumer.fetchConsumeOffset(q0, true);
            PullResult r = consumer.pull(q0, "*", 0, 32);
            if (r.getPullStatus() != PullStatus.FOUND || r.getMsgFoundList().size() != 5) {
                System.err.println("FAIL: first pull " + r);
                return 1;
            }
            MessageExt first = r.getMsgFoundList().get(0);
            if (!"say \"hi\" \\ back/slash \u00e9 \u2713 \t tab".equals(first.getUserProperty("fx-quote"))) {
                System.err.println("FAIL: property came back as '" + first.getUserProperty("fx-quote") + "'");
                return 1;
            }
            PullResult none = consumer.pull(q0, "TagA || TagB", r.getNextBeginOffset(), 32);
            if (none.getPullStatus() == PullStatus.FOUND) {
                System.err.println("FAIL: second pull found messages: " + none);
                return 1;
            }
            consumer.updateConsumeOffset(q0, r.getNextBeginOffset());
            consumer.getOffsetStore().persist(q0);
            long after = -1;
            for (int i = 0; i < 50 && after != r.getNextBeginOffset(); i++) {
                Thread.sleep(100);
                after = consumer.fetchConsumeOffset(q0, true);
            }
            if (after != r.getNextBeginOffset()) {
                System.err.println("FAIL: committed offset reads back as " + after);
                return 1;
            }
            System.out.println("offsets: before=" + before + " after=" + after);
        } finally {
            consumer.shutdown();
        }
        System.out.println("OK");
        return 0;
    }

    private static void expectOk(SendResult r, String what) {
        if (r == null || r.getSendStatus() != SendStatus.SEND_OK) {
            throw new IllegalStateException(what + ": " + r);
        }
    }

    // ------------------------------------------------------------------------------------ store fixture

    static final String[] TOPICS = {"FixTopicA", "FixTopicB", "FixTopicC"};
    static final int[] QUEUES = {4, 2, 1};

    /** Deterministic text body: small ones stay raw, the ones over 4 KiB are compressed by the client. */
    static byte[] body(String tag, int i) {
        int len;
        if (i % 10 == 9) {
            len = 5000 + (i * 37) % 4000;
        } else {
            len = 200 + (i * 613) % 3800;
        }
        StringBuilder sb = new StringBuilder(len + 32);
        sb.append("fixture ").append(tag).append(" message ").append(i).append(':');
        long x = 0x9E3779B97F4A7C15L ^ (i * 1_000_003L) ^ tag.hashCode();
        String[] words = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
            "juliett", "kilo", "lima", "mike", "november", "oscar", "papa"};
        while (sb.length() < len) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            sb.append(' ').append(words[(int) (x & 15)]).append((x >>> 8) & 0x3ff);
        }
        sb.setLength(len);
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    static String sha256(byte[] b) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(b);
        StringBuilder sb = new StringBuilder();
        for (byte x : d) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    static int storeProduce(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name", "broker-a");
        int n = a.getInt("n", 300);
        String tag = a.get("tag");  // distinguishes the runs that fill one store (e.g. the client version)
        Path manifest = Paths.get(a.get("manifest"));
        String group = a.get("commit-group", "");
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        System.out.println("client " + ClientVersion.describe());

        DefaultMQAdminExt admin = Routes.startAdmin(ns, "fixture-admin-" + tag);
        try {
            for (int t = 0; t < TOPICS.length; t++) {
                Routes.createTopic(admin, broker, TOPICS[t], QUEUES[t]);
            }
            for (String t : TOPICS) {
                if (!Routes.waitRoute(admin, t, true, Math.max(1000, deadline - System.currentTimeMillis()))) {
                    System.err.println("FAIL: route of " + t + " never appeared");
                    return 1;
                }
            }
        } finally {
            admin.shutdown();
        }

        DefaultMQProducer producer = new DefaultMQProducer("PG_fixture_" + tag);
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("fixture-store-" + tag);
        producer.setVipChannelEnabled(false);
        producer.setSendMsgTimeout(10_000);
        producer.start();
        List<String> lines = new ArrayList<>();
        try {
            int i = 0;
            int step = 0;
            while (i < n) {
                int t = step % TOPICS.length;
                String topic = TOPICS[t];
                MessageQueue mq = new MessageQueue(topic, brokerName, (step / TOPICS.length) % QUEUES[t]);
                step++;
                if (step % 50 == 0) {
                    // A batch of 4 to FixTopicB.
                    MessageQueue bq = new MessageQueue("FixTopicB", brokerName, step % 2);
                    List<Message> batch = new ArrayList<>();
                    List<Integer> idx = new ArrayList<>();
                    for (int j = 0; j < 4 && i < n; j++, i++) {
                        batch.add(message("FixTopicB", tag, i));
                        idx.add(i);
                    }
                    SendResult r = producer.send(batch, bq);
                    expectOk(r, "batch at " + i);
                    String[] ids = r.getMsgId().split(",");
                    String[] offIds = r.getOffsetMsgId().split(",");
                    if (ids.length != batch.size() || offIds.length != batch.size()) {
                        System.err.println("FAIL: batch result with " + ids.length + " ids: " + r);
                        return 1;
                    }
                    for (int j = 0; j < batch.size(); j++) {
                        lines.add(line(batch.get(j), tag, idx.get(j), "FixTopicB", r.getMessageQueue().getQueueId(),
                            r.getQueueOffset() + j, ids[j], offIds[j], true));
                    }
                    continue;
                }
                Message m = message(topic, tag, i);
                SendResult r = producer.send(m, mq);
                expectOk(r, "send " + i);
                lines.add(line(m, tag, i, topic, r.getMessageQueue().getQueueId(), r.getQueueOffset(), r.getMsgId(),
                    r.getOffsetMsgId(), false));
                i++;
            }
        } finally {
            producer.shutdown();
        }

        if (!group.isEmpty()) {
            // Commit an offset in the middle of every queue for one group.
            DefaultMQPullConsumer c = new DefaultMQPullConsumer(group);
            c.setNamesrvAddr(ns);
            c.setInstanceName("fixture-offsets-" + tag);
            c.setVipChannelEnabled(false);
            c.start();
            try {
                for (int t = 0; t < TOPICS.length; t++) {
                    for (int q = 0; q < QUEUES[t]; q++) {
                        MessageQueue mq = new MessageQueue(TOPICS[t], brokerName, q);
                        long max = c.maxOffset(mq);
                        long commit = max / 2;
                        // A pull first: a 5.x broker ignores offset updates of a group it does not
                        // know yet, and pulling creates it (autoCreateSubscriptionGroup).
                        PullResult pr = c.pull(mq, "*", 0, 1);
                        if (pr.getPullStatus() != PullStatus.FOUND) {
                            System.err.println("FAIL: pull of " + mq + " at 0: " + pr);
                            return 1;
                        }
                        c.updateConsumeOffset(mq, commit);
                        c.getOffsetStore().persist(mq);
                        long back = -2;
                        for (int k = 0; k < 50 && back != commit; k++) {
                            Thread.sleep(50);
                            back = c.fetchConsumeOffset(mq, true);
                        }
                        if (back != commit) {
                            System.err.println("FAIL: offset of " + mq + " reads back as " + back + ", committed " + commit);
                            return 1;
                        }
                        lines.add("offset\t" + group + "\t" + TOPICS[t] + "\t" + q + "\t" + commit);
                    }
                }
            } finally {
                c.shutdown();
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(manifest, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
            StandardOpenOption.APPEND)) {
            for (String l : lines) {
                w.write(l);
                w.write('\n');
            }
        }
        System.out.println("sent " + n + " messages");
        System.out.println("OK");
        return 0;
    }

    static Message message(String topic, String tag, int i) {
        String tags = i % 5 == 4 ? null : "Tag" + (i % 3);
        String keys = "key-" + tag + "-" + i + (i % 4 == 0 ? " grp-" + (i % 8) : "");
        Message m = new Message(topic, tags, keys, body(tag, i));
        m.putUserProperty("fx-idx", Integer.toString(i));
        m.putUserProperty("fx-run", tag);
        return m;
    }

    static String line(Message m, String tag, int i, String topic, int queueId, long queueOffset, String msgId,
        String offsetMsgId, boolean batch) throws Exception {
        String tags = m.getTags() == null ? "" : m.getTags();
        return String.join("\t", "msg", topic, Integer.toString(queueId), Long.toString(queueOffset), msgId,
            offsetMsgId, m.getKeys(), tags, Integer.toString(tags.isEmpty() ? 0 : tags.hashCode()),
            sha256(body(tag, i)), Integer.toString(body(tag, i).length), tag, Integer.toString(i),
            batch ? "batch" : "single");
    }

    // ------------------------------------------------------------------------------------ consume + check

    static final class Want {
        String msgId;
        String keys;
        String tags;
        String sha;
        String idx;
    }

    static int storeConsume(Args a) throws Exception {
        String ns = a.get("ns");
        String group = a.get("group");
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        Map<String, Want> want = new HashMap<>();
        Map<String, Long> start = new HashMap<>();
        Set<String> topics = new HashSet<>();
        for (String l : Files.readAllLines(Paths.get(a.get("manifest")), StandardCharsets.UTF_8)) {
            String[] f = l.split("\t", -1);
            if (f[0].equals("msg")) {
                Want w = new Want();
                w.msgId = f[4];
                w.keys = f[6];
                w.tags = f[7].isEmpty() ? null : f[7];
                w.sha = f[9];
                w.idx = f[12];
                want.put(f[1] + "/" + f[2] + "/" + f[3], w);
                topics.add(f[1]);
            } else if (f[0].equals("offset") && f[1].equals(group)) {
                start.put(f[2] + "/" + f[3], Long.parseLong(f[4]));
            }
        }
        Set<String> expected = new HashSet<>();
        for (String k : want.keySet()) {
            String[] p = k.split("/");
            long from = start.getOrDefault(p[0] + "/" + p[1], 0L);
            if (Long.parseLong(p[2]) >= from) {
                expected.add(k);
            }
        }
        System.out.println("client " + ClientVersion.describe() + ": expecting " + expected.size() + " of "
            + want.size() + " messages for group " + group);

        Map<String, Boolean> got = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(1);
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(ns);
        consumer.setInstanceName("fixture-consume-" + group);
        consumer.setVipChannelEnabled(false);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        for (String t : topics) {
            consumer.subscribe(t, "*");
        }
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                String k = m.getTopic() + "/" + m.getQueueId() + "/" + m.getQueueOffset();
                Want w = want.get(k);
                try {
                    if (w == null) {
                        problems.add("unknown message " + k + " id " + m.getMsgId());
                    } else if (!expected.contains(k)) {
                        problems.add("message " + k + " is before the committed offset");
                    } else {
                        List<String> bad = new ArrayList<>();
                        if (!w.msgId.equals(m.getMsgId())) {
                            bad.add("msgId " + m.getMsgId() + " != " + w.msgId);
                        }
                        if (!w.keys.equals(m.getKeys())) {
                            bad.add("keys '" + m.getKeys() + "'");
                        }
                        if (w.tags == null ? m.getTags() != null : !w.tags.equals(m.getTags())) {
                            bad.add("tags '" + m.getTags() + "'");
                        }
                        if (!w.sha.equals(sha256(m.getBody()))) {
                            bad.add("body digest differs (" + m.getBody().length + " bytes)");
                        }
                        if (!w.idx.equals(m.getUserProperty("fx-idx"))) {
                            bad.add("fx-idx " + m.getUserProperty("fx-idx"));
                        }
                        if (bad.isEmpty()) {
                            got.put(k, Boolean.TRUE);
                        } else {
                            problems.add(k + ": " + String.join(", ", bad));
                        }
                    }
                } catch (Exception e) {
                    problems.add(k + ": " + e);
                }
            }
            if (got.size() == expected.size() || !problems.isEmpty()) {
                done.countDown();
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        try {
            done.await(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
            // A short grace period: a message before the committed offset would arrive around now.
            Thread.sleep(1000);
        } finally {
            consumer.shutdown();
        }
        if (!problems.isEmpty()) {
            System.err.println("FAIL: " + problems.size() + " problems, first: " + problems.get(0));
            return 1;
        }
        if (got.size() != expected.size()) {
            Map<String, Integer> missing = new TreeMap<>();
            for (String k : expected) {
                if (!got.containsKey(k)) {
                    String q = k.substring(0, k.lastIndexOf('/'));
                    missing.merge(q, 1, Integer::sum);
                }
            }
            System.err.println("FAIL: received " + got.size() + " of " + expected.size() + " messages; missing per queue: "
                + missing);
            return 1;
        }
        System.out.println("consumed and checked " + got.size() + " messages");
        System.out.println("OK");
        return 0;
    }
}
