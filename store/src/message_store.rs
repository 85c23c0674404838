//! `MessageStore`: the facade the broker uses. `open` loads and recovers the files, dispatches
//! whatever the ConsumeQueues miss, creates the abort file and starts the service threads;
//! `shutdown` (also run on drop) stops them in order, flushes, writes the checkpoint and removes
//! the abort file. Puts return a future that needs no runtime: it completes from a store thread.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::allocate::{Allocator, WarmPolicy};
use crate::checkpoint::{self, StoreCheckpoint, StoreLock};
use crate::cleanup;
use crate::commit_log::{now_ms, CommitLog};
use crate::config::{BrokerRole, FlushDiskType, StoreConfig};
use crate::consume_queue::ConsumeQueueTable;
use crate::dispatch;
use crate::error::{Result, StoreError};
use crate::flush::{self, GroupCommit};
use crate::fs::FileSystem;
use crate::index::IndexService;
use crate::message::properties::keys;
use crate::message::{MessageExtBatch, MessageExtBrokerInner, SCHEDULE_TOPIC};
use crate::recovery::{self, RecoveryReport};
use crate::result::{
    AppendMessageResult, ArrivalListener, PutMessageResult, PutMessageStatus, QueryMessageResult,
};

/// State shared with the service threads.
pub(crate) struct Inner {
    pub(crate) config: StoreConfig,
    /// The settings that change while running.
    pub(crate) tunables: crate::tunables::Tunables,
    /// The I/O seam (also the disk usage source).
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) commit_log: CommitLog,
    pub(crate) cqs: ConsumeQueueTable,
    pub(crate) index: Option<IndexService>,
    pub(crate) checkpoint: StoreCheckpoint,
    pub(crate) flags: crate::running::RunningFlags,
    pub(crate) group_commit: GroupCommit,
    pub(crate) reput_from: AtomicI64,
    /// Held while dispatching (the dispatcher thread, or a put dispatching inline).
    pub(crate) reput_lock: Mutex<()>,
    /// What the recovery at open found.
    pub(crate) recovery: RecoveryReport,
    pub(crate) dispatcher: OnceLock<Thread>,
    pub(crate) listener: RwLock<Option<ArrivalListener>>,
    pub(crate) delay_levels: Vec<i64>,
    pub(crate) stop_dispatch: crate::running::StopSignal,
    pub(crate) stop_services: crate::running::StopSignal,
    pub(crate) logics_ts_live: AtomicI64,
    pub(crate) manual_delete_rounds: AtomicU32,
    pub(crate) last_cleaned_min_offset: AtomicI64,
    pub(crate) total_memory: u64,
    pub(crate) commit_log_flushes: AtomicU64,
    pub(crate) allocator: OnceLock<Arc<Allocator>>,
    /// Hints for pulls catching up (`readAheadOnPullEnable`).
    pub(crate) read_ahead: crate::read_ahead::ReadAhead,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("root", &self.config.store_path_root_dir)
            .field("reput_from", &self.reput_from)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// Disk usage per store directory, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskUsage {
    /// The CommitLog's file system.
    pub commit_log: Option<f64>,
    /// The ConsumeQueues' file system.
    pub consume_queue: Option<f64>,
    /// The index's file system.
    pub index: Option<f64>,
}

/// A slice of one ConsumeQueue (admin QUERY_CONSUME_QUEUE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeQueuePage {
    pub min_offset: i64,
    pub max_offset: i64,
    /// `(logical offset, CommitLog offset, size, tag code)` per unit.
    pub units: Option<Vec<(i64, i64, i32, i64)>>,
}

/// Topics `cleanUnusedTopic` never removes: Java's `TopicValidator` system topics and LMQs.
fn is_protected_topic(topic: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "TBW102",
        SCHEDULE_TOPIC,
        "BenchmarkTest",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRACE_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
        "CHECKPOINT_TOPIC",
    ];
    SYSTEM.contains(&topic) || topic.starts_with("rmq_sys_") || topic.starts_with("%LMQ%")
}

