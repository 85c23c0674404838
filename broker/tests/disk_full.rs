//! Disk full through the remoting layer. The store's file-system seam reports a disk usage the
//! test sets: above `diskMaxUsedSpaceRatio` (75) sends still succeed (only retention reacts);
//! above `diskSpaceWarningLevelRatio` (90) SEND_MESSAGE_V2 is refused with SERVICE_NOT_AVAILABLE
//! and Java's remark (with the usage figures) while pulls still return the stored messages; once
//! the usage drops, sends are accepted again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};
use store::message::record::decode_messages;
use store::FileSystem;

const T: Duration = Duration::from_secs(5);

/// The real file system, except that every disk reports the usage the test sets.
#[derive(Debug, Default)]
struct FakeUsage {
    percent: AtomicU64,
}

impl FakeUsage {
    fn set(&self, percent: u64) {
        self.percent.store(percent, Ordering::SeqCst);
    }
}

impl FileSystem for FakeUsage {
    fn disk_used_percent(&self, _path: &Path) -> Option<f64> {
        Some(self.percent.load(Ordering::SeqCst) as f64)
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

fn send(topic: &str, body: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("a", "pg"),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("i", "TAGS\u{1}TagA\u{2}WAIT\u{1}true"),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext).with_body(body.as_bytes().to_vec())
}

fn pull(topic: &str, offset: i64) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("consumerGroup", "cg".to_string()),
        ("topic", topic.to_string()),
        ("queueId", "0".to_string()),
        ("queueOffset", offset.to_string()),
        ("maxMsgNums", "32".to_string()),
        ("sysFlag", "6".to_string()),
        ("commitOffset", "0".to_string()),
        ("suspendTimeoutMillis", "0".to_string()),
        ("subscription", "*".to_string()),
        ("subVersion", "0".to_string()),
        ("expressionType", "TAG".to_string()),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::PULL_MESSAGE, ext)
}

/// Sends until the answer has `code` (the cleanup thread samples the usage periodically);
/// returns that answer and how many probes were stored before it.
async fn send_until(c: &RemotingClient, addr: &str, code: i32) -> (RemotingCommand, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stored = 0;
    loop {
        let r = c.invoke(addr, send("TopicD", "probe"), T).await.unwrap();
        if r.code == code || Instant::now() > deadline {
            return (r, stored);
        }
        if r.code == response_code::SUCCESS {
            stored += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_refuses_sends_but_serves_pulls() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let fs = Arc::new(FakeUsage::default());
    fs.set(40);
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", "broker-d".to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", dir.path().display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".to_string()),
        ("brokerIP1", "127.0.0.1".to_string()),
        ("cleanResourceInterval", "20".to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    let (cfg, _) = broker::BrokerConfig::from_properties(props).unwrap();
    let b = broker::start_with_fs(cfg, fs.clone()).await.unwrap();
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    for i in 0..3 {
        let r = c
            .invoke(&addr, send("TopicD", &format!("m{i}")), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }

    // Above diskMaxUsedSpaceRatio but below the warning level: still writable.
    fs.set(80);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = c.invoke(&addr, send("TopicD", "m3"), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    // Above diskSpaceWarningLevelRatio: refused with Java's code and remark.
    fs.set(95);
    let (r, probes) = send_until(&c, &addr, response_code::SERVICE_NOT_AVAILABLE).await;
    assert_eq!(
        r.code,
        response_code::SERVICE_NOT_AVAILABLE,
        "{:?}",
        r.remark
    );
    assert_eq!(
        r.remark.as_deref(),
        Some(
            "service not available now. It may be caused by one of the following reasons: the \
             broker's disk is full [CL:  0.95 CQ:  0.95 INDEX:  0.95], messages are put to the \
             slave, message store has been shut down, etc."
        )
    );
    assert!(r.ext("msgId").is_none(), "nothing was stored");

    // Pulls go on: the stored messages come back, nothing after them.
    let mut want = vec!["m0", "m1", "m2", "m3"];
    want.extend(std::iter::repeat_n("probe", probes));
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    while got.len() < want.len() && Instant::now() < deadline {
        let r = c
            .invoke(&addr, pull("TopicD", got.len() as i64), T)
            .await
            .unwrap();
        if r.code == response_code::SUCCESS {
            let body = r.body.to_bytes();
            for m in decode_messages(&body, true) {
                got.push(String::from_utf8(m.unwrap().body.to_vec()).unwrap());
            }
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(got, want);
    let r = c
        .invoke(&addr, pull("TopicD", want.len() as i64), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::PULL_NOT_FOUND, "{:?}", r.remark);

    // Space freed: sends are accepted again and continue the queue.
    fs.set(60);
    let (r, refused_then_ok) = send_until(&c, &addr, response_code::SUCCESS).await;
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(refused_then_ok, 0);
    let next = want.len().to_string();
    assert_eq!(r.ext("queueOffset"), Some(next.as_str()));

    c.shutdown();
    b.shutdown().await;
}
