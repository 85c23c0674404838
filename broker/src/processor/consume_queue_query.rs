//! QUERY_CONSUME_QUEUE (mqadmin `queryCq`): up to `count` units of one ConsumeQueue from `index`,
//! with the queue's bounds and, given a consumer group, its subscription of the topic. Java's
//! answers are kept: an unknown queue is SYSTEM_ERROR "<q>@<topic> is not exist!", an index
//! that is not readable is SUCCESS with a remark and no body. Units carry no CQ-ext data here.

use std::sync::Arc;

use remoting::protocol::body::to_json_bytes;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use serde_json::{json, Map, Value};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub const CODES: &[i32] = &[rc::QUERY_CONSUME_QUEUE];

/// Tag codes at or below this are CQ-ext addresses (Java `ConsumeQueueExt.MAX_ADDR`).
const CQ_EXT_MAX_ADDR: i64 = i32::MIN as i64 - 1;

remoting::command_header! {
    /// QUERY_CONSUME_QUEUE (321). Java declares no field mandatory; numbers default to 0.
    pub struct QueryConsumeQueueRequestHeader {
        topic: String => "topic",
        queue_id: Option<i32> => "queueId",
        index: Option<i64> => "index",
        count: Option<i32> => "count",
        consumer_group: Option<String> => "consumerGroup",
    }
}

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: QueryConsumeQueueRequestHeader = req.decode_header()?;
    let queue_id = h.queue_id.unwrap_or(0);
    let index = h.index.unwrap_or(0);
    let count = i64::from(h.count.unwrap_or(0));
    let Some(page) = broker
        .store
        .consume_queue_page(&h.topic, queue_id, index, count)
    else {
        return Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!("{queue_id}@{} is not exist!", h.topic),
        ));
    };
    let mut body = Map::new();
    body.insert("maxQueueIndex".into(), json!(page.max_offset));
    body.insert("minQueueIndex".into(), json!(page.min_offset));
    if let Some(group) = &h.consumer_group {
        match broker.consumers.subscription(group, &h.topic) {
            None => {
                body.insert(
                    "filterData".into(),
                    json!(format!("{group}@{} is not online!", h.topic)),
                );
            }
            Some(sub) => {
                // Java keeps filter data for expression (SQL92) subscriptions only.
                let filter = if sub.expression_type == "TAG" {
                    Value::Null
                } else {
                    json!({
                        "bornTime": sub.sub_version,
                        "clientVersion": sub.sub_version,
                        "consumerGroup": group,
                        "deadTime": 0,
                        "expression": sub.sub_string,
                        "expressionType": sub.expression_type,
                        "topic": h.topic,
                    })
                };
                let text = serde_json::to_string_pretty(&filter).unwrap_or_default();
                body.insert("filterData".into(), json!(text));
                body.insert(
                    "subscriptionData".into(),
                    serde_json::to_value(&sub).unwrap_or(Value::Null),
                );
            }
        }
    }
    let Some(units) = page.units else {
        return Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            Some(format!(
                "Index {index} of {queue_id}@{} is not exist!",
                h.topic
            )),
        )));
    };
    let queue_data: Vec<Value> = units
        .into_iter()
        .map(|(_, phy, size, tags)| {
            let mut one = json!({
                "eval": false,
                "physicOffset": phy,
                "physicSize": size,
                "tagsCode": tags,
            });
            if tags <= CQ_EXT_MAX_ADDR {
                one["msg"] = json!(format!("Cq extend not exist!addr: {tags}"));
            }
            one
        })
        .collect();
    body.insert("queueData".into(), Value::Array(queue_data));
    Ok(Some(
        RemotingCommand::response_to(&req, response_code::SUCCESS, None)
            .with_body(to_json_bytes(&Value::Object(body))),
    ))
}
