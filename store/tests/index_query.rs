//! Query by key: UNIQ_KEY and each word of KEYS are indexed under `<topic>#<key>`, lookups honour
//! the time range and topic, survive restarts, and continue across IndexFiles when one fills up.
#![allow(clippy::unwrap_used)]

mod common;

use common::{message, small_config, wait_dispatched};
use store::message::decode_message;
use store::{MessageStore, StoreConfig};

fn bodies(r: &store::QueryMessageResult) -> Vec<Vec<u8>> {
    let mut v: Vec<_> = r
        .messages
        .iter()
        .map(|m| decode_message(m, true).unwrap().body.to_vec())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn query_by_keys_and_unique_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        max_hash_slot_num: 8,
        max_index_num: 16,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg.clone()).unwrap();
    for i in 0..20 {
        let keys = format!("order-{} shared", i % 3);
        let uniq = format!("UNIQ{i:04}");
        store
            .put_message(message(
                "T",
                0,
                format!("b{i:02}").as_bytes(),
                "t",
                &keys,
                &uniq,
            ))
            .await;
    }
    store
        .put_message(message("Other", 0, b"other", "t", "shared", "X"))
        .await;
    wait_dispatched(&store);
    // 20 messages x 4 keys = 80 entries with 15 per file: several IndexFiles exist.
    assert!(std::fs::read_dir(dir.path().join("index")).unwrap().count() > 3);

    let r = store.query_message("T", "UNIQ0007", 32, 0, i64::MAX);
    assert_eq!(bodies(&r), vec![b"b07".to_vec()]);
    let r = store.query_message("T", "order-1", 32, 0, i64::MAX);
    assert_eq!(
        bodies(&r),
        (0..20)
            .filter(|i| i % 3 == 1)
            .map(|i| format!("b{i:02}").into_bytes())
            .collect::<Vec<_>>()
    );
    let r = store.query_message("T", "shared", 5, 0, i64::MAX);
    assert_eq!(r.messages.len(), 5, "max_num caps the result");
    assert!(r.index_last_update_timestamp > 0);
    assert!(r.index_last_update_phyoffset > 0);
    let r = store.query_message("Other", "shared", 32, 0, i64::MAX);
    assert_eq!(bodies(&r), vec![b"other".to_vec()]);
    let r = store.query_message("T", "order-1", 32, 0, 1000);
    assert!(r.messages.is_empty(), "outside the time range");
    let r = store.query_message("T", "missing", 32, 0, i64::MAX);
    assert!(r.messages.is_empty());

    store.shutdown().unwrap();
    drop(store);
    let store = MessageStore::open(cfg).unwrap();
    let r = store.query_message("T", "UNIQ0019", 32, 0, i64::MAX);
    assert_eq!(bodies(&r), vec![b"b19".to_vec()]);
}

/// With the index disabled nothing is indexed and queries return nothing.
#[tokio::test]
async fn index_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        message_index_enable: false,
        ..small_config(dir.path())
    };
    let store = MessageStore::open(cfg).unwrap();
    store
        .put_message(message("T", 0, b"x", "t", "k", "U"))
        .await;
    wait_dispatched(&store);
    assert!(store
        .query_message("T", "k", 32, 0, i64::MAX)
        .messages
        .is_empty());
    assert!(!dir.path().join("index").exists());
}
