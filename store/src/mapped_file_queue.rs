//! An ordered set of equal-size `MappedFile`s named by their 20-digit start offset, forming one
//! logical byte stream (the CommitLog, or one ConsumeQueue). Only the last file is written; files
//! leave from the front (retention) or, during recovery only, from the back (truncation).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use bytes::Bytes;

use crate::allocate::Allocator;
use crate::dir::{DirHandle, Kind};
use crate::error::{Result, StoreError};
use crate::fs::FileSystem;
use crate::mapped_file::MappedFile;

/// Name of a store file: the start offset, zero-padded to 20 digits.
pub fn file_name(offset: i64) -> String {
    format!("{offset:020}")
}

/// A directory of contiguous mapped files.
#[derive(Debug)]
pub struct MappedFileQueue {
    dir: PathBuf,
    file_size: u32,
    fs: Arc<dyn FileSystem>,
    files: RwLock<Vec<Arc<MappedFile>>>,
    flushed_where: AtomicI64,
    /// Makes the next file in the background (CommitLog only).
    allocator: OnceLock<Arc<Allocator>>,
    /// Files are lazily mapped with `MADV_RANDOM` (ConsumeQueues).
    lazy: bool,
    /// Appends write through the file (the CommitLog under SYNC_FLUSH).
    write_through: bool,
}

impl MappedFileQueue {
    /// A queue over `dir` (created lazily) with files of `file_size` bytes, doing its file I/O
    /// through `fs`.
    pub fn new(dir: impl Into<PathBuf>, file_size: u32, fs: Arc<dyn FileSystem>) -> Self {
        MappedFileQueue {
            dir: dir.into(),
            file_size,
            fs,
            files: RwLock::new(Vec::new()),
            flushed_where: AtomicI64::new(0),
            allocator: OnceLock::new(),
            lazy: false,
            write_through: false,
        }
    }

    /// Appends to this queue's files go through `pwrite` ([`MappedFile::set_write_through`]).
    pub fn with_write_through(mut self, on: bool) -> Self {
        self.write_through = on;
        self
    }

    /// A queue whose files are mapped only when first used and read page by page
    /// (`MADV_RANDOM`): ConsumeQueues, of which a store may have 100 000.
    pub fn new_lazy(dir: impl Into<PathBuf>, file_size: u32, fs: Arc<dyn FileSystem>) -> Self {
        MappedFileQueue {
            lazy: true,
            ..Self::new(dir, file_size, fs)
        }
    }

    /// From now on, new files come from `allocator`, which makes each file's successor in the
    /// background as soon as the file is taken into use. Requests the file after the current last
    /// one right away, or, for an empty queue, its first file (offset 0), so the first put of a
    /// new store does not make a 1 GiB file and fault its first pages itself. Set once; later
    /// calls are ignored. (Only the CommitLog has an allocator: it never uses the ConsumeQueue's
    /// first-file flag, which allocated files do not carry.)
    pub fn set_allocator(&self, allocator: Arc<Allocator>) {
        if self.allocator.set(allocator).is_ok() {
            match self.last() {
                Some(last) => self.request_after(&last),
                None => match self.fs.create_dir_all(&self.dir) {
                    // Without its directory the request would fail; the first put then makes
                    // the directory and the file itself.
                    Err(e) => {
                        tracing::warn!(dir = %self.dir.display(), error = %e, "cannot create the CommitLog directory");
                    }
                    Ok(()) => {
                        if let Some(a) = self.allocator.get() {
                            a.request(self.dir.join(file_name(0)), 0, self.file_size);
                        }
                    }
                },
            }
        }
    }

    fn request_after(&self, file: &MappedFile) {
        if let Some(a) = self.allocator.get() {
            let next = file.file_from_offset() + i64::from(self.file_size);
            a.request(self.dir.join(file_name(next)), next, self.file_size);
        }
    }

    /// Size of each file.
    pub fn file_size(&self) -> u32 {
        self.file_size
    }