/// The message store.
#[derive(Debug)]
pub struct MessageStore {
    pub(crate) inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    dispatch_thread: Mutex<Option<JoinHandle<()>>>,
    lock: Mutex<Option<StoreLock>>,
    shut_down: AtomicBool,
}

/// Future of a put: ready at once unless a SYNC_FLUSH put waits for its fsync.
#[derive(Debug)]
pub struct PutFuture {
    state: PutState,
}

#[derive(Debug)]
enum PutState {
    Ready(Option<PutMessageResult>),
    Waiting {
        rx: oneshot::Receiver<PutMessageStatus>,
        append: Option<AppendMessageResult>,
    },
}

impl PutFuture {
    fn ready(result: PutMessageResult) -> Self {
        PutFuture {
            state: PutState::Ready(Some(result)),
        }
    }
}

impl Future for PutFuture {
    type Output = PutMessageResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PutMessageResult> {
        match &mut self.state {
            PutState::Ready(r) => Poll::Ready(
                r.take()
                    .unwrap_or_else(|| PutMessageResult::refused(PutMessageStatus::UnknownError)),
            ),
            PutState::Waiting { rx, append } => match Pin::new(rx).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(status) => Poll::Ready(PutMessageResult {
                    status: status.unwrap_or(PutMessageStatus::FlushDiskTimeout),
                    append: append.take(),
                }),
            },
        }
    }
}

fn total_memory_bytes() -> u64 {
    let fallback = 8 * 1024 * 1024 * 1024;
    let Ok(s) = std::fs::read_to_string("/proc/meminfo") else {
        return fallback;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(fallback)
}

fn spawn(name: &str, inner: &Arc<Inner>, f: fn(&Inner)) -> Result<JoinHandle<()>> {
    let inner = Arc::clone(inner);
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || f(&inner))
        .map_err(|e| StoreError::io(name, e))
}

impl MessageStore {
    /// Opens (creating if needed) the store described by `config`, recovers it and starts the
    /// service threads. Fails if another process holds the store lock.
    pub fn open(config: StoreConfig) -> Result<Arc<MessageStore>> {
        Self::open_with_fs(config, crate::fs::os())
    }

