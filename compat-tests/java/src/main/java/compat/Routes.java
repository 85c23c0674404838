package compat;

import java.util.List;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/** Topic set-up through the admin API: create on a broker, then wait until the nameserver routes it. */
final class Routes {
    private Routes() {
    }

    static DefaultMQAdminExt startAdmin(String namesrv, String instance) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(5000);
        admin.setNamesrvAddr(namesrv);
        admin.setInstanceName(instance);
        admin.start();
        return admin;
    }

    static void createTopic(DefaultMQAdminExt admin, String brokerAddr, String topic, int queues) throws Exception {
        TopicConfig tc = new TopicConfig(topic, queues, queues, 6);
        admin.createAndUpdateTopicConfig(brokerAddr, tc);
    }

    /**
     * Number of queue-data entries the nameserver returns for {@code topic}, or -1 when it has no route
     * (or the request failed).
     */
    static int routeQueueDatas(DefaultMQAdminExt admin, String topic) {
        try {
            Object route = Reflect.call(admin, "examineTopicRouteInfo", topic);
            if (route == null) {
                return -1;
            }
            List<?> qds = (List<?>) Reflect.call(route, "getQueueDatas");
            return qds == null ? 0 : qds.size();
        } catch (Exception e) {
            return -1;
        }
    }

    /** Polls until the route is present (or absent), at most {@code timeoutMs}. Returns whether it got there. */
    static boolean waitRoute(DefaultMQAdminExt admin, String topic, boolean present, long timeoutMs)
        throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (true) {
            int n = routeQueueDatas(admin, topic);
            if (present ? n > 0 : n <= 0) {
                return true;
            }
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            Thread.sleep(200);
        }
    }
}
