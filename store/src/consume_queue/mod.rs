//! ConsumeQueue: per topic and queue id, the list of 20-byte units pointing into the CommitLog,
//! stored in `<root>/consumequeue/<topic>/<queueId>/<20-digit byte offset>`. Logical offset n is
//! unit n. Written only by the dispatcher thread; units below a file's wrote position never change.
//!
//! Lookup example (file of 3 units, min offset 0): units at logical 0, 1, 2 in file
//! `00000000000000000000`, logical 3 starts file `00000000000000000060`; `units_from(1)` returns
//! units 1..=2 of the first file (a read never crosses a file), `units_from(3)` the second file.

pub mod table;
pub mod unit;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::error::Result;
use crate::fs::FileSystem;
use crate::mapped_file_queue::MappedFileQueue;
pub use table::ConsumeQueueTable;
pub use unit::{CqUnit, CQ_UNIT_SIZE};

/// What a put of a unit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The unit was appended.
    Written,
    /// The unit was already there (re-dispatch after recovery); nothing written.
    Duplicate,
}

/// One topic/queue's ConsumeQueue.
#[derive(Debug)]
pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    queue: MappedFileQueue,
    /// End (offset + size) of the CommitLog record of the last unit; -1 when unknown.
    max_physic_offset: AtomicI64,
    /// Byte offset of the first unit that still points into the CommitLog.
    min_logic_offset: AtomicI64,
    /// What recovery's scan of the oldest file found for [`Self::correct_min_offset`], so the
    /// correction at open needs no second read of 100 000 files. Dropped by anything that
    /// removes units.
    min_hint: Mutex<Option<MinHint>>,
}

/// How to recover a queue while it is loaded ([`ConsumeQueueTable::load`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recover {
    /// The previous run shut down cleanly (no abort file).
    pub clean: bool,
    /// The CommitLog's minimum offset.
    pub min_phy_offset: i64,
}

/// The first unit of the oldest file pointing at or past `min_phy_offset` is at byte `offset`.
#[derive(Debug, Clone, Copy)]
struct MinHint {
    min_phy_offset: i64,
    offset: i64,
}

impl ConsumeQueue {
    /// A queue under `<cq_root>/<topic>/<queue_id>`.
    pub fn new(
        cq_root: &Path,
        topic: &str,
        queue_id: i32,
        file_size: u32,
        fs: Arc<dyn FileSystem>,
    ) -> Self {
        ConsumeQueue {
            topic: topic.to_string(),
            queue_id,
            queue: MappedFileQueue::new_lazy(
                cq_root.join(topic).join(queue_id.to_string()),
                file_size,
                fs,
            ),
            max_physic_offset: AtomicI64::new(-1),
            min_logic_offset: AtomicI64::new(0),
            min_hint: Mutex::new(None),
        }
    }

    fn set_min_hint(&self, hint: Option<MinHint>) {
        *self.min_hint.lock().unwrap_or_else(PoisonError::into_inner) = hint;
    }

    /// The queue's files.
    pub(crate) fn files(&self) -> &MappedFileQueue {
        &self.queue
    }

    /// Topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queue id.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    /// Finds the existing files without mapping them (a store can have 100 000 queues; a file is
    /// mapped when first read or written).
    #[cfg(test)]
    pub fn load(&self) -> Result<()> {
        self.queue.load()
    }

    /// [`Self::load`] from the queue's directory, already open; with `recover`, also recovers
    /// the queue ([`Self::recover_after`]) while the directory is open, so each file recovery
    /// reads is opened once, by its name in the directory.
    pub(crate) fn load_from(
        &self,
        mut dir: crate::dir::DirHandle,
        recover: Option<Recover>,
    ) -> Result<()> {
        self.queue.load_from(&mut dir)?;
        match recover {
            Some(r) => self.recover_in(r.clean, r.min_phy_offset, Some(&dir)),
            None => Ok(()),
        }
    }

    fn file_size(&self) -> i64 {
        i64::from(self.queue.file_size())
    }

    /// Finds the end of the valid units (scanning from the third-newest file, like Java), sets the
    /// positions there, zeroes what follows and deletes files past it.
    #[cfg(test)]
    pub fn recover(&self) -> Result<()> {
        self.recover_after(false, 0)
    }

    /// [`Self::recover`]; after a clean shutdown (`clean`) the tail past the end is known to be
    /// zeros and is not rewritten. `min_phy_offset` is the CommitLog's minimum: when the scan
    /// covers the oldest file it also notes where [`Self::correct_min_offset`] will find it.
    #[cfg(test)]
    pub fn recover_after(&self, clean: bool, min_phy_offset: i64) -> Result<()> {
        self.recover_in(clean, min_phy_offset, None)
    }