    /// [`Self::open`] with the store's file creation, msync and fsync going through `fs`
    /// (fault-injection tests; see [`crate::fs`]).
    pub fn open_with_fs(config: StoreConfig, fs: Arc<dyn FileSystem>) -> Result<Arc<MessageStore>> {
        config.validate()?;
        let root = config.store_path_root_dir.clone();
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        let lock = StoreLock::acquire(&config.lock_path())?;
        let abnormal = checkpoint::abort_file_exists(&config.abort_path());
        tracing::info!(root = %root.display(), abnormal, "opening message store");

        let started = std::time::Instant::now();
        let commit_log = CommitLog::new(&config, Arc::clone(&fs));
        commit_log.load()?;
        let cqs = ConsumeQueueTable::new(
            config.consume_queue_dir(),
            config.consume_queue_file_size(),
            Arc::clone(&fs),
        );
        recovery::load_consume_queues(&commit_log, &cqs, abnormal)?;
        let checkpoint = StoreCheckpoint::open(&config.checkpoint_path(), Arc::clone(&fs))?;
        let index = if config.message_index_enable {
            let index = IndexService::new(
                config.index_dir(),
                config.max_hash_slot_num,
                config.max_index_num,
                config.max_msgs_num_batch,
                Arc::clone(&fs),
            );
            index.load(!abnormal, &checkpoint)?;
            Some(index)
        } else {
            None
        };
        let loaded = started.elapsed();
        let report = recovery::recover(
            &config,
            &commit_log,
            &cqs,
            &checkpoint,
            index.as_ref(),
            abnormal,
        )?;
        let recovered = started.elapsed();
        let delay_levels = config.delay_levels()?;
        let inner = Arc::new(Inner {
            commit_log,
            cqs,
            index,
            logics_ts_live: AtomicI64::new(checkpoint.logics_msg_timestamp()),
            checkpoint,
            flags: crate::running::RunningFlags::default(),
            group_commit: GroupCommit::default(),
            reput_from: AtomicI64::new(report.reput_from),
            reput_lock: Mutex::new(()),
            recovery: report,
            dispatcher: OnceLock::new(),
            listener: RwLock::new(None),
            delay_levels,
            stop_dispatch: Default::default(),
            stop_services: Default::default(),
            manual_delete_rounds: AtomicU32::new(0),
            last_cleaned_min_offset: AtomicI64::new(0),
            total_memory: total_memory_bytes(),
            commit_log_flushes: AtomicU64::new(0),
            allocator: OnceLock::new(),
            read_ahead: Default::default(),
            fs: Arc::clone(&fs),
            tunables: crate::tunables::Tunables::new(&config),
            config,
        });

        let store = MessageStore {
            inner: Arc::clone(&inner),
            threads: Mutex::new(Vec::new()),
            dispatch_thread: Mutex::new(None),
            lock: Mutex::new(Some(lock)),
            shut_down: AtomicBool::new(false),
        };

        let dispatch_handle = spawn("store-dispatch", &inner, dispatch::run)?;
        let _ = inner.dispatcher.set(dispatch_handle.thread().clone());
        *store
            .dispatch_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(dispatch_handle);

        // Finish dispatching what the ConsumeQueues miss before accepting puts. The re-dispatch
        // reads the CommitLog through the mapping; its pages are released as it goes, as the
        // resident service (not started yet) would.
        let mut waits = 0u32;
        while dispatch::behind(&inner) > 0 {
            if let Some(t) = inner.dispatcher.get() {
                t.unpark();
            }
            std::thread::sleep(Duration::from_millis(1));
            waits = waits.wrapping_add(1);
            if waits.is_multiple_of(50) {
                crate::resident::release_commit_log(&inner);
            }
        }
        crate::resident::release_commit_log(&inner);
        store.rebuild_queue_offsets();
        flush::checkpoint_after_recovery(&inner, &inner.recovery)?;

        checkpoint::create_abort_file(&inner.config.abort_path())?;
        tracing::info!(
            consume_queues = inner.cqs.len(),
            load_ms = loaded.as_millis() as u64,
            recover_ms = (recovered - loaded).as_millis() as u64,
            dispatch_and_offsets_ms = (started.elapsed() - recovered).as_millis() as u64,
            "message store recovered"
        );

        let mut threads = Vec::new();
        match inner.config.flush_disk_type {
            FlushDiskType::SyncFlush => {
                threads.push(spawn(
                    "store-group-commit",
                    &inner,
                    flush::run_group_commit,
                )?);
                threads.push(spawn(
                    "store-flush-watcher",
                    &inner,
                    flush::run_flush_watcher,
                )?);
            }
            FlushDiskType::AsyncFlush => {
                threads.push(spawn("store-flush", &inner, flush::run_async_flush)?)
            }
        }
        threads.push(spawn(
            "store-flush-logics",
            &inner,
            flush::run_logics_flush,
        )?);
        threads.push(spawn("store-cleanup", &inner, cleanup::run)?);
        threads.push(spawn("store-resident", &inner, crate::resident::run)?);
        *store.threads.lock().unwrap_or_else(PoisonError::into_inner) = threads;
        if inner.config.preallocate_mapped_file_enable {
            let c = &inner.config;
            let policy = WarmPolicy {
                warm: c.warm_maped_file_enable,
                flush_every_pages: match c.flush_disk_type {
                    FlushDiskType::SyncFlush => c.flush_least_pages_when_warm_maped_file,
                    FlushDiskType::AsyncFlush => 0,
                },
            };
            let allocator = Allocator::start(Arc::clone(&fs), policy)
                .map_err(|e| StoreError::io("store-allocate", e))?;
            if inner.allocator.set(Arc::clone(&allocator)).is_err() {
                allocator.shutdown();
            } else {
                inner.commit_log.files().set_allocator(allocator);
            }
        }
        Ok(Arc::new(store))
    }

