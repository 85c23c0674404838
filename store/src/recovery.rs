//! Store recovery at open: recover every ConsumeQueue as it is loaded (find its valid end), recover the CommitLog
//! (normal or, when the abort file exists, abnormal), drop ConsumeQueue units that point past the
//! CommitLog end, and compute where the dispatcher must restart so missing units are rebuilt.
//! Re-dispatching a record that already has its unit is a no-op, so restarting early is safe.

use crate::checkpoint::StoreCheckpoint;
use crate::commit_log::recovery_mode;
use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::ConsumeQueueTable;
use crate::error::Result;
use crate::index::IndexService;

/// What recovery found and decided (logged, and kept for [`crate::MessageStore::recovery_report`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// The abort file was present: the previous run did not shut down cleanly.
    pub abnormal: bool,
    /// CommitLog offset the record scan started at (start of a file; everything before it was
    /// trusted through the checkpoint or, after a clean shutdown, the last three files rule).
    pub scan_start: i64,
    /// The recovered CommitLog end.
    pub end_offset: i64,
    /// Where the dispatcher restarted.
    pub reput_from: i64,
    /// Store time of the last valid record (0 for an empty CommitLog).
    pub last_store_timestamp: i64,
}

/// Loads the ConsumeQueues and recovers each one (finds its valid end; after a crash zeroes the
/// torn tail and syncs the newest files); the CommitLog must be loaded (its minimum offset is
/// used, and recovery never changes it).
pub(crate) fn load_consume_queues(
    commit_log: &CommitLog,
    cqs: &ConsumeQueueTable,
    abnormal: bool,
) -> Result<()> {
    cqs.load_recovering(Some(crate::consume_queue::Recover {
        clean: !abnormal,
        min_phy_offset: commit_log.min_offset().max(0),
    }))
}

/// Recovers the store files after [`load_consume_queues`]; returns what it did, including the CommitLog offset the dispatcher
/// starts from.
pub(crate) fn recover(
    config: &StoreConfig,
    commit_log: &CommitLog,
    cqs: &ConsumeQueueTable,
    checkpoint: &StoreCheckpoint,
    index: Option<&IndexService>,
    abnormal: bool,
) -> Result<RecoveryReport> {
    // The ConsumeQueues were recovered as they were loaded ([`load_consume_queues`]).
    let index_safe = config.message_index_enable && config.message_index_safe;
    let mode = recovery_mode(abnormal, checkpoint, index_safe);
    let outcome = commit_log.recover(mode, config.check_crc_on_recover)?;
    let end = outcome.end_offset;
    checkpoint.set_confirm_phy_offset(end);
    let mut report = RecoveryReport {
        abnormal,
        scan_start: outcome.scan_start,
        end_offset: end,
        reput_from: 0,
        last_store_timestamp: outcome.last_store_timestamp,
    };

    if commit_log.files().is_empty() {
        for cq in cqs.all() {
            if cq.max_offset_in_queue() > 0 {
                tracing::warn!(
                    topic = cq.topic(),
                    queue_id = cq.queue_id(),
                    "CommitLog is empty; deleting its ConsumeQueue"
                );
            }
            cq.destroy()?;
            cqs.remove(cq.topic(), cq.queue_id());
        }
        return Ok(report);
    }

    cqs.par_for_each(|cq| {
        if cq.max_physic_offset() > end {
            cq.truncate_dirty(end)?;
        }
        Ok(())
    })?;

    let min = commit_log.min_offset().max(0);
    let mut from = cqs
        .all()
        .iter()
        .map(|cq| cq.max_physic_offset())
        .max()
        .unwrap_or(-1);
    if from < min {
        from = min;
    }
    if abnormal {
        from = from.min(outcome.scan_start);
    }
    if let Some(index) = index {
        if index_safe && !index.is_empty() {
            from = from.min(index.end_phy_offset());
        }
    }
    let from = from.clamp(min, end.max(min));
    tracing::info!(
        reput_from = from,
        commit_log_end = end,
        abnormal,
        "store recovered"
    );
    report.reput_from = from;
    Ok(report)
}
