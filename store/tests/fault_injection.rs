//! Fault injection through the `FileSystem` seam. A failed msync/fsync poisons the store: no put
//! is acknowledged PUT_OK past the last successful flush, later puts are refused with
//! SERVICE_NOT_AVAILABLE, reads keep working, and the abort file stays so the next open recovers.
//! A full disk when the next CommitLog file is created answers CREATE_MAPPED_FILE_FAILED for that
//! put only, leaves no partial file or record, and the store keeps serving.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::faulty_fs::FaultyFs;
use common::{simple, small_config, wait_dispatched};
use store::{FlushDiskType, GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig};

fn read_all(store: &MessageStore, topic: &str, queue_id: i32) -> Vec<bytes::Bytes> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let r = store.get_message("g", topic, queue_id, offset, 32, 1 << 20, None);
        if r.status != GetMessageStatus::Found {
            return out;
        }
        out.extend(r.messages);
        offset = r.next_begin_offset;
    }
}

/// SYNC_FLUSH, one writer: the put whose fsync fails is not acknowledged, the next is refused,
/// and both the acknowledged and the unacknowledged record can still be read.
#[tokio::test]
async fn failed_fsync_poisons_sync_flush_store() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultyFs::default());
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..small_config(dir.path())
    };
    let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
    let ok = store.put_message(simple("T", 0, b"durable")).await;
    assert_eq!(ok.status, PutMessageStatus::PutOk);

    fs.fail_sync_under(&cfg.commit_log_dir());
    let failed = store.put_message(simple("T", 0, b"not durable")).await;
    assert_eq!(failed.status, PutMessageStatus::FlushDiskTimeout);
    assert!(fs.failed_syncs() >= 1);
    assert!(store.is_poisoned());

    let refused = store.put_message(simple("T", 0, b"refused")).await;
    assert_eq!(refused.status, PutMessageStatus::ServiceNotAvailable);
    assert!(refused.append.is_none());

    wait_dispatched(&store);
    let msgs = read_all(&store, "T", 0);
    assert_eq!(msgs.len(), 2, "reads keep working after poisoning");
    assert!(store.flush().is_err());

    // Shutdown reports the poisoning and keeps the abort file; the next open recovers.
    assert!(store.shutdown().is_err());
    assert!(cfg.abort_path().exists());
    drop(store);
    let store = MessageStore::open(cfg).unwrap();
    assert!(!store.is_poisoned());
    let r = store.put_message(simple("T", 0, b"after restart")).await;
    assert_eq!(r.status, PutMessageStatus::PutOk);
}

