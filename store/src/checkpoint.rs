//! The `checkpoint` file (4 KiB, big-endian i64s: physicMsgTimestamp @0, logicsMsgTimestamp @8,
//! indexMsgTimestamp @16, masterFlushedOffset @24, confirmPhyOffset @32), the `abort` marker that
//! says the last run did not shut down cleanly (it holds the pid), and the `lock` file.
//! Each timestamp promises: every record stored at or before it is flushed in that structure.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::fs::FileSystem;

/// Size of the checkpoint file (one OS page, as Java maps it).
pub const CHECKPOINT_FILE_SIZE: u64 = 4096;

/// In-memory copy of the checkpoint, written back by [`StoreCheckpoint::flush`].
#[derive(Debug)]
pub struct StoreCheckpoint {
    path: PathBuf,
    fs: Arc<dyn FileSystem>,
    file: File,
    physic_msg_timestamp: AtomicI64,
    logics_msg_timestamp: AtomicI64,
    index_msg_timestamp: AtomicI64,
    master_flushed_offset: AtomicI64,
    confirm_phy_offset: AtomicI64,
}

impl StoreCheckpoint {
    /// Opens (or creates, zero-filled) the checkpoint at `path`.
    pub fn open(path: &Path, fs: Arc<dyn FileSystem>) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
        let mut head = [0u8; 40];
        if len >= 40 {
            file.read_exact(&mut head)
                .map_err(|e| StoreError::io(path, e))?;
        } else if len > 0 {
            // Java maps 4 KiB; fewer bytes than our fields means a foreign or torn file.
            tracing::warn!(path = %path.display(), len, "short checkpoint file; treating missing fields as 0");
            let mut partial = Vec::new();
            file.read_to_end(&mut partial)
                .map_err(|e| StoreError::io(path, e))?;
            head[..partial.len().min(40)].copy_from_slice(&partial[..partial.len().min(40)]);
        }
        if len < CHECKPOINT_FILE_SIZE {
            file.set_len(CHECKPOINT_FILE_SIZE)
                .map_err(|e| StoreError::io(path, e))?;
        }
        let field = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[i * 8..i * 8 + 8]);
            AtomicI64::new(i64::from_be_bytes(b))
        };
        Ok(StoreCheckpoint {
            path: path.to_path_buf(),
            fs,
            file,
            physic_msg_timestamp: field(0),
            logics_msg_timestamp: field(1),
            index_msg_timestamp: field(2),
            master_flushed_offset: field(3),
            confirm_phy_offset: field(4),
        })
    }

    /// Writes the fields and fsyncs.
    pub fn flush(&self) -> Result<()> {
        let mut buf = [0u8; 40];
        for (i, v) in [
            self.physic_msg_timestamp(),
            self.logics_msg_timestamp(),
            self.index_msg_timestamp(),
            self.master_flushed_offset.load(Ordering::Acquire),
            self.confirm_phy_offset(),
        ]
        .iter()
        .enumerate()
        {
            buf[i * 8..i * 8 + 8].copy_from_slice(&v.to_be_bytes());
        }
        self.file
            .write_all_at(&buf, 0)
            .map_err(|e| StoreError::io(&self.path, e))?;
        self.fs
            .sync_file(&self.path, &self.file)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Store time of the last CommitLog record known flushed.
    pub fn physic_msg_timestamp(&self) -> i64 {
        self.physic_msg_timestamp.load(Ordering::Acquire)
    }

    /// Sets the CommitLog timestamp.
    pub fn set_physic_msg_timestamp(&self, ts: i64) {
        self.physic_msg_timestamp.store(ts, Ordering::Release);
    }

    /// Store time of the last record whose ConsumeQueue unit is known flushed.
    pub fn logics_msg_timestamp(&self) -> i64 {
        self.logics_msg_timestamp.load(Ordering::Acquire)
    }

    /// Sets the ConsumeQueue timestamp.
    pub fn set_logics_msg_timestamp(&self, ts: i64) {
        self.logics_msg_timestamp.store(ts, Ordering::Release);
    }

    /// Store time of the last record whose index entries are known flushed.
    pub fn index_msg_timestamp(&self) -> i64 {
        self.index_msg_timestamp.load(Ordering::Acquire)
    }

    /// Sets the index timestamp.
    pub fn set_index_msg_timestamp(&self, ts: i64) {
        self.index_msg_timestamp.store(ts, Ordering::Release);
    }

    /// 5.x confirm offset.
    pub fn confirm_phy_offset(&self) -> i64 {
        self.confirm_phy_offset.load(Ordering::Acquire)
    }

    /// Sets the 5.x confirm offset.
    pub fn set_confirm_phy_offset(&self, offset: i64) {
        self.confirm_phy_offset.store(offset, Ordering::Release);
    }

    /// Java `getMinTimestamp`: min(physic, logics) - 3 s, floored at 0. Records stored before
    /// this are safe in both the CommitLog and the ConsumeQueues.
    pub fn min_timestamp(&self) -> i64 {
        (self.physic_msg_timestamp().min(self.logics_msg_timestamp()) - 3000).max(0)
    }

    /// Java `getMinTimestampIndex`: also bounded by the index timestamp.
    pub fn min_timestamp_index(&self) -> i64 {
        self.min_timestamp().min(self.index_msg_timestamp())
    }
}

