package compat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Delivery semantics (issue 5) through the official Java client, {@code compat.Core <case>}:
 *
 * <ul>
 *   <li>{@code retry-dlq}: the group's retryMaxTimes is set to 2 through the admin API; a push consumer returns
 *       RECONSUME_LATER for some messages: "always" ones are seen with reconsumeTimes 0, 1, 2 and then land in
 *       {@code %DLQ%<group>} (pulled from there with body, keys, RETRY_TOPIC, ORIGIN_MESSAGE_ID = the original's
 *       offset message id, UNIQ_KEY = its message id, reconsumeTimes 3); "once" ones are seen with 0 then 1;
 *       the rest once with 0.</li>
 *   <li>{@code delay}: messages with delayTimeLevel 1 and 2 (the harness configures 1 s and 2 s) arrive not before
 *       their delay and within a tolerance, in their own topic and queue, with their content.</li>
 *   <li>{@code transaction}: a TransactionMQProducer whose local transaction answers COMMIT, ROLLBACK or UNKNOW
 *       (then COMMIT when the broker checks back): the committed and checked ones are consumed exactly once, the
 *       rolled back ones never, and only the UNKNOW ones are checked.</li>
 *   <li>{@code orderly-lock}: two MessageListenerOrderly consumers in one group; the second joins after the first
 *       consumed half of the messages, so queues move between them: every order key in sending order, no gap, no
 *       repeat (but a replay by the new owner of a moved queue), and no queue ever consumed by both consumers at
 *       the same time.</li>
 *   <li>{@code queries}: the admin API finds sent messages by offset message id, by key (queryMessage) and by
 *       unique key (viewMessage(topic, msgId)) with the right bodies.</li>
 * </ul>
 */
final class CoreDelivery {
    private CoreDelivery() {
    }

    // ------------------------------------------------------------------ retry and DLQ

    /** What the consumer does with message i: 0 = always RECONSUME_LATER, 1 = once, 2/3 = success. */
    static int retryKind(int i) {
        return i % 4 == 0 ? 0 : i % 4 == 1 ? 1 : 2;
    }

    static void retryDlq(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        int n = a.getInt("n", 8);
        int maxTimes = 2;
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_retry_" + run;
        String group = "GID_" + topic;
        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, 2, deadline);
        setRetryMaxTimes(admin, broker, group, maxTimes);

