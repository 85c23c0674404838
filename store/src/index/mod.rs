//! IndexService: the IndexFiles under `<root>/index`, oldest first. The dispatcher adds keys
//! `<topic>#<UNIQ_KEY>` and `<topic>#<word>` for each word of `KEYS`; a full file is flushed and
//! a new one named by the local time (`yyyyMMddHHmmssSSS`, as Java) continues after it.

pub mod index_file;

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{Local, TimeZone};

use crate::checkpoint::StoreCheckpoint;
use crate::error::{Result, StoreError};
use crate::fs::FileSystem;
use crate::message::sys_flag;
pub use index_file::{index_key_hash, IndexFile};

/// Index lookups' result before the records are fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOffsetResult {
    /// CommitLog offsets, newest first within each file, newest file first.
    pub phy_offsets: Vec<i64>,
    /// End timestamp of the newest file.
    pub index_last_update_timestamp: i64,
    /// End physical offset of the newest file.
    pub index_last_update_phyoffset: i64,
}

/// What the dispatcher indexes for one record.
#[derive(Debug, Clone, Copy)]
pub struct IndexRequest<'a> {
    /// Topic.
    pub topic: &'a str,
    /// CommitLog offset.
    pub phy_offset: i64,
    /// Store time.
    pub store_timestamp: i64,
    /// SYSFLAG (rolled-back records are not indexed).
    pub sys_flag: i32,
    /// `UNIQ_KEY` property.
    pub uniq_key: Option<&'a str>,
    /// `KEYS` property (space-separated).
    pub keys: Option<&'a str>,
}

/// All IndexFiles.
#[derive(Debug)]
pub struct IndexService {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    hash_slot_num: u32,
    index_num: u32,
    max_msgs_num_batch: usize,
    files: RwLock<Vec<Arc<IndexFile>>>,
}

impl IndexService {
    /// [`IndexFile::release_pages`] on every file; errors are logged (a hint failed, nothing else).
    pub(crate) fn release_pages(&self, keep: usize) {
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        for f in files.iter() {
            if let Err(e) = f.release_pages(keep) {
                tracing::debug!(path = %f.path().display(), error = %e, "madvise(DONTNEED) failed");
            }
        }
    }

    /// A service over `dir`.
    pub fn new(
        dir: impl Into<PathBuf>,
        hash_slot_num: u32,
        index_num: u32,
        max_msgs_num_batch: u32,
        fs: Arc<dyn FileSystem>,
    ) -> Self {
        IndexService {
            dir: dir.into(),
            fs,
            hash_slot_num,
            index_num,
            max_msgs_num_batch: max_msgs_num_batch as usize,
            files: RwLock::new(Vec::new()),
        }
    }

