//! Committed consumer offsets (Java `ConsumerOffsetManager`): `topic@group` -> queue id ->
//! next offset to consume. Persisted to `config/consumerOffset.json` periodically and at
//! shutdown; read back from Java's file, whose queue ids are bare numeric keys.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::persist;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetFile {
    #[serde(default)]
    offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

pub struct ConsumerOffsetManager {
    path: PathBuf,
    table: RwLock<HashMap<String, BTreeMap<i32, i64>>>,
    /// Offsets an admin reset assigned and the next pull of that queue must be told about
    /// (Java's server-side reset, `useServerSideResetOffset`).
    resets: RwLock<HashMap<(String, i32), i64>>,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsetManager {
    pub fn load(store_root: &std::path::Path) -> Self {
        let path = persist::config_dir(store_root).join("consumerOffset.json");
        let file: OffsetFile = persist::load(&path).unwrap_or_default();
        Self {
            path,
            table: RwLock::new(file.offset_table.into_iter().collect()),
            resets: RwLock::new(HashMap::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, BTreeMap<i32, i64>>> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, BTreeMap<i32, i64>>> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.write()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
    }

    /// An admin reset: the committed offset becomes `offset` and the next pull of the queue is
    /// answered PULL_OFFSET_MOVED towards it.
    pub fn assign_reset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.commit(group, topic, queue_id, offset);
        self.resets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert((key(topic, group), queue_id), offset);
    }

    /// The pending reset of a queue, removed as it is returned.
    pub fn take_reset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        {
            let r = self.resets.read().unwrap_or_else(|p| p.into_inner());
            if r.is_empty() {
                return None;
            }
        }
        self.resets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(key(topic, group), queue_id))
    }

    /// The committed offset, or -1 when there is none (Java's convention).
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> i64 {
        self.read()
            .get(&key(topic, group))
            .and_then(|m| m.get(&queue_id).copied())
            .unwrap_or(-1)
    }

    /// All offsets of one group on one topic.
    pub fn queue_offsets(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        self.read()
            .get(&key(topic, group))
            .cloned()
            .unwrap_or_default()
    }

    /// Groups with committed offsets on `topic`.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        self.read()
            .keys()
            .filter_map(|k| k.split_once('@'))
            .filter(|(t, _)| *t == topic)
            .map(|(_, g)| g.to_string())
            .collect()
    }

    /// Topics with committed offsets of `group`.
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        self.read()
            .keys()
            .filter_map(|k| k.split_once('@'))
            .filter(|(_, g)| *g == group)
            .map(|(t, _)| t.to_string())
            .collect()
    }

    pub fn remove_group(&self, group: &str) {
        self.write()
            .retain(|k, _| k.split_once('@').is_none_or(|(_, g)| g != group));
    }

    pub fn remove_topic(&self, topic: &str) {
        self.write()
            .retain(|k, _| k.split_once('@').is_none_or(|(t, _)| t != topic));
    }

    /// The whole table, as GET_ALL_CONSUMER_OFFSET answers it.
    pub fn snapshot(&self) -> BTreeMap<String, BTreeMap<i32, i64>> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn persist(&self) {
        let file = OffsetFile {
            offset_table: self.snapshot(),
        };
        if let Err(e) = persist::store(&self.path, &file) {
            tracing::error!(path = %self.path.display(), error = %e, "persisting consumer offsets failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_java_file_with_bare_keys_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("consumerOffset.json"),
            r#"{"offsetTable":{"TopicTest@g1":{0:12,1:7}}}"#,
        )
        .unwrap();
        let m = ConsumerOffsetManager::load(dir.path());
        assert_eq!(m.query("g1", "TopicTest", 1), 7);
        assert_eq!(m.query("g1", "TopicTest", 5), -1);
        m.commit("g1", "TopicTest", 1, 9);
        m.persist();
        let again = ConsumerOffsetManager::load(dir.path());
        assert_eq!(again.query("g1", "TopicTest", 1), 9);
        assert_eq!(again.query("g1", "TopicTest", 0), 12);
    }
}
