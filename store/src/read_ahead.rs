//! Read-ahead for consumers catching up on old CommitLog data. A pull that ends in 4 MiB window
//! `w` asks the kernel (`MADV_WILLNEED`) to start reading window `w + 1`, once per window, so
//! the next pulls find it in the page cache instead of blocking a network thread on a major page
//! fault. Windows that are not fully written yet (a consumer at the head) are never hinted:
//! their pages are the ones just written, already cached.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::commit_log::CommitLog;

/// Bytes hinted at a time. Below this machine's 8 MiB `read_ahead_kb` (the kernel caps one
/// WILLNEED at the device's read-ahead), and a multiple of every CommitLog file size in use, so
/// a window never crosses a file.
pub(crate) const WINDOW: i64 = 4 * 1024 * 1024;

/// Windows remembered as hinted; consumers at more places than this at once may hint a window
/// twice, which only costs a walk over cached pages.
const SLOTS: usize = 64;

/// Which windows were hinted lately.
#[derive(Debug)]
pub(crate) struct ReadAhead {
    slots: [AtomicI64; SLOTS],
}

impl Default for ReadAhead {
    fn default() -> Self {
        ReadAhead {
            slots: std::array::from_fn(|_| AtomicI64::new(-1)),
        }
    }
}

impl ReadAhead {
    /// A pull read the CommitLog up to `end`: hints the window after the one holding `end` if it
    /// is fully written and was not hinted lately. Returns whether it hinted.
    pub(crate) fn after_read(&self, commit_log: &CommitLog, end: i64) -> bool {
        if end < 0 {
            return false;
        }
        let next = end / WINDOW + 1;
        let start = next * WINDOW;
        if start.saturating_add(WINDOW) > commit_log.max_offset() {
            return false;
        }
        let slot = &self.slots[next as usize % SLOTS];
        if slot.swap(next, Ordering::Relaxed) == next {
            return false;
        }
        let Some((file, pos)) = commit_log.file_at(start) else {
            return false;
        };
        let len = (i64::from(file.file_size() - pos)).min(WINDOW) as u32;
        if let Err(e) = file.will_need(pos, len) {
            tracing::debug!(path = %file.path().display(), error = %e, "madvise(WILLNEED) failed");
        }
        true
    }
}