    fn recover_in(
        &self,
        clean: bool,
        min_phy_offset: i64,
        dir: Option<&crate::dir::DirHandle>,
    ) -> Result<()> {
        self.set_min_hint(None);
        let files = self.queue.files();
        if files.is_empty() {
            return Ok(());
        }
        // Opens an unmapped file through the directory; `None` lets the file open itself by path.
        let open = |f: &crate::mapped_file::MappedFile| -> Result<Option<std::fs::File>> {
            match dir {
                Some(d) if !f.is_mapped() => f
                    .open_in(d)
                    .map(Some)
                    .map_err(|e| crate::error::StoreError::io(f.path(), e)),
                _ => Ok(None),
            }
        };
        let mut index = files.len().saturating_sub(3);
        let mut end;
        let mut max_phy = -1;
        let mut hint = None;
        let tail_file = loop {
            let f = &files[index];
            let oldest = index == 0;
            let mut at = f.file_from_offset();
            let file = open(f)?;
            // Read with pread: the file stays unmapped until a consumer or the dispatcher needs it.
            let valid = f
                .scan_prefix_with(file.as_ref(), CQ_UNIT_SIZE, f.file_size(), |rec| {
                    let Some(u) = CqUnit::decode(rec).filter(CqUnit::is_valid) else {
                        return false;
                    };
                    if !u.is_filler() {
                        max_phy = u.phy_offset + i64::from(u.size);
                        if oldest && hint.is_none() && u.phy_offset >= min_phy_offset {
                            hint = Some(MinHint {
                                min_phy_offset,
                                offset: at,
                            });
                        }
                    }
                    at += i64::from(CQ_UNIT_SIZE);
                    true
                })
                .map_err(|e| crate::error::StoreError::io(f.path(), e))?;
            end = f.file_from_offset() + i64::from(valid);
            if valid == f.file_size() && index + 1 < files.len() {
                index += 1;
                continue;
            }
            break file;
        };
        drop(files);
        self.queue.truncate_with(end, !clean, tail_file.as_ref())?;
        self.queue.set_flushed_where(end);
        self.max_physic_offset.store(max_phy, Ordering::Release);
        self.set_min_hint(hint);
        Ok(())
    }

    /// Next logical offset to be written (= number of units ever written, counting removed ones).
    pub fn max_offset_in_queue(&self) -> i64 {
        self.queue.max_offset() / i64::from(CQ_UNIT_SIZE)
    }

    /// First logical offset still readable.
    pub fn min_offset_in_queue(&self) -> i64 {
        self.min_logic_offset.load(Ordering::Acquire) / i64::from(CQ_UNIT_SIZE)
    }

    /// End of the CommitLog record of the last unit (-1 if none).
    pub fn max_physic_offset(&self) -> i64 {
        self.max_physic_offset.load(Ordering::Acquire)
    }

    /// Appends the unit for logical offset `cq_offset`. Re-dispatched units are skipped; a gap is
    /// padded with filler units so logical offsets keep matching the records' QUEUEOFFSET.
    pub fn put(&self, unit: CqUnit, cq_offset: i64) -> Result<PutOutcome> {
        if unit.phy_offset + i64::from(unit.size) <= self.max_physic_offset() {
            return Ok(PutOutcome::Duplicate);
        }
        let expect = cq_offset * i64::from(CQ_UNIT_SIZE);
        let file = self.queue.last_or_create(expect)?;
        if file.is_first_create_in_queue() && cq_offset != 0 && file.wrote_position() == 0 {
            self.min_logic_offset.store(expect, Ordering::Release);
            self.queue
                .set_flushed_where(expect - expect.rem_euclid(self.file_size()));
            let until = expect.rem_euclid(self.file_size()) as u32;
            let mut written = 0;
            while written < until {
                file.append_with(CQ_UNIT_SIZE, CQ_UNIT_SIZE, |b| {
                    b.copy_from_slice(&CqUnit::FILLER.encode())
                });
                written += CQ_UNIT_SIZE;
            }
        }
        let mut current = self.queue.max_offset();
        if expect < current {
            tracing::warn!(topic = %self.topic, queue_id = self.queue_id, expect, current, "consume queue unit written twice; skipped");
            return Ok(PutOutcome::Duplicate);
        }
        if expect > current {
            tracing::warn!(topic = %self.topic, queue_id = self.queue_id, expect, current, "gap in consume queue; padding with filler units");
        }
        while current < expect {
            let f = self.queue.last_or_create(current)?;
            f.append_with(CQ_UNIT_SIZE, CQ_UNIT_SIZE, |b| {
                b.copy_from_slice(&CqUnit::FILLER.encode())
            });
            current = self.queue.max_offset();
        }
        let f = self.queue.last_or_create(expect)?;
        let encoded = unit.encode();
        if f.append_with(CQ_UNIT_SIZE, CQ_UNIT_SIZE, |b| b.copy_from_slice(&encoded))
            .is_none()
        {
            // The file size is a multiple of 20, so a unit always fits in a non-full file.
            return Err(crate::error::StoreError::corrupt(
                f.path(),
                u64::from(f.wrote_position()),
                "unit does not fit",
            ));
        }
        self.max_physic_offset
            .store(unit.phy_offset + i64::from(unit.size), Ordering::Release);
        Ok(PutOutcome::Written)
    }

