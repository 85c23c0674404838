//! What the dispatcher puts in the ConsumeQueue: prepared/rolled-back transactional records get
//! no unit, `SCHEDULE_TOPIC_XXXX` units carry the delivery time, the arrival listener hears about
//! every unit promptly, and lookups by time use store timestamps.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{simple, small_config, wait_dispatched};
use store::message::{decode_message, encode_properties, sys_flag, SCHEDULE_TOPIC};
use store::{ArrivalInfo, MessageExtBrokerInner, MessageStore};

type Seen = Arc<Mutex<Vec<(String, i32, i64, i64, i64)>>>;

fn listen(store: &MessageStore) -> Seen {
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    store.set_message_arrival_listener(Arc::new(move |a: &ArrivalInfo<'_>| {
        s.lock().unwrap().push((
            a.topic.to_string(),
            a.queue_id,
            a.next_offset,
            a.tags_code,
            a.store_timestamp,
        ));
    }));
    seen
}

#[tokio::test]
async fn transactions_and_listener() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let seen = listen(&store);

    let mut half = simple("T", 0, b"half");
    half.sys_flag = sys_flag::TRANSACTION_PREPARED;
    let h = store.put_message(half).await.append.unwrap();
    assert_eq!(h.logics_offset, 0);
    let mut commit = simple("T", 0, b"commit");
    commit.sys_flag = sys_flag::TRANSACTION_COMMIT;
    commit.prepared_transaction_offset = h.wrote_offset;
    let c = store.put_message(commit).await.append.unwrap();
    assert_eq!(c.logics_offset, 0, "the half message took no queue offset");
    let mut rollback = simple("T", 0, b"rollback");
    rollback.sys_flag = sys_flag::TRANSACTION_ROLLBACK;
    store.put_message(rollback).await;
    wait_dispatched(&store);

    assert_eq!(store.max_offset_in_queue("T", 0), 1);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    let m = decode_message(&r.messages[0], true).unwrap();
    assert_eq!(m.body, b"commit");
    assert_eq!(m.prepared_transaction_offset, h.wrote_offset);
    // The half message is still readable by offset (transaction checks do that).
    let half = store.look_message_by_offset(h.wrote_offset).unwrap();
    assert_eq!(decode_message(&half, true).unwrap().body, b"half");

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0.as_str(), seen[0].1, seen[0].2), ("T", 0, 1));
    assert_eq!(seen[0].3, store::message::tags_code("TagA"));
}

/// A `SCHEDULE_TOPIC_XXXX` unit's tag code is store time + the level's delay (level 3 = 10 s);
/// levels above the table are clamped to the last one.
#[tokio::test]
async fn schedule_topic_tag_is_delivery_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let seen = listen(&store);
    for (level, qid) in [("3", 2), ("99", 17)] {
        let props = encode_properties([("DELAY", level), ("REAL_TOPIC", "T"), ("REAL_QID", "0")]);
        store
            .put_message(MessageExtBrokerInner::new(
                SCHEDULE_TOPIC,
                qid,
                &b"later"[..],
                props,
            ))
            .await;
    }
    wait_dispatched(&store);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].3 - seen[0].4, 10_000);
    assert_eq!(seen[1].3 - seen[1].4, 7_200_000);
}

/// The listener is called within milliseconds of the put (no polling delay).
#[tokio::test]
async fn dispatch_is_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    store.set_message_arrival_listener(Arc::new(move |a: &ArrivalInfo<'_>| {
        let _ = tx.lock().unwrap().send(a.next_offset);
    }));
    for i in 1..=20 {
        let t = std::time::Instant::now();
        store.put_message(simple("T", 0, b"x")).await;
        assert_eq!(rx.recv_timeout(Duration::from_secs(1)).unwrap(), i);
        assert!(
            t.elapsed() < Duration::from_millis(50),
            "dispatch took {:?}",
            t.elapsed()
        );
    }
}

/// Offsets by time: the first message stored at or after the timestamp; before everything gives
/// the min offset, after everything the max; earliest/store-time lookups agree.
#[tokio::test]
async fn consume_queue_lookup_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let mut times = Vec::new();
    for i in 0..12u8 {
        let a = store
            .put_message(simple("T", 0, &[i]))
            .await
            .append
            .unwrap();
        times.push(a.store_timestamp);
        std::thread::sleep(Duration::from_millis(3));
    }
    wait_dispatched(&store);
    for (i, t) in times.iter().enumerate() {
        assert_eq!(store.offset_in_queue_by_time("T", 0, *t), i as i64);
        assert_eq!(store.message_store_timestamp("T", 0, i as i64), *t);
    }
    assert_eq!(store.offset_in_queue_by_time("T", 0, times[4] + 1), 5);
    assert_eq!(store.offset_in_queue_by_time("T", 0, 0), 0);
    assert_eq!(store.offset_in_queue_by_time("T", 0, times[11] + 1000), 12);
    assert_eq!(store.earliest_message_time("T", 0), times[0]);
    assert_eq!(store.earliest_message_time("none", 0), -1);
    assert_eq!(store.offset_in_queue_by_time("none", 0, 5), 0);
    assert!(store.commit_log_offset_in_queue("T", 0, 3) > 0);
}

/// Puts from many threads at once, some dispatching inline and some leaving the work to the
/// dispatcher thread: every queue gets exactly one unit per message, in put order, each pointing
/// at its own record, and the listener hears each offset once.
#[test]
fn concurrent_puts_dispatch_each_record_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MessageStore::open(small_config(dir.path())).unwrap());
    let seen = listen(&store);
    const THREADS: i32 = 8;
    const EACH: i64 = 400;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = Arc::clone(&store);
            s.spawn(move || {
                for i in 0..EACH {
                    let body = format!("{t}-{i}");
                    let put = store.put_message(simple("C", t % 4, body.as_bytes()));
                    assert!(futures_block_on(put).append.is_some());
                }
            });
        }
    });
    wait_dispatched(&store);
    for q in 0..4 {
        let n = 2 * EACH;
        assert_eq!(store.max_offset_in_queue("C", q), n);
        let mut all = Vec::new();
        while (all.len() as i64) < n {
            let r = store.get_message("g", "C", q, all.len() as i64, 32, 64 << 20, None);
            assert!(!r.messages.is_empty(), "queue {q} ends at {}", all.len());
            all.extend(r.messages.iter().map(|m| m.to_vec()));
        }
        assert_eq!(all.len() as i64, n);
        let mut last_per_thread = std::collections::HashMap::new();
        for (k, raw) in all.iter().enumerate() {
            let m = decode_message(raw, true).unwrap();
            assert_eq!(
                m.queue_offset, k as i64,
                "unit {k} of queue {q} points at its record"
            );
            let body = String::from_utf8(m.body.to_vec()).unwrap();
            let (t, i) = body.split_once('-').unwrap();
            let i: i64 = i.parse().unwrap();
            let prev = last_per_thread.insert(t.to_string(), i);
            assert!(
                prev.is_none_or(|p| p < i),
                "a thread's messages stay in put order"
            );
        }
    }
    let seen = seen.lock().unwrap();
    let mut offsets: Vec<(i32, i64)> = seen
        .iter()
        .filter(|s| s.0 == "C")
        .map(|s| (s.1, s.2))
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(offsets.len() as i64, 4 * 2 * EACH, "one arrival per unit");
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
