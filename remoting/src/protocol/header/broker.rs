//! Headers of the broker's requests and responses (Java `protocol/header`).

use crate::command_header;
use crate::protocol::ext_fields::ExtFields;

command_header! {
    /// SEND_MESSAGE (10) with Java's long field names. SEND_MESSAGE_V2 (310) and
    /// SEND_BATCH_MESSAGE (320) carry the same fields under one-letter names; see
    /// [`SendMessageRequestHeader::from_v2`].
    pub struct SendMessageRequestHeader {
        producer_group: String => "producerGroup",
        topic: String => "topic",
        default_topic: String => "defaultTopic",
        default_topic_queue_nums: i32 => "defaultTopicQueueNums",
        queue_id: i32 => "queueId",
        sys_flag: i32 => "sysFlag",
        born_timestamp: i64 => "bornTimestamp",
        flag: i32 => "flag",
        properties: Option<String> => "properties",
        reconsume_times: Option<i32> => "reconsumeTimes",
        unit_mode: Option<bool> => "unitMode",
        batch: Option<bool> => "batch",
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
        bname: Option<String> => "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE: the compact header with one-letter keys.
    pub struct SendMessageRequestHeaderV2 {
        a: String => "a",
        b: String => "b",
        c: String => "c",
        d: i32 => "d",
        e: i32 => "e",
        f: i32 => "f",
        g: i64 => "g",
        h: i32 => "h",
        i: Option<String> => "i",
        j: Option<i32> => "j",
        k: Option<bool> => "k",
        l: Option<i32> => "l",
        m: Option<bool> => "m",
        n: Option<String> => "n",
    }
}

impl SendMessageRequestHeader {
    /// The long-name header from a compact V2 header's fields.
    pub fn from_v2(ext: &ExtFields) -> Result<Self, crate::error::HeaderError> {
        use crate::protocol::header::CommandHeader;
        Ok(Self::from_v2_fields(
            SendMessageRequestHeaderV2::from_ext_fields(ext)?,
        ))
    }

    /// [`Self::from_v2`] moving the text values out of `ext` (see
    /// [`crate::protocol::header::CommandHeader::take_ext_fields`]).
    pub fn take_v2(ext: &mut ExtFields) -> Result<Self, crate::error::HeaderError> {
        use crate::protocol::header::CommandHeader;
        Ok(Self::from_v2_fields(
            SendMessageRequestHeaderV2::take_ext_fields(ext)?,
        ))
    }

    fn from_v2_fields(v: SendMessageRequestHeaderV2) -> Self {
        Self {
            producer_group: v.a,
            topic: v.b,
            default_topic: v.c,
            default_topic_queue_nums: v.d,
            queue_id: v.e,
            sys_flag: v.f,
            born_timestamp: v.g,
            flag: v.h,
            properties: v.i,
            reconsume_times: v.j,
            unit_mode: v.k,
            batch: v.m,
            max_reconsume_times: v.l,
            bname: v.n,
        }
    }
}

command_header! {
    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326), broker to the requesting client: the reply's send
    /// header plus where and when the broker received it.
    pub struct ReplyMessageRequestHeader {
        producer_group: String => "producerGroup",
        topic: String => "topic",
        default_topic: String => "defaultTopic",
        default_topic_queue_nums: i32 => "defaultTopicQueueNums",
        queue_id: i32 => "queueId",
        sys_flag: i32 => "sysFlag",
        born_timestamp: i64 => "bornTimestamp",
        flag: i32 => "flag",
        properties: Option<String> => "properties",
        reconsume_times: Option<i32> => "reconsumeTimes",
        unit_mode: bool => "unitMode",
        born_host: String => "bornHost",
        store_host: String => "storeHost",
        store_timestamp: i64 => "storeTimestamp",
    }
}

command_header! {
    /// Response to the send requests.
    pub struct SendMessageResponseHeader {
        msg_id: String => "msgId",
        queue_id: i32 => "queueId",
        queue_offset: i64 => "queueOffset",
        transaction_id: Option<String> => "transactionId",
        batch_uniq_id: Option<String> => "batchUniqId",
        recall_handle: Option<String> => "recallHandle",
    }
}

command_header! {
    /// PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361).
    pub struct PullMessageRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        queue_offset: i64 => "queueOffset",
        max_msg_nums: i32 => "maxMsgNums",
        sys_flag: i32 => "sysFlag",
        commit_offset: i64 => "commitOffset",
        suspend_timeout_millis: i64 => "suspendTimeoutMillis",
        subscription: Option<String> => "subscription",
        sub_version: i64 => "subVersion",
        expression_type: Option<String> => "expressionType",
        max_msg_bytes: Option<i32> => "maxMsgBytes",
        bname: Option<String> => "bname",
    }
}

command_header! {
    /// Response to pulls. All four offsets are mandatory for the Java client.
    pub struct PullMessageResponseHeader {
        suggest_which_broker_id: i64 => "suggestWhichBrokerId",
        next_begin_offset: i64 => "nextBeginOffset",
        min_offset: i64 => "minOffset",
        max_offset: i64 => "maxOffset",
        topic_sys_flag: Option<i32> => "topicSysFlag",
        group_sys_flag: Option<i32> => "groupSysFlag",
    }
}

