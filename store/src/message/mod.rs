//! Message formats shared by the store and the broker: the CommitLog record codec, the
//! properties string, tag/key hashes, offset message ids, client batch bodies, and the input
//! types of a put. Nothing here touches files.

pub mod batch;
pub mod hash;
pub mod msg_id;
pub mod properties;
pub mod record;

use std::net::SocketAddr;

use bytes::Bytes;

pub use batch::{decode_batch, encode_batch, BatchEntry, BatchError, BatchIter};
pub use hash::{java_string_hash, tags_code};
pub use msg_id::{offset_msg_id, offset_msg_ids, parse_offset_msg_id, MsgIdError};
pub use properties::{encode_properties, get_property, parse_properties, PropertiesIter};
pub use record::{
    body_crc, decode_message, decode_messages, decode_record, encode_record, encode_record_to_vec,
    Decoded, MessageRecord, MessageVersion, RecordError, RecordHeader,
};

/// SYSFLAG bits (Java `MessageSysFlag`).
pub mod sys_flag {
    /// Body is compressed.
    pub const COMPRESSED: i32 = 0x1;
    /// Topic filter type MULTI_TAG.
    pub const MULTI_TAGS: i32 = 0x2;
    /// Not a transactional message.
    pub const TRANSACTION_NOT: i32 = 0x0;
    /// Half (prepared) message: not dispatched to the ConsumeQueue.
    pub const TRANSACTION_PREPARED: i32 = 0x4;
    /// Committed transactional message.
    pub const TRANSACTION_COMMIT: i32 = 0x8;
    /// Rolled-back message: not dispatched to the ConsumeQueue.
    pub const TRANSACTION_ROLLBACK: i32 = 0xC;
    /// Mask of the transaction bits.
    pub const TRANSACTION_MASK: i32 = 0xC;
    /// BORNHOST is IPv6.
    pub const BORNHOST_V6: i32 = 0x10;
    /// STOREHOST is IPv6.
    pub const STOREHOST_V6: i32 = 0x20;
    /// Inner batch needs unwrapping (5.x).
    pub const NEED_UNWRAP: i32 = 0x40;
    /// Inner batch (5.x).
    pub const INNER_BATCH: i32 = 0x80;

    /// The transaction type bits of `flag`.
    pub fn transaction_type(flag: i32) -> i32 {
        flag & TRANSACTION_MASK
    }

    /// Whether a record with this flag gets a ConsumeQueue unit (prepared and rolled-back do not).
    pub fn is_consumable(flag: i32) -> bool {
        matches!(transaction_type(flag), TRANSACTION_NOT | TRANSACTION_COMMIT)
    }
}

/// The topic that holds delayed messages; its ConsumeQueue tag slot holds the delivery time.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// One message to store (Java `MessageExtBrokerInner`). The broker fills the properties
/// (UNIQ_KEY, CLUSTER, ...); the store assigns queue offset, physical offset and store time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExtBrokerInner {
    /// Topic (UTF-8, at most 32767 bytes; more than 127 bytes needs a v2 record).
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Body as it will be stored.
    pub body: Bytes,
    /// Encoded properties string (`k\x01v\x02`...).
    pub properties: String,
    /// Tag code the broker computed; the ConsumeQueue uses the code derived from the stored
    /// `TAGS` property, as Java's dispatcher does.
    pub tags_code: i64,
    /// SYSFLAG; the IPv6 host bits are set by the store from the addresses.
    pub sys_flag: i32,
    /// Producer-side timestamp (ms).
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// This broker's client-facing address (goes into the offset message id).
    pub store_host: SocketAddr,
    /// Times the message was consumed and sent back.
    pub reconsume_times: i32,
    /// For a commit/rollback record: the CommitLog offset of the half message.
    pub prepared_transaction_offset: i64,
}

impl MessageExtBrokerInner {
    /// A message with the given topic, queue, body and properties and zero/loopback elsewhere.
    pub fn new(
        topic: impl Into<String>,
        queue_id: i32,
        body: impl Into<Bytes>,
        properties: impl Into<String>,
    ) -> Self {
        let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
        MessageExtBrokerInner {
            topic: topic.into(),
            queue_id,
            flag: 0,
            body: body.into(),
            properties: properties.into(),
            tags_code: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: localhost,
            store_host: localhost,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// Value of a property.
    pub fn property(&self, key: &str) -> Option<&str> {
        get_property(&self.properties, key)
    }

    /// Java 4.x `CommitLog.asyncPutMessage` delay handling, for the broker to call before a put:
    /// a non-transactional (or committed) message with `DELAY` > 0 keeps its topic and queue in
    /// `REAL_TOPIC`/`REAL_QID`, gets the level clamped to `max_level`, and moves to
    /// `SCHEDULE_TOPIC_XXXX` queue `level - 1`. Returns whether it was rewritten.
    pub fn apply_delay_level(&mut self, max_level: i32) -> bool {
        if !sys_flag::is_consumable(self.sys_flag) {
            return false;
        }
        let Some(level) = self
            .property(properties::keys::DELAY)
            .and_then(|v| v.trim().parse::<i32>().ok())
        else {
            return false;
        };
        if level <= 0 || max_level <= 0 {
            return false;
        }
        let level = level.min(max_level);
        let mut props = properties::set_property(
            &self.properties,
            properties::keys::DELAY,
            &level.to_string(),
        );
        props = properties::set_property(&props, properties::keys::REAL_TOPIC, &self.topic);
        props = properties::set_property(
            &props,
            properties::keys::REAL_QID,
            &self.queue_id.to_string(),
        );
        self.properties = props;
        self.topic = SCHEDULE_TOPIC.to_string();
        self.queue_id = level - 1;
        true
    }
}

/// A batch of messages for one topic and queue (Java `MessageExtBatch`). `body` is the client
/// batch encoding ([`batch`]); each inner message keeps its own flag, body and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExtBatch {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// SYSFLAG for every inner message (transactional batches are refused).
    pub sys_flag: i32,
    /// Producer-side timestamp (ms).
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// This broker's client-facing address.
    pub store_host: SocketAddr,
    /// Reconsume times for every inner message.
    pub reconsume_times: i32,
    /// Client batch body.
    pub body: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DELAY moves a message to the schedule topic queue level-1 and keeps the real destination;
    /// levels are clamped; prepared messages and DELAY <= 0 are left alone.
    #[test]
    fn delay_rewrite() {
        let mut m =
            MessageExtBrokerInner::new("T", 3, &b""[..], encode_properties([("DELAY", "30")]));
        assert!(m.apply_delay_level(18));
        assert_eq!((m.topic.as_str(), m.queue_id), (SCHEDULE_TOPIC, 17));
        assert_eq!(m.property("DELAY"), Some("18"));
        assert_eq!(m.property("REAL_TOPIC"), Some("T"));
        assert_eq!(m.property("REAL_QID"), Some("3"));
        let mut p =
            MessageExtBrokerInner::new("T", 0, &b""[..], encode_properties([("DELAY", "2")]));
        p.sys_flag = sys_flag::TRANSACTION_PREPARED;
        assert!(!p.apply_delay_level(18));
        let mut z =
            MessageExtBrokerInner::new("T", 0, &b""[..], encode_properties([("DELAY", "0")]));
        assert!(!z.apply_delay_level(18));
        assert_eq!(z.topic, "T");
    }
}
