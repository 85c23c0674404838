//! Read-ahead for consumers catching up (`readAheadOnPullEnable`): a pull of old CommitLog data
//! gets the next 4 MiB window read into the page cache without anyone touching it, and only that
//! window; with the option off, nothing is read ahead. Residency is probed with `mincore` on a
//! mapping of the file, which reads nothing.
#![allow(clippy::unwrap_used)]
#![allow(unsafe_code)] // mincore(2) on a mapping of the file: the residency probe

mod common;

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{simple, small_config, wait_dispatched};
use store::{GetMessageStatus, MessageStore, PutMessageStatus, StoreConfig};

const MIB: u64 = 1024 * 1024;

/// Page-cache residency of a file through a read-only mapping of it.
struct Residency {
    map: memmap2::Mmap,
}

impl Residency {
    fn of(file: &File) -> Residency {
        // SAFETY: the mapping is only passed to mincore, never read.
        Residency {
            map: unsafe { memmap2::Mmap::map(file) }.unwrap(),
        }
    }

    /// Whether the page at `offset` is in the page cache.
    fn cached(&self, offset: u64) -> bool {
        let mut vec = [0u8; 1];
        // SAFETY: one page inside the mapping; `vec` has room for one page's byte.
        let rc = unsafe {
            libc::mincore(
                self.map.as_ptr().add(offset as usize) as *mut libc::c_void,
                4096,
                vec.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec[0] & 1 == 1
    }
}

/// Writes 25.6 MiB into one 32 MiB CommitLog file, makes it durable and drops it from the page
/// cache; `None` if this file system keeps the pages anyway (nothing to observe then).
async fn cold_store(
    dir: &Path,
    read_ahead: bool,
) -> Option<(std::sync::Arc<MessageStore>, Residency)> {
    let cfg = StoreConfig {
        mapped_file_size_commit_log: 32 * MIB as u32,
        read_ahead_on_pull_enable: read_ahead,
        ..small_config(dir)
    };
    let store = MessageStore::open(cfg.clone()).unwrap();
    let body = vec![b'r'; 64 * 1024];
    for _ in 0..400 {
        let r = store.put_message(simple("T", 0, &body)).await;
        assert_eq!(r.status, PutMessageStatus::PutOk);
    }
    wait_dispatched(&store);
    store.flush().unwrap();
    // The store drops its own page-table entries behind the head (store-resident, every 100 ms);
    // mapped pages cannot be evicted.
    std::thread::sleep(Duration::from_millis(400));
    let file = File::open(cfg.commit_log_dir().join("00000000000000000000")).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    let file = Residency::of(&file);
    if file.cached(6 * MIB) || file.cached(10 * MIB) {
        eprintln!("skipped: the page cache keeps this file's pages after POSIX_FADV_DONTNEED");
        return None;
    }
    Some((store, file))
}

fn pull_first(store: &MessageStore) {
    let r = store.get_message("g", "T", 0, 0, 1, 1 << 20, None);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.messages.len(), 1);
}

/// A pull in window 0 (the first 4 MiB) reads window 1 ahead, and not window 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_reads_the_next_window_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let Some((store, file)) = cold_store(dir.path(), true).await else {
        return;
    };
    pull_first(&store);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !file.cached(6 * MIB) {
        assert!(Instant::now() < deadline, "window 1 was not read ahead");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(file.cached(4 * MIB) && file.cached(8 * MIB - 4096));
    assert!(!file.cached(10 * MIB), "only the next window is read ahead");
    store.shutdown().unwrap();
}

/// With `readAheadOnPullEnable=false` the same pull reads nothing ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_read_ahead_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let Some((store, file)) = cold_store(dir.path(), false).await else {
        return;
    };
    pull_first(&store);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!file.cached(6 * MIB));
    store.shutdown().unwrap();
}