command_header! {
    /// QUERY_CONSUMER_OFFSET (14).
    pub struct QueryConsumerOffsetRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        set_zero_if_not_found: Option<bool> => "setZeroIfNotFound",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15).
    pub struct UpdateConsumerOffsetRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        commit_offset: i64 => "commitOffset",
    }
}

command_header! {
    /// Responses carrying one `offset` (query consumer offset, max/min/search offset).
    pub struct OffsetResponseHeader {
        offset: i64 => "offset",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32).
    pub struct TopicQueueRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        committed: Option<bool> => "committed",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29).
    pub struct SearchOffsetRequestHeader {
        topic: String => "topic",
        queue_id: i32 => "queueId",
        timestamp: i64 => "timestamp",
        boundary_type: Option<String> => "boundaryType",
    }
}

command_header! {
    /// Response to GET_EARLIEST_MSG_STORETIME.
    pub struct EarliestMsgStoretimeResponseHeader {
        timestamp: i64 => "timestamp",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38).
    pub struct GetConsumerListByGroupRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), broker to client.
    pub struct NotifyConsumerIdsChangedRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// UNREGISTER_CLIENT (35).
    pub struct UnregisterClientRequestHeader {
        client_id: String => "clientID",
        producer_group: Option<String> => "producerGroup",
        consumer_group: Option<String> => "consumerGroup",
    }
}

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17).
    pub struct CreateTopicRequestHeader {
        topic: String => "topic",
        default_topic: String => "defaultTopic",
        read_queue_nums: i32 => "readQueueNums",
        write_queue_nums: i32 => "writeQueueNums",
        perm: i32 => "perm",
        topic_filter_type: String => "topicFilterType",
        topic_sys_flag: Option<i32> => "topicSysFlag",
        order: Option<bool> => "order",
        attributes: Option<String> => "attributes",
        force: Option<bool> => "force",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_BROKER (215), GET_TOPIC_CONFIG (351), GET_TOPIC_STATS_INFO (202).
    pub struct TopicRequestHeader {
        topic: String => "topic",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        group_name: String => "groupName",
        clean_offset: Option<bool> => "cleanOffset",
    }
}

command_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352).
    pub struct GetSubscriptionGroupConfigRequestHeader {
        group: String => "group",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::header::CommandHeader;

    #[test]
    fn v2_header_maps_to_long_names() {
        let mut ext = ExtFields::new();
        for (k, v) in [
            ("a", "pg"),
            ("b", "T"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "2"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}A\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "true"),
        ] {
            ext.insert(k, v);
        }
        let h = SendMessageRequestHeader::from_v2(&ext).unwrap();
        assert_eq!(h.topic, "T");
        assert_eq!(h.queue_id, 2);
        assert_eq!(h.batch, Some(true));
        assert_eq!(h.max_reconsume_times, None);
        assert!(SendMessageRequestHeaderV2::from_ext_fields(&ExtFields::new()).is_err());

        // Moving the values out decodes the same header and leaves the fields read empty.
        let mut moved = ext.clone();
        assert_eq!(SendMessageRequestHeader::take_v2(&mut moved).unwrap(), h);
        assert_eq!(moved.get("b"), Some(""));
        assert_eq!(moved.get("i"), Some(""));
        // A mandatory value that does not parse is reported with its text, as when copying.
        let mut bad = ext.clone();
        bad.insert("e", "two");
        match SendMessageRequestHeader::take_v2(&mut bad) {
            Err(crate::error::HeaderError::Invalid { field, value }) => {
                assert_eq!((field, value.as_str()), ("e", "two"));
            }
            other => panic!("{other:?}"),
        }
        assert!(SendMessageRequestHeaderV2::take_ext_fields(&mut ExtFields::new()).is_err());
    }
}

command_header! {
    /// END_TRANSACTION (37), producer -> broker, usually oneway. `commit_or_rollback`: 0 unknown,
    /// 8 commit, 12 rollback. `commit_log_offset`/`tran_state_table_offset` locate the half
    /// message (from the send answer, or from the CHECK_TRANSACTION_STATE being answered).
    pub struct EndTransactionRequestHeader {
        producer_group: String => "producerGroup",
        tran_state_table_offset: i64 => "tranStateTableOffset",
        commit_log_offset: i64 => "commitLogOffset",
        commit_or_rollback: i32 => "commitOrRollback",
        from_transaction_check: Option<bool> => "fromTransactionCheck",
        msg_id: String => "msgId",
        transaction_id: Option<String> => "transactionId",
        topic: Option<String> => "topic",
        bname: Option<String> => "bname",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39), broker -> producer, oneway; the body is the half message
    /// in stored format with its real topic and queue.
    pub struct CheckTransactionStateRequestHeader {
        tran_state_table_offset: i64 => "tranStateTableOffset",
        commit_log_offset: i64 => "commitLogOffset",
        msg_id: Option<String> => "msgId",
        transaction_id: Option<String> => "transactionId",
        offset_msg_id: Option<String> => "offsetMsgId",
        topic: Option<String> => "topic",
        bname: Option<String> => "bname",
    }
}