/// Whether the abort file exists (the previous run did not shut down cleanly).
pub fn abort_file_exists(path: &Path) -> bool {
    path.exists()
}

/// Creates the abort file holding our pid, fsynced.
pub fn create_abort_file(path: &Path) -> Result<()> {
    let mut f = File::create(path).map_err(|e| StoreError::io(path, e))?;
    f.write_all(std::process::id().to_string().as_bytes())
        .map_err(|e| StoreError::io(path, e))?;
    f.sync_all().map_err(|e| StoreError::io(path, e))
}

/// Removes the abort file (clean shutdown).
pub fn remove_abort_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Holds the store's `lock` file with a POSIX record lock, the kind Java's `FileChannel.tryLock`
/// takes, so a Java broker and this store exclude each other. Released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock or fails with [`StoreError::Locked`].
    pub fn acquire(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::io(path, e))?;
        match rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {
                return Err(StoreError::Locked(path.to_path_buf()))
            }
            Err(e) => return Err(StoreError::io(path, e.into())),
        }
        file.write_all_at(b"lock", 0)
            .map_err(|e| StoreError::io(path, e))?;
        file.flush().map_err(|e| StoreError::io(path, e))?;
        Ok(StoreLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields land at Java's byte positions, big-endian, in a 4 KiB file, and read back.
    #[test]
    fn layout_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint");
        let c = StoreCheckpoint::open(&p, crate::fs::os()).unwrap();
        c.set_physic_msg_timestamp(0x0102);
        c.set_logics_msg_timestamp(10_000);
        c.set_index_msg_timestamp(3);
        c.set_confirm_phy_offset(77);
        c.flush().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert_eq!(&bytes[0..8], &0x0102i64.to_be_bytes());
        assert_eq!(&bytes[8..16], &10_000i64.to_be_bytes());
        assert_eq!(&bytes[16..24], &3i64.to_be_bytes());
        assert_eq!(&bytes[32..40], &77i64.to_be_bytes());
        drop(c);
        let c = StoreCheckpoint::open(&p, crate::fs::os()).unwrap();
        assert_eq!(c.logics_msg_timestamp(), 10_000);
        assert_eq!(c.min_timestamp(), 0);
        c.set_physic_msg_timestamp(20_000);
        assert_eq!(c.min_timestamp(), 7_000);
    }

    /// The abort file holds the pid and can be removed twice.
    #[test]
    fn abort_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abort");
        create_abort_file(&p).unwrap();
        assert!(abort_file_exists(&p));
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            std::process::id().to_string()
        );
        remove_abort_file(&p).unwrap();
        remove_abort_file(&p).unwrap();
        assert!(!abort_file_exists(&p));
    }
}
