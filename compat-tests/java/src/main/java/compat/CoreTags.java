package compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

import static compat.CoreSupport.check;

/**
 * Tag subscriptions. {@code --n} messages tagged TagA, TagB, TagC and (every fourth) no tag at all go to a 4-queue
 * topic; a push consumer subscribed to {@code TagA || TagB} must receive exactly the TagA and TagB ones, and one
 * (other group) subscribed to {@code TagC} exactly the TagC ones.
 *
 * <p>The clients also filter by tag themselves, which would hide a broker that does not filter. So a second part
 * checks the broker's own filtering: one queue receives 40 TagC messages followed by 3 TagA and 3 TagB, and one
 * {@code DefaultMQPullConsumer.pull(queue, "TagA || TagB", 0, 32)} must return the 6 TagA/TagB messages (a broker
 * that does not filter returns the first 32 TagC ones, which the client then drops) and a next offset of 46.
 */
final class CoreTags {
    private CoreTags() {
    }

    static final int QUEUES = 4;

    static String tag(int i) {
        switch (i % 4) {
            case 0:
                return "TagA";
            case 1:
                return "TagB";
            case 2:
                return "TagC";
            default:
                return null;
        }
    }

    static void run(Args a) throws Exception {
        String ns = a.get("ns");
        String broker = a.get("broker");
        String brokerName = a.get("broker-name");
        int n = a.getInt("n", 120);
        long deadline = System.currentTimeMillis() + a.getLong("timeout-ms", 60_000);
        String run = CoreSupport.newRun();
        String topic = "core_tags_" + run;
        IntFunction<String> tagOf = CoreTags::tag;

        DefaultMQAdminExt admin = CoreSupport.admin(ns, run);
        CoreSupport.createTopic(admin, ns, broker, topic, QUEUES, deadline);
        String filterTopic = "core_tagfilter_" + run;
        CoreSupport.createTopic(admin, ns, broker, filterTopic, 1, deadline);
        DefaultMQProducer p = CoreSupport.producer(ns, "PG_" + topic, "core-producer-" + run);
        Map<Integer, CoreSupport.Sent> sent = new ConcurrentHashMap<>();
        for (int i = 0; i < n; i++) {
            SendResult r = p.send(CoreSupport.message(topic, run, i, tag(i)));
            CoreSupport.checkResult(r, topic, "send " + i);
            sent.put(i, new CoreSupport.Sent(r.getMsgId(), r.getOffsetMsgId(), r.getMessageQueue().getQueueId(),
                r.getQueueOffset()));
        }
        System.out.println("sent " + n + " messages tagged TagA/TagB/TagC/none");

        String[] exprs = {"TagA || TagB", "TagC"};
        CoreSupport.Tally[] tallies = new CoreSupport.Tally[exprs.length];
        int[] want = new int[exprs.length];
        int port = CoreSupport.port(broker);
        for (int k = 0; k < exprs.length; k++) {
            String expr = exprs[k];
            CoreSupport.Tally t = new CoreSupport.Tally(topic, run, n, tagOf, port, sent);
            tallies[k] = t;
            for (int i = 0; i < n; i++) {
                if (tag(i) != null && expr.contains(tag(i))) {
                    want[k]++;
                }
            }
            DefaultMQPushConsumer c = CoreSupport.pushConsumer(ns, "GID_" + topic + "_" + k, "core-consumer-" + k + "-" + run);
            c.subscribe(topic, expr);
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    int idx = t.accept(m);
                    if (idx >= 0 && (tag(idx) == null || !expr.contains(tag(idx)))) {
                        t.problems.add("subscription '" + expr + "' received message " + idx + " tagged " + tag(idx));
                    }
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.start();
        }
        boolean all = CoreSupport.waitFor(() -> tallies[0].distinct() >= want[0] && tallies[1].distinct() >= want[1]
            || !tallies[0].problems.isEmpty() || !tallies[1].problems.isEmpty(), deadline);
        Thread.sleep(1500);
        for (int k = 0; k < exprs.length; k++) {
            tallies[k].failOnProblems();
            check(all, "'" + exprs[k] + "' received " + tallies[k].distinct() + " of " + want[k] + " before the time limit");
            check(tallies[k].distinct() == want[k], "'" + exprs[k] + "' received " + tallies[k].distinct() + " of " + want[k]);
            String dup = tallies[k].duplicates();
            check(dup.isEmpty(), "'" + exprs[k] + "' received more than once: " + dup);
        }
        System.out.println("push: 'TagA || TagB' received exactly its " + want[0] + ", 'TagC' exactly its " + want[1]);

        // Broker-side filtering, seen through a pull of one queue.
        MessageQueue mq = new MessageQueue(filterTopic, brokerName, 0);
        List<Integer> wantIdx = new ArrayList<>();
        for (int i = 0; i < 46; i++) {
            String tg = i < 40 ? "TagC" : (i < 43 ? "TagA" : "TagB");
            SendResult r = p.send(CoreSupport.message(filterTopic, run, i, tg), mq);
            CoreSupport.checkResult(r, filterTopic, "send " + i + " to " + filterTopic);
            check(r.getQueueOffset() == i, "send " + i + " to " + filterTopic + " got queue offset " + r.getQueueOffset());
            if (i >= 40) {
                wantIdx.add(i);
            }
        }
        DefaultMQPullConsumer pc = new DefaultMQPullConsumer("GID_" + filterTopic);
        pc.setNamesrvAddr(ns);
        pc.setInstanceName("core-pull-" + run);
        pc.start();
        PullResult pr = pc.pull(mq, "TagA || TagB", 0, 32);
        List<Integer> got = new ArrayList<>();
        if (pr.getMsgFoundList() != null) {
            for (MessageExt m : pr.getMsgFoundList()) {
                got.add(CoreSupport.index(m, run));
            }
        }
        check(pr.getPullStatus() == PullStatus.FOUND && got.equals(wantIdx),
            "pull(TagA || TagB, offset 0, max 32) of 40 TagC then 3 TagA and 3 TagB returned " + pr.getPullStatus()
            + " with messages " + got + " (want " + wantIdx + "), next offset " + pr.getNextBeginOffset()
            + ": the broker did not filter by tag");
        check(pr.getNextBeginOffset() == 46, "pull(TagA || TagB) next begin offset " + pr.getNextBeginOffset()
            + ", want 46 (min " + pr.getMinOffset() + ", max " + pr.getMaxOffset() + ")");
        check(pr.getMaxOffset() == 46 && pr.getMinOffset() == 0,
            "pull reported min/max offset " + pr.getMinOffset() + "/" + pr.getMaxOffset() + ", want 0/46");
        PullResult none = pc.pull(mq, "TagB", 43 + 3, 32);
        check(none.getPullStatus() == PullStatus.NO_NEW_MSG, "pull at the end returned " + none.getPullStatus());
        System.out.println("broker-side filter: pull returned exactly the 6 TagA/TagB of 46, next offset 46");
    }
}