    fn read_files(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_files(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<MappedFile>>> {
        self.files.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finds the existing files (and maps them, unless the queue is lazy). Every file must have
    /// the configured size, except an empty last file, which is deleted (Java does the same).
    /// Names that are not offsets are skipped.
    pub fn load(&self) -> Result<()> {
        match DirHandle::open(&self.dir) {
            Ok(Some(mut dir)) => self.load_from(&mut dir),
            Ok(None) => Ok(()),
            Err(e) => Err(StoreError::io(&self.dir, e)),
        }
    }

    /// [`Self::load`] from this queue's directory, already open (a parent listing its
    /// subdirectories opens them relative to itself).
    pub(crate) fn load_from(&self, dir: &mut DirHandle) -> Result<()> {
        let lazy = self.lazy;
        let entries = dir.entries().map_err(|e| StoreError::io(&self.dir, e))?;
        let mut found: Vec<(i64, PathBuf, u64)> = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.kind == Kind::Dir {
                continue;
            }
            let path = self.dir.join(&entry.name);
            let Some(offset) = entry
                .name
                .to_str()
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<i64>().ok())
            else {
                tracing::warn!(path = %path.display(), "ignoring a file whose name is not an offset");
                continue;
            };
            let (is_dir, len) = dir
                .stat(Path::new(&entry.name))
                .map_err(|e| StoreError::io(&path, e))?;
            if is_dir {
                continue;
            }
            found.push((offset, path, len));
        }
        found.sort_by_key(|(o, _, _)| *o);
        let mut files = Vec::with_capacity(found.len());
        let count = found.len();
        for (i, (offset, path, len)) in found.into_iter().enumerate() {
            if len == 0 && i == count - 1 {
                tracing::warn!(path = %path.display(), "deleting an empty last file");
                std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                continue;
            }
            if len != u64::from(self.file_size) {
                return Err(StoreError::corrupt(
                    &path,
                    0,
                    format!(
                        "file has {len} bytes but the configured file size is {}",
                        self.file_size
                    ),
                ));
            }
            if offset % i64::from(self.file_size) != 0 {
                return Err(StoreError::corrupt(
                    &path,
                    0,
                    "start offset is not a multiple of the file size",
                ));
            }
            let mf = if lazy {
                let mut mf = MappedFile::open_lazy(&self.fs, &path, offset, self.file_size);
                mf.set_random_access();
                mf
            } else {
                let mut mf = MappedFile::open(&self.fs, &path, offset, self.file_size)
                    .map_err(|e| StoreError::io(&path, e))?;
                if self.write_through {
                    mf.set_write_through();
                }
                mf
            };
            files.push(Arc::new(mf));
        }
        for w in files.windows(2) {
            if w[1].file_from_offset() != w[0].file_from_offset() + i64::from(self.file_size) {
                tracing::warn!(
                    prev = %w[0].path().display(),
                    next = %w[1].path().display(),
                    "files are not contiguous"
                );
            }
        }
        *self.write_files() = files;
        Ok(())
    }

    /// Snapshot of the files, oldest first.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.read_files().clone()
    }

    /// Runs `f` on every file, oldest first, under the read lock (no snapshot is allocated; `f`
    /// must not call back into this queue's mutating methods).
    pub fn for_each_file(&self, mut f: impl FnMut(&MappedFile)) {
        for file in self.read_files().iter() {
            f(file);
        }
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.read_files().len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.read_files().is_empty()
    }

