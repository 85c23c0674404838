//! Admin requests that reach the consumers: running info and direct consumption relayed to one
//! client (GET_CONSUMER_RUNNING_INFO, CONSUME_MESSAGE_DIRECTLY), and offset resets / clones
//! applied in the broker (INVOKE_BROKER_TO_RESET_OFFSET with the server-side reset Java 5.x
//! uses by default, CLONE_GROUP_OFFSET).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use remoting::protocol::body::admin::mq_map_body;
use remoting::protocol::body::MessageQueue;
use remoting::protocol::command::Body;
use remoting::protocol::header::admin::{
    CloneGroupOffsetRequestHeader, ConsumeMessageDirectlyRequestHeader,
    GetConsumerRunningInfoRequestHeader, ResetOffsetRequestHeader,
};
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub const CODES: &[i32] = &[
    rc::GET_CONSUMER_RUNNING_INFO,
    rc::CONSUME_MESSAGE_DIRECTLY,
    rc::INVOKE_BROKER_TO_RESET_OFFSET,
    rc::CLONE_GROUP_OFFSET,
];

/// How long a relayed call waits for the client.
const CALL_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    match req.code {
        rc::GET_CONSUMER_RUNNING_INFO => {
            let h: GetConsumerRunningInfoRequestHeader = req.decode_header()?;
            relay(
                &broker,
                &req,
                &h.consumer_group,
                &h.client_id,
                req.body.clone(),
            )
            .await
        }
        rc::CONSUME_MESSAGE_DIRECTLY => {
            let h: ConsumeMessageDirectlyRequestHeader = req.decode_header()?;
            let msg_id = h.msg_id.clone().unwrap_or_default();
            let offset = store::message::msg_id::parse_offset_msg_id(&msg_id)
                .map(|(_, off)| off)
                .map_err(|e| {
                    BrokerError::refused(
                        response_code::SYSTEM_ERROR,
                        format!("bad msgId {msg_id}: {e}"),
                    )
                })?;
            let Some(record) = broker.store.look_message_by_offset(offset) else {
                return Err(BrokerError::refused(
                    response_code::SYSTEM_ERROR,
                    format!("can not find message by the offset, {offset}"),
                ));
            };
            let client = h.client_id.clone().unwrap_or_default();
            relay(
                &broker,
                &req,
                &h.consumer_group,
                &client,
                Body::Bytes(record),
            )
            .await
        }
        rc::INVOKE_BROKER_TO_RESET_OFFSET => reset_offset(&broker, &channel, &req),
        _ => {
            let h: CloneGroupOffsetRequestHeader = req.decode_header()?;
            let topics = match h.topic.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => vec![t.to_string()],
                None => broker.offsets.topics_of_group(&h.src_group),
            };
            for topic in topics {
                if broker.topics.select(&topic).is_none() {
                    continue;
                }
                for (q, off) in broker.offsets.queue_offsets(&h.src_group, &topic) {
                    broker.offsets.commit(&h.dest_group, &topic, q, off);
                }
            }
            tracing::info!(src = %h.src_group, dest = %h.dest_group, "cloneGroupOffset");
            Ok(Some(RemotingCommand::response_to(
                &req,
                response_code::SUCCESS,
                None,
            )))
        }
    }
}

/// Sends the request on to the named client of `group` and returns the client's answer.
async fn relay(
    broker: &Broker,
    req: &RemotingCommand,
    group: &str,
    client_id: &str,
    body: Body,
) -> BrokerResult<Option<RemotingCommand>> {
    let Some(client) = broker
        .consumers
        .channels(group)
        .into_iter()
        .find(|c| c.client_id == client_id)
    else {
        return Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!("The Consumer <{client_id}> not online"),
        ));
    };
    let mut forward =
        RemotingCommand::request(req.code, req.ext_fields.clone().unwrap_or_default());
    forward.body = body;
    match client.channel.invoke(forward, CALL_CLIENT_TIMEOUT).await {
        Ok(mut answer) => {
            answer.serialize_type = req.serialize_type;
            Ok(Some(answer))
        }
        Err(e) => Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!("invoke consumer <{group}> <{client_id}> Exception: {e}"),
        )),
    }
}

/// Java 5.x `resetOffsetInner`: new offsets by timestamp (or the given offset for one queue)
/// are assigned in the broker, and each queue's next pull is told to move there.
fn reset_offset(
    broker: &Broker,
    channel: &Channel,
    req: &RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: ResetOffsetRequestHeader = req.decode_header()?;
    tracing::info!(peer = %channel.peer_addr(), topic = %h.topic, group = %h.group, timestamp = h.timestamp, "[reset-offset] reset offset started");
    let Some(tc) = broker.topics.select(&h.topic) else {
        return Err(BrokerError::refused(
            response_code::TOPIC_NOT_EXIST,
            format!("Topic {} does not exist", h.topic),
        ));
    };
    if broker.groups.get(&h.group).is_none() {
        return Err(BrokerError::refused(
            response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("Group {} does not exist", h.group),
        ));
    }
    let store = &broker.store;
    let search = |q: i32| -> i64 {
        if h.timestamp < 0 {
            store.max_offset_in_queue(&h.topic, q)
        } else {
            store.offset_in_queue_by_time(&h.topic, q, h.timestamp)
        }
    };
    let mut offsets = BTreeMap::new();
    match h.queue_id.filter(|q| *q >= 0) {
        Some(q) => {
            let target = match h.offset.filter(|o| *o != -1) {
                Some(o) => {
                    let min = store.min_offset_in_queue(&h.topic, q);
                    let max = store.max_offset_in_queue(&h.topic, q);
                    if (min >= 0 && o < min) || o > max + 1 {
                        return Err(BrokerError::refused(
                            response_code::SYSTEM_ERROR,
                            format!("Target offset {o} not in consume queue range [{min}-{max}]"),
                        ));
                    }
                    o
                }
                None => search(q),
            };
            offsets.insert(q, target);
        }
        None => {
            for q in 0..tc.read_queue_nums {
                offsets.insert(q, search(q));
            }
        }
    }
    let mut table = BTreeMap::new();
    for (q, off) in offsets {
        let off = off.max(0);
        broker.offsets.assign_reset(&h.group, &h.topic, q, off);
        table.insert(
            MessageQueue {
                broker_name: broker.settings.broker_name.clone(),
                queue_id: q,
                topic: h.topic.clone(),
            },
            off,
        );
    }
    Ok(Some(
        RemotingCommand::response_to(req, response_code::SUCCESS, None).with_body(mq_map_body(
            "offsetTable",
            &table,
            "",
        )),
    ))
}
