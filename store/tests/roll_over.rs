//! A record never straddles CommitLog files: it may leave exactly 8 bytes free, and when it
//! would leave fewer, an 8-byte blank marker (TOTALSIZE = bytes left, MAGIC 0xCBD43194) ends the
//! file and the record starts the next one. Batches move to the next file as a whole.
#![allow(clippy::unwrap_used)]

mod common;

use common::{small_config, wait_dispatched};
use store::message::encode_batch;
use store::{GetMessageStatus, MessageExtBatch, MessageExtBrokerInner, MessageStore, StoreConfig};

const FILE: u32 = 4096;

fn config(root: &std::path::Path) -> StoreConfig {
    StoreConfig {
        mapped_file_size_commit_log: FILE,
        ..small_config(root)
    }
}

/// v1, IPv4 hosts, topic "T", no properties: 92 + body bytes.
fn msg(body_len: usize) -> MessageExtBrokerInner {
    MessageExtBrokerInner::new("T", 0, vec![7u8; body_len], "")
}

fn record_len(body_len: usize) -> usize {
    92 + body_len
}

fn file_bytes(root: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(root.join("commitlog").join(name)).unwrap()
}

#[tokio::test]
async fn blank_marker_at_file_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();

    // First record: 1000 bytes. Second leaves exactly 8 bytes: it still fits.
    let r1 = store.put_message(msg(1000 - 92)).await.append.unwrap();
    assert_eq!(r1.wrote_offset, 0);
    let second = FILE as usize - 1000 - 8;
    let r2 = store.put_message(msg(second - 92)).await.append.unwrap();
    assert_eq!(r2.wrote_offset, 1000);
    assert_eq!(r2.wrote_bytes as usize, record_len(second - 92));
    assert_eq!(store.max_phy_offset(), i64::from(FILE) - 8);

    // Third record does not fit in 8 bytes: blank marker, then file 2.
    let r3 = store.put_message(msg(10)).await.append.unwrap();
    assert_eq!(r3.wrote_offset, i64::from(FILE));
    assert_eq!(r3.logics_offset, 2);

    // Fill file 2 to 9 bytes short of fitting: len + 8 = remaining + 1.
    let remaining = FILE as usize - record_len(10);
    let r4 = store
        .put_message(msg(remaining - 8 + 1 - 92))
        .await
        .append
        .unwrap();
    assert_eq!(r4.wrote_offset, 2 * i64::from(FILE));
    store.flush().unwrap();

    let f0 = file_bytes(dir.path(), "00000000000000000000");
    assert_eq!(f0.len(), FILE as usize);
    assert_eq!(&f0[4088..4092], &8i32.to_be_bytes());
    assert_eq!(&f0[4092..4096], &[0xCB, 0xD4, 0x31, 0x94]);
    let f1 = file_bytes(dir.path(), "00000000000000004096");
    let blank_at = record_len(10);
    assert_eq!(
        &f1[blank_at..blank_at + 4],
        &(remaining as i32).to_be_bytes()
    );
    assert_eq!(&f1[blank_at + 4..blank_at + 8], &[0xCB, 0xD4, 0x31, 0x94]);

    // All four are readable, in order, and survive a restart (recovery walks past the markers).
    wait_dispatched(&store);
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.messages.len(), 4);
    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(config(dir.path())).unwrap();
    assert_eq!(
        store.max_phy_offset(),
        2 * i64::from(FILE) + record_len(remaining - 8 + 1 - 92) as i64
    );
    let r = store.get_message("g", "T", 0, 0, 32, 1 << 20, None);
    assert_eq!(r.messages.len(), 4);
    let r5 = store.put_message(msg(10)).await.append.unwrap();
    assert_eq!(r5.logics_offset, 4);
}

/// A message that can never fit in a file is refused as MESSAGE_ILLEGAL.
#[tokio::test]
async fn oversized_for_file_is_illegal() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    let r = store.put_message(msg(FILE as usize)).await;
    assert_eq!(r.status, store::PutMessageStatus::MessageIllegal);
    assert!(r.append.is_none());
}

/// A batch gets consecutive queue offsets, contiguous records and comma-separated ids; a batch
/// that does not fit the current file goes entirely to the next one.
#[tokio::test]
async fn batch_append() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).unwrap();
    store.put_message(msg(3100)).await;
    let props = [
        "TAGS\u{1}A\u{2}KEYS\u{1}k0\u{2}",
        "TAGS\u{1}B\u{2}",
        "",
        "X\u{1}y\u{2}",
        "",
    ];
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; 100]).collect();
    let body = encode_batch(bodies.iter().zip(props).map(|(b, p)| (3, &b[..], p)));
    let batch = MessageExtBatch {
        topic: "T".into(),
        queue_id: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: "1.2.3.4:5".parse().unwrap(),
        store_host: "5.6.7.8:10911".parse().unwrap(),
        reconsume_times: 0,
        body: body.into(),
    };
    let r = store.put_messages(batch.clone()).await;
    assert!(r.is_ok());
    let a = r.append.unwrap();
    assert_eq!(a.msg_num, 5);
    assert_eq!(a.logics_offset, 1);
    assert_eq!(
        a.wrote_offset,
        i64::from(FILE),
        "the batch moved to the next file as a whole"
    );
    let ids: Vec<_> = a.msg_id.split(',').collect();
    assert_eq!(ids.len(), 5);
    let (_, first) = store::message::parse_offset_msg_id(ids[0]).unwrap();
    assert_eq!(first, a.wrote_offset);
    wait_dispatched(&store);
    assert_eq!(store.max_offset_in_queue("T", 0), 6);
    let got = store.get_message("g", "T", 0, 1, 32, 1 << 20, None);
    assert_eq!(got.messages.len(), 5);
    let mut expect_phy = a.wrote_offset;
    for (i, raw) in got.messages.iter().enumerate() {
        let m = store::message::decode_message(raw, true).unwrap();
        assert_eq!(m.queue_offset, 1 + i as i64);
        assert_eq!(m.physical_offset, expect_phy);
        assert_eq!(m.flag, 3);
        assert_eq!(m.body, &bodies[i][..]);
        assert_eq!(m.properties, props[i]);
        assert_eq!(m.store_host, batch.store_host);
        expect_phy += m.total_size as i64;
    }
    // A malformed batch body is MESSAGE_ILLEGAL and writes nothing.
    let before = store.max_phy_offset();
    let bad = MessageExtBatch {
        body: vec![0, 0, 0, 50, 1, 2].into(),
        ..batch
    };
    assert_eq!(
        store.put_messages(bad).await.status,
        store::PutMessageStatus::MessageIllegal
    );
    assert_eq!(store.max_phy_offset(), before);
}