/// SYNC_FLUSH, many concurrent writers while the fsync starts failing: every PUT_OK covers only
/// bytes below the final flushed offset (which never moves after the failure), and every put
/// answered after the poisoning is FLUSH_DISK_TIMEOUT or SERVICE_NOT_AVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_put_ok_after_fsync_failure_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultyFs::default());
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        mapped_file_size_commit_log: 1024 * 1024,
        ..small_config(dir.path())
    };
    let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for i in 0..200 {
                let poisoned_before = store.is_poisoned();
                let r = store
                    .put_message(simple("T", w % 4, format!("{w}-{i}").as_bytes()))
                    .await;
                seen.push((poisoned_before, r));
            }
            seen
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    fs.fail_sync_under(&cfg.commit_log_dir());
    let mut ok = 0;
    let mut not_ok = 0;
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.unwrap());
    }
    let flushed = store.flushed_phy_offset();
    for (poisoned_before, r) in &results {
        match r.status {
            PutMessageStatus::PutOk => {
                assert!(!poisoned_before, "PUT_OK for a put started after poisoning");
                let a = r.append.as_ref().unwrap();
                assert!(
                    a.wrote_offset + i64::from(a.wrote_bytes) <= flushed,
                    "PUT_OK for a record past the last successful flush"
                );
                ok += 1;
            }
            PutMessageStatus::FlushDiskTimeout | PutMessageStatus::ServiceNotAvailable => {
                not_ok += 1
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    assert!(store.is_poisoned());
    assert!(not_ok > 0, "the failure was never hit ({ok} acknowledged)");
    assert!(store.max_phy_offset() > flushed || not_ok > 0);
    wait_dispatched(&store);
    let readable: usize = (0..4).map(|q| read_all(&store, "T", q).len()).sum();
    assert!(readable >= ok, "acknowledged records are readable");
}

/// ASYNC_FLUSH: a failed ConsumeQueue or CommitLog flush poisons the store just the same.
#[tokio::test]
async fn failed_flush_poisons_async_flush_store() {
    for sub in ["commitlog", "consumequeue"] {
        let dir = tempfile::tempdir().unwrap();
        let fs = Arc::new(FaultyFs::default());
        let cfg = small_config(dir.path());
        let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
        for i in 0..10 {
            let r = store.put_message(simple("T", 0, &[i; 100])).await;
            assert_eq!(r.status, PutMessageStatus::PutOk);
        }
        wait_dispatched(&store);
        fs.fail_sync_under(&dir.path().join(sub));
        assert!(store.flush().is_err(), "{sub}");
        assert!(store.is_poisoned(), "{sub}");
        let r = store.put_message(simple("T", 0, b"x")).await;
        assert_eq!(r.status, PutMessageStatus::ServiceNotAvailable, "{sub}");
        assert_eq!(read_all(&store, "T", 0).len(), 10, "{sub}");
    }
}

/// ENOSPC creating the next CommitLog file: that put gets CREATE_MAPPED_FILE_FAILED without using
/// a queue offset, no file is left behind, reads work, and once space is back puts resume; a
/// restart recovers exactly the acknowledged records. With preallocation on, the background
/// attempt fails first and the writer retries once itself.
#[tokio::test]
async fn enospc_on_next_commit_log_file() {
    for preallocate in [true, false] {
        enospc_case(preallocate).await;
    }
}

async fn enospc_case(preallocate: bool) {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultyFs::default());
    let cfg = StoreConfig {
        preallocate_mapped_file_enable: preallocate,
        ..small_config(dir.path())
    };
    // Only the first CommitLog file can be created.
    fs.fail_create_after(&cfg.commit_log_dir(), "00000000000000000000");
    let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
    let mut acked = 0;
    let failed = loop {
        let r = store
            .put_message(simple("T", 0, &[acked as u8; 1000]))
            .await;
        if r.status != PutMessageStatus::PutOk {
            break r;
        }
        acked += 1;
        assert!(acked < 1000, "the CommitLog never rolled");
    };
    assert_eq!(failed.status, PutMessageStatus::CreateMappedFileFailed);
    assert!(fs.failed_creates() >= 1);
    assert!(!store.is_poisoned());
    // Still full: the next put fails the same way, and nothing half-created is on disk.
    let again = store.put_message(simple("T", 0, b"still full")).await;
    assert_eq!(again.status, PutMessageStatus::CreateMappedFileFailed);
    let files = std::fs::read_dir(cfg.commit_log_dir()).unwrap().count();
    assert_eq!(files, 1, "preallocate={preallocate}");
    wait_dispatched(&store);
    assert_eq!(read_all(&store, "T", 0).len(), acked);
    assert_eq!(store.max_offset_in_queue("T", 0), acked as i64);

    fs.heal_create();
    let r = store.put_message(simple("T", 0, b"space is back")).await;
    assert_eq!(r.status, PutMessageStatus::PutOk);
    let a = r.append.unwrap();
    assert_eq!(
        a.logics_offset, acked as i64,
        "failed puts used no queue offset"
    );
    assert_eq!(a.wrote_offset, i64::from(cfg.mapped_file_size_commit_log));
    acked += 1;
    wait_dispatched(&store);
    let msgs = read_all(&store, "T", 0);
    assert_eq!(msgs.len(), acked);
    for m in &msgs {
        store::message::record::decode_message(m, true).unwrap();
    }
    store.shutdown().unwrap();
    drop(store);

    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(read_all(&store, "T", 0).len(), acked);
    assert_eq!(store.max_offset_in_queue("T", 0), acked as i64);
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// ENOSPC while a record is being written back (SYNC_FLUSH; a delayed allocation failing at
/// msync): the put is not acknowledged and the store is poisoned. On disk only part of that
/// record may have landed; the crash image keeps the first half of the failed range and loses
/// the rest. Recovery of that image ends the CommitLog exactly after the last acknowledged
/// record: no partial record, no ConsumeQueue unit for it, and the next put takes its place.
#[tokio::test]
async fn enospc_mid_record_leaves_no_partial_record() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultyFs::default());
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::SyncFlush,
        ..small_config(dir.path())
    };
    let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
    let mut acked_end = 0;
    for i in 0..5 {
        let r = store
            .put_message(simple("T", 0, format!("durable-{i}").as_bytes()))
            .await;
        assert_eq!(r.status, PutMessageStatus::PutOk);
        let a = r.append.unwrap();
        acked_end = a.wrote_offset + i64::from(a.wrote_bytes);
    }
    wait_dispatched(&store);

    fs.fail_sync_enospc_under(&cfg.commit_log_dir());
    let body = vec![b'z'; 3000];
    let failed = store.put_message(simple("T", 0, &body)).await;
    assert_eq!(failed.status, PutMessageStatus::FlushDiskTimeout);
    let torn = failed.append.unwrap();
    assert_eq!(torn.wrote_offset, acked_end);
    assert!(store.is_poisoned());
    let (file, off, len) = fs.last_failed_range().unwrap();
    assert!(
        off as i64 <= acked_end % i64::from(cfg.mapped_file_size_commit_log) && len > 0,
        "the failed range covers the unacknowledged record"
    );
    let refused = store.put_message(simple("T", 0, b"refused")).await;
    assert_eq!(refused.status, PutMessageStatus::ServiceNotAvailable);

    // The machine goes down now: the image keeps the first half of the failed range.
    let image = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), image.path());
    let rel = file.strip_prefix(dir.path()).unwrap();
    let keep = off + len / 2;
    let img_file = image.path().join(rel);
    let mut bytes = std::fs::read(&img_file).unwrap();
    bytes[keep..off + len].fill(0);
    std::fs::write(&img_file, &bytes).unwrap();
    assert!(image.path().join("abort").exists());
    let _ = store.shutdown();
    drop(store);

    let store = MessageStore::open(small_config(image.path())).unwrap();
    assert!(store.recovery_report().abnormal);
    assert_eq!(store.max_phy_offset(), acked_end, "no partial record");
    assert_eq!(store.max_offset_in_queue("T", 0), 5);
    let msgs = read_all(&store, "T", 0);
    assert_eq!(msgs.len(), 5);
    let next = store.put_message(simple("T", 0, b"after")).await;
    assert_eq!(next.status, PutMessageStatus::PutOk);
    let a = next.append.unwrap();
    assert_eq!(a.wrote_offset, acked_end);
    assert_eq!(a.logics_offset, 5);
}

