//! Background creation of the next CommitLog file (Java `AllocateMappedFileService`). When the
//! writer starts using a file, the file after it is requested here; a worker thread creates and
//! maps it and touches its first MiB (with `warmMapedFileEnable`, every page), so a roll only takes
//! a ready file instead of waiting for open + size + mmap and the first page faults.
//!
//! Requests are keyed by path. Taking a file that is still being made waits for it; taking one
//! that was never requested, whose request has not started yet, or whose creation failed, creates
//! it on the caller's thread (so a transient ENOSPC is retried once, and the caller sees the real
//! error). At shutdown the files made but never taken are deleted, as Java does: an unused file
//! would otherwise sit past the end of the CommitLog (recovery would delete it anyway).
//!
//! It is not used for ConsumeQueue files: those are small and created by the dispatcher.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::fs::FileSystem;
use crate::mapped_file::MappedFile;

/// Bytes at the head of every new file touched in the background even without warming. The
/// first write faults into a fresh sparse file are the slow ones (on ext4 they wait for the
/// journal commit of the fsync that the just-filled file triggers: 3 to 20 ms measured), so
/// taking them off the writer is what makes a roll cheap; 1 MiB costs nothing on disk.
const PREFAULT_BYTES: u32 = 1024 * 1024;

/// What to do to a fresh file before handing it out.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WarmPolicy {
    /// Touch every page (`warmMapedFileEnable`).
    pub warm: bool,
    /// With `warm`, msync every this many pages (`flushLeastPagesWhenWarmMapedFile`, applied under
    /// SYNC_FLUSH as in Java); 0 = never.
    pub flush_every_pages: u32,
}

#[derive(Debug)]
struct Slot {
    from: i64,
    size: u32,
    /// `None` while queued or being made.
    result: Option<io::Result<MappedFile>>,
}

#[derive(Debug, Default)]
struct State {
    /// Paths requested and not started yet, oldest first.
    queue: VecDeque<PathBuf>,
    slots: HashMap<PathBuf, Slot>,
    stopped: bool,
}

