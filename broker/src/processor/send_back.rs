//! CONSUMER_SEND_MSG_BACK: a consumer returns a message it failed to process. The broker copies
//! it to the group's retry topic `%RETRY%<group>` with a delay level (3 + reconsume times when
//! the client leaves it to the broker), or to the dead letter queue `%DLQ%<group>` once the
//! group's max reconsume times are used up (or the client asks with a negative level).
//! As Java: the copy keeps the original's properties plus RETRY_TOPIC (first topic),
//! ORIGIN_MESSAGE_ID (the first original's offset message id) and DELAY (0 on a DLQ copy); the
//! reconsume count lives in the record's RECONSUMETIMES field only.

use std::sync::Arc;

use remoting::protocol::body::perm;
use remoting::protocol::header::consumer::ConsumerSendMsgBackRequestHeader;
use remoting::{response_code, Channel, RemotingCommand};
use store::message::properties::{self as props, keys};
use store::message::record::decode_message;
use store::message::MessageExtBrokerInner;
use store::PutMessageStatus;

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult, FAQ_SUFFIX};
use crate::topic_config::{DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: ConsumerSendMsgBackRequestHeader = req.decode_header()?;
    let s = &broker.settings;
    let Some(group) = broker.groups.find_or_create(&h.group) else {
        return Err(BrokerError::refused(
            response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {} {FAQ_SUFFIX}", h.group),
        ));
    };
    if !perm::is_writeable(broker.permission()) {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", s.broker_ip1),
        ));
    }
    if group.retry_queue_nums <= 0 {
        return Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            None,
        )));
    }
    // As Java: the retry topic exists (and must be writeable) before the message is looked up.
    let retry = format!("{RETRY_GROUP_TOPIC_PREFIX}{}", h.group);
    let retry_tc = broker.topics.create_in_send_back(
        &retry,
        group.retry_queue_nums,
        perm::READ | perm::WRITE,
        0,
    );
    if !perm::is_writeable(retry_tc.perm) {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("the topic[{retry}] sending message is forbidden"),
        ));
    }
    let Some(record) = broker.store.look_message_by_offset(h.offset) else {
        return Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!("look message by offset failed, {}", h.offset),
        ));
    };
    // Java's lookup answers null for a record it cannot decode: the same refusal.
    let original = decode_message(&record, false).map_err(|e| {
        tracing::warn!(offset = h.offset, error = %e, "send back: the record at the offset does not decode");
        BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!("look message by offset failed, {}", h.offset),
        )
    })?;

    let mut properties = original.properties.to_string();
    if props::get_property(&properties, keys::RETRY_TOPIC).is_none() {
        props::append_property(&mut properties, keys::RETRY_TOPIC, original.topic);
    }
    properties = props::set_property(&properties, keys::WAIT, "false");
    // Java keeps the stored ORIGIN_MESSAGE_ID, else takes the looked-up message's id, which is its
    // offset message id (the header's originMsgId, the client's unique key, is not used).
    if props::get_property(&properties, keys::ORIGIN_MESSAGE_ID).is_none_or(|v| v.trim().is_empty())
    {
        properties = props::set_property(
            &properties,
            keys::ORIGIN_MESSAGE_ID,
            &original.offset_msg_id(),
        );
    }
    let mut max_reconsume = group.retry_max_times;
    if req.version >= 121 {
        if let Some(m) = h.max_reconsume_times {
            max_reconsume = m;
        }
    }
    let reconsume = original.reconsume_times;
    let to_dlq = reconsume >= max_reconsume || h.delay_level < 0;
    let (topic, queue_id, delay_level) = if to_dlq {
        let dlq = format!("{DLQ_GROUP_TOPIC_PREFIX}{}", h.group);
        broker
            .topics
            .create_in_send_back(&dlq, 1, perm::READ | perm::WRITE, 0);
        broker.topics_changed();
        tracing::info!(group = %h.group, reconsume, max_reconsume, "message goes to the dead letter queue");
        (dlq, 0, 0)
    } else {
        let level = if h.delay_level == 0 {
            3 + reconsume
        } else {
            h.delay_level
        };
        let qid =
            (original.queue_offset.unsigned_abs() % retry_tc.write_queue_nums.max(1) as u64) as i32;
        (retry, qid, level)
    };
    // Java sets the level on the copy in both cases: DELAY=0 stays on a DLQ message.
    properties = props::set_property(&properties, keys::DELAY, &delay_level.to_string());

    let mut msg = MessageExtBrokerInner::new(
        topic,
        queue_id,
        bytes::Bytes::copy_from_slice(original.body),
        properties,
    );
    msg.flag = original.flag;
    msg.sys_flag = original.sys_flag;
    msg.tags_code = original.tags_code();
    msg.born_timestamp = original.born_timestamp;
    msg.born_host = original.born_host;
    msg.store_host = s.store_host();
    msg.reconsume_times = reconsume + 1;
    let levels = broker
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .props
        .string("messageDelayLevel")
        .split_whitespace()
        .count() as i32;
    msg.apply_delay_level(levels);
    let r = broker.store.put_message(msg).await;
    if r.status == PutMessageStatus::PutOk {
        Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            None,
        )))
    } else {
        Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            r.status.as_str(),
        ))
    }
}
