//! A [`FileSystem`] that fails chosen operations on demand: msync/fsync of files under a
//! directory (EIO, or ENOSPC as a delayed allocation failing at writeback), or sizing of new files
//! under a directory (ENOSPC). Everything else goes to the real file system.
#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;

use store::fs::{FileSystem, MappedRange};

/// Fault injector; arm and disarm at any time from the test.
#[derive(Debug, Default)]
pub struct FaultyFs {
    fail_sync_under: Mutex<Option<PathBuf>>,
    fail_create_under: Mutex<Option<PathBuf>>,
    /// Files whose name is this or lower are still created.
    spare_up_to: Mutex<Option<String>>,
    failed_syncs: AtomicU64,
    /// File-system syncs asked for (`sync_fs`), failed or not.
    fs_syncs: AtomicU64,
    failed_creates: AtomicU64,
    /// errno of failed syncs (0 = EIO).
    sync_errno: AtomicI32,
    /// File, offset and length of the last msync made to fail.
    last_failed_range: Mutex<Option<(PathBuf, usize, usize)>>,
}

fn under(slot: &Mutex<Option<PathBuf>>, path: &Path) -> bool {
    slot.lock()
        .unwrap()
        .as_ref()
        .is_some_and(|dir| path.starts_with(dir))
}

impl FaultyFs {
    /// msync/fsync of files under `dir` fails with EIO from now on.
    pub fn fail_sync_under(&self, dir: &Path) {
        *self.fail_sync_under.lock().unwrap() = Some(dir.to_path_buf());
    }

    /// msync/fsync of files under `dir` fails with ENOSPC from now on.
    pub fn fail_sync_enospc_under(&self, dir: &Path) {
        self.sync_errno.store(28, Ordering::SeqCst);
        self.fail_sync_under(dir);
    }

    /// File, offset and length of the last mapped range whose msync was made to fail.
    pub fn last_failed_range(&self) -> Option<(PathBuf, usize, usize)> {
        self.last_failed_range.lock().unwrap().clone()
    }

    fn sync_error(&self) -> io::Error {
        match self.sync_errno.load(Ordering::SeqCst) {
            0 => io::Error::from_raw_os_error(5), // EIO
            e => io::Error::from_raw_os_error(e),
        }
    }

    /// Creating (sizing) a new file under `dir` fails with ENOSPC from now on.
    pub fn fail_create_under(&self, dir: &Path) {
        *self.fail_create_under.lock().unwrap() = Some(dir.to_path_buf());
    }

    /// Creating a new file under `dir` whose name sorts after `spare` fails with ENOSPC from now
    /// on (store file names are zero-padded offsets, so this spares the first files).
    pub fn fail_create_after(&self, dir: &Path, spare: &str) {
        *self.spare_up_to.lock().unwrap() = Some(spare.to_string());
        self.fail_create_under(dir);
    }

    /// Stops failing creations.
    pub fn heal_create(&self) {
        *self.fail_create_under.lock().unwrap() = None;
    }

    /// How many syncs were made to fail.
    pub fn failed_syncs(&self) -> u64 {
        self.failed_syncs.load(Ordering::SeqCst)
    }

    /// How many times a whole file system was synced (`sync_fs`).
    pub fn fs_syncs(&self) -> u64 {
        self.fs_syncs.load(Ordering::SeqCst)
    }

    /// How many creations were made to fail.
    pub fn failed_creates(&self) -> u64 {
        self.failed_creates.load(Ordering::SeqCst)
    }
}

impl FileSystem for FaultyFs {
    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        let spared = match (&*self.spare_up_to.lock().unwrap(), path.file_name()) {
            (Some(spare), Some(name)) => name.to_string_lossy().as_ref() <= spare.as_str(),
            _ => false,
        };
        if under(&self.fail_create_under, path) && !spared {
            self.failed_creates.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        file.set_len(len)
    }

    fn sync_mapped(&self, path: &Path, range: MappedRange<'_>) -> io::Result<()> {
        if under(&self.fail_sync_under, path) {
            self.failed_syncs.fetch_add(1, Ordering::SeqCst);
            *self.last_failed_range.lock().unwrap() =
                Some((path.to_path_buf(), range.offset(), range.len()));
            // As after a real writeback error: the kernel may have dropped the dirty pages.
            return Err(self.sync_error());
        }
        range.sync()
    }

    fn sync_fs(&self, path: &Path, dir: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
        self.fs_syncs.fetch_add(1, Ordering::SeqCst);
        if under(&self.fail_sync_under, path) {
            self.failed_syncs.fetch_add(1, Ordering::SeqCst);
            return Err(self.sync_error());
        }
        rustix::fs::syncfs(dir)?;
        Ok(())
    }

    fn sync_file(&self, path: &Path, file: &File) -> io::Result<()> {
        if under(&self.fail_sync_under, path) {
            self.failed_syncs.fetch_add(1, Ordering::SeqCst);
            return Err(self.sync_error());
        }
        file.sync_data()
    }
}
