//! Append throughput of the store next to what the disk can do, measured in the same run.
//!
//! Run: `cargo run --release -p store --example append_bench [-- --dir DIR --messages N --seconds S
//! --file-mib M --variants off,on,warm]`
//!
//! Prints: the disk's sequential write bandwidth (1 MiB writes + fsync) and fsync rate (4 KiB
//! write + fdatasync loop); 1 KiB ASYNC_FLUSH append throughput (one writer), dispatch
//! (ConsumeQueue + index) catch-up rate; SYNC_FLUSH throughput with 1 and with 64 concurrent
//! writers (group commit) and the number of fsyncs it took. Each phase runs once per variant of
//! the next-CommitLog-file allocation, back to back: `off` (created by the writer at the roll, as
//! before `AllocateMappedFileService`), `on` (made in the background, the default) and `warm`
//! (background + `warmMapedFileEnable`). Put latency percentiles show what a roll costs the
//! writer; `rolls` is how many CommitLog files the phase filled and `roll puts` the latency of the
//! puts that started a new file (those wait for file creation when allocation is off). Each phase
//! starts after a `sync`, and `--rounds R` repeats everything with the variant order rotated, so
//! write-back left by one variant does not land on the next.
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
    file_mib: u32,
    variants: Vec<Variant>,
    rounds: usize,
}

#[derive(Debug, Clone, Copy)]
enum Variant {
    Off,
    On,
    Warm,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Off => "alloc=off ",
            Variant::On => "alloc=on  ",
            Variant::Warm => "alloc=warm",
        }
    }
}

