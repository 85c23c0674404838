//! Admin store queries: CLEAN_UNUSED_TOPIC drops the queues of topics missing from the topic
//! config (system topics and LMQs stay), QUERY_CONSUME_QUEUE reads units with Java's bounds.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use common::{simple, small_config, wait_dispatched};
use store::MessageStore;

#[tokio::test]
async fn clean_unused_topics_keeps_retained_and_system_topics() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    for t in [
        "Kept",
        "Unused",
        "rmq_sys_wheel_timer",
        "%LMQ%x",
        "SCHEDULE_TOPIC_XXXX",
    ] {
        for q in 0..2 {
            store.put_message(simple(t, q, b"x")).await;
        }
    }
    wait_dispatched(&store);
    let retain: HashSet<String> = ["Kept".to_string()].into();
    assert_eq!(store.clean_unused_topics(&retain), 2);
    assert!(!dir.path().join("consumequeue/Unused").exists());
    assert!(dir.path().join("consumequeue/Kept/0").exists());
    let mut topics = store.topics();
    topics.sort();
    assert_eq!(
        topics,
        [
            "%LMQ%x",
            "Kept",
            "SCHEDULE_TOPIC_XXXX",
            "rmq_sys_wheel_timer"
        ]
    );
    assert_eq!(store.max_offset_in_queue("Unused", 0), 0);
    assert_eq!(store.max_offset_in_queue("Kept", 1), 1);
    // Nothing left to clean.
    assert_eq!(store.clean_unused_topics(&retain), 0);
}

#[tokio::test]
async fn consume_queue_page_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(small_config(dir.path())).unwrap();
    for i in 0..5u8 {
        store.put_message(simple("T", 1, &[i; 10])).await;
    }
    wait_dispatched(&store);
    assert!(store.consume_queue_page("T", 0, 0, 10).is_none());
    assert!(store.consume_queue_page("Nope", 1, 0, 10).is_none());

    let p = store.consume_queue_page("T", 1, 1, 3).unwrap();
    assert_eq!((p.min_offset, p.max_offset), (0, 5));
    let units = p.units.unwrap();
    assert_eq!(units.iter().map(|u| u.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(units.windows(2).all(|w| w[0].1 < w[1].1));
    assert!(units.iter().all(|u| u.2 > 0));

    let all = store
        .consume_queue_page("T", 1, 0, 100)
        .unwrap()
        .units
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[1], units[0]);
    // Past the end, or negative: no units (Java answers "Index .. is not exist!").
    assert!(store
        .consume_queue_page("T", 1, 5, 10)
        .unwrap()
        .units
        .is_none());
    assert!(store
        .consume_queue_page("T", 1, -1, 10)
        .unwrap()
        .units
        .is_none());
}
