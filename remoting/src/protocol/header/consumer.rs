//! Headers of consumer-side requests beyond pulls and offsets: send-back of failed messages.

use crate::command_header;

command_header! {
    /// CONSUMER_SEND_MSG_BACK (36).
    pub struct ConsumerSendMsgBackRequestHeader {
        offset: i64 => "offset",
        group: String => "group",
        delay_level: i32 => "delayLevel",
        origin_msg_id: Option<String> => "originMsgId",
        origin_topic: Option<String> => "originTopic",
        unit_mode: Option<bool> => "unitMode",
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
    }
}
