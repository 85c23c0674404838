//! Topic configuration (Java `TopicConfigManager`): the broker's topics with their queue
//! counts and permissions, persisted to `config/topics.json` after every change, and the
//! `DataVersion` the nameserver uses to notice changes.
//!
//! Invariant: every change bumps the data version before it is persisted or registered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::RwLock;

use remoting::protocol::body::{perm, DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use serde::{Deserialize, Serialize};

use crate::config::BrokerSettings;
use crate::persist;

pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const ROCKSDB_TRANS_HALF_TOPIC: &str = "RMQ_SYS_ROCKSDB_TRANS_HALF_TOPIC";
pub const ROCKSDB_TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_ROCKSDB_TRANS_OP_HALF_TOPIC";
pub const REVIVE_TOPIC_PREFIX: &str = "rmq_sys_REVIVE_LOG_";
pub const SYNC_BROKER_MEMBER_PREFIX: &str = "rmq_sys_SYNC_BROKER_MEMBER_";
/// Java BrokerConfig.reviveQueueNum default.
const REVIVE_QUEUE_NUM: i32 = 8;
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Java `TopicValidator.RMQ_SYS_TRACE_TOPIC`.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// Java `TopicValidator.RMQ_SYS_ROCKSDB_OFFSET_TOPIC`.
pub const ROCKSDB_OFFSET_TOPIC: &str = "CHECKPOINT_TOPIC";
/// Java `TopicValidator.SYSTEM_TOPIC_PREFIX`: every topic named so is a system topic.
pub const SYSTEM_TOPIC_PREFIX: &str = "rmq_sys_";

/// The names in Java's `TopicValidator` system topic set before a broker adds its own.
pub const STATIC_SYSTEM_TOPICS: &[&str] = &[
    AUTO_CREATE_TOPIC_KEY,
    SCHEDULE_TOPIC,
    BENCHMARK_TOPIC,
    TRANS_HALF_TOPIC,
    TRACE_TOPIC,
    TRANS_OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
    SELF_TEST_TOPIC,
    OFFSET_MOVED_EVENT,
    ROCKSDB_OFFSET_TOPIC,
];

/// Topics a producer may not send to (NO_PERMISSION).
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | SELF_TEST_TOPIC
            | OFFSET_MOVED_EVENT
    )
}

