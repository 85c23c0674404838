//! Flush services (std threads, like Java's ServiceThreads):
//! - ASYNC_FLUSH: every `flushIntervalCommitLog` flush the CommitLog if `flushCommitLogLeastPages`
//!   pages are dirty (everything every `flushCommitLogThoroughInterval`).
//! - SYNC_FLUSH: group commit. Puts queue `(next_offset, sender)`; one thread fsyncs everything
//!   written so far and completes every request it covered, so concurrent writers share an fsync.
//!   A watcher answers FLUSH_DISK_TIMEOUT to requests older than `syncFlushTimeout`.
//! - ConsumeQueue/index/checkpoint flush every `flushIntervalConsumeQueue`.
//!
//! Any failed flush poisons the store: pending requests get FLUSH_DISK_TIMEOUT, new puts are refused.

use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{Result, StoreError};
use crate::message_store::Inner;
use crate::recovery::RecoveryReport;
use crate::result::PutMessageStatus;

#[derive(Debug)]
struct FlushRequest {
    next_offset: i64,
    deadline: Instant,
    tx: Option<oneshot::Sender<PutMessageStatus>>,
}

/// Pending SYNC_FLUSH requests.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    requests: Mutex<Vec<FlushRequest>>,
    cv: Condvar,
}

impl GroupCommit {
    /// Queues a wait for the CommitLog to be flushed up to `next_offset`.
    pub(crate) fn submit(
        &self,
        next_offset: i64,
        timeout: Duration,
    ) -> oneshot::Receiver<PutMessageStatus> {
        let (tx, rx) = oneshot::channel();
        let mut q = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        q.push(FlushRequest {
            next_offset,
            deadline: Instant::now() + timeout,
            tx: Some(tx),
        });
        drop(q);
        self.cv.notify_one();
        rx
    }

    /// Wakes the group commit thread without a request (a put that does not wait).
    pub(crate) fn wake(&self) {
        self.cv.notify_one();
    }

    fn wait_for_requests(&self, timeout: Duration) {
        let q = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if q.is_empty() {
            let _ = self.cv.wait_timeout(q, timeout);
        }
    }

