//! The map topic -> queue id -> `ConsumeQueue`, loaded from `<root>/consumequeue` and grown by
//! the dispatcher. Lookups take a read lock and do not allocate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use super::ConsumeQueue;
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

    /// Loads every `<topic>/<queueId>` directory (names that are not numbers are skipped).
    pub fn load(&self) -> Result<()> {
        let topics = match std::fs::read_dir(&self.root) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(&self.root, e)),
        };
        let mut map = Queues::new();
        for topic in topics {
            let topic = topic.map_err(|e| StoreError::io(&self.root, e))?;
            let tpath = topic.path();
            if !tpath.is_dir() {
                continue;
            }
            let Some(tname) = topic.file_name().to_str().map(str::to_string) else {
                tracing::warn!(path = %tpath.display(), "skipping a topic directory whose name is not UTF-8");
                continue;
            };
            let queues = std::fs::read_dir(&tpath).map_err(|e| StoreError::io(&tpath, e))?;
            for q in queues {
                let q = q.map_err(|e| StoreError::io(&tpath, e))?;
                let Some(qid) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if !q.path().is_dir() {
                    continue;
                }
                let cq = ConsumeQueue::new(
                    &self.root,
                    &tname,
                    qid,
                    self.file_size,
                    Arc::clone(&self.fs),
                );
                cq.load()?;
                map.entry(tname.clone())
                    .or_default()
                    .insert(qid, Arc::new(cq));
            }
        }
        *self.map.write().unwrap_or_else(PoisonError::into_inner) = map;
        Ok(())
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

    /// Removes a topic's queues from the table and returns them.
    pub fn remove_topic(&self, topic: &str) -> Vec<Arc<ConsumeQueue>> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(topic)
            .map(|q| q.into_values().collect())
            .unwrap_or_default()
    }
}
