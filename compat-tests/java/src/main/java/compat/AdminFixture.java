package compat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
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
 * The state the admin scenarios (harness/scenarios/admin.py) run their mqadmin commands against, kept
 * online while they run: {@code java -cp ... compat.AdminFixture --ns A --broker B --topic T --group G
 * --producer-group P --ready FILE --stop FILE}.
 *
 * <p>Creates {@code T} (4 queues), sends {@code --messages} messages with keys {@code key_i} and tag
 * {@code TagA}, message i to queue i % 4 (so every queue offset is the same on any broker), starts a
 * push consumer of group {@code G} from the first offset and waits until it consumed all of them and its
 * offsets are committed on the broker. Then it writes {@code --ready} (properties: the first message's
 * ids and the consumer's client id) and keeps the producer and the consumer online until {@code --stop}
 * exists. Exit 0 after a clean stop; a failure prints {@code FAIL:} and exits non-zero.
 */
public final class AdminFixture {
    private AdminFixture() {
    }

    public static void main(String[] argv) {
        Args a = Args.parse(argv);
        Watchdog.start(a.getLong("hard-timeout-ms", 600_000));
        int rc;
        try {
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

    private static int run(Args a) throws Exception {
        String ns = a.get("ns");
        String topic = a.get("topic");
        int messages = a.getInt("messages", 16);
        Path ready = Paths.get(a.get("ready"));
        Path stop = Paths.get(a.get("stop"));
        long setupTimeout = a.getLong("setup-timeout-ms", 60_000);

        DefaultMQAdminExt admin = Routes.startAdmin(ns, "compat-fixture-admin-" + System.nanoTime());
        Routes.createTopic(admin, a.get("broker"), topic, 4);
        if (!Routes.waitRoute(admin, topic, true, setupTimeout)) {
            throw new IllegalStateException("no route for " + topic);
        }

        DefaultMQProducer producer = new DefaultMQProducer(a.get("producer-group"));
        producer.setNamesrvAddr(ns);
        producer.setInstanceName("compat-fixture-producer");
        producer.start();
        List<SendResult> sent = new ArrayList<>();
        for (int i = 0; i < messages; i++) {
            Message m = new Message(topic, "TagA", "key_" + i,
                ("admin body " + i).getBytes(StandardCharsets.UTF_8));
            m.putUserProperty("compatIndex", Integer.toString(i));
            SendResult r = producer.send(m, (mqs, msg, arg) -> {
                int q = (Integer) arg;
                for (MessageQueue mq : mqs) {
                    if (mq.getQueueId() == q) {
                        return mq;
                    }
                }
                return mqs.get(q % mqs.size());
            }, i % 4);
            if (r.getSendStatus() != SendStatus.SEND_OK) {
                throw new IllegalStateException("send " + i + ": " + r);
            }
            sent.add(r);
        }

        Set<String> consumed = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(a.get("group"));
        consumer.setNamesrvAddr(ns);
        consumer.setInstanceName("compat-fixture-consumer");
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setPersistConsumerOffsetInterval(500);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                consumed.add(m.getMsgId());
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        long deadline = System.currentTimeMillis() + setupTimeout;
        while (!committed(admin, a.get("group"), topic, messages)) {
            if (System.currentTimeMillis() > deadline) {
                throw new IllegalStateException("consumer did not commit " + messages + " messages (consumed "
                    + consumed.size() + ")");
            }
            Thread.sleep(200);
        }

        SendResult first = sent.get(0);
        String props = "uniqKey=" + first.getMsgId() + "\n"
            + "offsetMsgId=" + first.getOffsetMsgId() + "\n"
            + "queueId=" + first.getMessageQueue().getQueueId() + "\n"
            + "queueOffset=" + first.getQueueOffset() + "\n"
            + "clientId=" + consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId() + "\n";
        Path tmp = Paths.get(ready.toString() + ".tmp");
        Files.write(tmp, props.getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, ready);
        System.out.println("ready " + props.replace('\n', ' '));

        while (!Files.exists(stop)) {
            Thread.sleep(100);
        }
        consumer.shutdown();
        producer.shutdown();
        admin.shutdown();
        System.out.println("OK");
        return 0;
    }

    /** Whether the broker holds a committed offset of {@code group} that covers all {@code messages}. */
    private static boolean committed(DefaultMQAdminExt admin, String group, String topic, int messages) {
        try {
            Object stats = Reflect.call(admin, "examineConsumeStats", group, topic);
            java.util.Map<?, ?> table = (java.util.Map<?, ?>) Reflect.call(stats, "getOffsetTable");
            long total = 0;
            for (Object w : table.values()) {
                total += (Long) Reflect.call(w, "getConsumerOffset");
            }
            return total >= messages;
        } catch (Exception e) {
            return false;
        }
    }
}
