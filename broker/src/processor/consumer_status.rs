//! INVOKE_BROKER_TO_GET_CONSUMER_STATUS (Java `Broker2Client.getConsumeStatus`): the broker asks
//! each online client of the group (or only `clientAddr`) for its offsets of the topic with
//! GET_CONSUMER_STATUS_FROM_CLIENT and answers them per client id. A client that fails or
//! answers badly is left out, as in Java; an empty group is SYSTEM_ERROR.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use remoting::protocol::body::fastjson::quote_object_keys;
use remoting::protocol::body::MessageQueue;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub const CODES: &[i32] = &[rc::INVOKE_BROKER_TO_GET_CONSUMER_STATUS];

/// Java waits 5 s for each client.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// `MQVersion.Version.V3_0_7_SNAPSHOT.ordinal()`: older clients cannot answer.
const V3_0_7_SNAPSHOT: i32 = 28;
/// Names of the ordinals below `V3_0_7_SNAPSHOT` (Java `MQVersion.getVersionDesc`).
const OLD_VERSIONS: [&str; 28] = [
    "V3_0_0_SNAPSHOT",
    "V3_0_0_ALPHA1",
    "V3_0_0_BETA1",
    "V3_0_0_BETA2",
    "V3_0_0_BETA3",
    "V3_0_0_BETA4",
    "V3_0_0_BETA5",
    "V3_0_0_BETA6_SNAPSHOT",
    "V3_0_0_BETA6",
    "V3_0_0_BETA7_SNAPSHOT",
    "V3_0_0_BETA7",
    "V3_0_0_BETA8_SNAPSHOT",
    "V3_0_0_BETA8",
    "V3_0_0_BETA9_SNAPSHOT",
    "V3_0_0_BETA9",
    "V3_0_0_FINAL",
    "V3_0_1_SNAPSHOT",
    "V3_0_1",
    "V3_0_2_SNAPSHOT",
    "V3_0_2",
    "V3_0_3_SNAPSHOT",
    "V3_0_3",
    "V3_0_4_SNAPSHOT",
    "V3_0_4",
    "V3_0_5_SNAPSHOT",
    "V3_0_5",
    "V3_0_6_SNAPSHOT",
    "V3_0_6",
];

remoting::command_header! {
    /// INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
    pub struct GetConsumerStatusRequestHeader {
        topic: String => "topic",
        group: String => "group",
        client_addr: Option<String> => "clientAddr",
    }
}

remoting::command_header! {
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221), sent to each client.
    pub struct GetConsumerStatusFromClientHeader {
        topic: String => "topic",
        group: String => "group",
    }
}

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: GetConsumerStatusRequestHeader = req.decode_header()?;
    tracing::info!(peer = %channel.peer_addr(), topic = %h.topic, group = %h.group, "[get-consumer-status] get consumer status");
    let clients = broker.consumers.channels(&h.group);
    if clients.is_empty() {
        return Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!(
                "No Any Consumer online in the consumer group: [{}]",
                h.group
            ),
        ));
    }
    let origin = h.client_addr.as_deref().filter(|c| !c.trim().is_empty());
    let mut table: BTreeMap<String, BTreeMap<MessageQueue, i64>> = BTreeMap::new();
    for client in clients {
        if client.version < V3_0_7_SNAPSHOT {
            let name = usize::try_from(client.version)
                .ok()
                .and_then(|v| OLD_VERSIONS.get(v))
                .copied()
                .unwrap_or("V3_0_0_SNAPSHOT");
            return Err(BrokerError::refused(
                response_code::SYSTEM_ERROR,
                format!("the client does not support this feature. version={name}"),
            ));
        }
        if origin.is_some_and(|o| o != client.client_id) {
            continue;
        }
        let ask = GetConsumerStatusFromClientHeader {
            topic: h.topic.clone(),
            group: h.group.clone(),
        };
        let call = RemotingCommand::request(
            rc::GET_CONSUMER_STATUS_FROM_CLIENT,
            remoting::protocol::header::CommandHeader::to_ext_fields(&ask),
        );
        match client.channel.invoke(call, CLIENT_TIMEOUT).await {
            Ok(answer) if answer.code == response_code::SUCCESS => {
                let body = answer.body.to_bytes();
                if body.is_empty() {
                    continue;
                }
                match parse_queue_table(&body) {
                    Some(t) => {
                        table.insert(client.client_id.clone(), t);
                    }
                    None => {
                        tracing::warn!(client = %client.client_id, "[get-consumer-status] unreadable client answer")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(topic = %h.topic, group = %h.group, error = %e, "[get-consumer-status] get consumer status exception")
            }
        }
        if origin.is_some() {
            break;
        }
    }
    Ok(Some(
        RemotingCommand::response_to(&req, response_code::SUCCESS, None)
            .with_body(status_body(&table)),
    ))
}

/// The `messageQueueTable` of a client's GetConsumerStatusBody.
fn parse_queue_table(body: &[u8]) -> Option<BTreeMap<MessageQueue, i64>> {
    let fixed = quote_object_keys(body)?;
    let v: serde_json::Value = serde_json::from_slice(&fixed).ok()?;
    let mut out = BTreeMap::new();
    if let Some(m) = v.get("messageQueueTable").and_then(|t| t.as_object()) {
        for (k, off) in m {
            let mq: MessageQueue = serde_json::from_str(k).ok()?;
            out.insert(mq, off.as_i64()?);
        }
    }
    Some(out)
}

/// `{"consumerTable":{"<clientId>":{<mq>:<offset>,..}},"messageQueueTable":{}}` with fastjson's
/// object keys.
fn status_body(table: &BTreeMap<String, BTreeMap<MessageQueue, i64>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + table.len() * 512);
    out.extend_from_slice(b"{\"consumerTable\":{");
    for (i, (client, queues)) in table.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&serde_json::to_vec(client).unwrap_or_default());
        out.push(b':');
        out.push(b'{');
        for (j, (mq, off)) in queues.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&serde_json::to_vec(mq).unwrap_or_default());
            out.push(b':');
            out.extend_from_slice(off.to_string().as_bytes());
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"},\"messageQueueTable\":{}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".into(),
            queue_id: q,
            topic: "T".into(),
        }
    }

    #[test]
    fn reads_a_client_answer_and_writes_the_aggregate() {
        let client = br#"{"consumerTable":{},"messageQueueTable":{{"brokerName":"b","queueId":1,"topic":"T"}:4,{"brokerName":"b","queueId":0,"topic":"T"}:7}}"#;
        let t = parse_queue_table(client).unwrap();
        assert_eq!(t, BTreeMap::from([(mq(0), 7), (mq(1), 4)]));
        assert!(parse_queue_table(b"{\"messageQueueTable\":{{\"queueId\":").is_none());
        assert!(parse_queue_table(br#"{"messageQueueTable":{"x":1}}"#).is_none());

        let all = BTreeMap::from([("c1".to_string(), t)]);
        let body = String::from_utf8(status_body(&all)).unwrap();
        assert_eq!(
            body,
            r#"{"consumerTable":{"c1":{{"brokerName":"b","queueId":0,"topic":"T"}:7,{"brokerName":"b","queueId":1,"topic":"T"}:4}},"messageQueueTable":{}}"#
        );
        let again = quote_object_keys(body.as_bytes()).unwrap();
        assert!(serde_json::from_slice::<serde_json::Value>(&again).is_ok());
    }
}
