//! KV configuration: namespace -> key -> value, persisted as Java's `kvConfig.json`
//! (`{"configTable":{ns:{k:v}}}`) after every change, written to a temporary file and renamed
//! so a crash never leaves a half-written file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvConfigFile {
    #[serde(default)]
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

pub struct KvConfigManager {
    path: Option<PathBuf>,
    table: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
}

impl KvConfigManager {
    /// Loads `path` if it exists; `None` keeps the table in memory only.
    pub fn load(path: Option<PathBuf>) -> Self {
        let mut table = BTreeMap::new();
        if let Some(p) = &path {
            match std::fs::read(p) {
                Ok(bytes) => match serde_json::from_slice::<KvConfigFile>(&bytes) {
                    Ok(f) => {
                        tracing::info!(path = %p.display(), namespaces = f.config_table.len(), "loaded KV config");
                        table = f.config_table;
                    }
                    Err(e) => {
                        tracing::warn!(path = %p.display(), error = %e, "ignoring unreadable KV config file")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "cannot read KV config file")
                }
            }
        }
        Self {
            path,
            table: RwLock::new(table),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, BTreeMap<String, String>>> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, BTreeMap<String, String>>> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn put(&self, namespace: &str, key: &str, value: &str) {
        let mut t = self.write();
        t.entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
        tracing::info!(namespace, key, value, "putKVConfig");
        self.persist(&t);
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.read().get(namespace).and_then(|m| m.get(key)).cloned()
    }

    pub fn delete(&self, namespace: &str, key: &str) {
        let mut t = self.write();
        if let Some(m) = t.get_mut(namespace) {
            if m.remove(key).is_some() {
                tracing::info!(namespace, key, "deleteKVConfig");
            }
        }
        self.persist(&t);
    }

    /// The namespace's table, or `None` if the namespace does not exist.
    pub fn list(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.read().get(namespace).cloned()
    }

    fn persist(&self, table: &BTreeMap<String, BTreeMap<String, String>>) {
        let Some(path) = &self.path else { return };
        let file = KvConfigFile {
            config_table: table.clone(),
        };
        if let Err(e) =
            write_atomically(path, &serde_json::to_vec_pretty(&file).unwrap_or_default())
        {
            tracing::error!(path = %path.display(), error = %e, "persisting KV config failed");
        }
    }
}

/// Writes `bytes` to `path` via a temporary sibling, fsync and rename.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_reloads_in_java_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("namesrv/kvConfig.json");
        let kv = KvConfigManager::load(Some(path.clone()));
        kv.put("ns", "k", "v");
        kv.put("ns", "k2", "v2");
        kv.delete("ns", "k2");
        let raw = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(v["configTable"]["ns"]["k"], "v");
        let again = KvConfigManager::load(Some(path));
        assert_eq!(again.get("ns", "k").as_deref(), Some("v"));
        assert_eq!(again.get("ns", "k2"), None);
        assert!(again.list("other").is_none());
    }
}
