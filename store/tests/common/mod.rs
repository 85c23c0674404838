//! Shared helpers for the integration tests: small-file configs and message builders.
#![allow(dead_code, clippy::unwrap_used)]

pub mod faulty_fs;

use std::path::Path;

use store::message::properties::encode_properties;
use store::{MessageExtBrokerInner, StoreConfig};

/// A config rooted at `root` with small files and no background flush noise.
pub fn small_config(root: &Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 64 * 1024,
        mapped_file_size_consume_queue: 20 * 100,
        max_hash_slot_num: 64,
        max_index_num: 256,
        flush_interval_commit_log: 50,
        flush_interval_consume_queue: 50,
        clean_resource_interval: 60_000,
        delete_commit_log_files_interval: 0,
        delete_consume_queue_files_interval: 0,
        // Tests must not depend on how full the host's disk is.
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        disk_space_warning_level_ratio: 100,
        ..StoreConfig::with_root(root)
    }
}

/// A message with a tag, keys and a unique key.
pub fn message(
    topic: &str,
    queue_id: i32,
    body: &[u8],
    tag: &str,
    keys: &str,
    uniq: &str,
) -> MessageExtBrokerInner {
    let props = encode_properties([
        ("TAGS", tag),
        ("KEYS", keys),
        ("UNIQ_KEY", uniq),
        ("WAIT", "true"),
    ]);
    let mut m = MessageExtBrokerInner::new(topic, queue_id, body.to_vec(), props);
    m.born_host = "10.1.2.3:40000".parse().unwrap();
    m.store_host = "192.168.0.10:10911".parse().unwrap();
    m.born_timestamp = 1_700_000_000_000;
    m
}

/// A plain message with body `body`.
pub fn simple(topic: &str, queue_id: i32, body: &[u8]) -> MessageExtBrokerInner {
    message(topic, queue_id, body, "TagA", "", "")
}

/// Waits until the dispatcher has caught up.
pub fn wait_dispatched(store: &store::MessageStore) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.dispatch_behind_bytes() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "dispatch did not catch up"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