        Map<Integer, List<Integer>> seen = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, group, "core-consumer-" + run);
        c.setMaxReconsumeTimes(maxTimes);
        c.setConsumeMessageBatchMaxSize(1);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            MessageExt m = msgs.get(0);
            int idx = CoreSupport.index(m, run);
            if (idx < 0 || idx >= n) {
                problems.add("foreign message " + m);
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            }
            String body = new String(m.getBody(), StandardCharsets.UTF_8);
            if (!CoreSupport.body(run, idx).equals(body) || !topic.equals(m.getTopic())
                || !CoreSupport.keys(run, idx).equals(m.getKeys())) {
                problems.add("message " + idx + " (reconsume " + m.getReconsumeTimes() + "): topic " + m.getTopic()
                    + ", keys " + m.getKeys() + ", body " + body);
            }
            List<Integer> times = seen.computeIfAbsent(idx, k -> Collections.synchronizedList(new ArrayList<>()));
            times.add(m.getReconsumeTimes());
            int kind = retryKind(idx);
            boolean fail = kind == 0 || (kind == 1 && m.getReconsumeTimes() == 0);
            return fail ? ConsumeConcurrentlyStatus.RECONSUME_LATER : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        long t0 = System.currentTimeMillis();
        settle(c, topic, 2, "%RETRY%" + group, deadline);
        System.out.println("consumer settled after " + (System.currentTimeMillis() - t0) + " ms");

        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        Map<Integer, SendResult> sent = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, "R"));
            CoreSupport.checkResult(r, topic, "send " + i);
            sent.put(i, r);
        }
        System.out.println("sent " + n + " messages");

        // Expected reconsumeTimes seen per message.
        IntFunction<List<Integer>> expected = i -> {
            int kind = retryKind(i);
            List<Integer> e = new ArrayList<>();
            int k = kind == 0 ? maxTimes + 1 : kind == 1 ? 2 : 1;
            for (int t = 0; t < k; t++) {
                e.add(t);
            }
            return e;
        };
        boolean done = CoreSupport.waitFor(() -> {
            for (int i = 0; i < n; i++) {
                List<Integer> s = seen.get(i);
                if (s == null || s.size() < expected.apply(i).size()) {
                    return false;
                }
            }
            return true;
        }, deadline);
        System.out.println("deliveries complete after " + (System.currentTimeMillis() - t0) + " ms: " + done);
        Thread.sleep(1500); // a further delivery would show up now (retry levels are 1 s)
        check(problems.isEmpty(), problems.size() + " bad deliveries, first: " + (problems.isEmpty() ? "" : problems.get(0)));
        for (int i = 0; i < n; i++) {
            List<Integer> s = seen.get(i);
            List<Integer> want = expected.apply(i);
            check(s != null && new ArrayList<>(s).equals(want), "message " + i + ": reconsumeTimes seen " + s + ", expected "
                + want + (done ? "" : " (time limit reached)"));
        }
        System.out.println("consumer saw reconsumeTimes counting up: " + seen);

        // The "always" ones are in the DLQ, in order of their last failure, with their origin kept.
        String dlq = "%DLQ%" + group;
        check(Routes.waitRoute(admin, dlq, true, CoreSupport.remaining(deadline)), "no route for " + dlq);
        DefaultMQPullConsumer pc = new DefaultMQPullConsumer("core-dlq-reader-" + run);
        pc.setNamesrvAddr(ns);
        pc.setInstanceName("core-dlq-" + run);
        pc.start();
        Map<Integer, MessageExt> inDlq = new TreeMap<>();
        MessageQueue mq = new MessageQueue(dlq, brokerName, 0);
        int wantDlq = 0;
        for (int i = 0; i < n; i++) {
            if (retryKind(i) == 0) {
                wantDlq++;
            }
        }
        long offset = 0;
        while (inDlq.size() < wantDlq && System.currentTimeMillis() < deadline) {
            PullResult r = pc.pull(mq, "*", offset, 32, 3000);
            if (r.getPullStatus() == PullStatus.FOUND) {
                for (MessageExt m : r.getMsgFoundList()) {
                    int idx = CoreSupport.index(m, run);
                    check(idx >= 0 && retryKind(idx) == 0, "DLQ holds message " + idx + " (" + m + ")");
                    check(inDlq.put(idx, m) == null, "DLQ holds message " + idx + " twice");
                }
                offset = r.getNextBeginOffset();
            } else {
                Thread.sleep(100);
            }
        }
        check(inDlq.size() == wantDlq, "DLQ holds " + inDlq.keySet() + ", expected " + wantDlq + " messages");
        Map<String, String> shown = new TreeMap<>(inDlq.values().iterator().next().getProperties());
        shown.keySet().removeAll(java.util.Arrays.asList("MIN_OFFSET", "MAX_OFFSET", "c-run", "c-utf8", "KEYS", "UNIQ_KEY",
            "ORIGIN_MESSAGE_ID", "RETRY_TOPIC", "REAL_TOPIC"));
        System.out.println("DLQ message properties: " + shown);
        for (Map.Entry<Integer, MessageExt> e : inDlq.entrySet()) {
            int idx = e.getKey();
            MessageExt m = e.getValue();
            SendResult s = sent.get(idx);
            List<String> bad = new ArrayList<>();
            if (!CoreSupport.body(run, idx).equals(new String(m.getBody(), StandardCharsets.UTF_8))) {
                bad.add("body");
            }
            if (!CoreSupport.keys(run, idx).equals(m.getKeys())) {
                bad.add("keys " + m.getKeys());
            }
            if (!"R".equals(m.getTags())) {
                bad.add("tags " + m.getTags());
            }
            if (!dlq.equals(m.getTopic())) {
                bad.add("topic " + m.getTopic());
            }
            if (!topic.equals(m.getProperty("RETRY_TOPIC"))) {
                bad.add("RETRY_TOPIC " + m.getProperty("RETRY_TOPIC"));
            }
            if (!s.getOffsetMsgId().equals(m.getProperty("ORIGIN_MESSAGE_ID"))) {
                bad.add("ORIGIN_MESSAGE_ID " + m.getProperty("ORIGIN_MESSAGE_ID") + ", the original's offsetMsgId is "
                    + s.getOffsetMsgId());
            }
            if (!s.getMsgId().equals(m.getProperty("UNIQ_KEY"))) {
                bad.add("UNIQ_KEY " + m.getProperty("UNIQ_KEY") + ", sent as " + s.getMsgId());
            }
            if (m.getReconsumeTimes() != maxTimes + 1) {
                bad.add("reconsumeTimes " + m.getReconsumeTimes());
            }
            if (!CoreSupport.UTF8_VALUE.equals(m.getUserProperty("c-utf8"))) {
                bad.add("c-utf8 " + m.getUserProperty("c-utf8"));
            }
            check(bad.isEmpty(), "DLQ message " + idx + ": " + String.join(", ", bad));
        }
        System.out.println("consumed; " + wantDlq + " messages in " + dlq + " with their origin");
    }

    /**
     * Waits until push consumer {@code c} holds {@code queues} queues of {@code topic} and one of {@code retryTopic},
     * then has it send a heartbeat. The 5.5.0 client raises its subscription version when a rebalance adds the retry
     * topic but may skip the heartbeat that tells the broker (README, facts); until the next periodic one (30 s) every
     * pull of that queue is answered SUBSCRIPTION_NOT_LATEST, by either broker.
     */
    static void settle(DefaultMQPushConsumer c, String topic, int queues, String retryTopic, long deadline)
        throws Exception {
        Object factory = Reflect.call(c.getDefaultMQPushConsumerImpl(), "getmQClientFactory");
        while (CoreGroups.held(c, topic).size() != queues || CoreGroups.held(c, retryTopic).isEmpty()) {
            check(System.currentTimeMillis() < deadline, "consumer never got the queues of " + topic + " and "
                + retryTopic);
            // The 5.5.0 client learns the route of the retry topic (created by the broker at the first heartbeat) only
            // at its next 30 s route poll; do now what that timer would do.
            Reflect.call(factory, "updateTopicRouteInfoFromNameServer");
            Reflect.call(factory, "rebalanceImmediately");
            Thread.sleep(200);
        }
        Reflect.call(factory, "sendHeartbeatToAllBrokerWithLock");
    }

    /**
     * {@code createAndUpdateSubscriptionGroupConfig} through reflection: SubscriptionGroupConfig moved from
     * {@code common.subscription} (4.x) to {@code remoting.protocol.subscription} (5.x).
     */
    static void setRetryMaxTimes(DefaultMQAdminExt admin, String broker, String group, int times) throws Exception {
        for (java.lang.reflect.Method m : admin.getClass().getMethods()) {
            if (m.getName().equals("createAndUpdateSubscriptionGroupConfig") && m.getParameterCount() == 2) {
                Object cfg = m.getParameterTypes()[1].getDeclaredConstructor().newInstance();
                Reflect.call(cfg, "setGroupName", group);
                Reflect.call(cfg, "setRetryMaxTimes", times);
                Reflect.call(cfg, "setRetryQueueNums", 1);
                m.invoke(admin, broker, cfg);
                Object back = Reflect.call(admin, "examineSubscriptionGroupConfig", broker, group);
                check(back != null && Integer.valueOf(times).equals(Reflect.call(back, "getRetryMaxTimes")),
                    "the broker reports subscription group " + group + " as " + back + " after setting retryMaxTimes="
                        + times);
                return;
            }
        }
        throw new NoSuchMethodException("createAndUpdateSubscriptionGroupConfig");
    }

    // ------------------------------------------------------------------ delay levels

    static void delay(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 8);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        // The harness configures messageDelayLevel "1s 2s ...".
        long[] levelMs = {0, 1000, 2000};
        long tolerance = a.getLong("tolerance-ms", 4000);
        String run = CoreSupport.newRun();
        String topic = "core_delay_" + run;
        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, 2, deadline);
        IntFunction<String> tagOf = i -> "D" + (i % 3);
        Map<Integer, Long> arrived = new ConcurrentHashMap<>();
        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, n, tagOf, CoreSupport.port(broker), null);
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "GID_" + topic, "core-consumer-" + run);
        c.subscribe(topic, "*");
        Set<Integer> warmed = ConcurrentHashMap.newKeySet();
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                if (CoreSupport.isWarmUp(m, run, warmed)) {
                    continue;
                }
                int idx = tally.accept(m);
                if (idx >= 0) {
                    arrived.putIfAbsent(idx, now);
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        // Wait until the consumer holds its queues, so that arrival times are the broker's doing.
        check(CoreSupport.waitFor(() -> CoreGroups.held(c, topic).size() == 2, deadline), "consumer never got its queues");
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        // ...and until a message on each queue has gone through (see CoreSupport.warmUp).
        CoreSupport.warmUp(p, topic, run, warmed, deadline);
        Map<Integer, Long> sentAt = new TreeMap<>();
        Map<Integer, SendResult> results = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            Message m = CoreSupport.message(topic, run, i, tagOf.apply(i));
            int level = i % 3;
            if (level > 0) {
                m.setDelayTimeLevel(level);
            }
            sentAt.put(i, System.currentTimeMillis());
            SendResult r = p.send(m);
            CoreSupport.checkResult(r, topic, "send " + i);
            results.put(i, r);
        }
        System.out.println("sent " + n + " messages with delay levels 0, 1, 2");
        boolean all = CoreSupport.waitFor(() -> tally.distinct() >= n, deadline);
        Thread.sleep(500);
        tally.failOnProblems();
        check(all, "consumed " + tally.distinct() + " of " + n + ": missing " + tally.missing(range(n)));
        String dup = tally.duplicates();
        check(dup.isEmpty(), "delivered more than once: " + dup);
        List<String> lat = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long took = arrived.get(i) - sentAt.get(i);
            long want = levelMs[i % 3];
            lat.add(i + ":" + took);
            // The store timestamp of the delayed copy is the delivery time; the born timestamp is the send time.
            check(took >= want - 50, "message " + i + " (level " + (i % 3) + ", " + want + " ms) arrived after "
                + took + " ms: too early");
            check(took <= want + tolerance, "message " + i + " (level " + (i % 3) + ", " + want + " ms) arrived after "
                + took + " ms: too late");
        }
        System.out.println("consumed " + n + " delayed messages, ms after send: " + lat);
    }

    static List<Integer> range(int n) {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(i);
        }
        return l;
    }

    // ------------------------------------------------------------------ transactions

    /** What the local transaction answers for message i: 0 commit, 1 rollback, 2 unknown (commit on check). */
    static int txKind(int i) {
        return i % 3;
    }

    static void transaction(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 12);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_tx_" + run;
        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, 2, deadline);
        IntFunction<String> tagOf = i -> "T" + txKind(i);

        Map<Integer, AtomicInteger> checks = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        TransactionMQProducer p = new TransactionMQProducer("PG_" + topic);
        p.setNamesrvAddr(ns);
        p.setInstanceName("core-tx-producer-" + run);
        p.setSendMsgTimeout(5000);
        p.setTransactionListener(new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
                int i = (Integer) arg;
                switch (txKind(i)) {
                    case 0:
                        return LocalTransactionState.COMMIT_MESSAGE;
                    case 1:
                        return LocalTransactionState.ROLLBACK_MESSAGE;
                    default:
                        return LocalTransactionState.UNKNOW;
                }
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt msg) {
                int i = CoreSupport.index(msg, run);
                if (i < 0 || i >= n) {
                    problems.add("check of a foreign message " + msg);
                    return LocalTransactionState.UNKNOW;
                }
                checks.computeIfAbsent(i, k -> new AtomicInteger()).incrementAndGet();
                if (!topic.equals(msg.getTopic()) || !CoreSupport.body(run, i).equals(
                    new String(msg.getBody(), StandardCharsets.UTF_8))) {
                    problems.add("check of message " + i + ": topic " + msg.getTopic() + ", body "
                        + new String(msg.getBody(), StandardCharsets.UTF_8));
                }
                return txKind(i) == 1 ? LocalTransactionState.ROLLBACK_MESSAGE : LocalTransactionState.COMMIT_MESSAGE;
            }
        });
        p.start();

        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, n, tagOf, CoreSupport.port(broker), null);
        DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "GID_" + topic, "core-consumer-" + run);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                tally.accept(m);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();

        Map<Integer, String> msgIds = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            TransactionSendResult r = p.sendMessageInTransaction(CoreSupport.message(topic, run, i, tagOf.apply(i)), i);
            // The client leaves offsetMsgId out of a TransactionSendResult.
            check(r.getSendStatus() == SendStatus.SEND_OK && r.getMsgId() != null && r.getMessageQueue() != null
                && topic.equals(r.getMessageQueue().getTopic()), "transactional send " + i + ": " + r);
            LocalTransactionState want = txKind(i) == 0 ? LocalTransactionState.COMMIT_MESSAGE
                : txKind(i) == 1 ? LocalTransactionState.ROLLBACK_MESSAGE : LocalTransactionState.UNKNOW;
            check(r.getLocalTransactionState() == want, "send " + i + ": local state " + r.getLocalTransactionState());
            msgIds.put(i, r.getMsgId());
        }
        System.out.println("sent " + n + " transactional messages: commit, rollback, unknown");
        List<Integer> committed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (txKind(i) != 1) {
                committed.add(i);
            }
        }
        boolean all = CoreSupport.waitFor(() -> tally.distinct() >= committed.size() || !tally.problems.isEmpty(),
            deadline);
        Thread.sleep(2500); // a rolled back or second delivery, or a further check, would show up now
        tally.failOnProblems();
        check(problems.isEmpty(), problems.size() + " bad checks, first: " + (problems.isEmpty() ? "" : problems.get(0)));
        check(all, "consumed " + tally.distinct() + " of the " + committed.size() + " committed: missing "
            + tally.missing(committed));
        for (int i = 0; i < n; i++) {
            boolean got = tally.counts.containsKey(i);
            check(got == (txKind(i) != 1), "message " + i + " (" + (txKind(i) == 1 ? "rolled back" : "committed")
                + ") was " + (got ? "" : "not ") + "consumed");
        }
        String dup = tally.duplicates();
        check(dup.isEmpty(), "delivered more than once: " + dup);
        for (int i = 0; i < n; i++) {
            AtomicInteger k = checks.get(i);
            if (txKind(i) == 2) {
                check(k != null && k.get() >= 1, "message " + i + " (unknown) was never checked");
            } else {
                check(k == null, "message " + i + " (ended at once) was checked " + k + " times");
            }
        }
        System.out.println("consumed the " + committed.size() + " committed once, none rolled back; checks: " + checks);
    }

    // ------------------------------------------------------------------ orderly with two consumers

    /** One call of an orderly listener on one queue: who, and when (System.nanoTime). */
    static final class Span {
        final String who;
        final long start;
        final long end;

        Span(String who, long start, long end) {
            this.who = who;
            this.start = start;
            this.end = end;
        }
    }

    static void orderlyLock(Args a) throws Exception {
        // Rebalance every 2 s instead of 20 s: a consumer that could not lock a queue yet (its previous owner still
        // held it) retries soon. Read when the first client instance starts, so set before any.
        System.setProperty("rocketmq.client.rebalance.waitInterval", "2000");
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        int n = a.getInt("n", 160);
        int keys = a.getInt("keys", 8);
        int queues = 4;
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_orderly2_" + run;
        String group = "GID_" + topic;
        IntFunction<String> tagOf = i -> "O" + (i % keys);
        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, queues, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        MessageQueueSelector selector = (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size());

        CoreSupport.Tally tally = new CoreSupport.Tally(topic, run, n, tagOf, CoreSupport.port(broker), null);
        Map<Integer, AtomicInteger> nextSeq = new ConcurrentHashMap<>();
        Map<Integer, String> lastWho = new java.util.HashMap<>();
        AtomicInteger replays = new AtomicInteger();
        Map<Integer, List<Span>> spans = new ConcurrentHashMap<>();
        Map<String, Set<Integer>> queuesOf = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer[] cs = new DefaultMQPushConsumer[2];
        for (int k = 0; k < 2; k++) {
            String who = k == 0 ? "A" : "B";
            DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, group, "core-consumer-" + who + "-" + run);
            c.setConsumeMessageBatchMaxSize(2);
            c.subscribe(topic, "*");
            c.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
                long t0 = System.nanoTime();
                int q = ctx.getMessageQueue().getQueueId();
                queuesOf.computeIfAbsent(who, x -> ConcurrentHashMap.newKeySet()).add(q);
                for (MessageExt m : msgs) {
                    int idx = tally.accept(m);
                    if (idx < 0) {
                        continue;
                    }
                    int key = idx % keys;
                    int seq = idx / keys;
                    synchronized (lastWho) {
                        int want = nextSeq.computeIfAbsent(key, x -> new AtomicInteger()).get();
                        String prevWho = lastWho.put(key, who);
                        // In order, no gap. A replay (an earlier message again) is what the Java client does when a
                        // queue moves before its owner committed the last offsets: allowed only from the new owner,
                        // which then goes on in order from there.
                        if (seq > want || (seq < want && who.equals(prevWho))) {
                            problems.add("key " + key + ": consumer " + who + " got its message #" + seq + " when #"
                                + want + " was due (previous one consumed by " + prevWho + ")");
                        }
                        if (seq < want) {
                            replays.incrementAndGet();
                        }
                        nextSeq.get(key).set(seq + 1);
                    }
                }
                try {
                    Thread.sleep(5L * msgs.size());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                spans.computeIfAbsent(q, x -> Collections.synchronizedList(new ArrayList<>()))
                    .add(new Span(who, t0, System.nanoTime()));
                return ConsumeOrderlyStatus.SUCCESS;
            });
            cs[k] = c;
        }
        cs[0].start();
        check(CoreSupport.waitFor(() -> CoreGroups.held(cs[0], topic).size() == queues, deadline),
            "consumer A never locked all " + queues + " queues");
        int half = n / 2;
        for (int i = 0; i < n; i++) {
            if (i == half) {
                // B joins once A has consumed the first half (a 4.9.8 consumer that still has messages of a queue
                // cached lets go of it only 20 s later): half of A's queues move to B, each once A has unlocked it on
                // the broker, which refuses B's locks until then. The second half is sent once the two hold disjoint
                // halves.
                check(CoreSupport.waitFor(() -> tally.distinct() >= half, deadline), "consumer A did not consume the "
                    + "first half: " + tally.distinct());
                cs[1].start();
                System.out.println("consumer B started after A consumed " + tally.distinct());
                check(CoreSupport.waitFor(() -> {
                    Set<Integer> ha = CoreGroups.held(cs[0], topic);
                    Set<Integer> hb = CoreGroups.held(cs[1], topic);
                    Set<Integer> both = new HashSet<>(ha);
                    both.retainAll(hb);
                    return !ha.isEmpty() && !hb.isEmpty() && both.isEmpty() && ha.size() + hb.size() == queues;
                }, deadline), "the two consumers never settled on disjoint queues: A " + CoreGroups.held(cs[0], topic)
                    + ", B " + CoreGroups.held(cs[1], topic));
                System.out.println("assignment settled after A consumed " + tally.distinct() + ": A "
                    + CoreGroups.held(cs[0], topic) + ", B " + CoreGroups.held(cs[1], topic));
            }
            int key = i % keys;
            SendResult r = p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)), selector, key);
            CoreSupport.checkResult(r, topic, "send " + i);
            check(r.getMessageQueue().getQueueId() == key % queues, "send " + i + " landed in queue "
                + r.getMessageQueue().getQueueId());
        }
        System.out.println("sent " + n + " messages for " + keys + " order keys");
        boolean all = CoreSupport.waitFor(() -> tally.distinct() >= n || !problems.isEmpty()
            || !tally.problems.isEmpty(), deadline);
        Thread.sleep(500);
        tally.failOnProblems();
        check(problems.isEmpty(), problems.size() + " order violations, first: " + (problems.isEmpty() ? "" : problems.get(0)));
        check(all, "consumed " + tally.distinct() + " of " + n + ": missing " + tally.missing(range(n)));
        check(tally.duplicateCount() == replays.get(), tally.duplicateCount() + " duplicates, but " + replays.get()
            + " replays on a queue move: " + tally.duplicates());
        tally.checkOffsets(admin, brokerName, queues, n);
        Set<Integer> a0 = queuesOf.getOrDefault("A", new HashSet<>());
        Set<Integer> b0 = queuesOf.getOrDefault("B", new HashSet<>());
        check(!b0.isEmpty(), "consumer B never consumed (A's queues: " + a0 + ")");
        int moved = 0;
        for (Map.Entry<Integer, List<Span>> e : spans.entrySet()) {
            List<Span> l = new ArrayList<>(e.getValue());
            l.sort((x, y) -> Long.compare(x.start, y.start));
            Set<String> whos = new HashSet<>();
            for (int i = 0; i < l.size(); i++) {
                whos.add(l.get(i).who);
                for (int j = i + 1; j < l.size() && l.get(j).start < l.get(i).end; j++) {
                    check(false, "queue " + e.getKey() + ": consumers " + l.get(i).who + " and " + l.get(j).who
                        + " consumed it at the same time");
                }
            }
            if (whos.size() > 1) {
                moved++;
            }
        }
        check(moved > 0, "no queue moved from A to B (A: " + a0 + ", B: " + b0 + ")");
        System.out.println("consumers split the queues A " + a0 + " B " + b0 + "; " + moved
            + " queues moved, never consumed by both at once; every key in order (" + replays.get() + " replayed)");
    }

    // ------------------------------------------------------------------ queries

    static void queries(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 10);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_query_" + run;
        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, 2, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        long begin = System.currentTimeMillis() - 1000;
        Map<Integer, SendResult> sent = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, "Q"));
            CoreSupport.checkResult(r, topic, "send " + i);
            sent.put(i, r);
        }
        long end = System.currentTimeMillis() + 1000;
        System.out.println("sent " + n + " messages with keys");
        boolean legacyView = false;
        for (java.lang.reflect.Method m : admin.getClass().getMethods()) {
            if (m.getName().equals("viewMessage") && m.getParameterCount() == 1) {
                legacyView = true;
            }
        }
        for (int i = 0; i < n; i++) {
            SendResult s = sent.get(i);
            String want = CoreSupport.body(run, i);
            // By offset message id (VIEW_MESSAGE_BY_ID): no index needed.
            MessageExt m = admin.viewMessage(topic, s.getOffsetMsgId());
            checkFound(m, topic, run, i, "viewMessage(topic, offsetMsgId)");
            if (legacyView) {
                MessageExt m1 = (MessageExt) Reflect.call(admin, "viewMessage", s.getOffsetMsgId());
                checkFound(m1, topic, run, i, "viewMessage(offsetMsgId)");
            }
            // By key and by unique key (QUERY_MESSAGE over the index, built asynchronously: poll).
            String key = "k-" + run + "-" + i;
            List<MessageExt> found = null;
            String last = "";
            while (System.currentTimeMillis() < deadline) {
                try {
                    QueryResult qr = admin.queryMessage(topic, key, 32, begin, end);
                    found = qr.getMessageList();
                    if (found != null && !found.isEmpty()) {
                        break;
                    }
                } catch (Exception e) {
                    last = e.toString();
                }
                Thread.sleep(100);
            }
            check(found != null && found.size() == 1, "queryMessage(" + topic + ", " + key + ") found " + found + " " + last);
            checkFound(found.get(0), topic, run, i, "queryMessage by key");
            check(want.equals(new String(found.get(0).getBody(), StandardCharsets.UTF_8)), "body of the key hit");
            // The second key of every message is shared by no other message of this topic.
            QueryResult qr2 = admin.queryMessage(topic, "kk-" + i, 32, begin, end);
            check(qr2.getMessageList().size() == 1, "queryMessage(kk-" + i + ") found " + qr2.getMessageList().size());
            MessageExt u = admin.viewMessage(topic, s.getMsgId());
            checkFound(u, topic, run, i, "viewMessage(topic, uniqKey)");
        }
        QueryResult none = null;
        try {
            none = admin.queryMessage(topic, "no-such-key-" + run, 32, begin, end);
        } catch (Exception e) {
            // 4.9.8 and 5.x clients report "query message by key finished, but no message." as an exception.
            check(e.toString().contains("no message"), "query of a missing key: " + e);
        }
        check(none == null || none.getMessageList().isEmpty(), "a missing key found " + (none == null ? null
            : none.getMessageList()));
        System.out.println("found all " + n + " by offset id, key and unique key" + (legacyView ? " (and viewMessage(id))" : ""));
    }

    static void checkFound(MessageExt m, String topic, String run, int i, String how) throws CoreSupport.Failure {
        check(m != null, how + ": message " + i + " not found");
        check(CoreSupport.index(m, run) == i && topic.equals(m.getTopic())
                && CoreSupport.body(run, i).equals(new String(m.getBody(), StandardCharsets.UTF_8))
                && CoreSupport.keys(run, i).equals(m.getKeys()),
            how + ": message " + i + " came back as " + m);
    }
}
