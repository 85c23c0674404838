//! The map topic -> queue id -> `ConsumeQueue`, loaded from `<root>/consumequeue` and grown by
//! the dispatcher. Lookups take a read lock and do not allocate. Loading and the per-queue steps
//! of recovery ([`ConsumeQueueTable::par_for_each`]) run on a few threads: with 100 000 queues
//! they are a directory listing and a `pread` or two per queue, and that is what startup waits on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::ConsumeQueue;
use crate::dir::DirHandle;
use crate::error::{Result, StoreError};
use crate::fs::FileSystem;

type Queues = HashMap<String, HashMap<i32, Arc<ConsumeQueue>>>;

/// All ConsumeQueues of the store.
#[derive(Debug)]
pub struct ConsumeQueueTable {
    root: PathBuf,
    file_size: u32,
    fs: Arc<dyn FileSystem>,
    map: RwLock<Queues>,
}

impl ConsumeQueueTable {
    /// An empty table rooted at `root` (`<storePathRootDir>/consumequeue`).
    pub fn new(root: impl Into<PathBuf>, file_size: u32, fs: Arc<dyn FileSystem>) -> Self {
        ConsumeQueueTable {
            root: root.into(),
            file_size,
            fs,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// Root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Loads every `<topic>/<queueId>` directory (names that are not numbers are skipped). Files
    /// are found, not mapped; each directory is opened relative to its parent.
    #[cfg(test)]
    pub fn load(&self) -> Result<()> {
        self.load_recovering(None)
    }

    /// [`Self::load`], recovering each queue as it is loaded (`recover`), while its directory is
    /// open: opening a file by its name in an open directory skips the walk from `/` that made
    /// path lookups a seventh of the CPU of opening 100 000 queues. After a crash (`!clean`) the
    /// file system is synced once at the end (the previous process's units may be only in the
    /// page cache), instead of one fsync per queue file.
    pub(crate) fn load_recovering(&self, recover: Option<super::Recover>) -> Result<()> {
        let mut root = match DirHandle::open(&self.root) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) => return Err(StoreError::io(&self.root, e)),
        };
        let mut dirs = Vec::new();
        for topic in root.entries().map_err(|e| StoreError::io(&self.root, e))? {
            let tpath = self.root.join(&topic.name);
            if !root.is_dir(&topic).unwrap_or(false) {
                continue;
            }
            let Ok(tname) = topic.name.into_string() else {
                tracing::warn!(path = %tpath.display(), "skipping a topic directory whose name is not UTF-8");
                continue;
            };
            dirs.push((tname, tpath));
        }
        let map = Mutex::new(Queues::with_capacity(dirs.len()));
        parallel(&dirs, cpu_threads(), |(tname, tpath)| {
            let opened = root.open_in(Path::new(tname));
            let Some(mut tdir) = opened.map_err(|e| StoreError::io(tpath, e))? else {
                return Ok(());
            };
            let mut loaded = HashMap::new();
            for q in tdir.entries().map_err(|e| StoreError::io(tpath, e))? {
                let Some(qid) = q.name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if !tdir.is_dir(&q).unwrap_or(false) {
                    continue;
                }
                let cq =
                    ConsumeQueue::new(&self.root, tname, qid, self.file_size, Arc::clone(&self.fs));
                let qdir = tdir
                    .open_in(Path::new(&q.name))
                    .map_err(|e| StoreError::io(tpath.join(&q.name), e))?;
                if let Some(qdir) = qdir {
                    cq.load_from(qdir, recover)?;
                }
                loaded.insert(qid, Arc::new(cq));
            }
            if !loaded.is_empty() {
                map.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(tname.clone(), loaded);
            }
            Ok(())
        })?;
        *self.map.write().unwrap_or_else(PoisonError::into_inner) =
            map.into_inner().unwrap_or_else(PoisonError::into_inner);
        if recover.is_some_and(|r| !r.clean) {
            root.fd()
                .and_then(|fd| self.fs.sync_fs(&self.root, fd))
                .map_err(|e| StoreError::io(&self.root, e))?;
        }
        Ok(())
    }