    /// The units from logical offset `index` to the end of the file holding it (zero-copy), or
    /// `None` if `index` is below the minimum or not written.
    pub fn units_from(&self, index: i64) -> Option<Bytes> {
        let offset = index.checked_mul(i64::from(CQ_UNIT_SIZE))?;
        if offset < self.min_logic_offset.load(Ordering::Acquire) {
            return None;
        }
        let f = self.queue.find_by_offset(offset, false)?;
        let pos = (offset - f.file_from_offset()) as u32;
        let wrote = f.wrote_position();
        if pos >= wrote {
            return None;
        }
        f.slice_bytes(pos, wrote - pos)
    }

    /// The unit at logical offset `index`.
    pub fn unit_at(&self, index: i64) -> Option<CqUnit> {
        let offset = index.checked_mul(i64::from(CQ_UNIT_SIZE))?;
        if offset < self.min_logic_offset.load(Ordering::Acquire) {
            return None;
        }
        let f = self.queue.find_by_offset(offset, false)?;
        let pos = (offset - f.file_from_offset()) as u32;
        CqUnit::decode(f.read(pos, CQ_UNIT_SIZE)?)
    }

    /// First logical offset of the file after the one holding `index`.
    pub fn roll_next_file(&self, index: i64) -> i64 {
        let units_per_file = self.file_size() / i64::from(CQ_UNIT_SIZE);
        index + units_per_file - index.rem_euclid(units_per_file)
    }

    /// Removes units whose record does not end by `phy_offset` (the recovered CommitLog end).
    pub fn truncate_dirty(&self, phy_offset: i64) -> Result<()> {
        self.set_min_hint(None);
        let files = self.queue.files();
        let mut end = None;
        let mut max_phy = -1;
        for f in files.iter().rev() {
            let data = f.read_from(0).unwrap_or_default();
            let mut kept = 0u32;
            let mut last_phy = -1;
            for u in unit::units(data) {
                if !u.is_valid()
                    || (!u.is_filler() && u.phy_offset + i64::from(u.size) > phy_offset)
                {
                    break;
                }
                kept += CQ_UNIT_SIZE;
                if !u.is_filler() {
                    last_phy = u.phy_offset + i64::from(u.size);
                }
            }
            end = Some(f.file_from_offset() + i64::from(kept));
            if kept > 0 {
                max_phy = last_phy;
                break;
            }
        }
        drop(files);
        if let Some(end) = end {
            let before = self.queue.max_offset();
            if end < before {
                tracing::info!(topic = %self.topic, queue_id = self.queue_id, from = before / 20, to = end / 20, "truncating consume queue");
            }
            self.queue.truncate_dirty(end)?;
        }
        self.max_physic_offset.store(max_phy, Ordering::Release);
        Ok(())
    }

    /// Java `correctMinOffset`: the first unit of the oldest file that points at or past
    /// `min_phy_offset` becomes the minimum (filler units are skipped). Right after recovery the
    /// answer is usually known from its scan and nothing is read.
    pub fn correct_min_offset(&self, min_phy_offset: i64) {
        let Some(f) = self.queue.first() else {
            return;
        };
        let hint = self
            .min_hint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = hint {
            // Units below the wrote position never change, so a unit recovery saw there is
            // still the first one that qualifies.
            let written_end = f.file_from_offset() + i64::from(f.wrote_position());
            if h.min_phy_offset == min_phy_offset
                && h.offset >= f.file_from_offset()
                && h.offset < written_end
            {
                self.min_logic_offset.store(h.offset, Ordering::Release);
                return;
            }
        }
        let mut found = None;
        let mut index = 0i64;
        let scanned = f.scan_prefix(CQ_UNIT_SIZE, f.wrote_position(), |rec| {
            if let Some(u) = CqUnit::decode(rec) {
                if !u.is_filler() && u.phy_offset >= min_phy_offset {
                    found = Some(f.file_from_offset() + index * i64::from(CQ_UNIT_SIZE));
                    return false;
                }
            }
            index += 1;
            true
        });
        if let Err(e) = scanned {
            tracing::error!(path = %f.path().display(), error = %e, "cannot read a consume queue file to correct its minimum offset");
            return;
        }
        match found {
            Some(m) => self.min_logic_offset.store(m, Ordering::Release),
            None => {
                // Nothing in the first file is still readable: everything written there is gone.
                let end = f.file_from_offset() + i64::from(f.wrote_position());
                self.min_logic_offset.fetch_max(end, Ordering::AcqRel);
            }
        }
    }

