package compat;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Message trace (broker {@code traceTopicEnable=true}): a producer and a push consumer created with
 * {@code enableMsgTrace=true} send and consume {@code --n} messages; their trace dispatchers write trace records to
 * {@code --trace-topic} (default RMQ_SYS_TRACE_TOPIC, which the broker created at start). The trace topic is then
 * read back from offset 0 with a lite pull consumer and parsed in the client's TraceDataEncoder text format (records
 * end with char 2, fields separated by char 1): for every message of the run there must be a {@code Pub} record
 * (producer group, topic, msgId, offsetMsgId of the send result, success) and the consumer's {@code SubBefore}
 * (consumer group, msgId) and {@code SubAfter} (msgId, success) records.
 */
final class CoreTrace {
    private CoreTrace() {
    }

    static final int QUEUES = 2;

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        String traceTopic = a.get("trace-topic", "RMQ_SYS_TRACE_TOPIC");
        int n = a.getInt("n", 20);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_trace_" + run;
        String pg = "PG_" + topic;
        String cg = "CG_" + topic;

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        check(Routes.waitRoute(admin, traceTopic, true, CoreSupport.remaining(deadline)),
            "the nameserver has no route of " + traceTopic + " (traceTopicEnable=true should create it)");

        Set<String> consumed = ConcurrentHashMap.newKeySet();
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(cg, true, null);
        c.setNamesrvAddr(ns);
        c.setInstanceName("core-trace-consumer-" + run);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                consumed.add(m.getMsgId());
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        // The 5.x client registers its trace hook after the consumer started: wait until the consumer holds its
        // queues (the hook is in place by then) before anything is sent.
        check(CoreSupport.waitFor(() -> c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable()
            .keySet().stream().filter(mq -> mq.getTopic().equals(topic)).count() == QUEUES, deadline),
            "the consumer never held the " + QUEUES + " queues of " + topic);
        DefaultMQProducer p = new DefaultMQProducer(pg, true, null);
        p.setNamesrvAddr(ns);
        p.setInstanceName("core-trace-producer-" + run);
        p.setSendMsgTimeout(5000);
        p.start();
        Map<String, String> offsetIds = new ConcurrentHashMap<>();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, "TagT"));
            CoreSupport.checkResult(r, topic, "send " + i);
            offsetIds.put(r.getMsgId(), r.getOffsetMsgId());
        }

        check(CoreSupport.waitFor(() -> consumed.containsAll(offsetIds.keySet()), deadline),
            "consumed " + consumed.size() + " of " + n);
        System.out.println("consumed " + n + " traced messages");

        // Read the trace topic back until every record of the run is there.
        Set<String> pub = new HashSet<>();
        Set<String> subBefore = new HashSet<>();
        Set<String> subAfter = new HashSet<>();
        int records = 0;
        DefaultLitePullConsumer reader = new DefaultLitePullConsumer("CG_trace_reader_" + run);
        reader.setNamesrvAddr(ns);
        reader.setInstanceName("core-trace-reader-" + run);
        reader.setAutoCommit(false);
        reader.start();
        List<MessageQueue> mqs = new java.util.ArrayList<>(reader.fetchMessageQueues(traceTopic));
        reader.assign(mqs);
        for (MessageQueue mq : mqs) {
            reader.seek(mq, 0);
        }
        while (pub.size() < n || subBefore.size() < n || subAfter.size() < n) {
            check(System.currentTimeMillis() < deadline, "trace records of the run in " + traceTopic + ": Pub "
                + pub.size() + ", SubBefore " + subBefore.size() + ", SubAfter " + subAfter.size() + " of " + n);
            for (MessageExt m : reader.poll(500)) {
                String data = new String(m.getBody(), StandardCharsets.UTF_8);
                for (String rec : data.split("\u0002")) {
                    String[] f = rec.split("\u0001", -1);
                    if (f.length == 0 || f[0].isEmpty()) {
                        continue;
                    }
                    records++;
                    String problem = null;
                    switch (f[0]) {
                        case "Pub":
                            // Pub, time, region, group, topic, msgId, tags, keys, storeHost, bodyLength, cost,
                            // msgType, offsetMsgId, success
                            if (f.length < 14 || !topic.equals(f[4])) {
                                break;
                            }
                            if (!pg.equals(f[3]) || !offsetIds.containsKey(f[5])
                                || !offsetIds.get(f[5]).equals(f[12]) || !"true".equals(f[13])
                                || !"TagT".equals(f[6])) {
                                problem = "bad Pub record";
                            } else {
                                pub.add(f[5]);
                            }
                            break;
                        case "SubBefore":
                            // SubBefore, time, region, group, requestId, msgId, retryTimes, keys
                            if (f.length < 8 || !cg.equals(f[3])) {
                                break;
                            }
                            if (!offsetIds.containsKey(f[5])) {
                                problem = "SubBefore record of an unknown message";
                            } else {
                                subBefore.add(f[5]);
                            }
                            break;
                        case "SubAfter":
                            // SubAfter, requestId, msgId, cost, success, keys, contextCode[, time, group]
                            if (f.length < 7 || !offsetIds.containsKey(f[2])) {
                                break;
                            }
                            if (!"true".equals(f[4])) {
                                problem = "SubAfter record not successful";
                            } else {
                                subAfter.add(f[2]);
                            }
                            break;
                        default:
                            break;
                    }
                    check(problem == null, problem + ": " + rec.replace('\u0001', '|'));
                }
            }
        }
        System.out.println("trace topic " + traceTopic + ": " + records + " records read; Pub " + pub.size()
            + ", SubBefore " + subBefore.size() + ", SubAfter " + subAfter.size() + " for the " + n + " messages");
    }
}
