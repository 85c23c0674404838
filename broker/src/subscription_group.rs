//! Subscription groups (Java `SubscriptionGroupManager`): per consumer group settings such as
//! retry queue count and max reconsume times, auto-created on first use when enabled, persisted
//! to `config/subscriptionGroup.json`. Members this broker does not interpret are kept as read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use remoting::protocol::body::DataVersion;
use serde::{Deserialize, Serialize};

use crate::persist;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    #[serde(default = "yes")]
    pub consume_broadcast_enable: bool,
    #[serde(default = "yes")]
    pub consume_enable: bool,
    #[serde(default = "yes")]
    pub consume_from_min_enable: bool,
    #[serde(default)]
    pub consume_message_orderly: bool,
    #[serde(default)]
    pub broker_id: i64,
    pub group_name: String,
    #[serde(default)]
    pub group_sys_flag: i32,
    #[serde(default = "yes")]
    pub notify_consumer_ids_changed_enable: bool,
    #[serde(default = "sixteen")]
    pub retry_max_times: i32,
    #[serde(default = "one")]
    pub retry_queue_nums: i32,
    #[serde(default = "one_i64")]
    pub which_broker_when_consume_slowly: i64,
    /// Other members (5.x attributes, retry policy, ...), carried through unchanged.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Java `TopicValidator.validateGroup`: not blank, only `[%|a-zA-Z0-9_-]`, at most 120 chars.
/// Java auto-creates no group that fails it.
pub fn is_valid_group(group: &str) -> bool {
    !group.trim().is_empty()
        && group.len() <= 120
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'-' | b'_' | b'|'))
}

fn yes() -> bool {
    true
}
fn sixteen() -> i32 {
    16
}
fn one() -> i32 {
    1
}
fn one_i64() -> i64 {
    1
}

impl SubscriptionGroupConfig {
    pub fn new(group: &str) -> Self {
        Self {
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            broker_id: 0,
            group_name: group.to_string(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
            extra: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupFile {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default)]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    #[serde(default)]
    pub forbidden_table: BTreeMap<String, serde_json::Value>,
}

pub struct SubscriptionGroupManager {
    path: PathBuf,
    auto_create: std::sync::atomic::AtomicBool,
    inner: RwLock<SubscriptionGroupFile>,
}

/// Groups a Java broker creates at start.
const SYSTEM_GROUPS: &[&str] = &[
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
];

impl SubscriptionGroupManager {
    pub fn load(store_root: &std::path::Path, auto_create: bool) -> Self {
        let path = persist::config_dir(store_root).join("subscriptionGroup.json");
        let mut file: SubscriptionGroupFile = persist::load(&path).unwrap_or_default();
        for g in SYSTEM_GROUPS {
            file.subscription_group_table
                .entry(g.to_string())
                .or_insert_with(|| SubscriptionGroupConfig::new(g));
        }
        let m = Self {
            path,
            auto_create: std::sync::atomic::AtomicBool::new(auto_create),
            inner: RwLock::new(file),
        };
        m.persist();
        m
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, SubscriptionGroupFile> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, SubscriptionGroupFile> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// `autoCreateSubscriptionGroup`, changeable at run time (UPDATE_BROKER_CONFIG).
    pub fn set_auto_create(&self, on: bool) {
        self.auto_create
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The group's config; created with defaults if missing and auto-creation is on.
    pub fn find_or_create(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        if let Some(g) = self.read().subscription_group_table.get(group) {
            return Some(g.clone());
        }
        if !self.auto_create.load(std::sync::atomic::Ordering::Relaxed) || !is_valid_group(group) {
            return None;
        }
        let cfg = SubscriptionGroupConfig::new(group);
        self.update(cfg.clone());
        tracing::info!(group, "auto create a subscription group");
        Some(cfg)
    }

    /// Every group name of the table.
    pub fn names(&self) -> Vec<String> {
        self.read()
            .subscription_group_table
            .keys()
            .cloned()
            .collect()
    }

    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.read().subscription_group_table.get(group).cloned()
    }

    pub fn update(&self, cfg: SubscriptionGroupConfig) {
        {
            let mut g = self.write();
            g.subscription_group_table
                .insert(cfg.group_name.clone(), cfg);
            g.data_version.counter += 1;
        }
        self.persist();
    }

    pub fn delete(&self, group: &str) -> bool {
        let removed = self
            .write()
            .subscription_group_table
            .remove(group)
            .is_some();
        if removed {
            self.persist();
        }
        removed
    }

    /// The whole table as GET_ALL_SUBSCRIPTIONGROUP_CONFIG answers it.
    pub fn snapshot_json(&self) -> serde_json::Value {
        serde_json::to_value(&*self.read()).unwrap_or_default()
    }

    pub fn persist(&self) {
        let result = {
            let g = self.read();
            persist::store(&self.path, &*g)
        };
        if let Err(e) = result {
            tracing::error!(path = %self.path.display(), error = %e, "persisting subscription groups failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_group;

    #[test]
    fn group_names_follow_java_validate_group() {
        assert!(is_valid_group("cg_1-%|A"));
        assert!(!is_valid_group(""));
        assert!(!is_valid_group("   "));
        assert!(!is_valid_group("bad@group"));
        assert!(is_valid_group(&"g".repeat(120)));
        assert!(!is_valid_group(&"g".repeat(121)));
    }
}
