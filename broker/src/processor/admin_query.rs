//! Read-only admin queries of the dashboard and of other brokers: QUERY_CONSUME_TIME_SPAN,
//! GET_SYSTEM_TOPIC_LIST_FROM_BROKER, GET_SUBSCRIPTIONGROUP_CONFIG and GET_ALL_DELAY_OFFSET.
//! Invariants: bodies are Java's fastjson shapes (members sorted); codes and remarks of refusals
//! are Java 5.x's; nothing here changes state except Java's auto-creation of a missing group.

use std::sync::Arc;

use remoting::protocol::body::{to_json_bytes, MessageQueue, TopicList};
use remoting::protocol::header::admin::QueryConsumeTimeSpanRequestHeader;
use remoting::protocol::header::broker::GetSubscriptionGroupConfigRequestHeader;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use serde::Serialize;

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub const CODES: &[i32] = &[
    rc::QUERY_CONSUME_TIME_SPAN,
    rc::GET_SYSTEM_TOPIC_LIST_FROM_BROKER,
    rc::GET_SUBSCRIPTIONGROUP_CONFIG,
    rc::GET_ALL_DELAY_OFFSET,
];

/// Java `QueueTimeSpan` (fastjson member order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueTimeSpan {
    pub consume_time_stamp: i64,
    pub delay_time: i64,
    pub max_time_stamp: i64,
    pub message_queue: MessageQueue,
    pub min_time_stamp: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryConsumeTimeSpanBody {
    consume_time_span_set: Vec<QueueTimeSpan>,
}

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let ok = || RemotingCommand::response_to(&req, response_code::SUCCESS, None);
    let resp = match req.code {
        rc::QUERY_CONSUME_TIME_SPAN => {
            let h: QueryConsumeTimeSpanRequestHeader = req.decode_header()?;
            let spans = time_spans(&broker, &h.topic, &h.group, now_ms())?;
            ok().with_body(to_json_bytes(&QueryConsumeTimeSpanBody {
                consume_time_span_set: spans,
            }))
        }
        rc::GET_SYSTEM_TOPIC_LIST_FROM_BROKER => {
            let list = TopicList {
                broker_addr: None,
                topic_list: broker.topics.system_topics(),
            };
            ok().with_body(to_json_bytes(&list))
        }
        rc::GET_SUBSCRIPTIONGROUP_CONFIG => {
            let h: GetSubscriptionGroupConfigRequestHeader = req.decode_header()?;
            match broker.groups.find_or_create(&h.group) {
                Some(cfg) => ok().with_body(to_json_bytes(&cfg)),
                None => {
                    tracing::warn!(group = %h.group, peer = %channel.peer_addr(), "getSubscriptionGroupConfig: no such group");
                    return Err(BrokerError::refused(
                        response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
                        "No group in this broker",
                    ));
                }
            }
        }
        rc::GET_ALL_DELAY_OFFSET => ok().with_body(broker.schedule.encode().into_bytes()),
        other => {
            return Err(BrokerError::refused(
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {other} not supported"),
            ))
        }
    };
    Ok(Some(resp))
}

/// Java `AdminBrokerProcessor.queryConsumeTimeSpan`, per write queue: the oldest and newest
/// store times, the store time of the last consumed message (the oldest one if the group has
/// consumed nothing) and, when the group lags, how long ago the next message was stored.
fn time_spans(b: &Broker, topic: &str, group: &str, now: i64) -> BrokerResult<Vec<QueueTimeSpan>> {
    let Some(tc) = b.topics.select(topic) else {
        return Err(BrokerError::refused(
            response_code::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist"),
        ));
    };
    let store = &b.store;
    let mut out = Vec::with_capacity(usize::try_from(tc.write_queue_nums).unwrap_or(0));
    for q in 0..tc.write_queue_nums {
        let min_time = store.earliest_message_time(topic, q);
        let max = store.max_offset_in_queue(topic, q);
        let max_time = store.message_store_timestamp(topic, q, max - 1);
        let consumer_offset = b.offsets.query(group, topic, q);
        let consume_time = if consumer_offset > 0 {
            store.message_store_timestamp(topic, q, consumer_offset - 1)
        } else {
            min_time
        };
        // As Java: an unknown offset (-1) reads as a store time of -1.
        let delay_time = if consumer_offset < max {
            now - store.message_store_timestamp(topic, q, consumer_offset)
        } else {
            0
        };
        out.push(QueueTimeSpan {
            consume_time_stamp: consume_time,
            delay_time,
            max_time_stamp: max_time,
            message_queue: MessageQueue {
                broker_name: b.settings.broker_name.clone(),
                queue_id: q,
                topic: topic.to_string(),
            },
            min_time_stamp: min_time,
        });
    }
    Ok(out)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_span_body_is_fastjson_ordered() {
        let body = QueryConsumeTimeSpanBody {
            consume_time_span_set: vec![QueueTimeSpan {
                consume_time_stamp: 3,
                delay_time: 0,
                max_time_stamp: 2,
                message_queue: MessageQueue {
                    broker_name: "b".into(),
                    queue_id: 1,
                    topic: "t".into(),
                },
                min_time_stamp: 1,
            }],
        };
        assert_eq!(
            String::from_utf8(to_json_bytes(&body).to_vec()).unwrap(),
            r#"{"consumeTimeSpanSet":[{"consumeTimeStamp":3,"delayTime":0,"maxTimeStamp":2,"messageQueue":{"brokerName":"b","queueId":1,"topic":"t"},"minTimeStamp":1}]}"#
        );
    }
}
