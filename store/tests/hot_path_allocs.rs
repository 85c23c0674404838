//! Heap allocations on the store's hot paths, counted by a global allocator: a put of one message
//! (append + dispatch) makes a bounded, small number (the offset message id string), and a pull of
//! 32 messages makes a few per pull, none per message. The counter sees every thread, so the
//! bounds leave room for a background thread (flush, cleanup) allocating meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use store::message::encode_properties;
use store::{MessageExtBrokerInner, MessageStore, PutMessageStatus, StoreConfig};

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

fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

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

#[test]
fn put_and_pull_allocations() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        mapped_file_size_commit_log: 64 * 1024 * 1024,
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        disk_space_warning_level_ratio: 100,
        ..StoreConfig::with_root(dir.path())
    };
    let store = MessageStore::open(config).unwrap();
    let body = bytes::Bytes::from(vec![b'x'; 1024]);
    let props = encode_properties([
        ("TAGS", "TagA"),
        ("UNIQ_KEY", "0A000001000000000000000000000001"),
    ]);
    let msg = |q: i32| {
        let mut m = MessageExtBrokerInner::new("AllocTopic", q, body.clone(), props.clone());
        m.born_host = "10.0.0.1:50000".parse().unwrap();
        m.store_host = "10.0.0.2:10911".parse().unwrap();
        m
    };
    // Warm up: queues, files and maps exist.
    for q in 0..4 {
        for _ in 0..64 {
            assert_eq!(
                block(store.put_message(msg(q))).status,
                PutMessageStatus::PutOk
            );
        }
    }
    const N: u64 = 2000;
    let msgs: Vec<_> = (0..N).map(|i| msg((i % 4) as i32)).collect();
    let before = allocs();
    for m in msgs {
        let r = block(store.put_message(m));
        assert_eq!(r.status, PutMessageStatus::PutOk);
    }
    while store.dispatch_behind_bytes() > 0 {
        std::thread::yield_now();
    }
    let per_put = (allocs() - before) as f64 / N as f64;
    println!("allocations per put (append + dispatch): {per_put:.2}");
    // The offset message id (a String in the result) is the one left.
    assert!(per_put < 1.5, "{per_put} allocations per put");

    let pulls = 200u64;
    let before = allocs();
    let mut got = 0u64;
    for p in 0..pulls {
        let q = (p % 4) as i32;
        let offset = (p / 4 * 32) as i64 % 500;
        let r = store.get_message("g", "AllocTopic", q, offset, 32, 1 << 30, None);
        got += r.messages.len() as u64;
    }
    assert_eq!(got, pulls * 32);
    let per_pull = (allocs() - before) as f64 / pulls as f64;
    println!("allocations per pull of 32 messages: {per_pull:.2}");
    // The two result vectors, the ConsumeQueue slice and one slice per CommitLog file read.
    assert!(per_pull < 6.0, "{per_pull} allocations per pull of 32");
    store.shutdown().unwrap();
}
