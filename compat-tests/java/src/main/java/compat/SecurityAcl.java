package compat;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * ACL 1.0 with the official client's {@code AclClientRPCHook(new SessionCredentials(ak, sk))} against a
 * broker started with {@code aclEnable=true}:
 * {@code java -cp ... compat.SecurityAcl --ns A --broker B --ak AK --sk SK --admin-ak AK2 --admin-sk SK2
 * --denied-topic T}.
 *
 * <ul>
 *   <li>the non-admin account may not create a topic (SYSTEM_ERROR, "Need admin permission ...");</li>
 *   <li>the admin account creates the test topic;</li>
 *   <li>the non-admin account sends {@link #N} messages (PUB on the topic) and push-consumes all of them
 *   with its group (SUB on topic and group);</li>
 *   <li>the same access key with a wrong secret key cannot send ("Check signature failed ...");</li>
 *   <li>the right credentials cannot send to a topic the account has DENY on ("No permission ...").</li>
 * </ul>
 * With {@code --expect-unknown-account true} only one thing is checked: a send with these credentials is
 * refused with "No acl config for AK" (an account deleted by mqadmin {@code deleteAccessConfig}).
 * The broker's refusals reach the client as {@code MQBrokerException} with code 1 (SYSTEM_ERROR) and the
 * {@code AclException} text, as the Java brokers with ACL 1.0 answer.
 *
 * <p>Own entry point; prints {@code OK} last on success, {@code FAIL: ...} on stderr otherwise.
 */
public final class SecurityAcl {
    static final int N = 20;
    static final int SYSTEM_ERROR = 1;

    private SecurityAcl() {
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

    static RPCHook hook(String ak, String sk) {
        return new AclClientRPCHook(new SessionCredentials(ak, sk));
    }

    static DefaultMQAdminExt admin(String ns, RPCHook hook, String instance) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(hook, 5000);
        admin.setNamesrvAddr(ns);
        admin.setInstanceName(instance);
        admin.start();
        return admin;
    }

    /**
     * Null when {@code t} or a cause is a broker refusal with SYSTEM_ERROR whose text has {@code want}: an
     * {@code MQBrokerException} (sends), or an {@code MQClientException} carrying the broker's code (admin).
     */
    static String refusedWith(Throwable t, String want) {
        String seen = null;
        for (Throwable c = t; c != null; c = c.getCause()) {
            int code;
            String msg;
            if (c instanceof MQBrokerException) {
                code = ((MQBrokerException) c).getResponseCode();
                msg = ((MQBrokerException) c).getErrorMessage();
            } else if (c instanceof MQClientException && ((MQClientException) c).getResponseCode() > 0) {
                code = ((MQClientException) c).getResponseCode();
                msg = ((MQClientException) c).getErrorMessage();
            } else {
                continue;
            }
            if (code == SYSTEM_ERROR && msg != null && msg.contains(want)) {
                System.out.println("refused as expected: " + msg);
                return null;
            }
            seen = "broker answered code " + code + " [" + msg + "], want code 1 with '" + want + "'";
        }
        return seen != null ? seen : "no broker refusal in " + t;
    }

    static DefaultMQProducer producer(String ns, RPCHook hook, String group, String instance) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer(group, hook);
        p.setNamesrvAddr(ns);
        p.setInstanceName(instance);
        p.setSendMsgTimeout(5000);
        p.setRetryTimesWhenSendFailed(0);
        p.start();
        return p;
    }

    /** Null when sending one message to {@code topic} is refused with {@code want}. */
    static String sendRefused(String ns, RPCHook hook, String topic, String run, String what, String want)
        throws Exception {
        DefaultMQProducer p = producer(ns, hook, "PG_acl_bad_" + run, "compat-acl-" + what + "-" + run);
        try {
            SendResult r = p.send(new Message(topic, "T", ("refused-" + what).getBytes(StandardCharsets.UTF_8)));
            return what + ": send succeeded (" + r.getSendStatus() + ")";
        } catch (MQClientException | MQBrokerException e) {
            String bad = refusedWith(e, want);
            return bad == null ? null : what + ": " + bad;
        } finally {
            p.shutdown();
        }
    }

    static int run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String ak = a.get("ak");
        String sk = a.get("sk");
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = Long.toString(System.nanoTime() % 1_000_000_007L, 36);
        String topic = a.get("topic");
        String group = a.get("group");
        System.out.println("client " + ClientVersion.describe());

        if ("true".equals(a.get("expect-unknown-account", "false"))) {
            String bad = sendRefused(ns, hook(ak, sk), topic, run, "unknown-account", "No acl config for " + ak);
            if (bad != null) {
                System.err.println("FAIL: " + bad);
                return 1;
            }
            System.out.println("OK");
            return 0;
        }

        DefaultMQAdminExt user = admin(ns, hook(ak, sk), "compat-acl-user-" + run);
        try {
            Routes.createTopic(user, broker, topic + "_x", 2);
            System.err.println("FAIL: the non-admin account created a topic");
            return 1;
        } catch (MQBrokerException | MQClientException e) {
            String bad = refusedWith(e, "Need admin permission");
            if (bad != null) {
                System.err.println("FAIL: topic creation by a non-admin account: " + bad);
                return 1;
            }
        } finally {
            user.shutdown();
        }

        DefaultMQAdminExt adm = admin(ns, hook(a.get("admin-ak"), a.get("admin-sk")), "compat-acl-admin-" + run);
        try {
            Routes.createTopic(adm, broker, topic, 2);
            if (!Routes.waitRoute(adm, topic, true, Math.max(1000, deadline - System.currentTimeMillis()))) {
                System.err.println("FAIL: route of " + topic + " never appeared on nameserver " + ns);
                return 1;
            }
        } finally {
            adm.shutdown();
        }
        System.out.println("admin account created " + topic);

        DefaultMQProducer p = producer(ns, hook(ak, sk), "PG_acl_" + run, "compat-acl-producer-" + run);
        try {
            for (int i = 0; i < N; i++) {
                SendResult r = p.send(new Message(topic, "T", "k" + i, ("acl-" + i).getBytes(StandardCharsets.UTF_8)));
                if (r.getSendStatus() != SendStatus.SEND_OK) {
                    System.err.println("FAIL: send " + i + " status " + r.getSendStatus());
                    return 1;
                }
            }
        } finally {
            p.shutdown();
        }
        System.out.println("signed producer sent " + N + " messages");

        Set<Integer> got = new ConcurrentSkipListSet<>();
        Set<String> problems = new ConcurrentSkipListSet<>();
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group, hook(ak, sk), new AllocateMessageQueueAveragely());
        c.setNamesrvAddr(ns);
        c.setInstanceName("compat-acl-consumer-" + run);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                String body = new String(m.getBody(), StandardCharsets.UTF_8);
                if (!body.startsWith("acl-") || !topic.equals(m.getTopic())) {
                    problems.add("unexpected message " + m);
                    continue;
                }
                got.add(Integer.parseInt(body.substring(4)));
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
        if (!problems.isEmpty()) {
            System.err.println("FAIL: " + problems.iterator().next());
            return 1;
        }
        if (got.size() != N) {
            System.err.println("FAIL: signed push consumer got " + new TreeSet<>(got) + ", want 0.." + (N - 1));
            return 1;
        }
        System.out.println("signed push consumer got all " + N + " messages");

        String bad = sendRefused(ns, hook(ak, sk + "-wrong"), topic, run, "wrong-secret",
            "Check signature failed for accessKey=" + ak);
        if (bad == null) {
            bad = sendRefused(ns, hook(ak, sk), a.get("denied-topic"), run, "denied-topic",
                "No permission for topic:" + a.get("denied-topic"));
        }
        if (bad != null) {
            System.err.println("FAIL: " + bad);
            return 1;
        }
        System.out.println("OK");
        return 0;
    }
}
