//! The CommitLog: every record of every topic, appended to `<commitlog>/<20-digit offset>` files.
//! Appends happen under one put lock that also owns the per-queue offset counters (Java's
//! `topicQueueTable`); reads are lock-free, zero-copy slices below each file's wrote position.

mod append;
mod recovery;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::config::StoreConfig;
use crate::fs::FileSystem;
use crate::mapped_file::MappedFile;
use crate::mapped_file_queue::MappedFileQueue;
use crate::message::record::{
    self, BLANK_MAGIC, MESSAGE_MAGIC_V1, MESSAGE_MAGIC_V2, MIN_RECORD_LEN,
};

pub use recovery::RecoveryMode;

/// The recovery mode for a store whose abort file is (not) present.
pub fn recovery_mode(
    abnormal: bool,
    checkpoint: &crate::checkpoint::StoreCheckpoint,
    index_safe: bool,
) -> RecoveryMode {
    RecoveryMode::from_checkpoint(abnormal, checkpoint, index_safe)
}

/// State guarded by the put lock.
#[derive(Debug, Default)]
struct PutState {
    /// topic -> queue id -> next queue offset.
    queue_offsets: HashMap<String, HashMap<i32, i64>>,
}

/// The CommitLog.
#[derive(Debug)]
pub struct CommitLog {
    queue: MappedFileQueue,
    put: Mutex<PutState>,
    /// When the current put took the lock (ms), 0 outside the lock.
    begin_time_in_lock: AtomicI64,
    max_message_size: std::sync::atomic::AtomicU32,
    auto_v2: bool,
}

impl CommitLog {
    /// A CommitLog over the configured directory (files not loaded yet).
    pub fn new(config: &StoreConfig, fs: Arc<dyn FileSystem>) -> Self {
        CommitLog {
            // Under SYNC_FLUSH appends go through pwrite (see `MappedFile::set_write_through`).
            queue: MappedFileQueue::new(
                config.commit_log_dir(),
                config.mapped_file_size_commit_log,
                fs,
            )
            .with_write_through(config.flush_disk_type == crate::config::FlushDiskType::SyncFlush),
            put: Mutex::new(PutState::default()),
            begin_time_in_lock: AtomicI64::new(0),
            max_message_size: std::sync::atomic::AtomicU32::new(config.max_message_size),
            auto_v2: config.auto_message_version_on_topic_len,
        }
    }

    /// Changes the largest body accepted (`maxMessageSize`, live).
    pub fn set_max_message_size(&self, v: u32) {
        self.max_message_size
            .store(v, std::sync::atomic::Ordering::Relaxed);
    }

    fn max_message_size(&self) -> usize {
        self.max_message_size
            .load(std::sync::atomic::Ordering::Relaxed) as usize
    }

    /// The underlying files.
    pub fn files(&self) -> &MappedFileQueue {
        &self.queue
    }

    /// Maps the existing files.
    pub fn load(&self) -> crate::error::Result<()> {
        self.queue.load()
    }

    /// Offset just past the last record.
    pub fn max_offset(&self) -> i64 {
        self.queue.max_offset()
    }

    /// Start of the oldest file, or -1 when there is none (Java `getMinOffset`).
    pub fn min_offset(&self) -> i64 {
        self.queue.min_offset().unwrap_or(-1)
    }

    /// Offset up to which records are on disk.
    pub fn flushed_where(&self) -> i64 {
        self.queue.flushed_where()
    }

    /// Start of the file after the one holding `offset`.
    pub fn roll_next_file(&self, offset: i64) -> i64 {
        self.queue.roll_next_file(offset)
    }

    /// Zero-copy `[offset, offset + size)` if written and inside one file.
    pub fn get_message(&self, offset: i64, size: i32) -> Option<Bytes> {
        if size <= 0 {
            return None;
        }
        self.queue.read_bytes(offset, size as u32)
    }

    /// Zero-copy view of the whole readable part of the file holding `offset`, with the file's
    /// start offset. Pulls slice it per message, which costs no allocation.
    pub fn readable_file_bytes(&self, offset: i64) -> Option<(i64, Bytes)> {
        let f = self.queue.find_by_offset(offset, false)?;
        let bytes = f.slice_bytes(0, f.wrote_position())?;
        Some((f.file_from_offset(), bytes))
    }

    /// The file holding `offset` and the position of `offset` in it (dispatcher reads).
    pub fn file_at(&self, offset: i64) -> Option<(Arc<MappedFile>, u32)> {
        let f = self.queue.find_by_offset(offset, false)?;
        let pos = (offset - f.file_from_offset()) as u32;
        Some((f, pos))
    }

    /// The whole record starting at `offset`, after checking its size and magic.
    pub fn look_message(&self, offset: i64) -> Option<Bytes> {
        let (f, pos) = self.file_at(offset)?;
        let head = f.read(pos, 8)?;
        let (size, magic) = record::peek_header(head)?;
        if magic != MESSAGE_MAGIC_V1 && magic != MESSAGE_MAGIC_V2 {
            return None;
        }
        if size < MIN_RECORD_LEN as i32 {
            return None;
        }
        f.slice_bytes(pos, size as u32)
    }

    /// STORETIMESTAMP of the record at `offset` (size as given by the ConsumeQueue).
    pub fn pickup_store_timestamp(&self, offset: i64, size: i32) -> Option<i64> {
        if offset < self.min_offset() {
            return None;
        }
        let (f, pos) = self.file_at(offset)?;
        let len = (size.max(0) as u32).min(f.wrote_position().saturating_sub(pos));
        let data = f.read(pos, len)?;
        match record::peek_header(data) {
            Some((_, magic)) if magic != BLANK_MAGIC => record::peek_store_timestamp(data),
            _ => None,
        }
    }

    /// When the current put took the lock (0 if none is in progress).
    pub fn begin_time_in_lock(&self) -> i64 {
        self.begin_time_in_lock.load(Ordering::Acquire)
    }

    /// Next queue offset of every queue that has one.
    pub fn queue_offsets(&self) -> HashMap<String, HashMap<i32, i64>> {
        self.put
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queue_offsets
            .clone()
    }

    /// Replaces the queue offset table (after recovery, from the ConsumeQueues).
    pub fn set_queue_offsets(&self, table: HashMap<String, HashMap<i32, i64>>) {
        self.put
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .queue_offsets = table;
    }

    /// Forgets the offset counter of one queue (topic deletion).
    pub fn remove_queue_offset(&self, topic: &str, queue_id: Option<i32>) {
        let mut put = self.put.lock().unwrap_or_else(PoisonError::into_inner);
        match queue_id {
            None => {
                put.queue_offsets.remove(topic);
            }
            Some(q) => {
                if let Some(m) = put.queue_offsets.get_mut(topic) {
                    m.remove(&q);
                    if m.is_empty() {
                        put.queue_offsets.remove(topic);
                    }
                }
            }
        }
    }

    /// Store time of the last appended record.
    pub fn last_store_timestamp(&self) -> i64 {
        self.queue.last().map(|f| f.store_timestamp()).unwrap_or(0)
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
