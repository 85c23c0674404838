//! A consumer catching up from disk, with and without the pull read-ahead hint
//! (`readAheadOnPullEnable`), alternating runs on one store.
//!
//! Run: `cargo run --release -p store --example read_ahead_bench -- --dir DIR [--mb 2048 --runs 3]`
//!
//! Builds (once, kept in `--dir`) a store of `--mb` MiB of 1 KiB messages over 8 queues in
//! 64 MiB CommitLog files. Each run: evict every store file from the page cache (fsync +
//! POSIX_FADV_DONTNEED, store closed), open the store (its recovery scan warms the last three
//! files, as on a broker restart), then pull all 8 queues round-robin, 32 messages per pull, and
//! read every byte of each message (what the socket write does). Prints the drain time per run
//! and the minimum per setting. The device's `read_ahead_kb` decides how much a page fault
//! reads by itself, so the figure depends on it (printed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use store::message::encode_properties;
use store::{GetMessageStatus, MessageExtBrokerInner, MessageStore, PutMessageStatus, StoreConfig};

const QUEUES: i32 = 8;
const TOPIC: &str = "ReadAheadTopic";

fn config(root: &Path, read_ahead: bool) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: 64 * 1024 * 1024,
        read_ahead_on_pull_enable: read_ahead,
        ..StoreConfig::with_root(root)
    }
}

/// Polls a put future to completion without a runtime (ASYNC_FLUSH puts are ready at once).
fn block<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn build(root: &Path, mb: u64) {
    let store = MessageStore::open(config(root, true)).unwrap();
    let body = bytes::Bytes::from(vec![b'r'; 1024]);
    let n = mb * 1024 * 1024 / 1150;
    for i in 0..n {
        let props = encode_properties([("TAGS", "TagA")]);
        let mut m =
            MessageExtBrokerInner::new(TOPIC, (i % QUEUES as u64) as i32, body.clone(), props);
        m.born_host = "10.0.0.1:50000".parse().unwrap();
        m.store_host = "10.0.0.2:10911".parse().unwrap();
        let r = block(store.put_message(m));
        assert_eq!(r.status, PutMessageStatus::PutOk);
    }
    while store.dispatch_behind_bytes() > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    store.shutdown().unwrap();
    println!("built {n} messages ({mb} MiB) in {}", root.display());
}

fn evict(root: &Path) -> u64 {
    let mut bytes = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
                continue;
            }
            let f = std::fs::File::open(&p).unwrap();
            f.sync_all().unwrap();
            rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
            bytes += f.metadata().unwrap().len();
        }
    }
    bytes
}

/// Drains every queue from offset 0; returns (seconds, messages, checksum).
fn drain(store: &MessageStore) -> (f64, u64, u64) {
    let t = Instant::now();
    let mut next = [0i64; QUEUES as usize];
    let mut done = [false; QUEUES as usize];
    let (mut msgs, mut sum) = (0u64, 0u64);
    while done.iter().any(|d| !d) {
        for q in 0..QUEUES {
            if done[q as usize] {
                continue;
            }
            let r = store.get_message("g", TOPIC, q, next[q as usize], 32, 1 << 20, None);
            if r.status != GetMessageStatus::Found {
                done[q as usize] = true;
                continue;
            }
            for m in &r.messages {
                sum = m.iter().fold(sum, |s, b| s.wrapping_add(u64::from(*b)));
                msgs += 1;
            }
            next[q as usize] = r.next_begin_offset;
        }
    }
    (t.elapsed().as_secs_f64(), msgs, sum)
}

fn main() {
    let mut dir: Option<PathBuf> = None;
    let (mut mb, mut runs) = (2048u64, 3u32);
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().expect("missing value");
        match k.as_str() {
            "--dir" => dir = Some(PathBuf::from(v)),
            "--mb" => mb = v.parse().expect("--mb N"),
            "--runs" => runs = v.parse().expect("--runs N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let root = dir.expect("--dir DIR");
    if !root.join("commitlog").exists() {
        build(&root, mb);
    }
    let ra = std::fs::read_to_string("/sys/block/vda/queue/read_ahead_kb")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    println!("read_ahead_kb of vda: {ra}");
    let mut best = [f64::MAX; 2];
    for run in 0..runs {
        for (i, hint) in [false, true].into_iter().enumerate() {
            let evicted = evict(&root);
            let store = MessageStore::open(config(&root, hint)).unwrap();
            let (secs, msgs, sum) = drain(&store);
            store.shutdown().unwrap();
            drop(store);
            best[i] = best[i].min(secs);
            println!(
                "run {run} readAheadOnPullEnable={hint}: {msgs} messages in {secs:.2} s \
                 ({:.0} MB/s; evicted {} MB; checksum {sum})",
                msgs as f64 * 1150.0 / 1e6 / secs,
                evicted / 1_000_000
            );
        }
    }
    println!(
        "min drain: without the hint {:.2} s, with it {:.2} s",
        best[0], best[1]
    );
}
