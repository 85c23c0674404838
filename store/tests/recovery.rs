//! Recovery after clean and unclean shutdowns. A crash is simulated by editing the files of a
//! cleanly closed store the way a crash would leave them and re-creating the `abort` file.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use common::{simple, small_config, wait_dispatched};
use store::message::decode_message;
use store::{GetMessageStatus, MessageStore, StoreConfig};

fn cl_file(root: &Path, offset: i64) -> std::path::PathBuf {
    root.join("commitlog").join(format!("{offset:020}"))
}

fn cq_file(root: &Path, topic: &str, qid: i32) -> std::path::PathBuf {
    root.join("consumequeue")
        .join(topic)
        .join(qid.to_string())
        .join(format!("{:020}", 0))
}

fn write_at(path: &Path, pos: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(pos)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn crash_marker(root: &Path) {
    std::fs::write(root.join("abort"), b"1").unwrap();
}

async fn fill(store: &MessageStore, topic: &str, qid: i32, n: usize) -> Vec<(i64, i32)> {
    let mut out = Vec::new();
    for i in 0..n {
        let a = store
            .put_message(simple(topic, qid, format!("{topic}-{qid}-{i}").as_bytes()))
            .await
            .append
            .unwrap();
        out.push((a.wrote_offset, a.wrote_bytes));
    }
    out
}

fn reopen(cfg: &StoreConfig) -> std::sync::Arc<MessageStore> {
    MessageStore::open(cfg.clone()).unwrap()
}

/// A clean restart keeps every queue's offsets, the CommitLog end and the data; new puts continue
/// the queue offsets, and no abort file is left behind.
#[tokio::test]
async fn restart_preserves_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = reopen(&cfg);
    for q in 0..3 {
        fill(&store, "T", q, 10 + q as usize).await;
    }
    let end = store.max_phy_offset();
    wait_dispatched(&store);
    store.shutdown().unwrap();
    drop(store);
    assert!(!dir.path().join("abort").exists());
    assert!(dir.path().join("checkpoint").exists());

    let store = reopen(&cfg);
    assert!(
        dir.path().join("abort").exists(),
        "a running store has an abort file"
    );
    assert_eq!(store.max_phy_offset(), end);
    for q in 0..3 {
        assert_eq!(store.max_offset_in_queue("T", q), 10 + i64::from(q));
    }
    let a = store
        .put_message(simple("T", 1, b"after"))
        .await
        .append
        .unwrap();
    assert_eq!(a.logics_offset, 11);
    assert_eq!(a.wrote_offset, end);
    wait_dispatched(&store);
    let r = store.get_message("g", "T", 1, 10, 32, 1 << 20, None);
    assert_eq!(r.messages.len(), 2);
    assert_eq!(decode_message(&r.messages[1], true).unwrap().body, b"after");
}

/// A torn record at the CommitLog tail (crash mid-write) is cut off and zeroed, a ConsumeQueue
/// unit that already pointed at it is removed, and the next put reuses its offsets.
#[tokio::test]
async fn torn_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = reopen(&cfg);
    let recs = fill(&store, "T", 0, 5).await;
    let end = store.max_phy_offset();
    wait_dispatched(&store);
    store.shutdown().unwrap();
    drop(store);

    // Half of a copy of record 4 at the end, and a CQ unit #5 pointing at it.
    let file = cl_file(dir.path(), 0);
    let bytes = std::fs::read(&file).unwrap();
    let (off4, len4) = recs[4];
    let rec4 = &bytes[off4 as usize..(off4 + i64::from(len4)) as usize];
    write_at(&file, end as u64, &rec4[..rec4.len() / 2]);
    let mut unit = Vec::new();
    unit.extend_from_slice(&end.to_be_bytes());
    unit.extend_from_slice(&len4.to_be_bytes());
    unit.extend_from_slice(&0i64.to_be_bytes());
    write_at(&cq_file(dir.path(), "T", 0), 5 * 20, &unit);
    crash_marker(dir.path());

    let store = reopen(&cfg);
    assert_eq!(store.max_phy_offset(), end);
    assert_eq!(store.max_offset_in_queue("T", 0), 5);
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        bytes[end as usize..end as usize + rec4.len()]
            .iter()
            .all(|b| *b == 0),
        "torn tail zeroed"
    );
    let a = store
        .put_message(simple("T", 0, b"new"))
        .await
        .append
        .unwrap();
    assert_eq!((a.wrote_offset, a.logics_offset), (end, 5));
    wait_dispatched(&store);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    assert_eq!(r.messages.len(), 6);
}

