//! Startup/recovery time of a store with many ConsumeQueues.
//!
//! Run: `cargo run --release -p store --example recovery_bench -- --queues 100000
//! [--queues-per-topic 8 --msgs-per-queue 3 --batch 12500 --dir DIR]`
//!
//! Builds a store with `--queues` topic-queues (`queues / queues-per-topic` topics), each holding
//! `--msgs-per-queue` messages, with the Java default file sizes (1 GiB CommitLog, 6 000 000-byte
//! ConsumeQueue files, sparse). The build writes `--batch` queues per store session (open, put,
//! dispatch, shut down), so no single session maps more files than the OS allows. Then it times
//! `MessageStore::open` for (a) a normal restart, twice, and (b) an abnormal restart (the abort
//! file left as after a crash), checks every queue's max offset, and prints the figures. Page
//! cache is warm (the files were just written), as on a broker restarted in place. With `--dir`
//! the store is kept, and reused by the next run if it is already there. `--runs N` repeats each
//! kind of restart N times and prints the minimum (the figure to compare on a busy machine);
//! `--mode normal|abnormal|both` picks the kinds. `RUST_LOG=store=info` prints the store's own
//! phase timings (load, recovery, dispatch) for every open.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use store::message::encode_properties;
use store::{MessageExtBrokerInner, MessageStore, PutMessageStatus, StoreConfig};

struct Args {
    dir: Option<PathBuf>,
    queues: u32,
    queues_per_topic: u32,
    msgs_per_queue: u32,
    batch: u32,
    runs: u32,
    mode: String,
}

fn args() -> Args {
    let mut a = Args {
        dir: None,
        queues: 100_000,
        queues_per_topic: 8,
        msgs_per_queue: 3,
        batch: 12_500,
        runs: 1,
        mode: "both".to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().expect("missing value");
        match k.as_str() {
            "--dir" => a.dir = Some(PathBuf::from(v)),
            "--queues" => a.queues = v.parse().expect("--queues N"),
            "--queues-per-topic" => a.queues_per_topic = v.parse().expect("--queues-per-topic N"),
            "--msgs-per-queue" => a.msgs_per_queue = v.parse().expect("--msgs-per-queue N"),
            "--batch" => a.batch = v.parse().expect("--batch N"),
            "--runs" => a.runs = v.parse().expect("--runs N"),
            "--mode" => a.mode = v,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn config(root: &Path) -> StoreConfig {
    StoreConfig {
        // Benchmarks must not depend on how full the host's disk is.
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        disk_space_warning_level_ratio: 100,
        ..StoreConfig::with_root(root)
    }
}

fn topic(t: u32) -> String {
    format!("BenchTopic{t:05}")
}

fn message(topic: &str, queue_id: i32, body: &bytes::Bytes) -> MessageExtBrokerInner {
    let props = encode_properties([("TAGS", "TagA")]);
    let mut m = MessageExtBrokerInner::new(topic, queue_id, body.clone(), props);
    m.born_host = "10.0.0.1:50000".parse().unwrap();
    m.store_host = "10.0.0.2:10911".parse().unwrap();
    m
}

fn build(root: &Path, a: &Args) {
    let topics = a.queues.div_ceil(a.queues_per_topic);
    let topics_per_batch = (a.batch / a.queues_per_topic).max(1);
    let body = bytes::Bytes::from(vec![b'x'; 64]);
    let t = Instant::now();
    let mut first = 0;
    while first < topics {
        let last = (first + topics_per_batch).min(topics);
        // Building only: no periodic flushes (their fsyncs stall the creation of 100 000 new
        // files behind journal commits); everything is flushed at shutdown.
        let build_config = StoreConfig {
            flush_interval_commit_log: 600_000,
            flush_commit_log_thorough_interval: 600_000,
            flush_interval_consume_queue: 600_000,
            flush_consume_queue_thorough_interval: 600_000,
            ..config(root)
        };
        let store = MessageStore::open(build_config).unwrap();
        for _ in 0..a.msgs_per_queue {
            for tp in first..last {
                let name = topic(tp);
                for q in 0..a.queues_per_topic {
                    let r = futures_lite_block(store.put_message(message(&name, q as i32, &body)));
                    assert_eq!(r.status, PutMessageStatus::PutOk);
                }
            }
        }
        while store.dispatch_behind_bytes() > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        store.shutdown().unwrap();
        first = last;
        eprintln!(
            "  built {} of {} topics ({:.1} s)",
            last,
            topics,
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "build: {} queues ({} topics x {}), {} msgs each, in {:.1} s",
        a.queues,
        topics,
        a.queues_per_topic,
        a.msgs_per_queue,
        t.elapsed().as_secs_f64()
    );
}

/// Polls a put future to completion without a runtime (ASYNC_FLUSH puts are ready at once).
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
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

fn check(store: &MessageStore, a: &Args) {
    let topics = a.queues.div_ceil(a.queues_per_topic);
    let mut queues = 0;
    for tp in 0..topics {
        let name = topic(tp);
        for q in 0..a.queues_per_topic {
            assert_eq!(
                store.max_offset_in_queue(&name, q as i32),
                i64::from(a.msgs_per_queue),
                "{name}/{q}"
            );
            queues += 1;
        }
    }
    assert_eq!(
        queues,
        a.queues.div_ceil(a.queues_per_topic) * a.queues_per_topic
    );
}

/// CPU time (user + system, all threads) this process has used so far, from `/proc/self/stat`
/// (clock ticks, 10 ms on Linux); 0 where that file does not exist.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Opens the store, returns (wall, CPU) seconds of `MessageStore::open`.
fn timed_open(root: &Path, label: &str, a: &Args) -> (f64, f64) {
    let cpu = cpu_secs();
    let t = Instant::now();
    let store = MessageStore::open(config(root)).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    check(&store, a);
    let t = Instant::now();
    store.shutdown().unwrap();
    println!(
        "{label}: MessageStore::open {:.3} s, CPU {:.2} s  (shutdown {:.3} s)",
        secs,
        cpu,
        t.elapsed().as_secs_f64()
    );
    (secs, cpu)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let a = args();
    let tmp;
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_path_buf()
        }
    };
    println!("store: {}", root.display());
    if !root.join("consumequeue").exists() {
        build(&root, &a);
    }
    let min = |x: (f64, f64), y: (f64, f64)| (x.0.min(y.0), x.1.min(y.1));
    let mut normal = (f64::MAX, f64::MAX);
    let mut abnormal = (f64::MAX, f64::MAX);
    for run in 1..=a.runs {
        if a.mode != "abnormal" {
            normal = min(
                normal,
                timed_open(&root, &format!("normal restart #{run}"), &a),
            );
        }
        if a.mode != "normal" {
            std::fs::write(root.join("abort"), b"0").unwrap();
            let label = format!("abnormal restart (abort file) #{run}");
            abnormal = min(abnormal, timed_open(&root, &label, &a));
        }
    }
    if a.mode != "abnormal" {
        println!(
            "min of {} normal restarts: {:.3} s, CPU {:.2} s",
            a.runs, normal.0, normal.1
        );
    }
    if a.mode != "normal" {
        println!(
            "min of {} abnormal restarts: {:.3} s, CPU {:.2} s",
            a.runs, abnormal.0, abnormal.1
        );
    }
}
