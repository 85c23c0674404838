package compat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * Creates a topic on {@code --broker}, waits for its route on {@code --ns}, sends {@code --n} messages
 * synchronously (each with a key, a tag and user properties), then push-consumes them with a fresh
 * clustering group from the first offset and checks body, key, tag, properties, topic and message id of
 * every one.
 */
final class SendPush {
    private SendPush() {
    }

    static final class Expected {
        final String body;
        final String key;
        final String tag;
        final Map<String, String> props = new HashMap<>();

        Expected(String run, int i) {
            StringBuilder pad = new StringBuilder();
            for (int k = 0; k < i % 17; k++) {
                pad.append('y');
            }
            body = "java-body-" + run + "-" + i + "-" + pad;
            key = "key-" + run + "-" + i;
            tag = "Tag" + (i % 3);
            props.put("compat-idx", Integer.toString(i));
            props.put("compat-run", run);
        }
    }

    static int run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        int n = a.getInt("n", 100);
        long timeoutMs = a.getLong("timeout-ms", 60_000);
        long deadline = System.currentTimeMillis() + timeoutMs;
        String run = Long.toString(System.nanoTime() % 1_000_000_007L, 36);
        String topic = a.get("topic", "compat_java_" + run);
        String group = a.get("group", "GID_" + topic);

        System.out.println("client " + ClientVersion.describe());

        DefaultMQAdminExt admin = Routes.startAdmin(ns, "compat-admin-" + run);
        try {
            Routes.createTopic(admin, broker, topic, 4);
            if (!Routes.waitRoute(admin, topic, true, Math.max(1000, deadline - System.currentTimeMillis()))) {
                System.err.println("FAIL: route of " + topic + " never appeared on nameserver " + ns);
                return 1;
            }
        } finally {
            admin.shutdown();
        }

        DefaultMQProducer producer = new DefaultMQProducer("PG_" + topic);
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("compat-producer-" + run);
        producer.setSendMsgTimeout(5000);
        producer.start();
        Map<String, String> sentIds = new HashMap<>();
        try {
            for (int i = 0; i < n; i++) {
                Expected e = new Expected(run, i);
                Message m = new Message(topic, e.tag, e.key, e.body.getBytes(StandardCharsets.UTF_8));
                for (Map.Entry<String, String> p : e.props.entrySet()) {
                    m.putUserProperty(p.getKey(), p.getValue());
                }
                SendResult r = producer.send(m);
                if (r.getSendStatus() != SendStatus.SEND_OK) {
                    System.err.println("FAIL: send " + i + " status " + r.getSendStatus());
                    return 1;
                }
                if (r.getMsgId() == null || r.getMessageQueue() == null
                    || !topic.equals(r.getMessageQueue().getTopic())) {
                    System.err.println("FAIL: send " + i + " bad result " + r);
                    return 1;
                }
                sentIds.put(e.key, r.getMsgId());
            }
        } finally {
            producer.shutdown();
        }
        System.out.println("sent " + n + " messages to " + topic);

        Map<String, Boolean> got = new ConcurrentHashMap<>();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(1);
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(ns);
        consumer.setInstanceName("compat-consumer-" + run);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                String problem = check(m, run, n, topic, sentIds);
                if (problem != null) {
                    problems.add(problem);
                } else {
                    got.put(m.getKeys(), Boolean.TRUE);
                }
            }
            if (got.size() == n || !problems.isEmpty()) {
                done.countDown();
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        try {
            done.await(Math.max(1, deadline - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
        } finally {
            consumer.shutdown();
        }
        if (!problems.isEmpty()) {
            System.err.println("FAIL: " + problems.size() + " bad messages, first: " + problems.get(0));
            return 1;
        }
        if (got.size() != n) {
            System.err.println("FAIL: consumed " + got.size() + " of " + n + " distinct messages before the time limit");
            return 1;
        }
        System.out.println("consumed and checked " + n + " messages");
        System.out.println("OK");
        return 0;
    }

    private static String check(MessageExt m, String run, int n, String topic, Map<String, String> sentIds) {
        int idx;
        try {
            idx = Integer.parseInt(m.getUserProperty("compat-idx"));
        } catch (RuntimeException e) {
            return "message " + m.getMsgId() + " without a valid compat-idx";
        }
        if (idx < 0 || idx >= n) {
            return "message " + m.getMsgId() + " with compat-idx " + idx;
        }
        Expected e = new Expected(run, idx);
        List<String> bad = new ArrayList<>();
        String body = new String(m.getBody(), StandardCharsets.UTF_8);
        if (!e.body.equals(body)) {
            bad.add("body '" + body + "'");
        }
        if (!e.key.equals(m.getKeys())) {
            bad.add("keys '" + m.getKeys() + "'");
        }
        if (!e.tag.equals(m.getTags())) {
            bad.add("tags '" + m.getTags() + "'");
        }
        for (Map.Entry<String, String> p : e.props.entrySet()) {
            if (!p.getValue().equals(m.getUserProperty(p.getKey()))) {
                bad.add("property " + p.getKey() + "='" + m.getUserProperty(p.getKey()) + "'");
            }
        }
        if (!topic.equals(m.getTopic())) {
            bad.add("topic '" + m.getTopic() + "'");
        }
        String sent = sentIds.get(e.key);
        if (sent == null || !sent.equals(m.getMsgId())) {
            bad.add("msgId '" + m.getMsgId() + "', send returned '" + sent + "'");
        }
        return bad.isEmpty() ? null : "message " + idx + ": " + String.join(", ", bad);
    }
}
