//! Headers of the broker's admin requests (mqadmin, dashboard): stats, connections, offsets
//! resets, and the requests the broker relays to a client.

use crate::command_header;

command_header! {
    /// GET_CONSUME_STATS (208).
    pub struct GetConsumeStatsRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: Option<String> => "topic",
        topic_list: Option<String> => "topicList",
    }
}

command_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203).
    pub struct GetConsumerConnectionListRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204).
    pub struct GetProducerConnectionListRequestHeader {
        producer_group: String => "producerGroup",
    }
}

command_header! {
    /// QUERY_TOPICS_BY_CONSUMER (343) and QUERY_SUBSCRIPTION_BY_CONSUMER (345).
    pub struct GroupTopicRequestHeader {
        group: String => "group",
        topic: Option<String> => "topic",
    }
}

command_header! {
    /// GET_CONSUMER_RUNNING_INFO (307), relayed to the client.
    pub struct GetConsumerRunningInfoRequestHeader {
        consumer_group: String => "consumerGroup",
        client_id: String => "clientId",
        jstack_enable: Option<bool> => "jstackEnable",
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309), relayed to the client with the message as body.
    pub struct ConsumeMessageDirectlyRequestHeader {
        consumer_group: String => "consumerGroup",
        client_id: Option<String> => "clientId",
        msg_id: Option<String> => "msgId",
        broker_name: Option<String> => "brokerName",
        topic: Option<String> => "topic",
    }
}

command_header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222).
    pub struct ResetOffsetRequestHeader {
        group: String => "group",
        topic: String => "topic",
        queue_id: Option<i32> => "queueId",
        offset: Option<i64> => "offset",
        timestamp: i64 => "timestamp",
        is_force: Option<bool> => "isForce",
    }
}

command_header! {
    /// CLONE_GROUP_OFFSET (314).
    pub struct CloneGroupOffsetRequestHeader {
        src_group: String => "srcGroup",
        dest_group: String => "destGroup",
        topic: Option<String> => "topic",
        offline: Option<bool> => "offline",
    }
}

command_header! {
    /// VIEW_BROKER_STATS_DATA (315).
    pub struct ViewBrokerStatsDataRequestHeader {
        stats_name: String => "statsName",
        stats_key: String => "statsKey",
    }
}

command_header! {
    /// QUERY_CONSUME_TIME_SPAN (303).
    pub struct QueryConsumeTimeSpanRequestHeader {
        topic: String => "topic",
        group: String => "group",
    }
}
