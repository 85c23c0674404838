package compat;

import java.io.PrintStream;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.remoting.RemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * AdminBatch helpers for broker requests that no mqadmin command sends but the official admin API
 * does (the dashboard's and other brokers' requests). Each prints what the official client decoded,
 * in a stable order; a refusal prints the broker's code and remark. All calls go by name through
 * {@link Reflect}, since the classes they return moved between 4.9.x and 5.x.
 */
final class AdminQueries {
    private static final long TIMEOUT_MS = 5000;
    private static final int GET_ALL_DELAY_OFFSET = 45;

    private AdminQueries() {
    }

    /** The admin's MQClientAPIImpl (a private field in 4.9.x and 5.x alike). */
    static Object clientApi(DefaultMQAdminExt admin) throws Exception {
        Object impl = field(admin, "defaultMQAdminExtImpl");
        Object instance = field(impl, "mqClientInstance");
        return Reflect.call(instance, "getMQClientAPIImpl");
    }

    private static Object field(Object target, String name) throws Exception {
        Field f = target.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(target);
    }

    private static void refusal(PrintStream out, String what, Exception e) {
        if (e instanceof MQBrokerException) {
            MQBrokerException b = (MQBrokerException) e;
            out.println(what + " refused: code=" + b.getResponseCode() + " remark=" + b.getErrorMessage());
        } else {
            out.println(what + " failed: " + e);
        }
    }

    /** {@code compat:time-span TOPIC GROUP}: DefaultMQAdminExt.queryConsumeTimeSpan (route, then brokers). */
    static void timeSpan(DefaultMQAdminExt admin, String topic, String group, PrintStream out) {
        try {
            printSpans((List<?>) Reflect.call(admin, "queryConsumeTimeSpan", topic, group), out);
        } catch (Exception e) {
            refusal(out, "queryConsumeTimeSpan", e);
        }
    }

    /** {@code compat:time-span-at BROKER TOPIC GROUP}: MQClientAPIImpl.queryConsumeTimeSpan on one broker. */
    static void timeSpanAt(DefaultMQAdminExt admin, String addr, String topic, String group, PrintStream out) {
        try {
            Object api = clientApi(admin);
            printSpans((List<?>) Reflect.call(api, "queryConsumeTimeSpan", addr, topic, group, TIMEOUT_MS), out);
        } catch (Exception e) {
            refusal(out, "queryConsumeTimeSpan", e);
        }
    }

    private static void printSpans(List<?> spans, PrintStream out) throws Exception {
        TreeMap<String, String> lines = new TreeMap<>();
        for (Object s : spans) {
            Object mq = Reflect.call(s, "getMessageQueue");
            long min = (Long) Reflect.call(s, "getMinTimeStamp");
            long max = (Long) Reflect.call(s, "getMaxTimeStamp");
            long consume = (Long) Reflect.call(s, "getConsumeTimeStamp");
            long delay = (Long) Reflect.call(s, "getDelayTime");
            String key = Reflect.call(mq, "getBrokerName") + "/" + Reflect.call(mq, "getTopic") + "/"
                + String.format("%04d", (Integer) Reflect.call(mq, "getQueueId"));
            lines.put(key, key + " min=" + min + " max=" + max + " consume=" + consume + " delay=" + delay
                + " min<=max=" + (min <= max) + " consume==max=" + (consume == max));
        }
        out.println("spans=" + spans.size());
        for (String l : lines.values()) {
            out.println(l);
        }
    }

    /** {@code compat:system-topics BROKER}: MQClientAPIImpl.getSystemTopicListFromBroker, sorted. */
    static void systemTopics(DefaultMQAdminExt admin, String addr, PrintStream out) {
        try {
            Object list = Reflect.call(clientApi(admin), "getSystemTopicListFromBroker", addr, TIMEOUT_MS);
            Collection<?> topics = (Collection<?>) Reflect.call(list, "getTopicList");
            for (Object t : new TreeSet<Object>(topics)) {
                out.println("systemTopic=" + t);
            }
        } catch (Exception e) {
            refusal(out, "getSystemTopicListFromBroker", e);
        }
    }