    /// Deletes leading files whose last unit points below `min_phy_offset` (never the newest),
    /// then corrects the minimum offset. Returns the number of files deleted.
    pub fn delete_expired(&self, min_phy_offset: i64) -> usize {
        self.set_min_hint(None);
        let files = self.queue.files();
        let mut victims = Vec::new();
        for f in files.iter().take(files.len().saturating_sub(1)) {
            let last = f
                .read(f.file_size() - CQ_UNIT_SIZE, CQ_UNIT_SIZE)
                .and_then(CqUnit::decode);
            match last {
                Some(u) if u.phy_offset < min_phy_offset => victims.push(f.clone()),
                _ => break,
            }
        }
        let n = self.queue.remove_files(&victims);
        self.correct_min_offset(min_phy_offset);
        n
    }

    /// CommitLog end of the last unit, read from disk (-1 if the queue is empty).
    pub fn last_unit_end(&self) -> i64 {
        let Some(f) = self.queue.last() else {
            return -1;
        };
        let wrote = f.wrote_position();
        if wrote < CQ_UNIT_SIZE {
            return -1;
        }
        f.read(wrote - CQ_UNIT_SIZE, CQ_UNIT_SIZE)
            .and_then(CqUnit::decode)
            .filter(|u| u.is_valid() && !u.is_filler())
            .map(|u| u.phy_offset + i64::from(u.size))
            .unwrap_or(-1)
    }

