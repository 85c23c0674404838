//! Put then pull through the facade: offsets, statuses and zero-copy records.
#![allow(clippy::unwrap_used)]

mod common;

use common::{simple, small_config, wait_dispatched};
use store::message::decode_message;
use store::{GetMessageStatus, MessageFilter, MessageStore, PutMessageStatus};

/// Messages appended to one queue get consecutive queue offsets and increasing physical offsets,
/// and a pull returns them in order, byte-identical to what `look_message_by_offset` returns.
#[tokio::test]
async fn put_then_get() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let mut phys = Vec::new();
    for i in 0..10 {
        let r = store
            .put_message(simple("T", 0, format!("body-{i}").as_bytes()))
            .await;
        assert_eq!(r.status, PutMessageStatus::PutOk);
        let a = r.append.unwrap();
        assert_eq!(a.logics_offset, i);
        assert_eq!(a.msg_num, 1);
        assert_eq!(a.msg_id.len(), 32);
        phys.push(a.wrote_offset);
    }
    assert!(phys.windows(2).all(|w| w[0] < w[1]));
    wait_dispatched(&store);
    assert_eq!(store.max_offset_in_queue("T", 0), 10);
    assert_eq!(store.min_offset_in_queue("T", 0), 0);

    let r = store.get_message("g", "T", 0, 3, 4, 1 << 20, None);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.messages.len(), 4);
    assert_eq!(r.next_begin_offset, 7);
    assert_eq!(r.queue_offsets, vec![3, 4, 5, 6]);
    let m = decode_message(&r.messages[0], true).unwrap();
    assert_eq!(m.body, b"body-3");
    assert_eq!(m.queue_offset, 3);
    assert_eq!(m.physical_offset, phys[3]);
    assert_eq!(m.topic, "T");
    assert_eq!(
        store.look_message_by_offset(phys[3]).unwrap(),
        r.messages[0]
    );
    assert_eq!(
        m.offset_msg_id(),
        store::message::offset_msg_id(m.store_host, phys[3])
    );
    store.shutdown().unwrap();
}

/// The pull statuses and next offsets for out-of-range requests follow Java's table.
#[tokio::test]
async fn get_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    let r = store.get_message("g", "nope", 0, 5, 32, 1 << 20, None);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::NoMatchedLogicQueue, 0)
    );
    for i in 0..3 {
        store.put_message(simple("T", 1, &[i])).await;
    }
    wait_dispatched(&store);
    let r = store.get_message("g", "T", 1, 3, 32, 1 << 20, None);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetOverflowOne, 3)
    );
    let r = store.get_message("g", "T", 1, 9, 32, 1 << 20, None);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetOverflowBadly, 3)
    );
    assert_eq!((r.min_offset, r.max_offset), (0, 3));
    let r = store.get_message("g", "T", 1, 0, 32, 1 << 20, None);
    assert_eq!(
        (r.status, r.next_begin_offset, r.messages.len()),
        (GetMessageStatus::Found, 3, 3)
    );
    // Byte cap: at least one message, then stop before exceeding it.
    let one = r.messages[0].len() as i32;
    let r = store.get_message("g", "T", 1, 0, 32, one + 1, None);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.next_begin_offset, 1);
}

struct TagFilter(i64);
impl MessageFilter for TagFilter {
    fn matches_consume_queue(&self, tags_code: i64) -> bool {
        tags_code == self.0
    }
}

/// A tag filter skips non-matching units; a scan with no match reports NO_MATCHED_MESSAGE and
/// moves the next offset past the scanned units.
#[tokio::test]
async fn filter_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    for i in 0..6 {
        let tag = if i % 2 == 0 { "A" } else { "B" };
        store
            .put_message(common::message("T", 0, &[i], tag, "", ""))
            .await;
    }
    wait_dispatched(&store);
    let a = store::message::tags_code("A");
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, Some(&TagFilter(a)));
    assert_eq!(r.messages.len(), 3);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, Some(&TagFilter(12345)));
    assert_eq!(r.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 6);
}
