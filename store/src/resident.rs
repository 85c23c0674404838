//! Keeps the broker's resident set to the pages it is using. Written store files stay mapped for
//! zero-copy reads, and every page ever touched through a mapping would otherwise count in the
//! process's RSS (a 1 GiB CommitLog file ends up fully resident). Every pass drops, with
//! `MADV_DONTNEED`, this process's page-table entries for the CommitLog behind the last
//! `COMMIT_LOG_KEEP` bytes, for the ConsumeQueues behind their last `CQ_KEEP` bytes, and for the
//! IndexFile entries behind the last `INDEX_KEEP` bytes (its hash slots stay: puts hit them at
//! random).
//!
//! Invariant: only page-table entries go; the pages stay in the page cache (dirty ones dirty),
//! so readers, flushes and the disk see exactly the same bytes. A reader touching a released page
//! maps it again with a minor fault; consumers reading the newest messages stay inside the kept
//! window.

use std::time::Duration;

use crate::message_store::Inner;

/// Bytes behind the CommitLog's write position kept mapped (where caught-up consumers read).
const COMMIT_LOG_KEEP: u32 = 4 * 1024 * 1024;
/// Bytes behind a ConsumeQueue's write position kept mapped.
const CQ_KEEP: u32 = 64 * 1024;
/// Bytes of IndexFile entries kept mapped behind the next entry.
const INDEX_KEEP: usize = 64 * 1024;
/// A ConsumeQueue file is released again only once its kept window moved by this much.
const CQ_STEP: u32 = 64 * 1024;
/// Time between CommitLog passes (at 50 MB/s of sends, 5 MB mapped between two).
const PASS_INTERVAL: Duration = Duration::from_millis(100);
/// ConsumeQueues are visited every this many passes (a pass over 100 000 queues costs a few ms).
const CQ_EVERY: u32 = 10;

/// The service loop (thread `store-resident`).
pub(crate) fn run(inner: &Inner) {
    let mut pass = 0u32;
    while !inner.stop_services.sleep(PASS_INTERVAL) {
        release_commit_log(inner);
        if let Some(index) = &inner.index {
            index.release_pages(INDEX_KEEP);
        }
        pass = pass.wrapping_add(1);
        if pass.is_multiple_of(CQ_EVERY) {
            release_consume_queues(inner);
        }
    }
}

/// Drops the mapped pages of every CommitLog file but the newest `COMMIT_LOG_KEEP` bytes. Every
/// pass covers whole older files too, so what a consumer catching up faulted in goes again.
pub(crate) fn release_commit_log(inner: &Inner) {
    let files = inner.commit_log.files();
    let Some(last) = files.last() else {
        return;
    };
    let last_start = last.file_from_offset();
    files.for_each_file(|f| {
        let end = if f.file_from_offset() == last_start {
            f.wrote_position().saturating_sub(COMMIT_LOG_KEEP)
        } else {
            f.file_size()
        };
        if let Err(e) = f.release_pages(0, end) {
            tracing::debug!(path = %f.path().display(), error = %e, "madvise(DONTNEED) failed");
        }
    });
}

/// Drops the mapped pages of each ConsumeQueue file that moved since the last pass.
pub(crate) fn release_consume_queues(inner: &Inner) {
    inner.cqs.for_each(|cq| {
        cq.files().for_each_file(|f| {
            if let Err(e) = f.release_behind(CQ_KEEP, CQ_STEP) {
                tracing::debug!(path = %f.path().display(), error = %e, "madvise(DONTNEED) failed");
            }
        });
    });
}
