//! Heap allocations per SEND_MESSAGE_V2 round trip through a real broker, counted by a global
//! allocator. Broker and client run in this one process, so the figure is broker + client per
//! message; compare it between builds (the client side does not change).
//!
//! Run: `cargo run --release -p broker --example send_allocs [-- N]` (N sends, default 5000).
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Allocations made on the client's thread (the rest are the broker's).
static CLIENT_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Every this many broker allocations one call site is recorded (0 = off; `ALLOC_SITES=N`).
static SAMPLE_EVERY: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ON_CLIENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static IN_SAMPLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

static SITES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn counted() {
    if IN_SAMPLE.try_with(|c| c.get()).unwrap_or(true) {
        return; // the sampler's own allocations
    }
    let n = ALLOCS.fetch_add(1, Ordering::Relaxed);
    if ON_CLIENT.try_with(|c| c.get()).unwrap_or(false) {
        CLIENT_ALLOCS.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let every = SAMPLE_EVERY.load(Ordering::Relaxed);
    if every == 0 || !n.is_multiple_of(every) {
        return;
    }
    IN_SAMPLE.with(|c| c.set(true));
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    // The first frames of our crates, the allocator's own frames skipped.
    let site: Vec<&str> = bt
        .lines()
        .map(str::trim)
        .filter(|l| {
            (l.contains("broker::") || l.contains("remoting::") || l.contains("store::"))
                && !l.starts_with("at ")
                && !l.contains("send_allocs")
        })
        .take(3)
        .collect();
    SITES.lock().unwrap().push(site.join(" <- "));
    IN_SAMPLE.with(|c| c.set(false));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn send(body: &[u8]) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("a", "pg"),
        ("b", "AllocTopic"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
        (
            "i",
            "TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}0A000001000000000000000000000001\u{2}WAIT\u{1}true",
        ),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext).with_body(body.to_vec())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|v| v.parse().expect("N"))
        .unwrap_or(5000);
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", "broker-a".to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", dir.path().display().to_string()),
        ("mappedFileSizeCommitLog", (64 << 20).to_string()),
        ("brokerIP1", "127.0.0.1".to_string()),
        ("diskMaxUsedSpaceRatio", "100".to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    let (cfg, _) = broker::BrokerConfig::from_properties(props).unwrap();
    let handle = broker::start(cfg).await.unwrap();
    let addr = format!("127.0.0.1:{port}");
    // The client runs on its own thread and runtime (its connection tasks too), so its
    // allocations can be told from the broker's.
    let sample_every = std::env::var("ALLOC_SITES")
        .ok()
        .and_then(|v| v.parse().ok());
    let (total, on_client) = std::thread::spawn(move || {
        ON_CLIENT.with(|f| f.set(true));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let client = RemotingClient::new(ClientConfig::default());
            let body = vec![b'x'; 1024];
            let t = Duration::from_secs(5);
            for _ in 0..200 {
                let r = client.invoke(&addr, send(&body), t).await.unwrap();
                assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
            }
            // Requests are built before counting: only the round trip is measured.
            let reqs: Vec<_> = (0..n).map(|_| send(&body)).collect();
            if let Some(every) = sample_every {
                SAMPLE_EVERY.store(every, Ordering::Relaxed);
            }
            let before = ALLOCS.load(Ordering::Relaxed);
            let client_before = CLIENT_ALLOCS.load(Ordering::Relaxed);
            for req in reqs {
                let r = client.invoke(&addr, req, t).await.unwrap();
                assert_eq!(r.code, response_code::SUCCESS);
            }
            SAMPLE_EVERY.store(0, Ordering::Relaxed);
            let total = ALLOCS.load(Ordering::Relaxed) - before;
            let on_client = CLIENT_ALLOCS.load(Ordering::Relaxed) - client_before;
            client.shutdown();
            (total as f64 / n as f64, on_client as f64 / n as f64)
        })
    })
    .join()
    .unwrap();
    println!(
        "{n} sends: {total:.1} allocations per SEND_MESSAGE_V2 round trip: broker {:.1}, client {on_client:.1}",
        total - on_client
    );
    let sites = std::mem::take(&mut *SITES.lock().unwrap());
    if !sites.is_empty() {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in &sites {
            *counts.entry(s.clone()).or_default() += 1;
        }
        let mut by: Vec<_> = counts.into_iter().collect();
        by.sort_by_key(|s| std::cmp::Reverse(s.1));
        println!("broker allocation sites ({} samples):", sites.len());
        for (site, c) in by.iter().take(40) {
            println!("{c:6}  {site}");
        }
    }
    drop(handle);
}
