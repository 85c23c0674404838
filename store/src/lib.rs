//! The message store: CommitLog segments, ConsumeQueues, IndexFiles, checkpoint, flush and recovery,
//! laid out on disk exactly as the Java broker lays them out so a store directory can move between
//! the two implementations. No networking lives here.
//!
//! Layout: [`message`] (record codec, properties, ids, batches — shared with the broker),
//! [`fs`] (the I/O seam fault-injection tests go through), `dir` (listing by descriptor), `mapped_file` (the only `unsafe`:
//! mmap'd files with zero-copy reads), `mapped_file_queue`, `allocate` (the next CommitLog file,
//! made in the background),
//! [`commit_log`], [`consume_queue`], [`index`], `dispatch` (CommitLog -> ConsumeQueue/index),
//! `flush` (async flush, group commit), `read_ahead` (hints for consumers catching up), [`checkpoint`], `recovery`, `cleanup` (retention), and
//! [`MessageStore`], the facade.
//!
//! It is not: a replication (HA) implementation, a DLedger CommitLog, a timer wheel, or a
//! RocksDB ConsumeQueue. Delayed-message rewriting to `SCHEDULE_TOPIC_XXXX` is the broker's job
//! (as in Java 5.x); the store only computes the delivery time for that topic's ConsumeQueue.

mod allocate;
mod checkpoint;
mod cleanup;
mod commit_log;
pub mod config;
mod consume_queue;
mod dir;
mod dispatch;
pub mod error;
mod flush;
pub mod fs;
mod get_message;
mod index;
mod mapped_file;
mod mapped_file_queue;
pub mod message;
mod message_store;
mod read_ahead;
mod recovery;
mod resident;
pub mod result;
mod running;
pub mod tunables;

pub use cleanup::{disk_space, disk_used_percent};
pub use config::{BrokerRole, FlushDiskType, StoreConfig};
pub use error::{Result, StoreError};
pub use fs::{FileSystem, OsFileSystem};
pub use message::{MessageExtBatch, MessageExtBrokerInner};
pub use message_store::{ConsumeQueuePage, DiskUsage, MessageStore, PutFuture};
pub use recovery::RecoveryReport;
pub use result::{
    AppendMessageResult, ArrivalInfo, ArrivalListener, GetMessageResult, GetMessageStatus,
    MessageFilter, PutMessageResult, PutMessageStatus, QueryMessageResult,
};
