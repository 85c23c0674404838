package compat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * SQL92 property filtering with the official client, against a broker started with
 * {@code enablePropertyFilter=true}: {@code java -cp ... compat.Sql92Filter --ns A --broker B}.
 *
 * <p>Sends {@link #N} messages with user properties {@code a} (the index) and {@code b} ({@code x} for even
 * indexes, {@code y} for odd ones, absent for every fifth), then
 * <ul>
 *   <li>a push consumer subscribed with {@code MessageSelector.bySql("a > 5 AND b = 'x'")} (the broker
 *   knows the expression from the heartbeat) must receive exactly the matching messages;</li>
 *   <li>a lite pull consumer with {@code a BETWEEN 10 AND 20 OR TAGS = 'T2'} (the expression travels
 *   with every pull) likewise;</li>
 *   <li>a push consumer with a malformed expression must fail to start, the broker answering
 *   CHECK_CLIENT_CONFIG with SUBSCRIPTION_PARSE_FAILED (23).</li>
 * </ul>
 * Extra messages are waited for during {@link #QUIET_MS} after the expected set is complete.
 *
 * <p>Own entry point (not a case of {@link Main}); prints {@code OK} last on success, {@code FAIL: ...} on
 * stderr otherwise.
 */
public final class Sql92Filter {
    static final int N = 40;
    static final String PUSH_SQL = "a > 5 AND b = 'x'";
    static final String PULL_SQL = "a BETWEEN 10 AND 20 OR TAGS = 'T2'";
    static final String BAD_SQL = "a > AND b = 'x'";
    static final long QUIET_MS = 3000;
    static final int SUBSCRIPTION_PARSE_FAILED = 23;

    private Sql92Filter() {
    }

    public static void main(String[] argv) {
        int rc;
        try {
            Args a = Args.parse(argv);
            Watchdog.start(a.getLong("timeout-ms", 60_000) + 20_000);
            rc = run(a);
        } catch (Throwable t) {
            t.printStackTrace();
            System.err.println("FAIL: " + t);
            rc = 1;
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(rc);
    }

    static String tag(int i) {
        return "T" + (i % 3);
    }

    static String b(int i) {
        return i % 5 == 4 ? null : (i % 2 == 0 ? "x" : "y");
    }

    static boolean pushMatches(int i) {
        return i > 5 && "x".equals(b(i));
    }

    static boolean pullMatches(int i) {
        return (i >= 10 && i <= 20) || tag(i).equals("T2");
    }

    static int run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = Long.toString(System.nanoTime() % 1_000_000_007L, 36);
        String topic = a.get("topic", "compat_sql_" + run);
        System.out.println("client " + ClientVersion.describe());

        DefaultMQAdminExt admin = Routes.startAdmin(ns, "compat-sql-admin-" + run);
        try {
            Routes.createTopic(admin, broker, topic, 2);
            if (!Routes.waitRoute(admin, topic, true, Math.max(1000, deadline - System.currentTimeMillis()))) {
                System.err.println("FAIL: route of " + topic + " never appeared on nameserver " + ns);
                return 1;
            }
        } finally {
            admin.shutdown();
        }

        DefaultMQProducer producer = new DefaultMQProducer("PG_" + topic);
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("compat-sql-producer-" + run);
        producer.setSendMsgTimeout(5000);
        producer.start();
        try {
            for (int i = 0; i < N; i++) {
                Message m = new Message(topic, tag(i), "key-" + i, ("sql-" + i).getBytes(StandardCharsets.UTF_8));
                m.putUserProperty("a", Integer.toString(i));
                if (b(i) != null) {
                    m.putUserProperty("b", b(i));
                }
                SendResult r = producer.send(m);
                if (r.getSendStatus() != SendStatus.SEND_OK) {
                    System.err.println("FAIL: send " + i + " status " + r.getSendStatus());
                    return 1;
                }
            }
        } finally {
            producer.shutdown();
        }
        System.out.println("sent " + N + " messages to " + topic);

        Set<Integer> wantPush = new TreeSet<>();
        Set<Integer> wantPull = new TreeSet<>();
        for (int i = 0; i < N; i++) {
            if (pushMatches(i)) {
                wantPush.add(i);
            }
            if (pullMatches(i)) {
                wantPull.add(i);
            }
        }

        String bad = badExpressionRefused(ns, topic, run);
        if (bad != null) {
            System.err.println("FAIL: " + bad);
            return 1;
        }
        System.out.println("malformed selector refused at start");

        Set<Integer> got = push(ns, topic, run, deadline);
        if (!got.equals(wantPush)) {
            System.err.println("FAIL: push consumer with [" + PUSH_SQL + "] got " + got + ", want " + wantPush);
            return 1;
        }
        System.out.println("push consumer got exactly " + got.size() + " matching messages");

        got = litePull(ns, topic, run, deadline);
        if (!got.equals(wantPull)) {
            System.err.println("FAIL: lite pull consumer with [" + PULL_SQL + "] got " + got + ", want " + wantPull);
            return 1;
        }
        System.out.println("lite pull consumer got exactly " + got.size() + " matching messages");
        System.out.println("OK");
        return 0;
    }

    /** Index of a received message, checking it is one of ours. */
    static int index(MessageExt m, String topic, List<String> problems) {
        String a = m.getUserProperty("a");
        String body = new String(m.getBody(), StandardCharsets.UTF_8);
        if (!topic.equals(m.getTopic()) || a == null || !body.equals("sql-" + a)) {
            problems.add("unexpected message " + m);
            return -1;
        }
        return Integer.parseInt(a);
    }

    /** Null when a push consumer with a malformed selector fails to start with code 23. */
    static String badExpressionRefused(String ns, String topic, String run) throws Exception {
        DefaultMQPushConsumer c = new DefaultMQPushConsumer("GID_sql_bad_" + run);
        c.setNamesrvAddr(ns);
        c.setInstanceName("compat-sql-bad-" + run);
        c.subscribe(topic, MessageSelector.bySql(BAD_SQL));
        c.registerMessageListener(
            (MessageListenerConcurrently) (msgs, ctx) -> ConsumeConcurrentlyStatus.CONSUME_SUCCESS);
        try {
            c.start();
        } catch (MQClientException e) {
            Throwable cause = e;
            while (cause != null) {
                if (cause instanceof MQClientException
                    && ((MQClientException) cause).getResponseCode() == SUBSCRIPTION_PARSE_FAILED) {
                    System.out.println("start refused: " + ((MQClientException) cause).getErrorMessage());
                    return null;
                }
                cause = cause.getCause();
            }
            return "consumer with [" + BAD_SQL + "] failed to start, but not with code 23: " + e;
        } finally {
            c.shutdown();
        }
        return "consumer with [" + BAD_SQL + "] started";
    }

    static Set<Integer> push(String ns, String topic, String run, long deadline) throws Exception {
        Set<Integer> got = new ConcurrentSkipListSet<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer c = new DefaultMQPushConsumer("GID_sql_push_" + run);
        c.setNamesrvAddr(ns);
        c.setInstanceName("compat-sql-push-" + run);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, MessageSelector.bySql(PUSH_SQL));
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                int i = index(m, topic, problems);
                if (i >= 0) {
                    got.add(i); // a redelivery is allowed (at-least-once): only the set matters
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        try {
            waitFor(got, count(PUSH_SQL), deadline);
        } finally {
            c.shutdown();
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(problems.get(0));
        }
        return new TreeSet<>(got);
    }

    static Set<Integer> litePull(String ns, String topic, String run, long deadline) throws Exception {
        Set<Integer> got = new TreeSet<>();
        List<String> problems = new ArrayList<>();
        DefaultLitePullConsumer c = new DefaultLitePullConsumer("GID_sql_pull_" + run);
        c.setNamesrvAddr(ns);
        c.setInstanceName("compat-sql-pull-" + run);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, MessageSelector.bySql(PULL_SQL));
        c.start();
        try {
            int want = count(PULL_SQL);
            long quietUntil = Long.MAX_VALUE;
            while (System.currentTimeMillis() < Math.min(deadline, quietUntil)) {
                for (MessageExt m : c.poll(500)) {
                    int i = index(m, topic, problems);
                    if (i >= 0) {
                        got.add(i);
                    }
                }
                if (got.size() >= want && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.currentTimeMillis() + QUIET_MS;
                }
            }
        } finally {
            c.shutdown();
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(problems.get(0));
        }
        return got;
    }

    static int count(String sql) {
        int n = 0;
        for (int i = 0; i < N; i++) {
            if (sql.equals(PUSH_SQL) ? pushMatches(i) : pullMatches(i)) {
                n++;
            }
        }
        return n;
    }

    /** Waits until {@code got} holds {@code want} entries, then {@link #QUIET_MS} more for strays. */
    static void waitFor(Set<Integer> got, int want, long deadline) throws InterruptedException {
        while (got.size() < want && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        Thread.sleep(Math.max(0, Math.min(QUIET_MS, deadline - System.currentTimeMillis())));
    }
}