/// A body corrupted in the middle of the last file fails its CRC: the log ends before it, and
/// the later records and their ConsumeQueue units are dropped (Java's behaviour).
#[tokio::test]
async fn bad_crc_in_middle_of_last_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = reopen(&cfg);
    let recs = fill(&store, "T", 0, 10).await;
    wait_dispatched(&store);
    store.shutdown().unwrap();
    drop(store);

    let (off5, len5) = recs[5];
    let file = cl_file(dir.path(), 0);
    let bytes = std::fs::read(&file).unwrap();
    let rec5 = &bytes[off5 as usize..(off5 + i64::from(len5)) as usize];
    let body_at = rec5.windows(5).position(|w| w == b"T-0-5").unwrap() + off5 as usize;
    write_at(&file, body_at as u64, b"X");

    let store = reopen(&cfg);
    assert_eq!(store.max_phy_offset(), off5);
    assert_eq!(store.max_offset_in_queue("T", 0), 5);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    assert_eq!(r.messages.len(), 5);
    let a = store
        .put_message(simple("T", 0, b"again"))
        .await
        .append
        .unwrap();
    assert_eq!((a.wrote_offset, a.logics_offset), (off5, 5));
}

/// After a crash the dispatcher re-dispatches from the checkpoint's safe point, so ConsumeQueue
/// units lost with unflushed pages are rebuilt for every queue, including one whose file
/// vanished entirely, while intact queues are not duplicated.
#[tokio::test]
async fn abnormal_recovery_rebuilds_consume_queues() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = reopen(&cfg);
    for round in 0..20 {
        for q in 0..2 {
            store
                .put_message(simple("T", q, format!("{q}-{round}").as_bytes()))
                .await;
        }
        store.put_message(simple("U", 0, b"u")).await;
    }
    wait_dispatched(&store);
    store.shutdown().unwrap();
    drop(store);

    // Queue T/0 lost its last 12 units; topic U lost its whole ConsumeQueue.
    write_at(&cq_file(dir.path(), "T", 0), 8 * 20, &[0u8; 12 * 20]);
    std::fs::remove_dir_all(dir.path().join("consumequeue").join("U")).unwrap();
    crash_marker(dir.path());

    let store = reopen(&cfg);
    assert_eq!(store.max_offset_in_queue("T", 0), 20);
    assert_eq!(store.max_offset_in_queue("T", 1), 20);
    assert_eq!(store.max_offset_in_queue("U", 0), 20);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    assert_eq!(r.messages.len(), 20);
    for (i, raw) in r.messages.iter().enumerate() {
        let m = decode_message(raw, true).unwrap();
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(m.body, format!("0-{i}").as_bytes());
    }
    let a = store
        .put_message(simple("T", 0, b"next"))
        .await
        .append
        .unwrap();
    assert_eq!(a.logics_offset, 20);
    let r = store.get_message("g", "U", 0, 19, 32, 1 << 20, None);
    assert_eq!(r.status, GetMessageStatus::Found);
}

/// A ConsumeQueue directory deleted while the store was down is rebuilt even after a clean
/// shutdown (the dispatcher restarts from the highest offset any queue still has, and the
/// CommitLog minimum when none has any).
#[tokio::test]
async fn normal_recovery_rebuilds_missing_queues() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let store = reopen(&cfg);
    fill(&store, "T", 0, 7).await;
    wait_dispatched(&store);
    store.shutdown().unwrap();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let store = reopen(&cfg);
    assert_eq!(store.max_offset_in_queue("T", 0), 7);
    assert_eq!(
        store
            .get_message("g", "T", 0, 0, 32, 1 << 20, None)
            .messages
            .len(),
        7
    );
}

/// The store takes `<root>/lock` and writes "lock" into it, as Java does. (POSIX record locks are
/// per process, so exclusion against another broker cannot be shown from inside one test process.)
#[tokio::test]
async fn lock_file_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = reopen(&small_config(dir.path()));
    assert_eq!(std::fs::read(dir.path().join("lock")).unwrap(), b"lock");
    drop(store);
}