    /// Java `recoverTopicQueueTable`: next queue offsets from the ConsumeQueues, and min offsets
    /// corrected against the CommitLog minimum.
    fn rebuild_queue_offsets(&self) {
        let mut table: HashMap<String, HashMap<i32, i64>> = HashMap::new();
        let min_phy = self.inner.commit_log.min_offset();
        for cq in self.inner.cqs.all() {
            table
                .entry(cq.topic().to_string())
                .or_default()
                .insert(cq.queue_id(), cq.max_offset_in_queue());
        }
        self.inner.commit_log.set_queue_offsets(table);
        // Reads one page of each queue's first file (pread; the files stay unmapped).
        let _ = self.inner.cqs.par_for_each(|cq| {
            cq.correct_min_offset(min_phy.max(0));
            Ok(())
        });
    }

    /// The configuration in force.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Takes the live settings of `c` (see `tunables::LIVE_STORE_KEYS`); the rest of `c` is
    /// ignored until a restart, as Java's store reads those only at start.
    pub fn apply_tunables(&self, c: &StoreConfig) {
        self.inner.tunables.apply(c);
        self.inner
            .commit_log
            .set_max_message_size(c.max_message_size);
    }

    /// The live settings.
    pub fn tunables(&self) -> &crate::tunables::Tunables {
        &self.inner.tunables
    }

    fn check_store_status(&self) -> Option<PutMessageStatus> {
        let inner = &self.inner;
        if inner.flags.is_shutdown()
            || inner.config.broker_role == BrokerRole::Slave
            || !inner.flags.is_writeable()
        {
            return Some(PutMessageStatus::ServiceNotAvailable);
        }
        if self.is_os_page_cache_busy() {
            return Some(PutMessageStatus::OsPageCacheBusy);
        }
        None
    }

    /// Whether a put has held the put lock longer than `osPageCacheBusyTimeOutMills`.
    pub fn is_os_page_cache_busy(&self) -> bool {
        let begin = self.inner.commit_log.begin_time_in_lock();
        let diff = now_ms() - begin;
        begin != 0
            && diff < 10_000_000
            && diff > self.inner.config.os_page_cache_busy_time_out_mills as i64
    }

    fn after_append(&self, append: AppendMessageResult, next_offset: i64, wait: bool) -> PutFuture {
        if let Some(t) = self.inner.dispatcher.get() {
            if !crate::dispatch::dispatch_inline(&self.inner) {
                t.unpark();
            }
        }
        if self.inner.config.flush_disk_type == FlushDiskType::SyncFlush {
            if wait {
                let rx = self.inner.group_commit.submit(
                    next_offset,
                    Duration::from_millis(self.inner.config.sync_flush_timeout),
                );
                return PutFuture {
                    state: PutState::Waiting {
                        rx,
                        append: Some(append),
                    },
                };
            }
            self.inner.group_commit.wake();
        }
        PutFuture::ready(PutMessageResult {
            status: PutMessageStatus::PutOk,
            append: Some(append),
        })
    }

    /// Stores one message. The append happens during this call; the returned future completes at
    /// once, or (SYNC_FLUSH, unless the `WAIT` property is not "true") when the record is fsynced
    /// or `syncFlushTimeout` has passed (FLUSH_DISK_TIMEOUT). No async runtime is needed.
    pub fn put_message(&self, msg: MessageExtBrokerInner) -> PutFuture {
        if let Some(status) = self.check_store_status() {
            return PutFuture::ready(PutMessageResult::refused(status));
        }
        let wait = msg
            .property(keys::WAIT)
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(true);
        match self.inner.commit_log.append_message(&msg) {
            Ok(a) => self.after_append(a.result, a.next_offset, wait),
            Err(status) => PutFuture::ready(PutMessageResult::refused(status)),
        }
    }