    fn snapshot(&self) -> Vec<Arc<IndexFile>> {
        self.files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn last(&self) -> Option<Arc<IndexFile>> {
        self.files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .cloned()
    }

    /// Loads the files in name order. After a crash, files whose end is newer than the index
    /// checkpoint may be incomplete and are deleted (Java does the same). Files whose size does
    /// not match the configuration are skipped with a warning.
    pub fn load(&self, last_exit_ok: bool, checkpoint: &StoreCheckpoint) -> Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(&self.dir, e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for p in paths {
            let f = match IndexFile::open(&self.fs, &p, self.hash_slot_num, self.index_num) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping index file");
                    continue;
                }
            };
            if !last_exit_ok && f.end_timestamp() > checkpoint.index_msg_timestamp() {
                tracing::info!(path = %p.display(), "deleting an index file newer than the checkpoint");
                f.delete_file().map_err(|e| StoreError::io(&p, e))?;
                continue;
            }
            files.push(Arc::new(f));
        }
        *self.files.write().unwrap_or_else(PoisonError::into_inner) = files;
        Ok(())
    }

    /// End physical offset of the newest file (0 when there is none).
    pub fn end_phy_offset(&self) -> i64 {
        self.last().map(|f| f.end_phy_offset()).unwrap_or(0)
    }

    /// Whether there are no index files.
    pub fn is_empty(&self) -> bool {
        self.files
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    fn new_file_path(&self) -> PathBuf {
        let mut ms = chrono::Utc::now().timestamp_millis();
        loop {
            let name = match Local.timestamp_millis_opt(ms).single() {
                Some(t) => t.format("%Y%m%d%H%M%S%3f").to_string(),
                None => format!("{ms}"),
            };
            let p = self.dir.join(name);
            if !p.exists() {
                return p;
            }
            ms += 1;
        }
    }

    /// The newest file with room, creating one (and flushing the full one) if needed.
    fn writable_file(&self, checkpoint: &StoreCheckpoint) -> Result<Arc<IndexFile>> {
        let last = self.last();
        if let Some(f) = &last {
            if !f.is_write_full() {
                return Ok(Arc::clone(f));
            }
        }
        let (end_phy, end_ts) = last
            .as_ref()
            .map(|f| (f.end_phy_offset(), f.end_timestamp()))
            .unwrap_or((0, 0));
        self.fs
            .create_dir_all(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let path = self.new_file_path();
        let f = Arc::new(IndexFile::create(
            &self.fs,
            &path,
            self.hash_slot_num,
            self.index_num,
            end_phy,
            end_ts,
        )?);
        self.files
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&f));
        if let Some(prev) = last {
            prev.flush().map_err(|e| StoreError::io(prev.path(), e))?;
            checkpoint.set_index_msg_timestamp(prev.end_timestamp());
        }
        Ok(f)
    }

    fn put(
        &self,
        mut file: Arc<IndexFile>,
        hash: i32,
        req: &IndexRequest<'_>,
        checkpoint: &StoreCheckpoint,
    ) -> Result<Arc<IndexFile>> {
        for _ in 0..3 {
            if file.put_key(hash, req.phy_offset, req.store_timestamp) {
                return Ok(file);
            }
            file = self.writable_file(checkpoint)?;
        }
        Err(StoreError::corrupt(
            file.path(),
            0,
            "cannot add an index entry to a fresh file",
        ))
    }

    /// Indexes one record (Java `buildIndex`): skipped if already covered by the newest file or
    /// rolled back.
    pub fn build(&self, req: &IndexRequest<'_>, checkpoint: &StoreCheckpoint) -> Result<()> {
        if sys_flag::transaction_type(req.sys_flag) == sys_flag::TRANSACTION_ROLLBACK {
            return Ok(());
        }
        let mut file = self.writable_file(checkpoint)?;
        if req.phy_offset < file.end_phy_offset() {
            return Ok(());
        }
        if let Some(uk) = req.uniq_key {
            file = self.put(file, index_key_hash(req.topic, uk), req, checkpoint)?;
        }
        if let Some(keys) = req.keys {
            for key in keys.split(' ').filter(|k| !k.is_empty()) {
                file = self.put(file, index_key_hash(req.topic, key), req, checkpoint)?;
            }
        }
        Ok(())
    }

    /// Looks up `<topic>#<key>` in files overlapping `[begin, end]`, newest first, at most
    /// min(`max_num`, `maxMsgsNumBatch`) offsets.
    pub fn query(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin: i64,
        end: i64,
    ) -> QueryOffsetResult {
        let max_num = max_num.min(self.max_msgs_num_batch);
        let files = self.snapshot();
        let mut result = QueryOffsetResult::default();
        if let Some(last) = files.last() {
            result.index_last_update_timestamp = last.end_timestamp();
            result.index_last_update_phyoffset = last.end_phy_offset();
        }
        let hash = index_key_hash(topic, key);
        for f in files.iter().rev() {
            if f.is_time_matched(begin, end) {
                f.select_phy_offsets(&mut result.phy_offsets, hash, max_num, begin, end);
            }
            if f.begin_timestamp() < begin || result.phy_offsets.len() >= max_num {
                break;
            }
        }
        result
    }

    /// Deletes files (never the newest) whose entries all point below `min_phy_offset`.
    pub fn delete_expired(&self, min_phy_offset: i64) -> usize {
        let files = self.snapshot();
        let victims: Vec<_> = files
            .iter()
            .take(files.len().saturating_sub(1))
            .take_while(|f| f.end_phy_offset() < min_phy_offset)
            .cloned()
            .collect();
        if victims.is_empty() {
            return 0;
        }
        self.files
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|f| !victims.iter().any(|v| Arc::ptr_eq(v, f)));
        for v in &victims {
            if let Err(e) = v.delete_file() {
                tracing::warn!(path = %v.path().display(), error = %e, "failed to delete an index file");
            }
        }
        victims.len()
    }

    /// Flushes the newest file and advances the index checkpoint to its end.
    pub fn flush(&self, checkpoint: &StoreCheckpoint) -> std::io::Result<()> {
        if let Some(last) = self.last() {
            let end = last.end_timestamp();
            last.flush()?;
            if end > checkpoint.index_msg_timestamp() {
                checkpoint.set_index_msg_timestamp(end);
            }
        }
        Ok(())
    }
}
