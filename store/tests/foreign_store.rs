//! Opening a store directory produced by another writer (as a Java broker would leave it): files
//! built here byte by byte with the record codec, a ConsumeQueue that lags the CommitLog, a
//! checkpoint, no abort file. The store recovers, fills the missing units and appends after.
#![allow(clippy::unwrap_used)]

mod common;

use common::small_config;
use store::message::record::{encode_record_to_vec, MessageVersion, RecordHeader};
use store::message::{body_crc, decode_message, encode_properties};
use store::MessageStore;

#[tokio::test]
async fn opens_hand_built_store() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let size = cfg.mapped_file_size_commit_log as usize;
    let mut commitlog = vec![0u8; size];
    let mut cq = Vec::new();
    let mut pos = 0usize;
    for i in 0..5i64 {
        let body = format!("java-{i}");
        let props = encode_properties([("TAGS", "TagA"), ("UNIQ_KEY", &format!("U{i}"))]);
        let header = RecordHeader {
            queue_id: 0,
            flag: 0,
            queue_offset: i,
            physical_offset: pos as i64,
            sys_flag: 0,
            born_timestamp: 1_600_000_000_000,
            born_host: "10.0.0.1:1234".parse().unwrap(),
            store_timestamp: 1_600_000_000_000 + i,
            store_host: "10.0.0.2:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body_crc: body_crc(body.as_bytes()),
        };
        let rec = encode_record_to_vec(
            MessageVersion::V1,
            &header,
            body.as_bytes(),
            "JavaTopic",
            props.as_bytes(),
        )
        .unwrap();
        commitlog[pos..pos + rec.len()].copy_from_slice(&rec);
        if i < 3 {
            cq.extend_from_slice(&(pos as i64).to_be_bytes());
            cq.extend_from_slice(&(rec.len() as i32).to_be_bytes());
            cq.extend_from_slice(
                &i64::from(store::message::java_string_hash("TagA")).to_be_bytes(),
            );
        }
        pos += rec.len();
    }
    std::fs::create_dir_all(dir.path().join("commitlog")).unwrap();
    std::fs::write(
        dir.path().join("commitlog/00000000000000000000"),
        &commitlog,
    )
    .unwrap();
    let cq_dir = dir.path().join("consumequeue/JavaTopic/0");
    std::fs::create_dir_all(&cq_dir).unwrap();
    cq.resize(cfg.consume_queue_file_size() as usize, 0);
    std::fs::write(cq_dir.join("00000000000000000000"), &cq).unwrap();
    let mut checkpoint = vec![0u8; 4096];
    checkpoint[0..8].copy_from_slice(&1_600_000_000_004i64.to_be_bytes());
    checkpoint[8..16].copy_from_slice(&1_600_000_000_002i64.to_be_bytes());
    std::fs::write(dir.path().join("checkpoint"), &checkpoint).unwrap();

    let store = MessageStore::open(cfg).unwrap();
    assert_eq!(store.max_phy_offset(), pos as i64);
    assert_eq!(store.max_offset_in_queue("JavaTopic", 0), 5);
    let r = store.get_message("g", "JavaTopic", 0, 0, 32, 1 << 20, None);
    let bodies: Vec<_> = r
        .messages
        .iter()
        .map(|m| decode_message(m, true).unwrap().body.to_vec())
        .collect();
    assert_eq!(
        bodies,
        (0..5)
            .map(|i| format!("java-{i}").into_bytes())
            .collect::<Vec<_>>()
    );
    let a = store
        .put_message(store::MessageExtBrokerInner::new(
            "JavaTopic",
            0,
            &b"rust"[..],
            "",
        ))
        .await
        .append
        .unwrap();
    assert_eq!((a.wrote_offset, a.logics_offset), (pos as i64, 5));
    // The index was rebuilt from the CommitLog too.
    common::wait_dispatched(&store);
    assert_eq!(
        store
            .query_message("JavaTopic", "U3", 32, 0, i64::MAX)
            .messages
            .len(),
        1
    );
}
