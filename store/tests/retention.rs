//! Retention and admin deletions: expired CommitLog files go (never the newest), ConsumeQueue and
//! index files follow, pulls below the new minimum answer OFFSET_TOO_SMALL, and topics can be
//! dropped.
#![allow(clippy::unwrap_used)]

mod common;

use common::{message, simple, small_config, wait_dispatched};
use store::{GetMessageStatus, MessageStore, StoreConfig};

#[tokio::test]
async fn expired_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 8 * 1024,
        mapped_file_size_consume_queue: 20 * 10,
        file_reserved_time: 0,
        max_hash_slot_num: 8,
        max_index_num: 20,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    store
        .put_message(simple("Old", 0, b"only in the first file"))
        .await;
    for i in 0..200 {
        store
            .put_message(message("T", 0, &[1u8; 200], "t", &format!("k{i}"), ""))
            .await;
    }
    wait_dispatched(&store);
    let files = |sub: &str| std::fs::read_dir(dir.path().join(sub)).unwrap().count();
    // CommitLog files holding data; the next file, made ahead in the background, is not one.
    let log_files = || {
        let end = store.max_phy_offset();
        std::fs::read_dir(dir.path().join("commitlog"))
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_str().unwrap().parse::<i64>().unwrap() < end
            })
            .count()
    };
    let cl_before = log_files();
    assert!(cl_before > 5);
    let idx_before = files("index");
    assert!(idx_before > 2);

    let deleted = store.delete_expired_files();
    assert!(deleted >= cl_before - 1);
    assert_eq!(log_files(), 1, "the newest file stays");
    let min_phy = store.min_phy_offset();
    assert!(min_phy > 0);
    assert!(files("index") < idx_before);

    // The queue's minimum moved past the deleted data; pulling below it is OFFSET_TOO_SMALL.
    let min = store.min_offset_in_queue("T", 0);
    assert!(min > 0);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetTooSmall, min)
    );
    let r = store.get_message("g", "T", 0, min, 32, 1 << 20, None);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert!(
        dir.path()
            .join("consumequeue/T/0")
            .read_dir()
            .unwrap()
            .count()
            < 20
    );

    // A queue all of whose data is gone is removed by CLEAN_EXPIRED_CONSUMEQUEUE.
    assert!(store.topics().contains(&"Old".to_string()));
    assert_eq!(store.clean_expired_consume_queue(), 1);
    assert!(!store.topics().contains(&"Old".to_string()));
    assert_eq!(store.max_offset_in_queue("Old", 0), 0);
}

/// Files younger than `fileReservedTime` are kept by a manual deletion.
#[tokio::test]
async fn unexpired_files_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 8 * 1024,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    for _ in 0..100 {
        store.put_message(simple("T", 0, &[1u8; 200])).await;
    }
    assert_eq!(store.delete_expired_files(), 0);
    assert_eq!(store.min_phy_offset(), 0);
}

/// Deleting a topic removes its queues and offsets; new messages start it again from 0.
#[tokio::test]
async fn delete_topics() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    for q in 0..3 {
        store.put_message(simple("Gone", q, b"x")).await;
    }
    store.put_message(simple("Kept", 0, b"y")).await;
    wait_dispatched(&store);
    assert_eq!(store.delete_topics(&["Gone"]), 3);
    assert!(!dir.path().join("consumequeue/Gone").exists());
    assert_eq!(store.max_offset_in_queue("Gone", 0), 0);
    assert_eq!(store.max_offset_in_queue("Kept", 0), 1);
    let a = store
        .put_message(simple("Gone", 0, b"again"))
        .await
        .append
        .unwrap();
    assert_eq!(a.logics_offset, 0);
}

/// Above `diskSpaceWarningLevelRatio` the cleanup thread marks the disk full and puts are
/// refused with SERVICE_NOT_AVAILABLE (here the ratio is 0%, so any usage counts as full).
#[tokio::test]
async fn disk_full_refuses_puts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        disk_space_warning_level_ratio: 0,
        clean_resource_interval: 10,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !store.is_disk_full() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let r = store.put_message(simple("T", 0, b"x")).await;
    assert_eq!(r.status, store::PutMessageStatus::ServiceNotAvailable);
}

/// Above `diskSpaceCleanForciblyRatio` even unexpired files are deleted (oldest first, never
/// the newest).
#[tokio::test]
async fn nearly_full_disk_deletes_unexpired_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 8 * 1024,
        disk_max_used_space_ratio: 0,
        disk_space_clean_forcibly_ratio: 0,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    for _ in 0..100 {
        store.put_message(simple("T", 0, &[1u8; 200])).await;
    }
    assert!(store.delete_expired_files() > 0);
    assert!(store.min_phy_offset() > 0);
}

/// `fileReservedTime` changed on a running store (updateBrokerConfig) governs the next cleanup:
/// nothing is old enough under 72 h, everything but the newest file is under 0 h.
#[tokio::test]
async fn retention_follows_a_live_file_reserved_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 8 * 1024,
        mapped_file_size_consume_queue: 20 * 10,
        file_reserved_time: 72,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg.clone()).unwrap();
    for i in 0..100 {
        store
            .put_message(message("T", 0, &[1u8; 200], "t", &format!("k{i}"), ""))
            .await;
    }
    wait_dispatched(&store);
    assert_eq!(store.delete_expired_files(), 0, "nothing is 72 h old");
    assert_eq!(store.min_phy_offset(), 0);

    store.apply_tunables(&StoreConfig {
        file_reserved_time: 0,
        ..cfg
    });
    assert_eq!(store.tunables().file_reserved_time(), 0);
    assert!(store.delete_expired_files() > 0);
    assert!(store.min_phy_offset() > 0);
}
