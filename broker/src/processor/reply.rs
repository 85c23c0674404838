//! SEND_REPLY_MESSAGE / SEND_REPLY_MESSAGE_V2 (request-reply, Java `ReplyMessageProcessor`):
//! a responder's reply is checked like a send, pushed at once to the requesting client named by
//! its `REPLY_TO_CLIENT` property (PUSH_REPLY_MESSAGE_TO_CLIENT on that producer's connection,
//! 10 s), then stored in the reply topic when `storeReplyMessageEnable` (default true).
//!
//! Invariants, as Java: the answer's code is the push's outcome (SUCCESS, or SYSTEM_ERROR with
//! Java's remark when the requester is unknown or refuses), whatever the store says; a stored
//! reply's offset message id and queue offset replace the placeholder "0" / 0 of the answer.

use std::sync::Arc;
use std::time::Duration;

use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::header::broker::{
    ReplyMessageRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
};
use remoting::protocol::header::CommandHeader;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use store::message::properties::{self as props, keys};
use store::message::MessageExtBrokerInner;
use store::result::PutMessageStatus;

use crate::broker::Broker;
use crate::error::BrokerResult;

/// Java `MessageConst.PROPERTY_MESSAGE_REPLY_TO_CLIENT`: the requester's client id.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Java `MessageConst.PROPERTY_PUSH_REPLY_TIME`: when the broker pushed the reply (ms).
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Java `Broker2Client.callClient`: how long the push waits for the requester's answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

pub const CODES: &[i32] = &[rc::SEND_REPLY_MESSAGE, rc::SEND_REPLY_MESSAGE_V2];

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h = match req.code {
        rc::SEND_REPLY_MESSAGE => req.decode_header::<SendMessageRequestHeader>()?,
        _ => SendMessageRequestHeader::from_v2(
            req.ext_fields.as_ref().unwrap_or(&Default::default()),
        )?,
    };
    let tc = super::send::check(&broker, &channel, &req, &h)?;
    let queue_id = if h.queue_id < 0 {
        super::send::random_below(tc.write_queue_nums.max(1))
    } else {
        h.queue_id
    };
    let properties = super::msg_context::with_region_and_trace(
        h.properties.clone().unwrap_or_default(),
        &broker.settings,
    );
    let push = push_reply(&broker, &channel, &req, &h, &properties).await;

    let mut code = response_code::SYSTEM_ERROR;
    let mut remark = None;
    let mut header = None;
    match push {
        Ok(()) => {
            code = response_code::SUCCESS;
            header = Some(SendMessageResponseHeader {
                msg_id: "0".into(),
                queue_id,
                queue_offset: 0,
                ..Default::default()
            });
        }
        Err(r) => remark = Some(r),
    }

    if broker.settings.store_reply_message_enable {
        let tags_code = props::get_property(&properties, keys::TAGS)
            .map(store::message::hash::tags_code)
            .unwrap_or(0);
        let mut msg =
            MessageExtBrokerInner::new(h.topic.clone(), queue_id, req.body.to_bytes(), properties);
        msg.flag = h.flag;
        msg.sys_flag = h.sys_flag;
        msg.tags_code = tags_code;
        msg.born_timestamp = h.born_timestamp;
        msg.born_host = channel.peer_addr();
        msg.store_host = broker.settings.store_host();
        msg.reconsume_times = h.reconsume_times.unwrap_or(0);
        let r = broker.store.put_message(msg).await;
        let stored = matches!(
            r.status,
            PutMessageStatus::PutOk
                | PutMessageStatus::FlushDiskTimeout
                | PutMessageStatus::FlushSlaveTimeout
                | PutMessageStatus::SlaveNotAvailable
        );
        match (stored, r.append.as_ref()) {
            (true, Some(a)) => {
                broker.stats.record_put(
                    &h.topic,
                    a.msg_num.max(0) as u64,
                    a.wrote_bytes.max(0) as u64,
                );
                header = Some(SendMessageResponseHeader {
                    msg_id: a.msg_id.clone(),
                    queue_id,
                    queue_offset: a.logics_offset,
                    ..Default::default()
                });
            }
            _ => {
                tracing::warn!(topic = %h.topic, status = ?r.status, "storing a reply message failed")
            }
        }
    }

    let mut resp = RemotingCommand::response_to(&req, code, remark);
    let mut ext = header
        .map(|h| h.to_ext_fields())
        .unwrap_or_else(ExtFields::new);
    ext.insert(keys::MSG_REGION, broker.settings.region_id.clone());
    ext.insert(keys::TRACE_ON, broker.settings.trace_on.to_string());
    resp.ext_fields = Some(ext);
    Ok(Some(resp))
}

/// Pushes the reply to the requester's connection; `Err` holds Java's remark for the answer.
async fn push_reply(
    broker: &Broker,
    channel: &Channel,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    properties: &str,
) -> Result<(), String> {
    let Some(sender) = props::get_property(properties, REPLY_TO_CLIENT) else {
        tracing::warn!("{REPLY_TO_CLIENT} is null, can not reply message");
        return Err(format!(
            "reply message properties[{REPLY_TO_CLIENT}] is null"
        ));
    };
    let Some(target) = broker.producers.find_channel(sender) else {
        let remark = format!("push reply message fail, channel of <{sender}> not found.");
        tracing::warn!("{remark}");
        return Err(remark);
    };
    let now = now_ms();
    let born = channel.peer_addr();
    let store = broker.settings.store_host();
    let push_header = ReplyMessageRequestHeader {
        producer_group: h.producer_group.clone(),
        topic: h.topic.clone(),
        default_topic: h.default_topic.clone(),
        default_topic_queue_nums: h.default_topic_queue_nums,
        queue_id: h.queue_id,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        flag: h.flag,
        properties: Some(props::set_property(
            properties,
            PUSH_REPLY_TIME,
            &now.to_string(),
        )),
        reconsume_times: h.reconsume_times,
        unit_mode: h.unit_mode.unwrap_or(false),
        born_host: format!("{}:{}", born.ip(), born.port()),
        store_host: format!("{}:{}", store.ip(), store.port()),
        store_timestamp: now,
    };
    let push = RemotingCommand::request(
        rc::PUSH_REPLY_MESSAGE_TO_CLIENT,
        push_header.to_ext_fields(),
    )
    .with_body(req.body.to_bytes());
    let failed = format!("push reply message to {sender}fail.");
    match target.invoke(push, PUSH_TIMEOUT).await {
        Ok(answer) if answer.code == response_code::SUCCESS => Ok(()),
        Ok(answer) => {
            tracing::warn!(client = sender, remark = ?answer.remark, "push reply message returned a failure");
            Err(failed)
        }
        Err(e) => {
            tracing::warn!(client = sender, error = %e, "push reply message failed");
            Err(failed)
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