fn copy_tree(from: &Path, to: &Path) {
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

fn checkpoint_field(root: &Path, i: usize) -> i64 {
    let b = std::fs::read(root.join("checkpoint")).unwrap();
    i64::from_be_bytes(b[i * 8..i * 8 + 8].try_into().unwrap())
}

/// Repeated crashes: a crash recovery writes a checkpoint for the recovered state right away, so
/// when the broker dies again before any regular checkpoint flush, the next recovery scans from
/// the last files instead of rescanning the CommitLog from file 0. The first crash image has a
/// zeroed checkpoint (a run that never wrote one), the second is a copy of the running store.
#[tokio::test]
async fn crash_recovery_writes_checkpoint_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let file_size = i64::from(cfg.mapped_file_size_commit_log);
    let store = reopen(&cfg);
    let body = vec![b'x'; 1000];
    let mut last_early = 0;
    for _ in 0..200 {
        let a = store
            .put_message(simple("T", 0, &body))
            .await
            .append
            .unwrap();
        last_early = a.wrote_offset;
    }
    // Recovery trusts files whose first record is 3 s older than the checkpoint time.
    tokio::time::sleep(std::time::Duration::from_millis(3300)).await;
    for _ in 0..80 {
        store
            .put_message(simple("T", 0, &body))
            .await
            .append
            .unwrap();
    }
    let end = store.max_phy_offset();
    assert!(
        end > 4 * file_size,
        "the test needs several CommitLog files"
    );
    wait_dispatched(&store);
    store.shutdown().unwrap();
    drop(store);

    // Crash 1: no checkpoint was ever written.
    std::fs::write(dir.path().join("checkpoint"), vec![0u8; 4096]).unwrap();
    crash_marker(dir.path());
    let store = reopen(&cfg);
    let first = store.recovery_report();
    assert!(first.abnormal);
    assert_eq!(first.scan_start, 0, "nothing to trust: scan from file 0");
    assert_eq!(first.end_offset, end);
    assert!(first.last_store_timestamp > 0);
    // Written at open, not a minute later by the regular thorough flush.
    assert_eq!(checkpoint_field(dir.path(), 0), first.last_store_timestamp);
    assert_eq!(checkpoint_field(dir.path(), 1), first.last_store_timestamp);

    // Crash 2, before any regular checkpoint flush: the running store's files as they are.
    let image = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), image.path());
    drop(store);
    assert!(image.path().join("abort").exists());
    let store = reopen(&small_config(image.path()));
    let second = store.recovery_report();
    assert!(second.abnormal);
    assert_eq!(second.end_offset, end);
    assert_eq!(
        second.scan_start,
        last_early - last_early % file_size,
        "the second recovery starts at the newest file older than the checkpoint"
    );
    assert!(second.scan_start >= 3 * file_size);
    assert_eq!(store.max_offset_in_queue("T", 0), 280);
    let r = store.get_message("g", "T", 0, 279, 1, 1 << 20, None);
    assert_eq!(r.status, GetMessageStatus::Found);
}

/// Resident KiB of this process's mappings of files under `dir` (/proc/self/smaps).
fn resident_kib_under(dir: &Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let want = dir.to_str().unwrap();
    let (mut inside, mut kib) = (false, 0);
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            inside = line
                .split_whitespace()
                .last()
                .is_some_and(|p| p.starts_with(want));
        } else if let Some(v) = line.strip_prefix("Rss:").filter(|_| inside) {
            kib += v
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap();
        }
    }
    kib
}

/// Opening a store reads its last CommitLog files (the recovery scan, and after a crash the
/// re-dispatch) through the mapping; those pages do not stay in the broker's resident set: right
/// after `open`, before the resident service's first pass, at most a few MiB of the CommitLog
/// are mapped, not the 40 MiB read.
#[tokio::test]
async fn recovery_leaves_the_commit_log_unmapped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 64 * 1024 * 1024,
        ..small_config(dir.path())
    };
    {
        let store = MessageStore::open(cfg.clone()).unwrap();
        let body = vec![b'm'; 16 * 1024];
        for i in 0..2560 {
            let r = store.put_message(simple("T", i % 4, &body)).await;
            assert_eq!(r.status, store::PutMessageStatus::PutOk);
        }
        wait_dispatched(&store);
        store.shutdown().unwrap();
    }
    for crash in [false, true] {
        if crash {
            crash_marker(dir.path());
        }
        let store = reopen(&cfg);
        assert_eq!(store.recovery_report().abnormal, crash);
        let kib = resident_kib_under(&cfg.commit_log_dir());
        assert!(
            kib <= 8 * 1024,
            "crash={crash}: {kib} KiB of the CommitLog resident after open"
        );
        assert_eq!(store.max_offset_in_queue("T", 0), 640);
        store.shutdown().unwrap();
    }
}
