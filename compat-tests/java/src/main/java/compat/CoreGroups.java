package compat;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Two push consumers (two client instances) in one group on a 4-queue topic. They start first; once their
 * rebalance has settled ({@code --mode clustering}: each holds queues, none held twice, all four held;
 * {@code broadcasting}: each holds all four) {@code --n} messages are sent. Clustering: every message is consumed
 * exactly once by the two together, and the queues each one received from are disjoint. Broadcasting: each
 * consumer receives every message exactly once.
 */
final class CoreGroups {
    private CoreGroups() {
    }

    static final int QUEUES = 4;

    static Set<Integer> held(DefaultMQPushConsumer c, String topic) {
        Set<Integer> q = new TreeSet<>();
        for (MessageQueue mq : c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().keySet()) {
            if (mq.getTopic().equals(topic)) {
                q.add(mq.getQueueId());
            }
        }
        return q;
    }

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        String mode = a.get("mode");
        boolean broadcast;
        if (mode.equals("broadcasting")) {
            broadcast = true;
        } else if (mode.equals("clustering")) {
            broadcast = false;
        } else {
            throw new CoreSupport.Failure("unknown --mode " + mode);
        }
        int n = a.getInt("n", 80);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_" + mode + "_" + run;
        String group = "GID_" + topic;
        IntFunction<String> tagOf = i -> "T" + (i % 2);

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);

        int port = CoreSupport.port(broker);
        CoreSupport.Tally[] tallies = new CoreSupport.Tally[2];
        DefaultMQPushConsumer[] cs = new DefaultMQPushConsumer[2];
        @SuppressWarnings("unchecked")
        Set<Integer>[] receivedQueues = new Set[2];
        for (int k = 0; k < 2; k++) {
            CoreSupport.Tally t = new CoreSupport.Tally(topic, run, n, tagOf, port, null);
            Set<Integer> rq = ConcurrentHashMap.newKeySet();
            tallies[k] = t;
            receivedQueues[k] = rq;
            DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, group, "core-" + mode + "-" + k + "-" + run);
            CoreSupport.setMessageModel(c, broadcast ? "BROADCASTING" : "CLUSTERING");
            c.subscribe(topic, "*");
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    rq.add(m.getQueueId());
                    t.accept(m);
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.start();
            cs[k] = c;
        }

        // Wait for a settled assignment that stays the same for a second.
        long stableSince = 0;
        String last = "";
        while (true) {
            Set<Integer> h0 = held(cs[0], topic);
            Set<Integer> h1 = held(cs[1], topic);
            Set<Integer> both = new HashSet<>(h0);
            both.retainAll(h1);
            Set<Integer> union = new HashSet<>(h0);
            union.addAll(h1);
            boolean settled = broadcast
                ? h0.size() == QUEUES && h1.size() == QUEUES
                : !h0.isEmpty() && !h1.isEmpty() && both.isEmpty() && union.size() == QUEUES;
            String now = h0 + " / " + h1;
            if (settled && now.equals(last)) {
                if (System.currentTimeMillis() - stableSince >= 1000) {
                    System.out.println("assignment settled: " + now);
                    break;
                }
            } else {
                stableSince = System.currentTimeMillis();
            }
            last = now;
            check(System.currentTimeMillis() < deadline, "queue assignment never settled, last: " + now);
            Thread.sleep(50);
        }

        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        Map<Integer, CoreSupport.Sent> sent = new ConcurrentHashMap<>();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, tagOf.apply(i)));
            CoreSupport.checkResult(r, topic, "send " + i);
            sent.put(i, new CoreSupport.Sent(r.getMsgId(), r.getOffsetMsgId(), r.getMessageQueue().getQueueId(),
                r.getQueueOffset()));
        }
        System.out.println("sent " + n + " messages");

        boolean all = CoreSupport.waitFor(() -> broadcast
            ? tallies[0].distinct() >= n && tallies[1].distinct() >= n
            : tallies[0].distinct() + tallies[1].distinct() >= n, deadline);
        Thread.sleep(1500);  // late duplicates show up here
        for (CoreSupport.Tally t : tallies) {
            t.failOnProblems();
        }
        String counts = tallies[0].distinct() + " + " + tallies[1].distinct();
        check(all, "consumed " + counts + " distinct messages of " + n + " before the time limit");
        for (int k = 0; k < 2; k++) {
            String dup = tallies[k].duplicates();
            check(dup.isEmpty(), "consumer " + k + " got messages more than once: " + dup);
            check(held(cs[k], topic).containsAll(receivedQueues[k]),
                "consumer " + k + " received from queues " + receivedQueues[k] + " but holds " + held(cs[k], topic));
        }
        if (broadcast) {
            for (int k = 0; k < 2; k++) {
                check(tallies[k].distinct() == n, "consumer " + k + " received " + tallies[k].distinct() + " of " + n);
            }
            System.out.println("each consumer received all " + n + " messages exactly once");
        } else {
            for (int i = 0; i < n; i++) {
                int got = (tallies[0].counts.containsKey(i) ? 1 : 0) + (tallies[1].counts.containsKey(i) ? 1 : 0);
                check(got == 1, "message " + i + " (queue " + sent.get(i).queueId + ") consumed by " + got + " consumers");
            }
            Set<Integer> common = new HashSet<>(receivedQueues[0]);
            common.retainAll(receivedQueues[1]);
            check(common.isEmpty(), "both consumers received from queues " + common);
            check(!receivedQueues[0].isEmpty() && !receivedQueues[1].isEmpty(),
                "one consumer received nothing: queues " + receivedQueues[0] + " / " + receivedQueues[1]);
            System.out.println("consumers split the queues " + receivedQueues[0] + " / " + receivedQueues[1] + ": "
                + counts + " = " + n + " messages, each exactly once");
        }
    }
}
