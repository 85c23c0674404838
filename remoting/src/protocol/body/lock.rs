//! LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies: the message queues a consumer wants to own (orderly
//! consumption) and the subset it now holds.

use serde::{Deserialize, Serialize};

/// A message queue: topic, broker name and queue id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueue {
    pub broker_name: String,
    pub queue_id: i32,
    pub topic: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBatchRequestBody {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub consumer_group: String,
    #[serde(default)]
    pub mq_set: Vec<MessageQueue>,
    #[serde(default)]
    pub only_this_broker: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockBatchResponseBody {
    #[serde(rename = "lockOKMQSet", default)]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}