    fn has_requests(&self) -> bool {
        !self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Completes every request covered by `flushed` (or all of them with FLUSH_DISK_TIMEOUT when
    /// the flush failed) and every expired one.
    fn complete(&self, flushed: i64, failed: bool, now: Instant) {
        let mut q = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        q.retain_mut(|r| {
            let status = if !failed && r.next_offset <= flushed {
                PutMessageStatus::PutOk
            } else if failed || r.deadline <= now {
                PutMessageStatus::FlushDiskTimeout
            } else {
                return true;
            };
            if let Some(tx) = r.tx.take() {
                let _ = tx.send(status);
            }
            false
        });
    }

    /// Answers FLUSH_DISK_TIMEOUT to requests past their deadline.
    fn expire(&self, now: Instant) {
        let mut q = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        q.retain_mut(|r| {
            if r.deadline > now {
                return true;
            }
            if let Some(tx) = r.tx.take() {
                let _ = tx.send(PutMessageStatus::FlushDiskTimeout);
            }
            false
        });
    }
}

/// Flushes the CommitLog; on success records the safe store time in the checkpoint.
/// Returns false (and poisons the store) on failure.
pub(crate) fn flush_commit_log(inner: &Inner, least_pages: u32) -> bool {
    let ts = inner.commit_log.last_store_timestamp();
    let target = inner.commit_log.max_offset();
    match inner.commit_log.files().flush(least_pages) {
        Ok(progressed) => {
            if progressed {
                inner.commit_log_flushes.fetch_add(1, Ordering::Relaxed);
            }
            if ts > 0 && inner.commit_log.flushed_where() >= target {
                inner.checkpoint.set_physic_msg_timestamp(ts);
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "CommitLog flush failed");
            inner.flags.poison();
            false
        }
    }
}

/// SYNC_FLUSH group commit loop.
pub(crate) fn run_group_commit(inner: &Inner) {
    loop {
        inner
            .group_commit
            .wait_for_requests(Duration::from_millis(10));
        let stopping = inner.stop_services.is_stopped();
        let ok = !inner.flags.is_poisoned() && flush_commit_log(inner, 0);
        inner
            .group_commit
            .complete(inner.commit_log.flushed_where(), !ok, Instant::now());
        if stopping && !inner.group_commit.has_requests() {
            break;
        }
    }
}

/// FLUSH_DISK_TIMEOUT for SYNC_FLUSH requests whose fsync is stuck.
pub(crate) fn run_flush_watcher(inner: &Inner) {
    while !inner.stop_services.sleep(Duration::from_millis(20)) {
        inner.group_commit.expire(Instant::now());
    }
}

/// ASYNC_FLUSH loop; a last full flush on stop.
pub(crate) fn run_async_flush(inner: &Inner) {
    let t = &inner.tunables;
    let mut last_thorough = Instant::now();
    loop {
        let interval = Duration::from_millis(t.flush_interval_commit_log().max(1));
        let thorough = Duration::from_millis(t.flush_commit_log_thorough_interval());
        let stopping = inner.stop_services.sleep(interval);
        if inner.flags.is_poisoned() {
            if stopping {
                break;
            }
            continue;
        }
        let mut least = t.flush_commit_log_least_pages();
        if stopping || last_thorough.elapsed() >= thorough {
            least = 0;
            last_thorough = Instant::now();
        }
        flush_commit_log(inner, least);
        if stopping {
            break;
        }
    }
}

/// Flushes ConsumeQueues (and, when `thorough`, the index and the checkpoint).
pub(crate) fn flush_logics(inner: &Inner, thorough: bool) {
    if inner.flags.is_poisoned() {
        return;
    }
    let least = if thorough {
        0
    } else {
        inner.tunables.flush_consume_queue_least_pages()
    };
    let logics_ts = inner.logics_ts_live.load(Ordering::Acquire);
    // Queues flush from several threads: with many queues this is one fsync each, and
    // concurrent fsyncs share journal commits.
    let flushed = inner.cqs.par_for_each_io(|cq| {
        cq.flush(least).map(|_| ()).map_err(|e| {
            tracing::error!(topic = cq.topic(), queue_id = cq.queue_id(), error = %e, "ConsumeQueue flush failed");
            crate::error::StoreError::io(cq.topic(), e)
        })
    });
    if flushed.is_err() {
        inner.flags.poison();
        return;
    }
    if !thorough {
        return;
    }
    if logics_ts > 0 {
        inner.checkpoint.set_logics_msg_timestamp(logics_ts);
    }
    if let Some(index) = &inner.index {
        if let Err(e) = index.flush(&inner.checkpoint) {
            tracing::error!(error = %e, "index flush failed");
            inner.flags.poison();
            return;
        }
    }
    if let Err(e) = inner.checkpoint.flush() {
        tracing::error!(error = %e, "checkpoint flush failed");
        inner.flags.poison();
    }
}

/// Right after recovery and the dispatch catch-up: makes the recovered state durable and writes
/// a checkpoint vouching for it (every structure holds every record up to the last one), so a
/// crash soon after start does not send the next recovery back to an old file, or to file 0 when
/// the previous run never wrote a checkpoint. After a crash the bytes the previous process wrote
/// may be only in the page cache, so the scanned CommitLog range and the ConsumeQueue tails are
/// synced first. A failure poisons the store and fails the open.
pub(crate) fn checkpoint_after_recovery(inner: &Inner, report: &RecoveryReport) -> Result<()> {
    if report.abnormal {
        // The ConsumeQueues' newest files were synced by their recovery.
        let synced = inner
            .commit_log
            .files()
            .sync_from(report.scan_start)
            .map_err(|e| StoreError::io("commitlog", e));
        if let Err(e) = synced {
            tracing::error!(error = %e, "syncing the recovered files failed");
            inner.flags.poison();
            return Err(e);
        }
    }
    if !flush_commit_log(inner, 0) {
        return Err(StoreError::Poisoned);
    }
    let ts = report.last_store_timestamp;
    if ts > 0 {
        if ts > inner.checkpoint.physic_msg_timestamp() {
            inner.checkpoint.set_physic_msg_timestamp(ts);
        }
        inner.logics_ts_live.fetch_max(ts, Ordering::AcqRel);
    }
    flush_logics(inner, true);
    if inner.flags.is_poisoned() {
        return Err(StoreError::Poisoned);
    }
    tracing::info!(
        physic_msg_timestamp = inner.checkpoint.physic_msg_timestamp(),
        logics_msg_timestamp = inner.checkpoint.logics_msg_timestamp(),
        "checkpoint written after recovery"
    );
    Ok(())
}

/// ConsumeQueue flush loop; a thorough flush on stop.
pub(crate) fn run_logics_flush(inner: &Inner) {
    let t = &inner.tunables;
    let mut last_thorough = Instant::now();
    loop {
        let interval = Duration::from_millis(t.flush_interval_consume_queue().max(1));
        let thorough = Duration::from_millis(t.flush_consume_queue_thorough_interval());
        let stopping = inner.stop_services.sleep(interval);
        let is_thorough = stopping || last_thorough.elapsed() >= thorough;
        if is_thorough {
            last_thorough = Instant::now();
        }
        flush_logics(inner, is_thorough);
        if stopping {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests covered by the flushed offset complete with PUT_OK, others wait; expired ones and
    /// all of them after a failed flush get FLUSH_DISK_TIMEOUT.
    #[test]
    fn completes_by_offset_and_deadline() {
        let gc = GroupCommit::default();
        let mut a = gc.submit(100, Duration::from_secs(10));
        let mut b = gc.submit(200, Duration::from_secs(10));
        let mut c = gc.submit(300, Duration::from_millis(0));
        gc.complete(150, false, Instant::now());
        assert_eq!(a.try_recv().unwrap(), PutMessageStatus::PutOk);
        assert!(b.try_recv().is_err());
        assert_eq!(c.try_recv().unwrap(), PutMessageStatus::FlushDiskTimeout);
        gc.complete(150, true, Instant::now());
        assert_eq!(b.try_recv().unwrap(), PutMessageStatus::FlushDiskTimeout);
        let mut d = gc.submit(1, Duration::from_millis(0));
        gc.expire(Instant::now());
        assert_eq!(d.try_recv().unwrap(), PutMessageStatus::FlushDiskTimeout);
    }
}
