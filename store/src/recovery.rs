//! Store recovery at open: recover every ConsumeQueue (find its valid end), recover the CommitLog
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

/// Recovers the store files; returns the CommitLog offset the dispatcher starts from.
pub(crate) fn recover(
    config: &StoreConfig,
    commit_log: &CommitLog,
    cqs: &ConsumeQueueTable,
    checkpoint: &StoreCheckpoint,
    index: Option<&IndexService>,
    abnormal: bool,
) -> Result<i64> {
    // The CommitLog's files are loaded, so its minimum is known (recovery never changes it).
    let min_phy = commit_log.min_offset().max(0);
    cqs.par_for_each(|cq| cq.recover_after(!abnormal, min_phy))?;
    let index_safe = config.message_index_enable && config.message_index_safe;
    let mode = recovery_mode(abnormal, checkpoint, index_safe);
    let outcome = commit_log.recover(mode, config.check_crc_on_recover)?;
    let end = outcome.end_offset;
    checkpoint.set_confirm_phy_offset(end);

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
        return Ok(0);
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
    Ok(from)
}