    /// Logical offset of the first message stored at or after `timestamp` (Java's LOWER boundary);
    /// the max offset when every message is older, the min offset when all are newer.
    /// `store_time` reads a record's store timestamp from the CommitLog.
    pub fn offset_by_time(
        &self,
        timestamp: i64,
        store_time: impl Fn(i64, i32) -> Option<i64>,
    ) -> i64 {
        let min = self.min_offset_in_queue();
        let max = self.max_offset_in_queue();
        let time_at = |i: i64| -> Option<i64> {
            let u = self.unit_at(i)?;
            if u.is_filler() {
                return Some(i64::MIN);
            }
            store_time(u.phy_offset, u.size)
        };
        // Skip a head whose CommitLog data is gone.
        let mut lo = min;
        while lo < max && time_at(lo).is_none() {
            lo += 1;
            if lo - min > 64 {
                break;
            }
        }
        let mut hi = max;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match time_at(mid) {
                Some(t) if t < timestamp => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// Flushes dirty units (`least_pages` 0 = all).
    pub fn flush(&self, least_pages: u32) -> std::io::Result<bool> {
        self.queue.flush(least_pages)
    }

    /// Deletes every file of this queue.
    pub fn destroy(&self) -> Result<()> {
        self.set_min_hint(None);
        self.max_physic_offset.store(-1, Ordering::Release);
        self.min_logic_offset.store(0, Ordering::Release);
        self.queue.destroy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(phy: i64) -> CqUnit {
        CqUnit {
            phy_offset: phy,
            size: 100,
            tags_code: phy,
        }
    }

    /// Units land at logical offsets, reads never cross a file, and max/min offsets follow.
    #[test]
    fn put_and_read_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::new(dir.path(), "T", 0, 60, crate::fs::os());
        for i in 0..5 {
            assert_eq!(cq.put(unit(i * 100), i).unwrap(), PutOutcome::Written);
        }
        assert_eq!(cq.max_offset_in_queue(), 5);
        assert_eq!(cq.min_offset_in_queue(), 0);
        assert_eq!(cq.units_from(1).unwrap().len(), 40);
        assert_eq!(cq.units_from(3).unwrap().len(), 40);
        assert!(cq.units_from(5).is_none());
        assert_eq!(cq.unit_at(4).unwrap().phy_offset, 400);
        assert_eq!(cq.roll_next_file(4), 6);
        // Re-dispatch of an old record is a no-op.
        assert_eq!(cq.put(unit(200), 2).unwrap(), PutOutcome::Duplicate);
        assert!(dir.path().join("T/0/00000000000000000060").exists());
    }

    /// A queue whose first unit has logical offset > 0 is padded with fillers and starts there.
    #[test]
    fn first_unit_mid_file() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::new(dir.path(), "T", 1, 100, crate::fs::os());
        cq.put(unit(0), 7).unwrap();
        assert_eq!(cq.min_offset_in_queue(), 7);
        assert_eq!(cq.max_offset_in_queue(), 8);
        assert!(cq.units_from(6).is_none());
        assert_eq!(cq.unit_at(7).unwrap().phy_offset, 0);
    }

    /// Recovery finds the end of valid units after a reload; truncation drops units past the
    /// CommitLog end and deletes emptied files.
    #[test]
    fn recover_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cq = ConsumeQueue::new(dir.path(), "T", 0, 60, crate::fs::os());
            for i in 0..5 {
                cq.put(unit(i * 100), i).unwrap();
            }
            cq.flush(0).unwrap();
        }
        let cq = ConsumeQueue::new(dir.path(), "T", 0, 60, crate::fs::os());
        cq.load().unwrap();
        cq.recover().unwrap();
        assert_eq!(cq.max_offset_in_queue(), 5);
        assert_eq!(cq.max_physic_offset(), 500);
        // The record at 200 ends at 300 > 250, so its unit goes too.
        cq.truncate_dirty(250).unwrap();
        assert_eq!(cq.max_offset_in_queue(), 2);
        assert_eq!(cq.max_physic_offset(), 200);
        assert!(!dir.path().join("T/0/00000000000000000060").exists());
        assert_eq!(cq.put(unit(200), 2).unwrap(), PutOutcome::Written);
    }

    /// The minimum offset corrected at open from recovery's scan equals the one found by reading
    /// the oldest file again, for every CommitLog minimum; when the scan answered, nothing is read.
    #[test]
    fn min_offset_from_recovery_scan() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cq = ConsumeQueue::new(dir.path(), "T", 0, 60, crate::fs::os());
            // A queue that starts at logical offset 1 (a filler unit first), 5 units, 2 files.
            for i in 1..6 {
                cq.put(unit(i * 100), i).unwrap();
            }
            cq.flush(0).unwrap();
        }
        let open = || {
            let cq = ConsumeQueue::new(dir.path(), "T", 0, 60, crate::fs::os());
            cq.load().unwrap();
            cq
        };
        for min_phy in [0, 100, 150, 250, 300, 10_000] {
            let hinted = open();
            hinted.recover_after(true, min_phy).unwrap();
            hinted.correct_min_offset(min_phy);
            let read = open();
            read.recover_after(true, -1).unwrap();
            read.correct_min_offset(min_phy);
            assert_eq!(
                hinted.min_offset_in_queue(),
                read.min_offset_in_queue(),
                "min_phy {min_phy}"
            );
        }
        // With the oldest file gone from disk after the scan, the hint still answers.
        let cq = open();
        cq.recover_after(true, 150).unwrap();
        let first = dir.path().join("T/0/00000000000000000000");
        std::fs::rename(&first, dir.path().join("moved")).unwrap();
        cq.correct_min_offset(150);
        assert_eq!(cq.min_offset_in_queue(), 2);
        std::fs::rename(dir.path().join("moved"), &first).unwrap();
        // A different CommitLog minimum, or a truncation, falls back to reading.
        cq.recover_after(true, 150).unwrap();
        cq.truncate_dirty(250).unwrap();
        cq.correct_min_offset(150);
        assert_eq!(cq.min_offset_in_queue(), 2);
        assert_eq!(cq.max_offset_in_queue(), 2);
    }

    /// Binary search by time returns the first offset at or after the timestamp.
    #[test]
    fn offset_by_time_lower_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cq = ConsumeQueue::new(dir.path(), "T", 0, 60, crate::fs::os());
        for i in 0..7 {
            cq.put(unit(i * 100), i).unwrap();
        }
        // Store time of record at phy p is 1000 + p (so offsets 0..7 have times 1000..1600).
        let st = |p: i64, _s: i32| Some(1000 + p);
        assert_eq!(cq.offset_by_time(1000, st), 0);
        assert_eq!(cq.offset_by_time(1250, st), 3);
        assert_eq!(cq.offset_by_time(1300, st), 3);
        assert_eq!(cq.offset_by_time(0, st), 0);
        assert_eq!(cq.offset_by_time(9999, st), 7);
    }
}