    /// Stores a batch (all messages contiguous, consecutive queue offsets); see [`Self::put_message`].
    pub fn put_messages(&self, batch: MessageExtBatch) -> PutFuture {
        if let Some(status) = self.check_store_status() {
            return PutFuture::ready(PutMessageResult::refused(status));
        }
        match self.inner.commit_log.append_batch(&batch) {
            Ok(a) => self.after_append(a.result, a.next_offset, true),
            Err(status) => PutFuture::ready(PutMessageResult::refused(status)),
        }
    }

    /// Next logical offset of a queue (0 if unknown).
    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .cqs
            .find(topic, queue_id)
            .map(|cq| cq.max_offset_in_queue())
            .unwrap_or(0)
    }

    /// First readable logical offset of a queue (-1 if unknown, as Java).
    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .cqs
            .find(topic, queue_id)
            .map(|cq| cq.min_offset_in_queue())
            .unwrap_or(-1)
    }

    /// CommitLog offset of the message at `cq_offset` (0 if none).
    pub fn commit_log_offset_in_queue(&self, topic: &str, queue_id: i32, cq_offset: i64) -> i64 {
        self.inner
            .cqs
            .find(topic, queue_id)
            .and_then(|cq| cq.unit_at(cq_offset))
            .map(|u| u.phy_offset)
            .unwrap_or(0)
    }

    /// First logical offset whose message was stored at or after `timestamp` (the max offset if
    /// all are older; 0 for an unknown queue).
    pub fn offset_in_queue_by_time(&self, topic: &str, queue_id: i32, timestamp: i64) -> i64 {
        let Some(cq) = self.inner.cqs.find(topic, queue_id) else {
            return 0;
        };
        let cl = &self.inner.commit_log;
        cq.offset_by_time(timestamp, |phy, size| cl.pickup_store_timestamp(phy, size))
    }

    /// Store time of the message at `cq_offset` (-1 if none).
    pub fn message_store_timestamp(&self, topic: &str, queue_id: i32, cq_offset: i64) -> i64 {
        self.inner
            .cqs
            .find(topic, queue_id)
            .and_then(|cq| cq.unit_at(cq_offset))
            .and_then(|u| {
                self.inner
                    .commit_log
                    .pickup_store_timestamp(u.phy_offset, u.size)
            })
            .unwrap_or(-1)
    }

    /// Store time of the oldest readable message of a queue (-1 if none).
    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> i64 {
        let min = self.min_offset_in_queue(topic, queue_id);
        if min < 0 {
            return -1;
        }
        self.message_store_timestamp(topic, queue_id, min)
    }

    /// The whole record at CommitLog offset `phy_offset`.
    pub fn look_message_by_offset(&self, phy_offset: i64) -> Option<Bytes> {
        self.inner.commit_log.look_message(phy_offset)
    }

    /// `size` bytes at `phy_offset` (Java `selectOneMessageByOffset(offset, size)`).
    pub fn select_one_message_by_offset(&self, phy_offset: i64, size: i32) -> Option<Bytes> {
        self.inner.commit_log.get_message(phy_offset, size)
    }

    /// CommitLog offset just past the last record.
    pub fn max_phy_offset(&self) -> i64 {
        self.inner.commit_log.max_offset()
    }

    /// Start of the oldest CommitLog file (-1 if none).
    pub fn min_phy_offset(&self) -> i64 {
        self.inner.commit_log.min_offset()
    }

    /// Bytes appended but not yet dispatched to the ConsumeQueues.
    pub fn dispatch_behind_bytes(&self) -> i64 {
        dispatch::behind(&self.inner)
    }

    /// Installs the callback run after each ConsumeQueue unit is written.
    pub fn set_message_arrival_listener(&self, listener: ArrivalListener) {
        *self
            .inner
            .listener
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }

    /// Next queue offset of every queue (Java `topicQueueTable`).
    pub fn queue_offset_table(&self) -> HashMap<String, HashMap<i32, i64>> {
        self.inner.commit_log.queue_offsets()
    }

    /// Topics that have ConsumeQueues.
    pub fn topics(&self) -> Vec<String> {
        self.inner.cqs.topics()
    }

    /// Deletes the ConsumeQueues and queue offsets of `topics`; returns how many queues went.
    /// (CommitLog records stay until retention removes their file.)
    pub fn delete_topics(&self, topics: &[&str]) -> usize {
        let mut n = 0;
        for topic in topics {
            for cq in self.inner.cqs.remove_topic(topic) {
                if let Err(e) = cq.destroy() {
                    tracing::warn!(topic, error = %e, "failed to delete consume queue files");
                }
                n += 1;
            }
            self.inner.commit_log.remove_queue_offset(topic, None);
            let dir = self.inner.cqs.root().join(topic);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %dir.display(), error = %e, "failed to remove topic directory");
                }
            }
        }
        n
    }

    /// Admin CLEAN_UNUSED_TOPIC (Java `cleanUnusedTopic`): deletes the ConsumeQueues and queue
    /// offsets of every topic that is not in `retain`, except system topics (`rmq_sys_*` and
    /// Java's fixed set) and LMQ queues. Returns how many queues went.
    pub fn clean_unused_topics(&self, retain: &HashSet<String>) -> usize {
        let unused: Vec<String> = self
            .topics()
            .into_iter()
            .filter(|t| !retain.contains(t) && !is_protected_topic(t))
            .collect();
        for t in &unused {
            tracing::info!(topic = %t, "cleanUnusedTopic: topic not in the topic config, destroyed");
        }
        let refs: Vec<&str> = unused.iter().map(String::as_str).collect();
        self.delete_topics(&refs)
    }

    /// Admin QUERY_CONSUME_QUEUE: `None` for a queue that does not exist; otherwise its bounds
    /// and up to `count` units from logical offset `index` to the end of the file holding it
    /// (`units` is `None` when `index` is not readable, as Java's `iterateFrom`).
    pub fn consume_queue_page(
        &self,
        topic: &str,
        queue_id: i32,
        index: i64,
        count: i64,
    ) -> Option<ConsumeQueuePage> {
        let cq = self.inner.cqs.find(topic, queue_id)?;
        let units = cq.units_from(index).map(|buf| {
            crate::consume_queue::unit::units(&buf)
                .zip(index..)
                .take_while(|(_, off)| off - index < count)
                .map(|(u, off)| (off, u.phy_offset, u.size, u.tags_code))
                .collect()
        });
        Some(ConsumeQueuePage {
            min_offset: cq.min_offset_in_queue(),
            max_offset: cq.max_offset_in_queue(),
            units,
        })
    }

    /// Looks up messages by key (`KEYS` word or `UNIQ_KEY`) stored within `[begin, end]` ms.
    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin: i64,
        end: i64,
    ) -> QueryMessageResult {
        let Some(index) = &self.inner.index else {
            return QueryMessageResult::default();
        };
        let r = index.query(topic, key, max_num, begin, end);
        QueryMessageResult {
            messages: r
                .phy_offsets
                .iter()
                .filter_map(|off| self.inner.commit_log.look_message(*off))
                .collect(),
            index_last_update_timestamp: r.index_last_update_timestamp,
            index_last_update_phyoffset: r.index_last_update_phyoffset,
        }
    }

    /// Admin "delete expired files": runs one CommitLog retention round now as a manual deletion
    /// (expired files go regardless of `deleteWhen`), and keeps doing so for the next 20 rounds
    /// of the cleanup thread, as Java does. Returns the files deleted now (CommitLog + queues).
    pub fn delete_expired_files(&self) -> usize {
        self.inner.manual_delete_rounds.store(20, Ordering::Release);
        let n = cleanup::clean_commit_log(&self.inner, true);
        n + cleanup::clean_consume_queues(&self.inner)
    }

    /// Admin CLEAN_EXPIRED_CONSUMEQUEUE: removes queues whose every unit points below the CommitLog
    /// minimum (`SCHEDULE_TOPIC_XXXX` excepted). Returns how many queues were removed.
    pub fn clean_expired_consume_queue(&self) -> usize {
        let min = self.inner.commit_log.min_offset();
        let mut n = 0;
        for cq in self.inner.cqs.all() {
            if cq.topic() == SCHEDULE_TOPIC {
                continue;
            }
            let end = cq.last_unit_end();
            if end >= 0 && end < min {
                tracing::info!(
                    topic = cq.topic(),
                    queue_id = cq.queue_id(),
                    "removing an expired consume queue"
                );
                self.inner.cqs.remove(cq.topic(), cq.queue_id());
                self.inner
                    .commit_log
                    .remove_queue_offset(cq.topic(), Some(cq.queue_id()));
                if let Err(e) = cq.destroy() {
                    tracing::warn!(error = %e, "failed to delete consume queue files");
                }
                n += 1;
            }
        }
        n
    }

    /// Flushes the CommitLog, ConsumeQueues, index and checkpoint now.
    pub fn flush(&self) -> Result<()> {
        if !flush::flush_commit_log(&self.inner, 0) {
            return Err(StoreError::Poisoned);
        }
        flush::flush_logics(&self.inner, true);
        if self.inner.flags.is_poisoned() {
            return Err(StoreError::Poisoned);
        }
        Ok(())
    }

    /// Number of CommitLog flushes that wrote something since open (group commit efficiency).
    pub fn commit_log_flush_count(&self) -> u64 {
        self.inner.commit_log_flushes.load(Ordering::Relaxed)
    }

    /// Offset up to which the CommitLog is known to be on disk.
    pub fn flushed_phy_offset(&self) -> i64 {
        self.inner.commit_log.flushed_where()
    }

    /// What the recovery at open found (abnormal or not, where its scan started, the end).
    pub fn recovery_report(&self) -> RecoveryReport {
        self.inner.recovery
    }

    /// Whether a flush failure poisoned the store.
    pub fn is_poisoned(&self) -> bool {
        self.inner.flags.is_poisoned()
    }

    /// Used share (percent) of the disks holding the CommitLog, the ConsumeQueues and the index,
    /// through the store's [`FileSystem`]; `None` where it cannot be measured.
    pub fn disk_usage(&self) -> DiskUsage {
        let c = &self.inner.config;
        let fs = &self.inner.fs;
        DiskUsage {
            commit_log: fs.disk_used_percent(&c.commit_log_dir()),
            consume_queue: fs.disk_used_percent(&c.consume_queue_dir()),
            index: fs.disk_used_percent(&c.index_dir()),
        }
    }

    /// Whether puts are refused because the disk is nearly full.
    pub fn is_disk_full(&self) -> bool {
        self.inner.flags.is_disk_full()
    }

    /// Stops accepting puts, finishes dispatching, stops the threads after a final flush, writes
    /// the checkpoint and removes the abort file (kept if the store is poisoned, so the next open
    /// recovers abnormally). Idempotent.
    pub fn shutdown(&self) -> Result<()> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let inner = &self.inner;
        inner.flags.set_shutdown();
        inner.stop_dispatch.stop();
        if let Some(t) = inner.dispatcher.get() {
            t.unpark();
        }
        if let Some(h) = self
            .dispatch_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = h.join();
        }
        inner.stop_services.stop();
        inner.group_commit.wake();
        for h in self
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = h.join();
        }
        let mut result = Ok(());
        if !inner.flags.is_poisoned() && flush::flush_commit_log(inner, 0) {
            flush::flush_logics(inner, true);
        }
        if let Some(a) = inner.allocator.get() {
            a.shutdown();
        }
        if inner.flags.is_poisoned() {
            tracing::warn!("store shut down after a flush failure; keeping the abort file");
            result = Err(StoreError::Poisoned);
        } else if dispatch::behind(inner) == 0 {
            checkpoint::remove_abort_file(&inner.config.abort_path())?;
        } else {
            tracing::warn!("dispatch did not finish; keeping the abort file");
        }
        self.lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        tracing::info!("message store shut down");
        result
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "store shutdown on drop reported an error");
        }
    }
}
