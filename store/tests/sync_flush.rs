//! SYNC_FLUSH: a put completes only once its record is on disk, and concurrent writers share
//! fsyncs (group commit) instead of paying one each.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{simple, small_config};
use store::{FlushDiskType, MessageStore, PutMessageStatus, StoreConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_with_many_writers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        mapped_file_size_commit_log: 1024 * 1024,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    let writers = 32;
    let per_writer = 25;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut ends = Vec::new();
            for i in 0..per_writer {
                let r = store
                    .put_message(simple("T", w % 4, format!("{w}-{i}").as_bytes()))
                    .await;
                assert_eq!(r.status, PutMessageStatus::PutOk);
                let a = r.append.unwrap();
                // Acknowledged means flushed.
                assert!(store.flushed_phy_offset() >= a.wrote_offset + i64::from(a.wrote_bytes));
                ends.push(a.wrote_offset);
            }
            ends
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap().len();
    }
    assert_eq!(total, writers as usize * per_writer);
    let flushes = store.commit_log_flush_count();
    assert!(
        flushes < total as u64,
        "{flushes} flushes for {total} puts: writers did not share fsyncs"
    );
    let sum: i64 = (0..4).map(|q| store.max_offset_in_queue("T", q)).sum();
    common::wait_dispatched(&store);
    let sum_after: i64 = (0..4).map(|q| store.max_offset_in_queue("T", q)).sum();
    assert!(sum <= sum_after);
    assert_eq!(sum_after, total as i64);
}

/// A put whose WAIT property is "false" does not wait for the flush under SYNC_FLUSH.
#[tokio::test]
async fn wait_false_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    let mut m = simple("T", 0, b"x");
    m.properties = store::message::encode_properties([("WAIT", "false")]);
    let r = store.put_message(m).await;
    assert_eq!(r.status, PutMessageStatus::PutOk);
}

/// After shutdown, puts are refused with SERVICE_NOT_AVAILABLE.
#[tokio::test]
async fn refused_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    store.shutdown().unwrap();
    let r = store.put_message(simple("T", 0, b"x")).await;
    assert_eq!(r.status, PutMessageStatus::ServiceNotAvailable);
}
