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

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
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
    let client = RemotingClient::new(ClientConfig::default());
    let body = vec![b'x'; 1024];
    let t = Duration::from_secs(5);
    for _ in 0..200 {
        let r = client.invoke(&addr, send(&body), t).await.unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    // Requests are built before counting: only the round trip is measured.
    let reqs: Vec<_> = (0..n).map(|_| send(&body)).collect();
    let before = ALLOCS.load(Ordering::Relaxed);
    for req in reqs {
        let r = client.invoke(&addr, req, t).await.unwrap();
        assert_eq!(r.code, response_code::SUCCESS);
    }
    let per = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / n as f64;
    println!("{n} sends: {per:.1} allocations per SEND_MESSAGE_V2 round trip (broker + client)");
    client.shutdown();
    drop(handle);
}
