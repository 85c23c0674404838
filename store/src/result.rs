//! Outcomes of store operations that the broker maps to wire codes: put/get statuses named as in
//! Java (`Display` prints the Java name, which the broker uses as the pull `remark`), the result
//! structs, the pull filter trait, and the message-arrival notification.

use std::fmt;

use bytes::Bytes;

/// Java `PutMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PutMessageStatus {
    /// Stored (and flushed, for SYNC_FLUSH).
    PutOk,
    /// Stored, but the fsync did not finish within `syncFlushTimeout` (or failed).
    FlushDiskTimeout,
    /// Stored, but the slave did not confirm in time.
    FlushSlaveTimeout,
    /// Stored, but no slave is available.
    SlaveNotAvailable,
    /// Refused: shut down, slave role, disk full or poisoned store.
    ServiceNotAvailable,
    /// Refused: a new CommitLog file could not be created.
    CreateMappedFileFailed,
    /// Refused: the message is malformed or too big.
    MessageIllegal,
    /// Refused: properties longer than 32767 bytes.
    PropertiesSizeExceeded,
    /// Refused: the put lock has been held too long (page cache under pressure).
    OsPageCacheBusy,
    /// Refused for another reason.
    UnknownError,
    /// Java 5.x: not enough in-sync replicas.
    InSyncReplicasNotEnough,
    /// Java 5.x: LMQ queue limit.
    LmqConsumeQueueNumExceeded,
}

impl PutMessageStatus {
    /// Java enum constant name.
    pub fn as_str(self) -> &'static str {
        match self {
            PutMessageStatus::PutOk => "PUT_OK",
            PutMessageStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
            PutMessageStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
            PutMessageStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
            PutMessageStatus::ServiceNotAvailable => "SERVICE_NOT_AVAILABLE",
            PutMessageStatus::CreateMappedFileFailed => "CREATE_MAPPED_FILE_FAILED",
            PutMessageStatus::MessageIllegal => "MESSAGE_ILLEGAL",
            PutMessageStatus::PropertiesSizeExceeded => "PROPERTIES_SIZE_EXCEEDED",
            PutMessageStatus::OsPageCacheBusy => "OS_PAGE_CACHE_BUSY",
            PutMessageStatus::UnknownError => "UNKNOWN_ERROR",
            PutMessageStatus::InSyncReplicasNotEnough => "IN_SYNC_REPLICAS_NOT_ENOUGH",
            PutMessageStatus::LmqConsumeQueueNumExceeded => "LMQ_CONSUME_QUEUE_NUM_EXCEEDED",
        }
    }

    /// Whether the message is in the CommitLog (possibly with a durability/replication warning).
    pub fn is_stored(self) -> bool {
        matches!(
            self,
            PutMessageStatus::PutOk
                | PutMessageStatus::FlushDiskTimeout
                | PutMessageStatus::FlushSlaveTimeout
                | PutMessageStatus::SlaveNotAvailable
        )
    }
}

impl fmt::Display for PutMessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and how a put was written (Java `AppendMessageResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessageResult {
    /// CommitLog offset of the (first) record.
    pub wrote_offset: i64,
    /// Bytes written (all records of a batch).
    pub wrote_bytes: i32,
    /// Offset message id; comma-separated for a batch.
    pub msg_id: String,
    /// Store timestamp assigned.
    pub store_timestamp: i64,
    /// Queue offset of the (first) message.
    pub logics_offset: i64,
    /// Number of messages.
    pub msg_num: i32,
}

/// Outcome of a put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutMessageResult {
    /// Status.
    pub status: PutMessageStatus,
    /// Present when the record was appended.
    pub append: Option<AppendMessageResult>,
}

impl PutMessageResult {
    /// A result without an append (refused).
    pub fn refused(status: PutMessageStatus) -> Self {
        PutMessageResult {
            status,
            append: None,
        }
    }

    /// Whether the status is PUT_OK.
    pub fn is_ok(&self) -> bool {
        self.status == PutMessageStatus::PutOk
    }
}

/// Java `GetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GetMessageStatus {
    /// Messages returned.
    Found,
    /// Units were scanned but none matched the filter.
    NoMatchedMessage,
    /// The CommitLog data of the units was deleted.
    MessageWasRemoving,
    /// The ConsumeQueue file for the offset is missing.
    OffsetFoundNull,
    /// Offset > max.
    OffsetOverflowBadly,
    /// Offset == max (nothing new yet).
    OffsetOverflowOne,
    /// Offset < min.
    OffsetTooSmall,
    /// No such topic/queue.
    NoMatchedLogicQueue,
    /// The queue has never had a message.
    NoMessageInQueue,
}

impl GetMessageStatus {
    /// Java enum constant name.
    pub fn as_str(self) -> &'static str {
        match self {
            GetMessageStatus::Found => "FOUND",
            GetMessageStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            GetMessageStatus::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
            GetMessageStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
            GetMessageStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            GetMessageStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            GetMessageStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
            GetMessageStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            GetMessageStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
        }
    }
}

impl fmt::Display for GetMessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMessageResult {
    /// Status.
    pub status: GetMessageStatus,
    /// Where the consumer should continue.
    pub next_begin_offset: i64,
    /// Queue min offset.
    pub min_offset: i64,
    /// Queue max offset (next offset to be written).
    pub max_offset: i64,
    /// Whole records, each a zero-copy slice of a CommitLog file.
    pub messages: Vec<Bytes>,
    /// Queue offset of each returned message.
    pub queue_offsets: Vec<i64>,
    /// Sum of the message sizes.
    pub buffer_total_size: usize,
    /// The data read is far behind the CommitLog head (Java: pull from a slave next time).
    pub suggest_pulling_from_slave: bool,
}

impl GetMessageResult {
    pub(crate) fn empty(
        status: GetMessageStatus,
        next_begin_offset: i64,
        min_offset: i64,
        max_offset: i64,
    ) -> Self {
        GetMessageResult {
            status,
            next_begin_offset,
            min_offset,
            max_offset,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            buffer_total_size: 0,
            suggest_pulling_from_slave: false,
        }
    }

    /// Number of messages.
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }
}

/// Outcome of an index query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryMessageResult {
    /// Whole records found (hash collisions included, as in Java; clients re-check keys).
    pub messages: Vec<Bytes>,
    /// End timestamp of the newest IndexFile.
    pub index_last_update_timestamp: i64,
    /// End physical offset of the newest IndexFile.
    pub index_last_update_phyoffset: i64,
}

/// Pull-side filter (Java `MessageFilter`).
pub trait MessageFilter: Send + Sync {
    /// Decides from the ConsumeQueue tag code alone.
    fn matches_consume_queue(&self, tags_code: i64) -> bool;

    /// Decides from the whole stored record (SQL92 filters); default accepts.
    fn matches_commit_log(&self, _record: &[u8]) -> bool {
        true
    }
}

/// What the dispatcher reports after writing a ConsumeQueue unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrivalInfo<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Queue id.
    pub queue_id: i32,
    /// Next logical offset (the new unit's offset + 1).
    pub next_offset: i64,
    /// Tag code written.
    pub tags_code: i64,
    /// Store timestamp of the record.
    pub store_timestamp: i64,
    /// Properties of the record (for SQL92 filters).
    pub properties: &'a str,
}

/// Callback invoked on the dispatcher thread after each unit; keep it short.
pub type ArrivalListener = std::sync::Arc<dyn Fn(&ArrivalInfo<'_>) + Send + Sync>;