    /// Runs `f` on every queue, spread over a few threads; the first error is returned.
    pub fn par_for_each(&self, f: impl Fn(&ConsumeQueue) -> Result<()> + Sync) -> Result<()> {
        parallel(&self.all(), cpu_threads(), |cq| f(cq))
    }

    /// Like [`Self::par_for_each`] with more threads, for steps that wait on the disk (flushing
    /// many queues: concurrent fsyncs share journal commits).
    pub fn par_for_each_io(&self, f: impl Fn(&ConsumeQueue) -> Result<()> + Sync) -> Result<()> {
        parallel(&self.all(), 8, |cq| f(cq))
    }

    /// Runs `f` on every queue on this thread, under the table's read lock (no snapshot is
    /// allocated; `f` must not create or remove queues).
    pub fn for_each(&self, mut f: impl FnMut(&ConsumeQueue)) {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        for queues in map.values() {
            for cq in queues.values() {
                f(cq);
            }
        }
    }

    /// The queue, if it exists.
    pub fn find(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.get(topic)?.get(&queue_id).cloned()
    }

    /// The queue, created (empty, no file yet) if missing.
    pub fn find_or_create(&self, topic: &str, queue_id: i32) -> Arc<ConsumeQueue> {
        if let Some(cq) = self.find(topic, queue_id) {
            return cq;
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(topic.to_string())
                .or_default()
                .entry(queue_id)
                .or_insert_with(|| {
                    Arc::new(ConsumeQueue::new(
                        &self.root,
                        topic,
                        queue_id,
                        self.file_size,
                        Arc::clone(&self.fs),
                    ))
                }),
        )
    }

    /// Every queue.
    pub fn all(&self) -> Vec<Arc<ConsumeQueue>> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.values().flat_map(|q| q.values().cloned()).collect()
    }

    /// Topics that have queues.
    pub fn topics(&self) -> Vec<String> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.keys().cloned().collect()
    }

    /// Removes one queue from the table (its files are left to the caller).
    pub fn remove(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let queues = map.get_mut(topic)?;
        let cq = queues.remove(&queue_id);
        if queues.is_empty() {
            map.remove(topic);
        }
        cq
    }

    /// Number of queues.
    pub fn len(&self) -> usize {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.values().map(HashMap::len).sum()
    }

    /// Removes a topic's queues from the table and returns them.
    pub fn remove_topic(&self, topic: &str) -> Vec<Arc<ConsumeQueue>> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(topic)
            .map(|q| q.into_values().collect())
            .unwrap_or_default()
    }
}

fn cpu_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8)
}

/// Runs `f` on every item on up to `threads` scoped threads (one per 512 items at least); small
/// inputs run inline. The first error is returned; a panic is passed on.
fn parallel<T: Sync>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    const MIN_PER_THREAD: usize = 512;
    let threads = threads.min(items.len() / MIN_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().try_for_each(&f);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().try_for_each(&f)))
            .collect();
        let mut result = Ok(());
        for h in handles {
            match h.join() {
                Ok(Err(e)) if result.is_ok() => result = Err(e),
                Ok(_) => {}
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loading finds every queue of many topics (enough to go parallel) without mapping files,
    /// and `par_for_each` visits each queue once.
    #[test]
    fn parallel_load() {
        let dir = tempfile::tempdir().unwrap();
        let t = ConsumeQueueTable::new(dir.path(), 60, crate::fs::os());
        for topic in 0..700 {
            let cq = t.find_or_create(&format!("T{topic}"), topic % 3);
            cq.put(
                crate::consume_queue::CqUnit {
                    phy_offset: i64::from(topic) * 100,
                    size: 100,
                    tags_code: 0,
                },
                0,
            )
            .unwrap();
            cq.flush(0).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("T1/not-a-queue")).unwrap();
        let t2 = ConsumeQueueTable::new(dir.path(), 60, crate::fs::os());
        t2.load().unwrap();
        assert_eq!(t2.len(), 700);
        let visited = std::sync::atomic::AtomicUsize::new(0);
        t2.par_for_each(|cq| {
            cq.recover()?;
            assert_eq!(cq.max_offset_in_queue(), 1);
            visited.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
        assert_eq!(visited.into_inner(), 700);
        let cq = t2.find("T5", 2).unwrap();
        assert_eq!(cq.unit_at(0).unwrap().phy_offset, 500);
    }
}
