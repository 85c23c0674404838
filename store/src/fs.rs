//! The I/O seam: the few file-system operations whose failure the store must survive (creating and
//! sizing store files, creating directories, msync of a mapped range, fsync of a plain file) go
//! through a [`FileSystem`] so tests can make them fail on purpose. [`OsFileSystem`], the default,
//! performs the real calls; every method of the trait defaults to exactly that, so a fault injector
//! overrides only what it breaks and delegates the rest.
//!
//! It is not: a virtual file system. Reads of mapped bytes, the lock file and directory listing go
//! straight to the OS. A store gets its `FileSystem` once, at [`crate::MessageStore::open_with_fs`].

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

pub use crate::mapped_file::MappedRange;

/// File-system operations the store routes through a seam. Implementations must be cheap to
/// call; they run on the put, flush and dispatch paths.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates `path` and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    /// Opens `path` read-write; with `create`, creates it if missing (never truncates).
    fn open(&self, path: &Path, create: bool) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)
    }

    /// Gives a freshly created store file its length (sparse, as Java's `setLength`). A full disk
    /// shows up here when the file system cannot reserve the size.
    fn set_len(&self, path: &Path, file: &File, len: u64) -> io::Result<()> {
        let _ = path;
        file.set_len(len)
    }

    /// Writes the dirty pages of a mapped range to disk (msync). An error means the bytes may be
    /// lost; the store poisons itself.
    fn sync_mapped(&self, path: &Path, range: MappedRange<'_>) -> io::Result<()> {
        let _ = path;
        range.sync()
    }

    /// fsyncs the data of a plain file (checkpoint).
    fn sync_file(&self, path: &Path, file: &File) -> io::Result<()> {
        let _ = path;
        file.sync_data()
    }

    /// Syncs the file system holding `dir`, an open directory (`syncfs`): after a crash, the
    /// ConsumeQueue units the previous process wrote may be only in the page cache, in files this
    /// process never maps, and one call persists all of them.
    fn sync_fs(&self, path: &Path, dir: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
        let _ = path;
        rustix::fs::syncfs(dir)?;
        Ok(())
    }

    /// Used share, in percent, of the file system holding `path` (Java's measure); `None` if it
    /// cannot be measured. The retention service and the disk-full check read it.
    fn disk_used_percent(&self, path: &Path) -> Option<f64> {
        crate::cleanup::disk_used_percent(path)
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFileSystem;

impl FileSystem for OsFileSystem {}

/// The default seam as a shared handle.
pub fn os() -> Arc<dyn FileSystem> {
    Arc::new(OsFileSystem)
}