/// Latency percentiles of a set of puts, in microseconds.
fn latency(mut nanos: Vec<u64>) -> String {
    if nanos.is_empty() {
        return String::new();
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    format!(
        "put us p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.0}",
        at(0.5),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}

fn args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir(),
        messages: 1_000_000,
        seconds: 5,
        file_mib: 256,
        variants: vec![Variant::Off, Variant::On, Variant::Warm],
        rounds: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().expect("missing value");
        match k.as_str() {
            "--dir" => a.dir = PathBuf::from(v),
            "--messages" => a.messages = v.parse().expect("--messages N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds S"),
            "--file-mib" => a.file_mib = v.parse().expect("--file-mib M"),
            "--rounds" => a.rounds = v.parse().expect("--rounds R"),
            "--variants" => {
                a.variants = v
                    .split(',')
                    .map(|x| match x {
                        "off" => Variant::Off,
                        "on" => Variant::On,
                        "warm" => Variant::Warm,
                        other => panic!("unknown variant {other}"),
                    })
                    .collect()
            }
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

fn config(root: &Path, flush: FlushDiskType, file_mib: u32, v: Variant) -> StoreConfig {
    StoreConfig {
        flush_disk_type: flush,
        mapped_file_size_commit_log: file_mib * 1024 * 1024,
        preallocate_mapped_file_enable: !matches!(v, Variant::Off),
        warm_maped_file_enable: matches!(v, Variant::Warm),
        ..StoreConfig::with_root(root)
    }
}

/// Latency of the puts whose record starts a new CommitLog file (not the first file).
fn roll_latency(samples: &[(i64, u64)], file_size: i64) -> String {
    let rolls: Vec<u64> = samples
        .iter()
        .filter(|(off, _)| *off > 0 && off % file_size == 0)
        .map(|(_, n)| *n)
        .collect();
    if rolls.is_empty() {
        return "roll puts: none".to_string();
    }
    let mean = rolls.iter().sum::<u64>() as f64 / rolls.len() as f64 / 1000.0;
    let max = *rolls.iter().max().unwrap_or(&0) as f64 / 1000.0;
    format!(
        "roll puts: {} mean {mean:.0} us max {max:.0} us",
        rolls.len()
    )
}

/// Flushes every dirty page of the machine so the next phase starts clean.
fn settle() {
    let _ = std::process::Command::new("sync").status();
}

fn rolls(store: &MessageStore) -> i64 {
    store.max_phy_offset() / i64::from(store.config().mapped_file_size_commit_log)
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

async fn async_flush(dir: &Path, messages: u64, file_mib: u32, v: Variant) {
    let root = tempfile::tempdir_in(dir).unwrap();
    let cfg = config(root.path(), FlushDiskType::AsyncFlush, file_mib, v);
    let file_size = i64::from(cfg.mapped_file_size_commit_log);
    let store = MessageStore::open(cfg).unwrap();
    let body = bytes::Bytes::from(vec![b'x'; 1024]);
    let msgs: Vec<_> = (0..messages).map(|i| message(i, &body)).collect();
    // Let the background allocation of the second file finish, as it would on a running broker.
    std::thread::sleep(Duration::from_millis(200));
    let mut lat = Vec::with_capacity(messages as usize);
    let mut samples = Vec::new();
    let t = Instant::now();
    let mut bytes = 0u64;
    for m in msgs {
        let p = Instant::now();
        let r = store.put_message(m).await;
        let nanos = p.elapsed().as_nanos() as u64;
        lat.push(nanos);
        assert_eq!(r.status, PutMessageStatus::PutOk);
        let a = r.append.unwrap();
        if a.wrote_offset % file_size == 0 {
            samples.push((a.wrote_offset, nanos));
        }
        bytes += a.wrote_bytes as u64;
    }
    let append_secs = t.elapsed().as_secs_f64();
    while store.dispatch_behind_bytes() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let dispatch_secs = t.elapsed().as_secs_f64();
    println!(
        "{} ASYNC_FLUSH 1 KiB, 1 writer: {:>9.0} msg/s  {:>7.1} MiB/s of records  ({} msgs in {:.2} s, {} rolls; dispatched to CQ+index after {:.2} s = {:.0} msg/s)  {}  {}",
        v.name(),
        messages as f64 / append_secs,
        mib(bytes) / append_secs,
        messages,
        append_secs,
        rolls(&store),
        dispatch_secs,
        messages as f64 / dispatch_secs,
        latency(lat),
        roll_latency(&samples, file_size)
    );
    store.shutdown().unwrap();
}

async fn sync_flush(dir: &Path, writers: u64, seconds: u64, file_mib: u32, v: Variant) {
    let root = tempfile::tempdir_in(dir).unwrap();
    let cfg = config(root.path(), FlushDiskType::SyncFlush, file_mib, v);
    let file_size = i64::from(cfg.mapped_file_size_commit_log);
    let store = MessageStore::open(cfg).unwrap();
    std::thread::sleep(Duration::from_millis(200));
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
            let mut lat = Vec::new();
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let p = Instant::now();
                let r = store.put_message(message(i, &body)).await;
                let nanos = p.elapsed().as_nanos() as u64;
                lat.push(nanos);
                if let Some(a) = &r.append {
                    if a.wrote_offset % file_size == 0 {
                        samples.push((a.wrote_offset, nanos));
                    }
                }
                assert_eq!(r.status, PutMessageStatus::PutOk);
                done.fetch_add(1, Ordering::Relaxed);
                let wrote = r.append.map(|a| a.wrote_bytes as u64).unwrap_or(0);
                bytes.fetch_add(wrote, Ordering::Relaxed);
                i += writers;
            }
            (lat, samples)
        }));
    }
    let mut lat = Vec::new();
    let mut samples = Vec::new();
    for task in tasks {
        let (l, s) = task.await.unwrap();
        lat.extend(l);
        samples.extend(s);
    }
    let secs = t.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let flushes = store.commit_log_flush_count();
    println!(
        "{} SYNC_FLUSH 1 KiB, {writers:>2} writers: {:>9.0} msg/s  {:>7.1} MiB/s  ({} msgs, {} rolls, {} fsyncs = {:.1} msgs per fsync)  {}  {}",
        v.name(),
        n as f64 / secs,
        mib(bytes.load(Ordering::Relaxed)) / secs,
        n,
        rolls(&store),
        flushes,
        n as f64 / flushes.max(1) as f64,
        latency(lat),
        roll_latency(&samples, file_size)
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
    println!("CommitLog files of {} MiB", a.file_mib);
    rt.block_on(async {
        for round in 0..a.rounds {
            let mut order = a.variants.clone();
            let shift = round % order.len().max(1);
            order.rotate_left(shift);
            for &v in &order {
                settle();
                async_flush(&a.dir, a.messages, a.file_mib, v).await;
            }
            for &v in &order {
                settle();
                sync_flush(&a.dir, 1, a.seconds, a.file_mib, v).await;
            }
            for &v in &order {
                settle();
                sync_flush(&a.dir, 64, a.seconds, a.file_mib, v).await;
            }
        }
    });
}
