//! Background preallocation of the next CommitLog file (Java `AllocateMappedFileService`): the
//! file after the one being written exists before the roll, rolls use it, a clean shutdown
//! deletes it when unused, and a crash that leaves it behind recovers cleanly.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{simple, small_config, wait_dispatched};
use store::{GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig};

/// Store file name: the start offset, 20 digits.
fn file_name(offset: i64) -> String {
    format!("{offset:020}")
}

fn wait_exists(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn count(store: &MessageStore) -> usize {
    let mut n = 0;
    let mut offset = 0;
    loop {
        let r = store.get_message("g", "T", 0, offset, 32, 1 << 20, None);
        if r.status != GetMessageStatus::Found {
            return n;
        }
        n += r.messages.len();
        offset = r.next_begin_offset;
    }
}

#[tokio::test]
async fn next_file_is_ready_before_the_roll() {
    for warm in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            warm_maped_file_enable: warm,
            ..small_config(dir.path())
        };
        let size = i64::from(cfg.mapped_file_size_commit_log);
        let cl = cfg.commit_log_dir();
        let store = MessageStore::open(cfg.clone()).unwrap();
        let r = store.put_message(simple("T", 0, b"first")).await;
        assert_eq!(r.status, PutMessageStatus::PutOk);
        wait_exists(&cl.join(file_name(size)));
        assert!(
            store.max_phy_offset() < size,
            "a preallocated file is not part of the log"
        );
        let mut n = 1;
        while store.max_phy_offset() < size + 1000 {
            let r = store.put_message(simple("T", 0, &[7u8; 900])).await;
            assert_eq!(r.status, PutMessageStatus::PutOk);
            n += 1;
        }
        // Writing into file 1 made file 2 in the background.
        wait_exists(&cl.join(file_name(2 * size)));
        wait_dispatched(&store);
        assert_eq!(count(&store), n);
        store.shutdown().unwrap();
        assert!(
            !cl.join(file_name(2 * size)).exists(),
            "an unused preallocated file is deleted at shutdown"
        );
        drop(store);
        let store = MessageStore::open(cfg).unwrap();
        assert_eq!(count(&store), n, "warm={warm}");
        let r = store.put_message(simple("T", 0, b"after restart")).await;
        assert_eq!(r.status, PutMessageStatus::PutOk);
    }
}

/// A crash leaves the preallocated (all-zero) file after the last written one; recovery, normal
/// or abnormal, ignores or removes it and appends continue at the right offset.
#[tokio::test]
async fn leftover_preallocated_file_after_crash() {
    for abnormal in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small_config(dir.path());
        let size = u64::from(cfg.mapped_file_size_commit_log);
        let store = MessageStore::open(cfg.clone()).unwrap();
        for _ in 0..10 {
            store.put_message(simple("T", 0, &[1u8; 500])).await;
        }
        let end = store.max_phy_offset();
        store.shutdown().unwrap();
        drop(store);
        let leftover = cfg.commit_log_dir().join(file_name(size as i64));
        std::fs::File::create(&leftover)
            .unwrap()
            .set_len(size)
            .unwrap();
        if abnormal {
            std::fs::write(cfg.abort_path(), b"1").unwrap();
        }
        let store = MessageStore::open(cfg.clone()).unwrap();
        assert_eq!(store.max_phy_offset(), end, "abnormal={abnormal}");
        let r = store.put_message(simple("T", 0, b"next")).await;
        assert_eq!(r.append.unwrap().wrote_offset, end);
        wait_dispatched(&store);
        assert_eq!(count(&store), 11);
    }
}

/// A new store asks for its first CommitLog file at open: it is made in the background before any
/// put (cold start: the first put finds it ready), the first put writes into it, and a store shut
/// down without a put leaves no CommitLog file behind.
#[tokio::test]
async fn first_file_is_made_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config(dir.path());
    let cl = cfg.commit_log_dir();
    let store = MessageStore::open(cfg.clone()).unwrap();
    wait_exists(&cl.join(file_name(0)));
    assert_eq!(store.max_phy_offset(), 0);
    store.shutdown().unwrap();
    assert!(
        !cl.join(file_name(0)).exists(),
        "an unused first file is deleted"
    );

    let store = MessageStore::open(cfg.clone()).unwrap();
    wait_exists(&cl.join(file_name(0)));
    let r = store.put_message(simple("T", 0, b"first")).await;
    assert_eq!(r.status, PutMessageStatus::PutOk);
    wait_dispatched(&store);
    assert_eq!(count(&store), 1);
    store.shutdown().unwrap();
    let store = MessageStore::open(cfg).unwrap();
    wait_dispatched(&store);
    assert_eq!(count(&store), 1);
    store.shutdown().unwrap();
}
