//! CommitLog recovery: scan records (magic, lengths, CRC, and the stored physical offset must
//! equal the position) from a starting file to the first invalid one; that position becomes the
//! end. Normal recovery starts at the third-newest file; after a crash (abort file present) it
//! starts at the newest file whose first record is older than the checkpoint.

use super::CommitLog;
use crate::checkpoint::StoreCheckpoint;
use crate::error::Result;
use crate::mapped_file::MappedFile;
use crate::message::record::{decode_record, Decoded};

/// Where recovery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOutcome {
    /// Offset just past the last valid record: the new end of the CommitLog.
    pub end_offset: i64,
    /// Start of the file the scan began at (everything before it was trusted).
    pub scan_start: i64,
    /// Store time of the last valid record the scan saw (0 if it saw none).
    pub last_store_timestamp: i64,
}

/// How to pick the first file to scan.
#[derive(Debug, Clone, Copy)]
pub enum RecoveryMode {
    /// Clean shutdown: the last three files.
    Normal,
    /// Crash: from the newest file whose first record is older than this timestamp.
    Abnormal {
        /// Checkpoint-derived safe timestamp.
        safe_timestamp: i64,
    },
}

impl RecoveryMode {
    /// The mode for a store whose abort file is (not) present.
    pub fn from_checkpoint(abnormal: bool, checkpoint: &StoreCheckpoint, index_safe: bool) -> Self {
        if !abnormal {
            return RecoveryMode::Normal;
        }
        let safe_timestamp = if index_safe {
            checkpoint.min_timestamp_index()
        } else {
            checkpoint.min_timestamp()
        };
        RecoveryMode::Abnormal { safe_timestamp }
    }
}

/// Outcome of scanning one file.
enum FileEnd {
    /// A blank marker at this position: the file is complete.
    Blank(u32),
    /// An invalid record at this position: the log ends here.
    Invalid(u32),
}

/// The recovery scan drops its page-table entries every this many bytes: scanning the last three
/// 1 GiB files would otherwise leave up to 3 GiB resident in the broker before it serves anything.
const SCAN_RELEASE_STEP: usize = 16 * 1024 * 1024;

/// Scans one file; `last_ts` gets the store time of each valid record in turn. The pages read
/// are released as the scan goes (they stay in the page cache).
fn scan_file(file: &MappedFile, check_crc: bool, last_ts: &mut i64) -> FileEnd {
    let end = scan_records(file, check_crc, last_ts);
    release_scanned(file, file.file_size() as usize);
    end
}

fn release_scanned(file: &MappedFile, upto: usize) {
    if let Err(e) = file.release_pages(0, upto.min(file.file_size() as usize) as u32) {
        tracing::debug!(path = %file.path().display(), error = %e, "madvise(DONTNEED) failed");
    }
}

fn scan_records(file: &MappedFile, check_crc: bool, last_ts: &mut i64) -> FileEnd {
    let data = file.read_from(0).unwrap_or_default();
    let mut pos = 0usize;
    let mut released = 0usize;
    loop {
        if pos - released >= SCAN_RELEASE_STEP {
            released = pos - pos % SCAN_RELEASE_STEP;
            release_scanned(file, released);
        }
        match decode_record(&data[pos..], check_crc) {
            Ok(Decoded::Message(m)) => {
                if m.physical_offset != file.file_from_offset() + pos as i64 {
                    tracing::warn!(
                        file = %file.path().display(), pos,
                        stored = m.physical_offset,
                        "record's physical offset does not match its position; treating it as the end"
                    );
                    return FileEnd::Invalid(pos as u32);
                }
                *last_ts = m.store_timestamp;
                pos += m.total_size as usize;
            }
            Ok(Decoded::Blank { .. }) => return FileEnd::Blank(pos as u32),
            Err(e) => {
                if data[pos..].iter().take(8).any(|b| *b != 0) {
                    tracing::warn!(file = %file.path().display(), pos, error = %e, "CommitLog ends at an invalid record");
                }
                return FileEnd::Invalid(pos as u32);
            }
        }
    }
}

fn first_record_matches(file: &MappedFile, check_crc: bool, safe_timestamp: i64) -> bool {
    let data = file.read_from(0).unwrap_or_default();
    match decode_record(data, check_crc) {
        Ok(Decoded::Message(m)) => m.store_timestamp != 0 && m.store_timestamp <= safe_timestamp,
        _ => false,
    }
}

impl CommitLog {
    /// Finds the valid end, truncates there (zeroing the torn tail, deleting later files) and
    /// sets the flushed offset to it.
    pub fn recover(&self, mode: RecoveryMode, check_crc: bool) -> Result<RecoveryOutcome> {
        let files = self.queue.files();
        if files.is_empty() {
            self.queue.set_flushed_where(0);
            return Ok(RecoveryOutcome {
                end_offset: 0,
                scan_start: 0,
                last_store_timestamp: 0,
            });
        }
        let mut index = match mode {
            RecoveryMode::Normal => files.len().saturating_sub(3),
            RecoveryMode::Abnormal { safe_timestamp } => (0..files.len())
                .rev()
                .find(|i| first_record_matches(&files[*i], check_crc, safe_timestamp))
                .unwrap_or(0),
        };
        let scan_start = files[index].file_from_offset();
        let mut last_store_timestamp = 0i64;
        let end_offset = loop {
            let file = &files[index];
            match scan_file(file, check_crc, &mut last_store_timestamp) {
                FileEnd::Blank(pos) if index + 1 < files.len() => {
                    let _ = pos;
                    index += 1;
                }
                FileEnd::Blank(pos) | FileEnd::Invalid(pos) => {
                    break file.file_from_offset() + i64::from(pos)
                }
            }
        };
        drop(files);
        tracing::info!(end_offset, scan_start, ?mode, "CommitLog recovered");
        self.queue.truncate_dirty(end_offset)?;
        self.queue.set_flushed_where(end_offset);
        // The newest file remembers its last record's time, as after a put, so the flush services
        // can advance the checkpoint before any new record arrives.
        if let Some(last) = self.queue.last() {
            if last_store_timestamp > 0 && last.store_timestamp() == 0 {
                last.set_store_timestamp(last_store_timestamp);
            }
        }
        Ok(RecoveryOutcome {
            end_offset,
            scan_start,
            last_store_timestamp,
        })
    }
}
