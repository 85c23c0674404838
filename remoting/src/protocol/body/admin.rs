//! Admin bodies: topic stats, consume stats, client connections, group lists. Maps keyed by a
//! `MessageQueue` are written the way fastjson writes them — the key is the queue object itself
//! (`{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`), which is not standard JSON but is what
//! mqadmin and the Java clients parse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::heartbeat::SubscriptionData;
use super::lock::MessageQueue;

/// Writes `{"<name>":{<mq>:<value>,...}<rest>}` with fastjson's object keys; `rest` is
/// appended inside the outer object (e.g. `,"consumeTps":1.0`).
pub fn mq_map_body<V: Serialize>(
    name: &str,
    table: &BTreeMap<MessageQueue, V>,
    rest: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + table.len() * 128);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":{");
    for (i, (mq, v)) in table.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&serde_json::to_vec(mq).unwrap_or_default());
        out.push(b':');
        out.extend_from_slice(&serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec()));
    }
    out.push(b'}');
    out.extend_from_slice(rest.as_bytes());
    out.push(b'}');
    out
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicOffset {
    pub last_update_timestamp: i64,
    pub max_offset: i64,
    pub min_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetWrapper {
    pub broker_offset: i64,
    pub consumer_offset: i64,
    pub last_timestamp: i64,
    pub pull_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub client_addr: String,
    pub client_id: String,
    pub language: String,
    pub version: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerConnection {
    pub connection_set: Vec<Connection>,
    pub consume_from_where: String,
    pub consume_type: String,
    pub message_model: String,
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerConnection {
    pub connection_set: Vec<Connection>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupList {
    pub group_list: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fastjson_object_keys() {
        let mut t = BTreeMap::new();
        t.insert(
            MessageQueue {
                broker_name: "b".into(),
                queue_id: 0,
                topic: "T".into(),
            },
            TopicOffset {
                last_update_timestamp: 5,
                max_offset: 2,
                min_offset: 0,
            },
        );
        let body = mq_map_body("offsetTable", &t, "");
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":5,"maxOffset":2,"minOffset":0}}}"#
        );
    }
}
