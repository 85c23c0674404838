//! Retention (Java `CleanCommitLogService` + `CleanConsumeQueueService`). Every
//! `cleanResourceInterval`: CommitLog files older than `fileReservedTime` hours are deleted at the
//! `deleteWhen` hours, or at any hour once disk use passes `diskMaxUsedSpaceRatio`; above
//! `diskSpaceCleanForciblyRatio` even unexpired files go; above `diskSpaceWarningLevelRatio` puts
//! are refused. The newest file is never deleted. ConsumeQueue and index files follow once the
//! CommitLog they point into is gone.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Timelike;

use crate::commit_log::now_ms;
use crate::message_store::Inner;

/// Percentage of the filesystem holding `path` that is used, as Java's
/// `getDiskPartitionSpaceUsedPercent` measures it: used (total - free) over used + available to
/// unprivileged users, rounded up to a whole percent. `None` if it cannot be measured.
pub fn disk_used_percent(path: &Path) -> Option<f64> {
    let mut p = path;
    while !p.exists() {
        p = p.parent()?;
    }
    let st = rustix::fs::statvfs(p).ok()?;
    if st.f_blocks == 0 {
        return None;
    }
    let used = u128::from(st.f_blocks.saturating_sub(st.f_bfree));
    let entire = used + u128::from(st.f_bavail);
    if entire == 0 {
        return None;
    }
    Some((used * 100).div_ceil(entire) as f64)
}

/// (total, free) bytes of the file system holding `path` (or its nearest existing ancestor).
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let mut p = path;
    while !p.exists() {
        p = p.parent()?;
    }
    let st = rustix::fs::statvfs(p).ok()?;
    let block = st.f_frsize.max(1);
    Some((
        st.f_blocks.saturating_mul(block),
        st.f_bavail.saturating_mul(block),
    ))
}

/// Cleanup loop.
pub(crate) fn run(inner: &Inner) {
    loop {
        let interval = Duration::from_millis(inner.tunables.clean_resource_interval().max(10));
        if inner.stop_services.sleep(interval) {
            break;
        }
        let manual = inner.manual_delete_rounds.load(Ordering::Acquire) > 0;
        if manual {
            inner.manual_delete_rounds.fetch_sub(1, Ordering::AcqRel);
        }
        clean_commit_log(inner, manual);
        clean_consume_queues(inner);
    }
}

struct SpaceState {
    /// Usage above `diskMaxUsedSpaceRatio`: delete expired files at any hour.
    over_max: bool,
    /// Usage above `diskSpaceCleanForciblyRatio`: delete even unexpired files.
    clean_immediately: bool,
}

fn check_space(inner: &Inner) -> SpaceState {
    let c = &inner.config;
    let t = &inner.tunables;
    let ratio = [c.commit_log_dir(), c.consume_queue_dir()]
        .iter()
        .filter_map(|p| inner.fs.disk_used_percent(p))
        .fold(0.0f64, f64::max);
    let warning = f64::from(t.disk_space_warning_level_ratio());
    let forcibly = f64::from(t.disk_space_clean_forcibly_ratio());
    if ratio > warning {
        if !inner.flags.set_disk_full(true) {
            tracing::error!(used_percent = ratio, "disk nearly full: refusing writes");
        }
    } else if inner.flags.set_disk_full(false) {
        tracing::info!(
            used_percent = ratio,
            "disk space OK again: accepting writes"
        );
    }
    SpaceState {
        over_max: ratio > f64::from(t.disk_max_used_space_ratio()),
        clean_immediately: ratio > forcibly,
    }
}

fn is_time_to_delete(inner: &Inner) -> bool {
    inner.tunables.is_delete_hour(chrono::Local::now().hour())
}

/// One CommitLog cleanup round; returns the number of files deleted.
pub(crate) fn clean_commit_log(inner: &Inner, manual: bool) -> usize {
    let space = check_space(inner);
    if !(is_time_to_delete(inner) || space.over_max || manual) {
        return 0;
    }
    let t = &inner.tunables;
    let clean_at_once = t.clean_file_forcibly_enable() && space.clean_immediately;
    let reserved_ms = (t.file_reserved_time() as i64).saturating_mul(3_600_000);
    let files = inner.commit_log.files().files();
    let now = now_ms();
    let mut deleted = 0;
    for f in files.iter().take(files.len().saturating_sub(1)) {
        if deleted >= t.delete_file_batch_max() as usize {
            break;
        }
        let expired = now >= f.last_modified_ms().saturating_add(reserved_ms);
        if !(expired || clean_at_once) {
            break;
        }
        if deleted > 0 && t.delete_commit_log_files_interval() > 0 {
            std::thread::sleep(Duration::from_millis(t.delete_commit_log_files_interval()));
        }
        tracing::info!(path = %f.path().display(), expired, clean_at_once, "deleting CommitLog file");
        deleted += inner
            .commit_log
            .files()
            .remove_files(std::slice::from_ref(f));
    }
    deleted
}

/// Deletes ConsumeQueue and index files that only point below the CommitLog minimum.
pub(crate) fn clean_consume_queues(inner: &Inner) -> usize {
    let min = inner.commit_log.min_offset();
    if min <= inner.last_cleaned_min_offset.load(Ordering::Acquire) {
        return 0;
    }
    inner.last_cleaned_min_offset.store(min, Ordering::Release);
    let mut deleted = 0;
    for cq in inner.cqs.all() {
        let n = cq.delete_expired(min);
        if n > 0 && inner.tunables.delete_consume_queue_files_interval() > 0 {
            std::thread::sleep(Duration::from_millis(
                inner.tunables.delete_consume_queue_files_interval(),
            ));
        }
        deleted += n;
    }
    if let Some(index) = &inner.index {
        deleted += index.delete_expired(min);
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The disk usage of a real directory is a percentage.
    #[test]
    fn measures_disk() {
        let dir = tempfile::tempdir().unwrap();
        let r = disk_used_percent(&dir.path().join("not/yet/created")).unwrap();
        assert!((0.0..=100.0).contains(&r));
    }
}