/// The allocation service.
#[derive(Debug)]
pub(crate) struct Allocator {
    fs: Arc<dyn FileSystem>,
    policy: WarmPolicy,
    state: Mutex<State>,
    /// Signals the worker (new request, stop) and takers (a file is done).
    cv: Condvar,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Allocator {
    /// Starts the service and its worker thread.
    pub(crate) fn start(fs: Arc<dyn FileSystem>, policy: WarmPolicy) -> io::Result<Arc<Self>> {
        let a = Arc::new(Allocator {
            fs,
            policy,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            worker: Mutex::new(None),
        });
        let worker = Arc::clone(&a);
        let handle = std::thread::Builder::new()
            .name("store-allocate".to_string())
            .spawn(move || worker.run())?;
        *a.worker.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(a)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn create(&self, path: &Path, from: i64, size: u32) -> io::Result<MappedFile> {
        let mut mf = MappedFile::create(&self.fs, path, from, size, false)?;
        if self.policy.warm {
            mf.prefault(size, self.policy.flush_every_pages)?;
        } else {
            mf.prefault(PREFAULT_BYTES, 0)?;
        }
        Ok(mf)
    }

    /// Asks for `path` (starting at `from`, `size` bytes) to be made in the background. A path
    /// already requested is not requested twice.
    pub(crate) fn request(&self, path: PathBuf, from: i64, size: u32) {
        let mut st = self.lock();
        if st.stopped || st.slots.contains_key(&path) {
            return;
        }
        st.slots.insert(
            path.clone(),
            Slot {
                from,
                size,
                result: None,
            },
        );
        st.queue.push_back(path);
        drop(st);
        self.cv.notify_all();
    }

    /// The file at `path`: the prepared one if it was requested (waiting while it is being made),
    /// else made now on this thread.
    pub(crate) fn take(&self, path: &Path, from: i64, size: u32) -> io::Result<MappedFile> {
        let mut st = self.lock();
        if st
            .slots
            .get(path)
            .is_some_and(|s| s.from != from || s.size != size)
        {
            // A stale request for the same name with other dimensions: make it fresh.
            st.slots.remove(path);
            st.queue.retain(|p| p != path);
        }
        if st.queue.iter().any(|p| p == path) {
            // Not started yet: do it here rather than wait behind the worker.
            st.queue.retain(|p| p != path);
            st.slots.remove(path);
            drop(st);
            return self.create(path, from, size);
        }
        if !st.slots.contains_key(path) {
            drop(st);
            return self.create(path, from, size);
        }
        loop {
            let done = st.slots.get(path).map(|s| s.result.is_some());
            match done {
                Some(true) | None => break,
                Some(false) => {
                    st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        let slot = st.slots.remove(path);
        drop(st);
        match slot.and_then(|s| s.result) {
            Some(Ok(mf)) => Ok(mf),
            Some(Err(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "background creation failed; retrying on the writer's thread");
                self.create(path, from, size)
            }
            None => self.create(path, from, size),
        }
    }

    fn run(&self) {
        loop {
            let mut st = self.lock();
            let next = loop {
                if st.stopped {
                    return;
                }
                if let Some(p) = st.queue.pop_front() {
                    break p;
                }
                st = self.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
            };
            let Some((from, size)) = st.slots.get(&next).map(|s| (s.from, s.size)) else {
                continue;
            };
            drop(st);
            let started = std::time::Instant::now();
            let result = self.create(&next, from, size);
            match &result {
                Ok(_) => {
                    tracing::debug!(path = %next.display(), warm = self.policy.warm, micros = started.elapsed().as_micros() as u64, "next CommitLog file ready")
                }
                Err(e) => {
                    tracing::error!(path = %next.display(), error = %e, "cannot create the next CommitLog file in the background")
                }
            }
            let mut st = self.lock();
            match st.slots.get_mut(&next) {
                Some(slot) => slot.result = Some(result),
                None => {
                    // Cancelled while being made.
                    if let Ok(mf) = result {
                        let _ = mf.delete_file();
                    }
                }
            }
            drop(st);
            self.cv.notify_all();
        }
    }

    /// Stops the worker and deletes the files made but never taken.
    pub(crate) fn shutdown(&self) {
        self.lock().stopped = true;
        self.cv.notify_all();
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        let slots: Vec<_> = {
            let mut st = self.lock();
            st.queue.clear();
            st.slots.drain().collect()
        };
        for (path, slot) in slots {
            if let Some(Ok(mf)) = slot.result {
                tracing::info!(path = %path.display(), "deleting a preallocated CommitLog file that was never used");
                if let Err(e) = mf.delete_file() {
                    tracing::warn!(path = %path.display(), error = %e, "cannot delete a preallocated file");
                }
            }
        }
    }
}

impl Drop for Allocator {
    fn drop(&mut self) {
        // The worker holds an `Arc` to us, so by the time this runs it has exited.
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (path, slot) in st.slots.drain() {
            if let Some(Ok(mf)) = slot.result {
                let _ = mf.delete_file();
                tracing::debug!(path = %path.display(), "deleted an unused preallocated file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A requested file is made in the background and handed out; an unrequested one is made
    /// inline; files never taken are deleted at shutdown.
    #[test]
    fn request_take_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let a = Allocator::start(crate::fs::os(), WarmPolicy::default()).unwrap();
        let p1 = dir.path().join("00000000000000004096");
        a.request(p1.clone(), 4096, 4096);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !p1.exists() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        let f1 = a.take(&p1, 4096, 4096).unwrap();
        assert_eq!(f1.file_from_offset(), 4096);
        assert_eq!(f1.wrote_position(), 0);
        let p0 = dir.path().join("00000000000000000000");
        let f0 = a.take(&p0, 0, 4096).unwrap();
        assert_eq!(f0.file_size(), 4096);
        let p2 = dir.path().join("00000000000000008192");
        a.request(p2.clone(), 8192, 4096);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !p2.exists() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        a.shutdown();
        assert!(!p2.exists(), "an untaken file is deleted at shutdown");
        assert!(p1.exists() && p0.exists(), "taken files stay");
    }

    /// Warming touches every page and leaves the file reading as zeros with position 0.
    #[test]
    fn warm_file() {
        let dir = tempfile::tempdir().unwrap();
        let policy = WarmPolicy {
            warm: true,
            flush_every_pages: 2,
        };
        let a = Allocator::start(crate::fs::os(), policy).unwrap();
        let p = dir.path().join("00000000000000000000");
        let f = a.take(&p, 0, 5 * 4096).unwrap();
        assert_eq!(f.wrote_position(), 0);
        f.append_with(4, 4, |b| b.copy_from_slice(&[0, 0, 0, 0]))
            .unwrap();
        assert_eq!(f.read(0, 4).unwrap(), &[0, 0, 0, 0]);
        a.shutdown();
    }
}
