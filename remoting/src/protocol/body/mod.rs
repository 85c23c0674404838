//! JSON bodies shared by the nameserver, the broker and the clients. Field order in the structs
//! is alphabetical because fastjson writes members that way; readers accept any order and
//! ignore unknown members. Maps keyed by broker id are written with quoted decimal keys.

pub mod admin;
pub mod cluster;
pub mod fastjson;
pub mod heartbeat;
pub mod kv;
pub mod lock;
pub mod register_broker;
pub mod route;
pub mod topic;

pub use cluster::ClusterInfo;
pub use heartbeat::{
    ConsumerData, ConsumerListBody, HeartbeatData, ProducerData, SubscriptionData,
};
pub use kv::KvTable;
pub use lock::{LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
pub use register_broker::{DataVersion, RegisterBrokerBody, TopicConfigSerializeWrapper};
pub use route::{BrokerData, QueueData, TopicRouteData};
pub use topic::{perm, TopicConfig, TopicList};

/// Serializes a body as compact JSON. Serializing these plain structs cannot fail; an empty
/// object is returned if it ever did, rather than panicking in a server.
pub fn to_json_bytes<T: serde::Serialize>(value: &T) -> bytes::Bytes {
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .unwrap_or_else(|_| bytes::Bytes::from_static(b"{}"))
}
