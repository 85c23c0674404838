//! Append throughput of the store next to what the disk can do, measured in the same run.
//!
//! Run: `cargo run --release -p store --example append_bench [-- --dir DIR --messages N --seconds S]`
//!
//! Prints: the disk's sequential write bandwidth (1 MiB writes + fsync) and fsync rate (4 KiB
//! write + fdatasync loop); 1 KiB ASYNC_FLUSH append throughput (one writer), dispatch
//! (ConsumeQueue + index) catch-up rate; SYNC_FLUSH throughput with 1 and with 64 concurrent
//! writers (group commit) and the number of fsyncs it took.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::message::encode_properties;
use store::{FlushDiskType, MessageExtBrokerInner, MessageStore, PutMessageStatus, StoreConfig};

struct Args {
    dir: PathBuf,
    messages: u64,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir(),
        messages: 1_000_000,
        seconds: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().expect("missing value");
        match k.as_str() {
            "--dir" => a.dir = PathBuf::from(v),
            "--messages" => a.messages = v.parse().expect("--messages N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn disk_bandwidth(dir: &Path) -> f64 {
    let path = dir.join("seq-write.tmp");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5Au8; 1024 * 1024];
    let total = 1024u64;
    let t = Instant::now();
    for _ in 0..total {
        f.write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).unwrap();
    total as f64 / secs
}

fn fsync_rate(dir: &Path, seconds: u64) -> f64 {
    let path = dir.join("fsync.tmp");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![1u8; 4096];
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < Duration::from_secs(seconds) {
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).unwrap();
    rate
}

fn config(root: &Path, flush: FlushDiskType) -> StoreConfig {
    StoreConfig {
        flush_disk_type: flush,
        mapped_file_size_commit_log: 256 * 1024 * 1024,
        ..StoreConfig::with_root(root)
    }
}

fn message(i: u64, body: &bytes::Bytes) -> MessageExtBrokerInner {
    let uniq = format!("{:032X}", i);
    let props = encode_properties([
        ("TAGS", "TagA"),
        ("UNIQ_KEY", uniq.as_str()),
        ("WAIT", "true"),
    ]);
    let mut m = MessageExtBrokerInner::new("BenchTopic", (i % 8) as i32, body.clone(), props);
    m.born_host = "10.0.0.1:50000".parse().unwrap();
    m.store_host = "10.0.0.2:10911".parse().unwrap();
    m
}

async fn async_flush(dir: &Path, messages: u64) {
    let root = tempfile::tempdir_in(dir).unwrap();
    let store = MessageStore::open(config(root.path(), FlushDiskType::AsyncFlush)).unwrap();
    let body = bytes::Bytes::from(vec![b'x'; 1024]);
    let msgs: Vec<_> = (0..messages).map(|i| message(i, &body)).collect();
    let t = Instant::now();
    let mut bytes = 0u64;
    for m in msgs {
        let r = store.put_message(m).await;
        assert_eq!(r.status, PutMessageStatus::PutOk);
        bytes += r.append.map(|a| a.wrote_bytes as u64).unwrap_or(0);
    }
    let append_secs = t.elapsed().as_secs_f64();
    while store.dispatch_behind_bytes() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let dispatch_secs = t.elapsed().as_secs_f64();
    println!(
        "ASYNC_FLUSH 1 KiB, 1 writer: {:>10.0} msg/s  {:>7.1} MiB/s of records  ({} msgs in {:.2} s; dispatched to CQ+index after {:.2} s = {:.0} msg/s)",
        messages as f64 / append_secs,
        mib(bytes) / append_secs,
        messages,
        append_secs,
        dispatch_secs,
        messages as f64 / dispatch_secs
    );
    store.shutdown().unwrap();
}

async fn sync_flush(dir: &Path, writers: u64, seconds: u64) {
    let root = tempfile::tempdir_in(dir).unwrap();
    let store = MessageStore::open(config(root.path(), FlushDiskType::SyncFlush)).unwrap();
    let body = bytes::Bytes::from(vec![b'y'; 1024]);
    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        let body = body.clone();
        let done = Arc::clone(&done);
        let bytes = Arc::clone(&bytes);
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let r = store.put_message(message(i, &body)).await;
                assert_eq!(r.status, PutMessageStatus::PutOk);
                done.fetch_add(1, Ordering::Relaxed);
                let wrote = r.append.map(|a| a.wrote_bytes as u64).unwrap_or(0);
                bytes.fetch_add(wrote, Ordering::Relaxed);
                i += writers;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let flushes = store.commit_log_flush_count();
    println!(
        "SYNC_FLUSH 1 KiB, {writers:>2} writers: {:>9.0} msg/s  {:>7.1} MiB/s  ({} msgs, {} fsyncs = {:.1} msgs per fsync)",
        n as f64 / secs,
        mib(bytes.load(Ordering::Relaxed)) / secs,
        n,
        flushes,
        n as f64 / flushes.max(1) as f64
    );
    store.shutdown().unwrap();
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.dir).unwrap();
    println!("store dir: {}", a.dir.display());
    println!(
        "disk sequential write (1 MiB writes, fsync at end): {:.0} MiB/s",
        disk_bandwidth(&a.dir)
    );
    println!(
        "disk fsync rate (4 KiB write + fdatasync): {:.0} /s",
        fsync_rate(&a.dir, 2)
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        async_flush(&a.dir, a.messages).await;
        sync_flush(&a.dir, 1, a.seconds).await;
        sync_flush(&a.dir, 64, a.seconds).await;
    });
}