    /** {@code compat:sub-config BROKER GROUP}: MQClientAPIImpl.getSubscriptionGroupConfig (5.x), as getters. */
    static void subConfig(DefaultMQAdminExt admin, String addr, String group, PrintStream out) {
        try {
            Object cfg = Reflect.call(clientApi(admin), "getSubscriptionGroupConfig", addr, group, TIMEOUT_MS);
            if (cfg == null) {
                out.println("config=null");
                return;
            }
            TreeMap<String, Object> props = new TreeMap<>();
            for (Method m : cfg.getClass().getMethods()) {
                String n = m.getName();
                if (m.getParameterCount() != 0 || n.equals("getClass") || n.equals("hashCode") || n.equals("toString")) {
                    continue;
                }
                if (n.startsWith("get") || n.startsWith("is")) {
                    props.put(n, m.invoke(cfg));
                }
            }
            for (Map.Entry<String, Object> e : props.entrySet()) {
                out.println(e.getKey() + "=" + e.getValue());
            }
        } catch (Exception e) {
            refusal(out, "getSubscriptionGroupConfig", e);
        }
    }

    /** {@code compat:send-delayed TOPIC LEVEL}: one message with a delay level, by a plain producer. */
    static void sendDelayed(String ns, String topic, int level, PrintStream out) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer("compat_delay_pg");
        p.setNamesrvAddr(ns);
        p.setInstanceName("compat-delay-" + System.nanoTime());
        p.start();
        try {
            Message m = new Message(topic, "TagD", "delayed".getBytes(StandardCharsets.UTF_8));
            m.setDelayTimeLevel(level);
            SendResult r = p.send(m, TIMEOUT_MS);
            out.println("send " + r.getSendStatus());
        } finally {
            p.shutdown();
        }
    }

    private static final Pattern TABLE = Pattern.compile("\"offsetTable\":\\{([^}]*)\\}");

    /**
     * {@code compat:delay-offsets BROKER LEVEL TIMEOUT_MS}: GET_ALL_DELAY_OFFSET through the official
     * RemotingClient, polled until the table has LEVEL (a level gets an entry once its task saw the
     * queue); prints the code, whether a data version came, and the table sorted.
     */
    static void delayOffsets(DefaultMQAdminExt admin, String addr, String level, long timeoutMs, PrintStream out)
        throws Exception {
        RemotingClient client = (RemotingClient) Reflect.call(clientApi(admin), "getRemotingClient");
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            RemotingCommand req = RemotingCommand.createRequestCommand(GET_ALL_DELAY_OFFSET, null);
            RemotingCommand resp = client.invokeSync(addr, req, TIMEOUT_MS);
            String body = resp.getBody() == null ? "" : new String(resp.getBody(), StandardCharsets.UTF_8);
            Matcher m = TABLE.matcher(body);
            TreeMap<Integer, String> table = new TreeMap<>();
            if (m.find()) {
                for (String entry : m.group(1).split(",")) {
                    String[] kv = entry.split(":");
                    if (kv.length == 2) {
                        table.put(Integer.parseInt(kv[0].trim().replace("\"", "")), kv[1].trim());
                    }
                }
            }
            boolean found = table.containsKey(Integer.parseInt(level));
            if (found || System.currentTimeMillis() > deadline) {
                out.println("code=" + resp.getCode() + " remark=" + resp.getRemark());
                out.println("dataVersion=" + (body.contains("\"dataVersion\":{") ? "present" : "absent"));
                List<String> entries = new ArrayList<>();
                for (Map.Entry<Integer, String> e : table.entrySet()) {
                    entries.add(e.getKey() + ":" + e.getValue());
                }
                out.println("offsetTable=" + String.join(",", entries));
                if (!found) {
                    out.println("level " + level + " still absent after " + timeoutMs + " ms");
                }
                return;
            }
            Thread.sleep(200);
        }
    }
}