/// Java's `TopicValidator.validateTopic`: the remark for an invalid name, `None` if valid.
pub fn validate_topic(topic: &str) -> Option<String> {
    if topic.trim().is_empty() {
        return Some("The specified topic is blank.".into());
    }
    let legal = topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'-' | b'_' | b'|'));
    if !legal {
        return Some(format!(
            "The specified topic: {topic}, contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    if topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) || topic.starts_with(DLQ_GROUP_TOPIC_PREFIX) {
        if topic.len() > 255 {
            return Some(format!(
                "The specified topic is DLQ or Retry topic: {topic}, and it's longer than topic max length: 255"
            ));
        }
    } else if topic.len() > 127 {
        return Some(format!(
            "The specified topic: {topic}, is longer than topic max length: 127"
        ));
    }
    None
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopicsFile {
    #[serde(default)]
    data_version: DataVersion,
    #[serde(default)]
    topic_config_table: BTreeMap<String, TopicConfig>,
}

struct Inner {
    topics: BTreeMap<String, TopicConfig>,
    version: DataVersion,
}

pub struct TopicConfigManager {
    path: PathBuf,
    inner: RwLock<Inner>,
    /// Java's system topic set: the static names plus every topic created at start (fixed
    /// after `load`).
    system: BTreeSet<String>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl TopicConfigManager {
    /// Loads `config/topics.json` and adds the system topics a Java broker creates at start.
    pub fn load(settings: &BrokerSettings) -> Self {
        let path = persist::config_dir(&settings.store_root).join("topics.json");
        let file: TopicsFile = persist::load(&path).unwrap_or_default();
        let mut topics = file.topic_config_table;
        let mut system_set: BTreeSet<String> =
            STATIC_SYSTEM_TOPICS.iter().map(|t| t.to_string()).collect();
        let mut system = |name: &str, queues: i32, p: i32| {
            system_set.insert(name.to_string());
            topics.entry(name.to_string()).or_insert_with(|| {
                let mut t = TopicConfig::new(name, queues);
                t.perm = p;
                t
            });
        };
        let rw = perm::READ | perm::WRITE;
        system(SELF_TEST_TOPIC, 1, rw);
        if settings.auto_create_topic_enable {
            system(
                AUTO_CREATE_TOPIC_KEY,
                settings.default_topic_queue_nums,
                perm::INHERIT | rw,
            );
        }
        system(BENCHMARK_TOPIC, 1024, rw);
        let cluster_perm = perm::INHERIT | if settings.cluster_topic_enable { rw } else { 0 };
        system(&settings.cluster_name, 16, cluster_perm);
        let broker_perm = perm::INHERIT | if settings.broker_topic_enable { rw } else { 0 };
        system(&settings.broker_name, 1, broker_perm);
        system(OFFSET_MOVED_EVENT, 1, rw);
        system(SCHEDULE_TOPIC, 18, rw);
        if settings.trace_topic_enable {
            system(&settings.trace_topic_name, 1, rw);
        }
        system(&format!("{}_REPLY_TOPIC", settings.cluster_name), 1, rw);
        // The 5.x reference's further system topics (pop revive log, broker member sync, the timer
        // wheel, the RocksDB transaction store): created with the same queues and perms so that
        // topic lists and wipe/addWritePerm counts match, though nothing here writes to them.
        system(
            &format!("{REVIVE_TOPIC_PREFIX}{}", settings.cluster_name),
            REVIVE_QUEUE_NUM,
            rw,
        );
        system(
            &format!("{SYNC_BROKER_MEMBER_PREFIX}{}", settings.broker_name),
            1,
            perm::INHERIT,
        );
        system(TRANS_HALF_TOPIC, 1, rw);
        system(TRANS_OP_HALF_TOPIC, 1, rw);
        if settings.timer.enable {
            system(crate::timer::TIMER_TOPIC, 1, rw);
        }
        system(ROCKSDB_TRANS_HALF_TOPIC, 1, rw);
        system(ROCKSDB_TRANS_OP_HALF_TOPIC, 1, rw);
        let mut version = file.data_version;
        version.counter += 1;
        version.timestamp = now_ms();
        let m = Self {
            path,
            inner: RwLock::new(Inner { topics, version }),
            system: system_set,
        };
        m.persist();
        m
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Java `TopicValidator.isSystemTopic`: in the system set or named `rmq_sys_...`.
    pub fn is_system_topic(&self, topic: &str) -> bool {
        self.system.contains(topic) || topic.starts_with(SYSTEM_TOPIC_PREFIX)
    }

    /// Java `TopicValidator.getSystemTopicSet` (GET_SYSTEM_TOPIC_LIST_FROM_BROKER).
    pub fn system_topics(&self) -> Vec<String> {
        self.system.iter().cloned().collect()
    }

    pub fn select(&self, topic: &str) -> Option<TopicConfig> {
        self.read().topics.get(topic).cloned()
    }

    /// What a send needs from a topic's config, without cloning the config (no allocation).
    pub fn send_view(&self, topic: &str) -> Option<SendView> {
        self.read().topics.get(topic).map(SendView::of)
    }

    pub fn contains(&self, topic: &str) -> bool {
        self.read().topics.contains_key(topic)
    }

    pub fn data_version(&self) -> DataVersion {
        self.read().version.clone()
    }

    /// All topics with the data version, as GET_ALL_TOPIC_CONFIG and registration send them.
    pub fn wrapper(&self) -> TopicConfigSerializeWrapper {
        let g = self.read();
        TopicConfigSerializeWrapper {
            data_version: g.version.clone(),
            topic_config_table: g.topics.clone(),
            ..Default::default()
        }
    }

    /// Bumps the data version (the broker's registration must replace its routes), persisting.
    pub fn next_version(&self) {
        bump(&mut self.write().version);
        self.persist();
    }

    pub fn topic_names(&self) -> Vec<String> {
        self.read().topics.keys().cloned().collect()
    }

    /// Creates or replaces a topic; returns true if anything changed.
    pub fn update(&self, tc: TopicConfig) -> bool {
        let changed = {
            let mut g = self.write();
            if g.topics.get(&tc.topic_name) == Some(&tc) {
                false
            } else {
                tracing::info!(topic = %tc.topic_name, read = tc.read_queue_nums, write = tc.write_queue_nums, perm = tc.perm, "topic created or updated");
                g.topics.insert(tc.topic_name.clone(), tc);
                bump(&mut g.version);
                true
            }
        };
        if changed {
            self.persist();
        }
        changed
    }

    pub fn delete(&self, topic: &str) -> bool {
        let removed = {
            let mut g = self.write();
            let r = g.topics.remove(topic).is_some();
            if r {
                bump(&mut g.version);
            }
            r
        };
        if removed {
            tracing::info!(topic, "topic deleted");
            self.persist();
        }
        removed
    }

    /// The auto-create path of a send: a topic copied from `default_topic` when that template
    /// exists and may be inherited. Returns the new topic, or `None`.
    pub fn create_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        request_queue_nums: i32,
        topic_sys_flag: i32,
        client: &str,
    ) -> Option<TopicConfig> {
        if let Some(existing) = self.select(topic) {
            return Some(existing);
        }
        let template = self.select(default_topic)?;
        if default_topic == AUTO_CREATE_TOPIC_KEY && !perm::is_inherited(template.perm) {
            tracing::warn!(
                topic,
                default_topic,
                "create topic refused: template may not be inherited"
            );
            return None;
        }
        if !perm::is_inherited(template.perm) {
            return None;
        }
        let queues = request_queue_nums.min(template.write_queue_nums).max(1);
        let mut tc = TopicConfig::new(topic, queues);
        tc.perm = template.perm & !perm::INHERIT;
        tc.topic_sys_flag = topic_sys_flag;
        tc.topic_filter_type = template.topic_filter_type.clone();
        tracing::info!(topic, default_topic, queues, %client, "create new topic by default topic");
        self.update(tc.clone());
        Some(tc)
    }

    /// A retry/DLQ topic created on demand (send-back, heartbeat).
    pub fn create_in_send_back(
        &self,
        topic: &str,
        queue_nums: i32,
        perm: i32,
        topic_sys_flag: i32,
    ) -> TopicConfig {
        if let Some(existing) = self.select(topic) {
            return existing;
        }
        let mut tc = TopicConfig::new(topic, queue_nums);
        tc.perm = perm;
        tc.topic_sys_flag = topic_sys_flag;
        self.update(tc.clone());
        tc
    }

    pub fn persist(&self) {
        let file = {
            let g = self.read();
            TopicsFile {
                data_version: g.version.clone(),
                topic_config_table: g.topics.clone(),
            }
        };
        if let Err(e) = persist::store(&self.path, &file) {
            tracing::error!(path = %self.path.display(), error = %e, "persisting topics failed");
        }
    }
}

/// The fields of a topic's config that the send path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendView {
    pub write_queue_nums: i32,
    pub read_queue_nums: i32,
    /// `topicFilterType` is MULTI_TAG.
    pub multi_tag: bool,
}

impl SendView {
    pub fn of(tc: &TopicConfig) -> Self {
        SendView {
            write_queue_nums: tc.write_queue_nums,
            read_queue_nums: tc.read_queue_nums,
            multi_tag: tc.topic_filter_type == "MULTI_TAG",
        }
    }
}

fn bump(v: &mut DataVersion) {
    v.counter += 1;
    v.timestamp = now_ms();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(dir: &std::path::Path, extra: &[(&str, &str)]) -> TopicConfigManager {
        let mut props: std::collections::BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        props.insert("storePathRootDir".into(), dir.display().to_string());
        let (cfg, _) = crate::config::BrokerConfig::from_properties(props).unwrap();
        TopicConfigManager::load(&cfg.settings().unwrap())
    }

    /// Java `TopicConfigManager`: `<cluster>_REPLY_TOPIC` always, the trace topic only with
    /// `traceTopicEnable`, both with one queue and read/write permission.
    #[test]
    fn reply_and_trace_topics_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let m = load_with(dir.path(), &[("brokerClusterName", "C1")]);
        let reply = m.select("C1_REPLY_TOPIC").unwrap();
        assert_eq!(
            (reply.read_queue_nums, reply.write_queue_nums, reply.perm),
            (1, 1, 6)
        );
        assert!(m.select("RMQ_SYS_TRACE_TOPIC").is_none());

        let dir = tempfile::tempdir().unwrap();
        let m = load_with(
            dir.path(),
            &[
                ("traceTopicEnable", "true"),
                ("msgTraceTopicName", "MY_TRACE"),
            ],
        );
        let trace = m.select("MY_TRACE").unwrap();
        assert_eq!(
            (trace.read_queue_nums, trace.write_queue_nums, trace.perm),
            (1, 1, 6)
        );
        assert!(m.select("DefaultCluster_REPLY_TOPIC").is_some());
    }

    #[test]
    fn validates_topic_names_like_java() {
        assert!(validate_topic("Topic_A-1%|x").is_none());
        assert_eq!(
            validate_topic(" ").unwrap(),
            "The specified topic is blank."
        );
        assert!(validate_topic("a b")
            .unwrap()
            .contains("illegal characters"));
        assert!(validate_topic(&"x".repeat(128))
            .unwrap()
            .contains("max length: 127"));
        assert!(validate_topic(&format!("%RETRY%{}", "x".repeat(200))).is_none());
    }
}