/// After a crash the ConsumeQueue units the previous process wrote may be only in the page cache
/// of files this process never maps: opening after a crash syncs the ConsumeQueue file system
/// once (whatever the number of queues), a clean open does not, and if that sync fails the store
/// does not open (the checkpoint would otherwise vouch for units that may not be on disk).
#[tokio::test]
async fn crash_recovery_syncs_consume_queues_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    {
        let store = MessageStore::open(cfg.clone()).unwrap();
        for q in 0..4 {
            let r = store.put_message(simple("T", q, b"unit")).await;
            assert_eq!(r.status, PutMessageStatus::PutOk);
        }
        wait_dispatched(&store);
        store.shutdown().unwrap();
    }

    let fs = Arc::new(FaultyFs::default());
    let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
    assert!(!store.recovery_report().abnormal);
    assert_eq!(
        fs.fs_syncs(),
        0,
        "a clean open does not sync the file system"
    );
    store.shutdown().unwrap();
    drop(store);

    std::fs::write(cfg.abort_path(), b"1").unwrap();
    let fs = Arc::new(FaultyFs::default());
    let store = MessageStore::open_with_fs(cfg.clone(), fs.clone()).unwrap();
    assert!(store.recovery_report().abnormal);
    assert_eq!(fs.fs_syncs(), 1, "one sync for all four queues");
    for q in 0..4 {
        assert_eq!(store.max_offset_in_queue("T", q), 1);
    }
    let _ = store.shutdown();
    drop(store);

    std::fs::write(cfg.abort_path(), b"1").unwrap();
    let fs = Arc::new(FaultyFs::default());
    fs.fail_sync_under(&cfg.consume_queue_dir());
    assert!(MessageStore::open_with_fs(cfg.clone(), fs.clone()).is_err());
    assert_eq!(fs.failed_syncs(), 1);
    assert!(cfg.abort_path().exists(), "the next open still recovers");
}
