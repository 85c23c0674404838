//! Timer messages (Java 5.x `TimerMessageStore`): a send carrying a deliver time is stored in
//! `rmq_sys_wheel_timer` ([`rewrite`]); one task admits that topic's queue into an in-memory
//! schedule ([`pending`]) and, once a message is due (as in Java, one `timerPrecisionMs` after
//! its rounded-down `TIMER_OUT_MS`: not before the requested time, at most one precision
//! after it), re-puts it to `REAL_TOPIC` / `REAL_QID`
//! with its body, flags, hosts and timestamps unchanged and `TIMER_ENQUEUE_MS` /
//! `TIMER_DEQUEUE_MS` added. As in Java the delivered record keeps the properties string the
//! timer record had (`REAL_TOPIC`, `REAL_QID`, `TIMER_OUT_MS` included); `TIMER_OUT_MS` stops
//! the send path from scheduling it again.
//!
//! Invariants:
//! * Delivery is at-least-once: an entry leaves the schedule only after its re-put is stored.
//! * Progress ([`pending::Progress`]) is written atomically to `config/timerProgress.json` every
//!   `timerFlushIntervalMs` when it changed and at shutdown (after the task stopped), so a clean
//!   restart neither repeats nor loses a message; after a kill -9 only repeats are possible.
//! * On start, the schedule is rebuilt from the queue before anything is delivered.
//! * Not Java's timerwheel/timerlog format: a store switched between Java and this broker does
//!   not carry pending timer messages over (see the README).
//! * Runs on masters only, as Java's dequeue does.

pub mod pending;
pub mod rewrite;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use store::message::properties::{self as props, keys};
use store::message::{decode_message, MessageExtBrokerInner, MessageRecord};
use store::result::{GetMessageStatus, PutMessageStatus};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::persist;
use pending::{Entry, Pending, Progress};
use rewrite::timer_keys;
pub use rewrite::{TimerRefusal, TimerSettings, TIMER_TOPIC};

/// Group name used for reads of the timer queue (statistics only).
const TIMER_CONSUMER_GROUP: &str = "TIMER_CONSUMER";
/// Retry pause after a failed put or read.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest sleep without an arrival notice.
const IDLE_FALLBACK: Duration = Duration::from_secs(1);
/// Queue entries admitted per pass (deliveries run between passes).
const ADMIT_BATCH: i32 = 256;

pub struct TimerMessageService {
    pub settings: TimerSettings,
    flush_interval: Duration,
    loaded: Progress,
    pending: Mutex<Pending>,
    /// The rebuild from `loaded` is complete; progress may be persisted.
    ready: AtomicBool,
    dirty: AtomicBool,
    path: PathBuf,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Wall clock in ms (what deliver times are compared with).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl TimerMessageService {
    /// Reads the progress point (or its `.bak`); a missing file means "everything pending".
    /// An admission cursor beyond the recovered queue (a CommitLog tail lost in a crash) is
    /// pulled back, so messages written after the restart at those offsets are not skipped.
    pub fn load(
        store_root: &Path,
        settings: TimerSettings,
        flush_interval: Duration,
        store: &store::MessageStore,
    ) -> Self {
        let path = persist::config_dir(store_root).join("timerProgress.json");
        let mut loaded: Progress = persist::load(&path)
            .or_else(|| java_checkpoint(&persist::config_dir(store_root).join("timercheck")))
            .unwrap_or_default();
        let max = store.max_offset_in_queue(TIMER_TOPIC, 0);
        if loaded.enqueue_offset > max {
            tracing::warn!(
                progress = loaded.enqueue_offset,
                max,
                "timer progress beyond the timer queue; pulled back"
            );
            loaded.enqueue_offset = max;
            loaded.scan_from = loaded.scan_from.min(max);
        }
        TimerMessageService {
            settings,
            flush_interval,
            loaded,
            pending: Mutex::new(Pending::new(loaded.scan_from.max(0))),
            ready: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            path,
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of messages waiting for their time.
    pub fn pending_count(&self) -> usize {
        self.pending().len()
    }

    /// Writes `timerProgress.json` (only once the rebuild is complete).
    pub fn persist(&self) {
        if !self.ready.load(Ordering::Acquire) {
            return;
        }
        let progress = self.pending().progress();
        self.dirty.store(false, Ordering::Release);
        if let Err(e) = persist::store(&self.path, &progress) {
            self.dirty.store(true, Ordering::Release);
            tracing::error!(path = %self.path.display(), error = %e, "persisting timer progress failed");
        }
    }

    /// Starts the schedule task and the periodic persist task (masters only).
    pub fn start(broker: &Arc<Broker>) {
        let svc = &broker.timer;
        let mut tasks = svc.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.push(tokio::spawn(run(broker.clone())));
        let b = broker.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(b.timer.flush_interval.max(Duration::from_millis(100)));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = b.timer.stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if b.timer.dirty.load(Ordering::Acquire) {
                    let b2 = b.clone();
                    let _ = tokio::task::spawn_blocking(move || b2.timer.persist()).await;
                }
            }
        }));
    }

    /// Stops the tasks (a delivery in progress finishes first) and persists the progress.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let started = !tasks.is_empty();
        for t in tasks {
            let _ = t.await;
        }
        if started {
            self.persist();
        }
    }
}

