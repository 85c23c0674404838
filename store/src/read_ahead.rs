//! Read-ahead for consumers catching up on old CommitLog data. A pull that ends in 4 MiB window
//! `w` asks the kernel (`MADV_WILLNEED`) to start reading window `w + 1`, once per window, so
//! the next pulls find it in the page cache instead of blocking a network thread on a major page
//! fault, and drops this process's page-table entries for the 64 MiB before window `w`
//! (`MADV_DONTNEED`: the pages stay cached), so consumers reading at 600 MB/s or more do not grow
//! the broker's resident set between two passes of the resident service. Windows that are not fully written yet (a
//! consumer at the head) are never hinted: their pages are the ones just written, already cached.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::commit_log::CommitLog;

/// Bytes hinted at a time. Below this machine's 8 MiB `read_ahead_kb` (the kernel caps one
/// WILLNEED at the device's read-ahead), and a multiple of every CommitLog file size in use, so
/// a window never crosses a file.
pub(crate) const WINDOW: i64 = 4 * 1024 * 1024;

/// Windows behind the one being read whose mappings each hint drops (64 MiB).
const RELEASE_BEHIND: i64 = 16;

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
        // Everything from the window behind the reader back to `RELEASE_BEHIND` windows: the
        // consumers of the other queues read the same stretch of the CommitLog a little later
        // (tens of MiB apart while draining) and map it again; the next hint drops that too.
        let mut off = (next - 1 - RELEASE_BEHIND).max(0) * WINDOW;
        let end = (next - 1) * WINDOW;
        while off < end {
            let Some((file, pos)) = commit_log.file_at(off) else {
                off = commit_log.roll_next_file(off); // a file already deleted
                continue;
            };
            let to = (i64::from(pos) + (end - off)).min(i64::from(file.file_size())) as u32;
            if let Err(e) = file.release_pages(pos, to) {
                tracing::debug!(path = %file.path().display(), error = %e, "madvise(DONTNEED) failed");
            }
            off += i64::from(to - pos).max(1);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreConfig;
    use crate::mapped_file::tests::resident_kib;
    use crate::message::{encode_properties, MessageExtBrokerInner};

    /// A reader going through six windows hints each next window once, never one that is not
    /// fully written, and keeps only the last two windows it read mapped (each hint releases
    /// what lies behind the one being read), where it would otherwise keep all six.
    #[test]
    fn hints_ahead_and_releases_behind() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            mapped_file_size_commit_log: 32 * 1024 * 1024,
            ..StoreConfig::with_root(dir.path())
        };
        let cl = CommitLog::new(&config, crate::fs::os());
        cl.load().unwrap();
        let body = bytes::Bytes::from(vec![b'r'; 64 * 1024]);
        for _ in 0..400 {
            let props = encode_properties([("TAGS", "A")]);
            let mut m = MessageExtBrokerInner::new("T", 0, body.clone(), props);
            m.born_host = "10.0.0.1:1".parse().unwrap();
            m.store_host = "10.0.0.2:2".parse().unwrap();
            cl.append_message(&m).unwrap();
        }
        let written = cl.max_offset();
        assert!(written > 6 * WINDOW && written < 7 * WINDOW);
        let (file, _) = cl.file_at(0).unwrap();
        file.release_pages(0, file.file_size()).unwrap();
        assert_eq!(resident_kib(file.path()), 0);

        let ra = ReadAhead::default();
        for w in 0..6 {
            let start = (w * WINDOW) as u32;
            let bytes = file.read(start, WINDOW as u32).unwrap();
            let touched: u64 = bytes.iter().step_by(4096).map(|b| u64::from(*b)).sum();
            std::hint::black_box(touched);
            let end = (w + 1) * WINDOW - 1;
            // Window w + 1 is hinted once; window 6 is not fully written, so never.
            assert_eq!(ra.after_read(&cl, end), w + 1 < 6, "window {w}");
            assert!(!ra.after_read(&cl, end));
        }
        let kib = resident_kib(file.path());
        assert!(
            kib <= 2 * (WINDOW as u64 / 1024) + 64,
            "{kib} KiB mapped after reading six windows"
        );
        assert!(
            kib >= WINDOW as u64 / 1024,
            "the window being read stays mapped"
        );
    }
}
