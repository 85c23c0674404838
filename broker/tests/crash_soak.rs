//! The short crash soak: three kill -9 cycles of the real `mqbroker` under concurrent SYNC_FLUSH
//! producers; everything acknowledged must be readable afterwards, intact, exactly once per
//! attempt, at the offset its answer named. The long version is `examples/crash_soak.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/crash_soak.rs"]
mod crash_soak;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_loses_nothing_acknowledged_across_kill_9() {
    let mut o = crash_soak::Options::new(PathBuf::from(env!("CARGO_BIN_EXE_mqbroker")));
    o.cycles = 3;
    o.flush = crash_soak::Flush::Sync;
    o.producers = 3;
    o.min_cycle = Duration::from_millis(1500);
    o.max_cycle = Duration::from_millis(3000);
    // Small files so that a few seconds of traffic rolls over several of them.
    o.commit_log_file_size = 1024 * 1024;
    o.max_body = 16 * 1024;
    o.seed = 0xC0FFEE;
    o.start_timeout = Duration::from_secs(30);
    o.verify_timeout = Duration::from_secs(60);
    let report = tokio::time::timeout(Duration::from_secs(150), crash_soak::run(&o))
        .await
        .expect("the soak finishes in time")
        .expect("the soak runs");
    println!("{}", report.summary());
    assert_eq!(report.cycles, 3);
    assert!(report.acked > 3, "producers got acknowledgements");
    assert_eq!(report.lost, 0, "{}", report.summary());
    assert_eq!(report.ack_copy_missing, 0, "{}", report.summary());
    assert_eq!(report.misplaced, 0, "{}", report.summary());
    assert_eq!(report.corrupted, 0, "{}", report.summary());
    assert_eq!(report.duplicated, 0, "{}", report.summary());
    assert_eq!(report.offset_problems, 0, "{}", report.summary());
    assert_eq!(report.not_dispatched, 0, "{}", report.summary());
    assert!(report.passed(), "{}", report.summary());
}

#[test]
fn soak_bodies_detect_any_change() {
    let key = crash_soak::MsgKey {
        producer: 2,
        seq: 77,
    };
    for max in [64, 4096, 24 * 1024] {
        for seq in 0..200 {
            let key = crash_soak::MsgKey { producer: 1, seq };
            let b = crash_soak::make_body(9, key, 3, max);
            assert!(b.len() <= max.max(28));
            assert_eq!(crash_soak::parse_body(9, max, &b).unwrap(), (key, 3));
        }
    }
    let body = crash_soak::make_body(9, key, 0, 24 * 1024);
    for i in [0, 5, 12, 17, 22, body.len() / 2, body.len() - 1] {
        let mut b = body.clone();
        b[i] ^= 0x40;
        assert!(
            crash_soak::parse_body(9, 24 * 1024, &b).is_err(),
            "flip at {i}"
        );
    }
    assert!(crash_soak::parse_body(9, 24 * 1024, &body[..body.len() - 1]).is_err());
    assert!(
        crash_soak::parse_body(10, 24 * 1024, &body).is_err(),
        "another seed's payload"
    );
}