    /// The oldest file.
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.read_files().first().cloned()
    }

    /// The newest file.
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.read_files().last().cloned()
    }

    /// The newest file if it has room; otherwise a new file after it (or, for an empty queue, the
    /// file containing `start_offset`).
    pub fn last_or_create(&self, start_offset: i64) -> Result<Arc<MappedFile>> {
        if let Some(last) = self.last() {
            if !last.is_full() {
                return Ok(last);
            }
        }
        let mut files = self.write_files();
        let (from, first_in_queue) = match files.last() {
            Some(last) if !last.is_full() => return Ok(Arc::clone(last)),
            Some(last) => (last.file_from_offset() + i64::from(self.file_size), false),
            None => (
                start_offset - start_offset.rem_euclid(i64::from(self.file_size)),
                true,
            ),
        };
        self.fs
            .create_dir_all(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        let path = self.dir.join(file_name(from));
        tracing::info!(path = %path.display(), "new mapped file (roll)");
        let mf = match self.allocator.get() {
            Some(a) => a.take(&path, from, self.file_size),
            _ => MappedFile::create(&self.fs, &path, from, self.file_size, first_in_queue),
        }
        .map_err(|e| StoreError::io(&path, e))?;
        let mut mf = mf;
        if self.lazy {
            mf.set_random_access();
        }
        if self.write_through {
            mf.set_write_through();
        }
        let mf = Arc::new(mf);
        files.push(Arc::clone(&mf));
        drop(files);
        self.request_after(&mf);
        Ok(mf)
    }

    /// The file holding global offset `offset`; with `first_if_not_found`, the oldest file when
    /// `offset` is below every file.
    pub fn find_by_offset(&self, offset: i64, first_if_not_found: bool) -> Option<Arc<MappedFile>> {
        let files = self.read_files();
        let first = files.first()?;
        let size = i64::from(self.file_size);
        if offset >= first.file_from_offset() {
            let idx = ((offset - first.file_from_offset()) / size) as usize;
            if let Some(f) = files.get(idx) {
                if offset >= f.file_from_offset() && offset < f.file_from_offset() + size {
                    return Some(Arc::clone(f));
                }
            }
            if let Some(f) = files
                .iter()
                .find(|f| offset >= f.file_from_offset() && offset < f.file_from_offset() + size)
            {
                return Some(Arc::clone(f));
            }
        }
        if first_if_not_found {
            Some(Arc::clone(first))
        } else {
            None
        }
    }

    /// Zero-copy bytes `[offset, offset + len)` if written and inside one file.
    pub fn read_bytes(&self, offset: i64, len: u32) -> Option<Bytes> {
        let f = self.find_by_offset(offset, false)?;
        let pos = (offset - f.file_from_offset()) as u32;
        f.slice_bytes(pos, len)
    }

    /// Global offset just past the last written byte (0 when empty).
    pub fn max_offset(&self) -> i64 {
        self.last()
            .map(|f| f.file_from_offset() + i64::from(f.wrote_position()))
            .unwrap_or(0)
    }

    /// Global offset of the first byte of the oldest file (`None` when empty).
    pub fn min_offset(&self) -> Option<i64> {
        self.first().map(|f| f.file_from_offset())
    }

    /// Offset up to which data is known to be on disk.
    pub fn flushed_where(&self) -> i64 {
        self.flushed_where.load(Ordering::Acquire)
    }

    /// Sets the flushed offset (recovery).
    pub fn set_flushed_where(&self, offset: i64) {
        self.flushed_where.store(offset, Ordering::Release);
    }

    /// Start of the file after the one holding `offset`.
    pub fn roll_next_file(&self, offset: i64) -> i64 {
        let size = i64::from(self.file_size);
        offset + size - offset.rem_euclid(size)
    }

    /// Flushes files from the flushed offset on, each only if it has `least_pages` dirty pages
    /// (0 = anything). Returns whether the flushed offset moved. An I/O error is returned as is:
    /// the caller poisons the store.
    pub fn flush(&self, least_pages: u32) -> std::io::Result<bool> {
        let before = self.flushed_where();
        let mut progressed = false;
        loop {
            let at = self.flushed_where();
            let Some(f) = self.find_by_offset(at, at == 0) else {
                break;
            };
            if !f.is_able_to_flush(least_pages) {
                break;
            }
            let pos = f.flush()?;
            let new_where = f.file_from_offset() + i64::from(pos);
            if new_where <= at {
                break;
            }
            self.flushed_where.store(new_where, Ordering::Release);
            progressed = true;
            if !f.is_full() {
                break;
            }
        }
        Ok(progressed && self.flushed_where() > before)
    }

    /// Syncs the written bytes of every file holding data at or after `offset` (after a crash
    /// recovery, before the checkpoint vouches for them).
    pub fn sync_from(&self, offset: i64) -> std::io::Result<()> {
        let size = i64::from(self.file_size);
        for f in self.files() {
            if f.file_from_offset() + size > offset {
                f.sync_written()?;
            }
        }
        Ok(())
    }

    /// Recovery: makes `offset` the end of the stream. The file holding it gets its positions set
    /// (and its stale tail zeroed); files starting after it are deleted.
    pub fn truncate_dirty(&self, offset: i64) -> Result<()> {
        self.truncate(offset, true, None)
    }

    /// [`Self::truncate_dirty`], zeroing through `tail_file`, the file holding `offset` already
    /// open (recovery's relative open). Without `zero_tail` (after a clean shutdown nothing past
    /// `offset` was ever written) the tail is not read back: that read dominated opening 100 000
    /// queues.
    pub(crate) fn truncate_with(
        &self,
        offset: i64,
        zero_tail: bool,
        tail_file: Option<&std::fs::File>,
    ) -> Result<()> {
        self.truncate(offset, zero_tail, tail_file)
    }

    fn truncate(
        &self,
        offset: i64,
        zero_tail: bool,
        tail_file: Option<&std::fs::File>,
    ) -> Result<()> {
        let mut files = self.write_files();
        let size = i64::from(self.file_size);
        let mut keep = Vec::with_capacity(files.len());
        for mut f in files.drain(..) {
            let from = f.file_from_offset();
            if from + size <= offset {
                keep.push(f);
                continue;
            }
            if offset >= from {
                let pos = (offset - from) as u32;
                let path = f.path().to_path_buf();
                let Some(mf) = Arc::get_mut(&mut f) else {
                    return Err(StoreError::corrupt(
                        path,
                        u64::from(pos),
                        "cannot truncate a file that is being read",
                    ));
                };
                mf.reset_positions(pos);
                if zero_tail {
                    mf.zero_unwritten_with(tail_file, pos, self.file_size)
                        .map_err(|e| StoreError::io(&path, e))?;
                }
                keep.push(f);
            } else {
                tracing::info!(path = %f.path().display(), "deleting a file past the recovered end");
                f.delete_file().map_err(|e| StoreError::io(f.path(), e))?;
            }
        }
        *files = keep;
        if self.flushed_where() > offset {
            self.set_flushed_where(offset);
        }
        Ok(())
    }

    /// Removes the given leading files from the queue and from disk.
    pub fn remove_files(&self, victims: &[Arc<MappedFile>]) -> usize {
        if victims.is_empty() {
            return 0;
        }
        let mut files = self.write_files();
        let before = files.len();
        files.retain(|f| !victims.iter().any(|v| Arc::ptr_eq(v, f)));
        drop(files);
        for v in victims {
            if let Err(e) = v.delete_file() {
                tracing::warn!(path = %v.path().display(), error = %e, "failed to delete an expired file");
            }
        }
        before - self.len()
    }

    /// Deletes every file and the directory.
    pub fn destroy(&self) -> Result<()> {
        let mut files = self.write_files();
        for f in files.drain(..) {
            f.delete_file().map_err(|e| StoreError::io(f.path(), e))?;
        }
        self.set_flushed_where(0);
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => Ok(()),
            Err(e) => Err(StoreError::io(&self.dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files roll at the configured size, are found by offset, and reload with their names.
    #[test]
    fn roll_find_reload() {
        let dir = tempfile::tempdir().unwrap();
        let q = MappedFileQueue::new(dir.path(), 4096, crate::fs::os());
        let f = q.last_or_create(0).unwrap();
        f.append_with(4096, 4096, |b| b.fill(1)).unwrap();
        let g = q.last_or_create(0).unwrap();
        assert_eq!(g.file_from_offset(), 4096);
        g.append_with(10, 10, |b| b.fill(2)).unwrap();
        assert_eq!(q.max_offset(), 4106);
        assert_eq!(
            q.find_by_offset(5000, false).unwrap().file_from_offset(),
            4096
        );
        assert!(q.find_by_offset(9000, false).is_none());
        assert_eq!(&q.read_bytes(4096, 2).unwrap()[..], &[2, 2]);
        assert!(q.flush(0).unwrap());
        assert_eq!(q.flushed_where(), 4106);
        assert!(dir.path().join("00000000000000004096").exists());

        let q2 = MappedFileQueue::new(dir.path(), 4096, crate::fs::os());
        q2.load().unwrap();
        assert_eq!(q2.len(), 2);
        q2.truncate_dirty(4100).unwrap();
        assert_eq!(q2.max_offset(), 4100);
        q2.truncate_dirty(100).unwrap();
        assert_eq!(q2.len(), 1);
        assert!(!dir.path().join("00000000000000004096").exists());
    }

    /// A file of the wrong size stops loading with a corruption error naming the file.
    #[test]
    fn wrong_size_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file_name(0)), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join(file_name(4096)), []).unwrap();
        let q = MappedFileQueue::new(dir.path(), 4096, crate::fs::os());
        assert!(matches!(q.load(), Err(StoreError::Corrupt { .. })));
    }
}