/// A Java broker's `config/timercheck` (big-endian longs: last read time ms at 0, timer-queue
/// offset enqueued up to at 16) read as a progress point, for a store a Java broker left: its
/// wheel has delivered every enqueued message due before the read time. Messages Java rolled
/// (delays beyond its roll window) may then arrive twice, none is lost.
fn java_checkpoint(path: &Path) -> Option<Progress> {
    let bytes = std::fs::read(path).ok()?;
    let long = |at: usize| -> Option<i64> {
        Some(i64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let (read_time, queue_offset) = (long(0)?, long(16)?);
    if read_time <= 0 || queue_offset < 0 {
        return None;
    }
    tracing::info!(
        read_time,
        queue_offset,
        "timer progress taken from the Java broker's timercheck"
    );
    Some(java_progress(read_time, queue_offset))
}

/// The progress point equivalent to Java's (read time, enqueued offset).
fn java_progress(read_time: i64, queue_offset: i64) -> Progress {
    Progress {
        enqueue_offset: queue_offset,
        scan_from: 0,
        delivered_before: Some((read_time, i64::MIN)),
    }
}

/// What admission found.
enum Admitted {
    /// Entries were read (more may follow).
    Some,
    /// The queue has nothing more.
    CaughtUp,
    /// Reading failed.
    Failed,
}

/// Reads up to one batch of the timer queue from the admission cursor into the schedule.
fn admit(broker: &Broker) -> Admitted {
    let svc = &broker.timer;
    let mut cursor = svc.pending().enqueue_offset();
    let min = broker.store.min_offset_in_queue(TIMER_TOPIC, 0);
    if min > cursor {
        tracing::warn!(
            cursor,
            min,
            "timer queue offset below the queue's minimum; moved up"
        );
        cursor = min;
        svc.pending().advance_to(min);
    }
    let r = broker.store.get_message(
        TIMER_CONSUMER_GROUP,
        TIMER_TOPIC,
        0,
        cursor,
        ADMIT_BATCH,
        0,
        None,
    );
    match r.status {
        GetMessageStatus::Found => {}
        GetMessageStatus::OffsetOverflowOne
        | GetMessageStatus::NoMessageInQueue
        | GetMessageStatus::NoMatchedLogicQueue => return Admitted::CaughtUp,
        status => {
            if r.next_begin_offset > cursor {
                tracing::warn!(cursor, next = r.next_begin_offset, %status, "timer queue offset moved");
                svc.pending().advance_to(r.next_begin_offset);
                return Admitted::Some;
            }
            if r.next_begin_offset == cursor && r.max_offset <= cursor {
                return Admitted::CaughtUp;
            }
            return Admitted::Failed;
        }
    }
    let loaded = svc.loaded;
    let mut p = svc.pending();
    for (record, queue_offset) in r.messages.iter().zip(r.queue_offsets.iter().copied()) {
        let entry = match decode_message(record, false) {
            Ok(m) => m
                .property(timer_keys::OUT_MS)
                .and_then(|v| v.parse::<i64>().ok())
                .map(|out_ms| Entry {
                    out_ms,
                    cq_offset: queue_offset,
                    phy_offset: m.physical_offset,
                    size: m.total_size,
                }),
            Err(e) => {
                tracing::error!(queue_offset, error = %e, "undecodable timer message skipped");
                None
            }
        };
        match entry {
            Some(e) if loaded.is_pending(e.cq_offset, e.out_ms) => p.admit(e),
            Some(_) => p.advance_to(queue_offset + 1),
            None => {
                tracing::error!(
                    queue_offset,
                    "timer message without a valid TIMER_OUT_MS skipped"
                );
                p.advance_to(queue_offset + 1);
            }
        }
    }
    if r.next_begin_offset > p.enqueue_offset() {
        p.advance_to(r.next_begin_offset);
    }
    drop(p);
    svc.dirty.store(true, Ordering::Release);
    Admitted::Some
}

/// Java `TimerMessageStore.convert` + `convertMessage`: the message to put into its real queue.
fn time_up(
    record: &Bytes,
    m: &MessageRecord<'_>,
    now: i64,
) -> Result<MessageExtBrokerInner, &'static str> {
    if m.property(timer_keys::DEL_UNIQKEY).is_some() {
        return Err("delete marker");
    }
    let topic = m.property(keys::REAL_TOPIC).ok_or("no REAL_TOPIC")?;
    let queue_id: i32 = m
        .property(keys::REAL_QID)
        .and_then(|q| q.parse().ok())
        .ok_or("no valid REAL_QID")?;
    let mut properties = props::set_property(
        m.properties,
        timer_keys::ENQUEUE_MS,
        &m.store_timestamp.to_string(),
    );
    properties = props::set_property(&properties, timer_keys::DEQUEUE_MS, &now.to_string());
    let mut msg = MessageExtBrokerInner::new(topic, queue_id, record.slice_ref(m.body), properties);
    msg.flag = m.flag;
    msg.sys_flag = m.sys_flag;
    msg.tags_code = m.tags_code();
    msg.born_timestamp = m.born_timestamp;
    msg.born_host = m.born_host;
    msg.store_host = m.store_host;
    msg.reconsume_times = m.reconsume_times;
    Ok(msg)
}

/// What to do after trying to deliver the earliest entry.
enum Delivered {
    /// Delivered or dropped: look at the next one.
    Next,
    /// Nothing is due; the earliest is due in this long (None: nothing pending).
    Wait(Option<Duration>),
    /// A put failed: pause and retry.
    Retry,
}

async fn deliver_one(broker: &Broker) -> Delivered {
    let svc = &broker.timer;
    let Some(e) = svc.pending().peek() else {
        return Delivered::Wait(None);
    };
    // Java's wheel hands out the slot of TIMER_OUT_MS once the clock, rounded down to the
    // precision, has passed it: one precision after TIMER_OUT_MS, never before the deliver time.
    let due = e.out_ms.saturating_add(svc.settings.precision_ms);
    let now = now_ms();
    if due > now {
        return Delivered::Wait(Some(Duration::from_millis((due - now) as u64)));
    }
    let drop_entry = |why: &str| {
        tracing::error!(
            queue_offset = e.cq_offset,
            phy = e.phy_offset,
            why,
            "timer message not delivered"
        );
        svc.pending().pop();
        svc.dirty.store(true, Ordering::Release);
        Delivered::Next
    };
    let Some(record) = broker
        .store
        .select_one_message_by_offset(e.phy_offset, e.size)
    else {
        return drop_entry("its CommitLog record is gone");
    };
    let m = match decode_message(&record, false) {
        Ok(m) => m,
        Err(_) => return drop_entry("undecodable record"),
    };
    let msg = match time_up(&record, &m, now) {
        Ok(msg) => msg,
        Err(why) => return drop_entry(why),
    };
    let topic = msg.topic.clone();
    let r = broker.store.put_message(msg).await;
    match r.status {
        s if s.is_stored() => {
            if let Some(a) = r.append.as_ref() {
                broker.stats.record_put(
                    &topic,
                    a.msg_num.max(0) as u64,
                    a.wrote_bytes.max(0) as u64,
                );
            }
            tracing::debug!(queue_offset = e.cq_offset, %topic, "timer message delivered");
            svc.pending().pop();
            svc.dirty.store(true, Ordering::Release);
            Delivered::Next
        }
        PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => {
            drop_entry("its re-put is illegal")
        }
        status => {
            tracing::warn!(queue_offset = e.cq_offset, %topic, %status, "delivering timer message failed; retrying");
            Delivered::Retry
        }
    }
}

async fn run(broker: Arc<Broker>) {
    let svc = &broker.timer;
    let notify = broker.long_polling.notifier(TIMER_TOPIC, 0);
    let stop = svc.stop.clone();
    // Rebuild: admit everything written before the start before delivering anything.
    loop {
        if stop.is_cancelled() {
            return;
        }
        match admit(&broker) {
            Admitted::Some => tokio::task::yield_now().await,
            Admitted::CaughtUp => break,
            Admitted::Failed => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
        }
    }
    svc.ready.store(true, Ordering::Release);
    tracing::info!(pending = svc.pending_count(), "timer schedule rebuilt");
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let admitted = admit(&broker);
        let mut wait = IDLE_FALLBACK;
        let mut delivered = 0u32;
        loop {
            if stop.is_cancelled() {
                return;
            }
            match deliver_one(&broker).await {
                Delivered::Next => {
                    delivered += 1;
                    if delivered.is_multiple_of(64) {
                        tokio::task::yield_now().await;
                    }
                }
                Delivered::Wait(d) => {
                    if let Some(d) = d {
                        wait = wait.min(d);
                    }
                    break;
                }
                Delivered::Retry => {
                    wait = RETRY_PAUSE;
                    break;
                }
            }
        }
        match admitted {
            Admitted::Some => continue,
            Admitted::Failed => wait = wait.min(RETRY_PAUSE),
            Admitted::CaughtUp => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = &mut notified => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_timercheck_becomes_a_progress_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timercheck");
        let mut bytes = vec![0u8; 4096];
        bytes[0..8].copy_from_slice(&5_000i64.to_be_bytes());
        bytes[16..24].copy_from_slice(&7i64.to_be_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let p = java_checkpoint(&path).unwrap();
        assert_eq!(p, java_progress(5_000, 7));
        // Enqueued and due before the read time: delivered by Java.
        assert!(!p.is_pending(6, 4_000));
        // Due at or after the read time, or not enqueued yet: pending.
        assert!(p.is_pending(0, 5_000));
        assert!(p.is_pending(7, 1_000));
        std::fs::write(&path, &bytes[..20]).unwrap();
        assert_eq!(java_checkpoint(&path), None);
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        assert_eq!(java_checkpoint(&path), None);
    }
}
