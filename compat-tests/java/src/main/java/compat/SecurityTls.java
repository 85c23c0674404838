package compat;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
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
 * TLS with the official client started with {@code -Dtls.enable=true} (test mode, the default: any server
 * certificate is trusted) against a broker in {@code tls.server.mode=enforcing}:
 * {@code java -Dtls.enable=true -cp ... compat.SecurityTls --ns A --broker B}.
 *
 * <p>The client checks that it runs with TLS ({@code isUseTLS}), creates a topic, sends {@link #N}
 * messages and push-consumes all of them; then a producer with {@code setUseTLS(false)} must fail to
 * send: the enforcing broker closes plaintext connections, so the first part did go over TLS.
 *
 * <p>Own entry point; prints {@code OK} last on success, {@code FAIL: ...} on stderr otherwise.
 */
public final class SecurityTls {
    static final int N = 20;

    private SecurityTls() {
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

    static int run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = Long.toString(System.nanoTime() % 1_000_000_007L, 36);
        String topic = "compat_tls_" + run;
        System.out.println("client " + ClientVersion.describe());

        DefaultMQAdminExt admin = Routes.startAdmin(ns, "compat-tls-admin-" + run);
        try {
            if (!admin.isUseTLS()) {
                System.err.println("FAIL: the client does not use TLS (run it with -Dtls.enable=true)");
                return 1;
            }
            Routes.createTopic(admin, broker, topic, 2);
            if (!Routes.waitRoute(admin, topic, true, Math.max(1000, deadline - System.currentTimeMillis()))) {
                System.err.println("FAIL: route of " + topic + " never appeared on nameserver " + ns);
                return 1;
            }
        } finally {
            admin.shutdown();
        }

        DefaultMQProducer p = new DefaultMQProducer("PG_tls_" + run);
        p.setNamesrvAddr(ns);
        p.setInstanceName("compat-tls-producer-" + run);
        p.setSendMsgTimeout(5000);
        p.start();
        try {
            for (int i = 0; i < N; i++) {
                SendResult r = p.send(new Message(topic, "T", "k" + i, ("tls-" + i).getBytes(StandardCharsets.UTF_8)));
                if (r.getSendStatus() != SendStatus.SEND_OK) {
                    System.err.println("FAIL: send " + i + " status " + r.getSendStatus());
                    return 1;
                }
            }
        } finally {
            p.shutdown();
        }
        System.out.println("sent " + N + " messages over TLS");

        Set<Integer> got = new ConcurrentSkipListSet<>();
        DefaultMQPushConsumer c = new DefaultMQPushConsumer("GID_tls_" + run);
        c.setNamesrvAddr(ns);
        c.setInstanceName("compat-tls-consumer-" + run);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                String body = new String(m.getBody(), StandardCharsets.UTF_8);
                if (body.startsWith("tls-")) {
                    got.add(Integer.parseInt(body.substring(4)));
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        try {
            while (got.size() < N && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
        } finally {
            c.shutdown();
        }
        if (got.size() != N) {
            System.err.println("FAIL: consumer got " + new TreeSet<>(got) + ", want 0.." + (N - 1));
            return 1;
        }
        System.out.println("consumed all " + N + " messages over TLS");

        DefaultMQProducer plain = new DefaultMQProducer("PG_tls_plain_" + run);
        plain.setNamesrvAddr(ns);
        plain.setInstanceName("compat-tls-plain-" + run);
        plain.setUseTLS(false);
        plain.setSendMsgTimeout(3000);
        plain.setRetryTimesWhenSendFailed(0);
        boolean sent;
        try {
            plain.start();
            SendResult r = plain.send(new Message(topic, "T", "plain".getBytes(StandardCharsets.UTF_8)));
            sent = r.getSendStatus() == SendStatus.SEND_OK;
        } catch (Exception e) {
            System.out.println("plaintext producer refused as expected: " + e.getClass().getSimpleName());
            sent = false;
        } finally {
            plain.shutdown();
        }
        if (sent) {
            System.err.println("FAIL: a plaintext producer could send to the enforcing broker");
            return 1;
        }
        System.out.println("OK");
        return 0;
    }
}
