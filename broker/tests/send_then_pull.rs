//! The broker's core paths over real sockets: a sent message is pulled back intact, a pull
//! waiting on an empty queue is woken by a send (long polling), tag filtering, and committed
//! offsets survive a broker restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};
use store::message::record::decode_messages;

const T: Duration = Duration::from_secs(5);

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

async fn start_broker(root: &std::path::Path, port: u16) -> broker::BrokerHandle {
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", "broker-t".to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", root.display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".to_string()),
        ("brokerIP1", "127.0.0.1".to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    let (cfg, _) = broker::BrokerConfig::from_properties(props).unwrap();
    broker::start(cfg).await.unwrap()
}

fn send(topic: &str, tags: &str, body: &str) -> RemotingCommand {
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
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
    ] {
        ext.insert(k, v);
    }
    ext.insert(
        "i",
        format!("TAGS\u{1}{tags}\u{2}KEYS\u{1}k-{body}\u{2}WAIT\u{1}true"),
    );
    RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext).with_body(body.as_bytes().to_vec())
}

fn pull(
    topic: &str,
    offset: i64,
    sub: &str,
    suspend_ms: i64,
    commit: Option<i64>,
) -> RemotingCommand {
    let mut ext = ExtFields::new();
    let flags = 4 | 2 | if commit.is_some() { 1 } else { 0 };
    for (k, v) in [
        ("consumerGroup", "cg".to_string()),
        ("topic", topic.to_string()),
        ("queueId", "0".to_string()),
        ("queueOffset", offset.to_string()),
        ("maxMsgNums", "32".to_string()),
        ("sysFlag", flags.to_string()),
        ("commitOffset", commit.unwrap_or(0).to_string()),
        ("suspendTimeoutMillis", suspend_ms.to_string()),
        ("subscription", sub.to_string()),
        ("subVersion", "0".to_string()),
        ("expressionType", "TAG".to_string()),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::PULL_MESSAGE, ext)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_pull_long_poll_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    // Auto-created topic; the answer carries an offset message id and queue offset 0.
    let r = c
        .invoke(&addr, send("TopicA", "TagA", "hello"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.ext("queueOffset"), Some("0"));
    assert_eq!(r.ext("msgId").unwrap().len(), 32);
    assert_eq!(r.ext("MSG_REGION"), Some("DefaultRegion"));

    // Dispatch to the consume queue follows the put closely but not synchronously.
    let mut r = c
        .invoke(&addr, pull("TopicA", 0, "*", 0, None), T)
        .await
        .unwrap();
    for _ in 0..100 {
        if r.code == response_code::SUCCESS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        r = c
            .invoke(&addr, pull("TopicA", 0, "*", 0, None), T)
            .await
            .unwrap();
    }
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.ext("nextBeginOffset"), Some("1"));
    let body = r.body.to_bytes();
    let msgs: Vec<_> = decode_messages(&body, true)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body, b"hello");
    assert_eq!(msgs[0].property("TAGS"), Some("TagA"));
    assert_eq!(msgs[0].property("CLUSTER"), Some("DefaultCluster"));

    // Tag filter: a TagB subscription skips TagA messages.
    let r = c
        .invoke(&addr, pull("TopicA", 0, "TagB", 0, None), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::PULL_RETRY_IMMEDIATELY);
    assert_eq!(r.ext("nextBeginOffset"), Some("1"));

    // Long polling: a pull at the end of the queue returns as soon as a message arrives.
    let waiter = {
        let c = c.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = c
                .invoke(
                    &addr,
                    pull("TopicA", 1, "*", 10_000, Some(1)),
                    Duration::from_secs(15),
                )
                .await
                .unwrap();
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c
        .invoke(&addr, send("TopicA", "TagA", "second"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let (r, waited) = waiter.await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert!(
        waited < Duration::from_secs(5),
        "woken by the arrival, not the timeout: {waited:?}"
    );

    // An empty queue's pull without suspend answers PULL_NOT_FOUND at once.
    let r = c
        .invoke(&addr, pull("TopicA", 2, "*", 0, Some(2)), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::PULL_NOT_FOUND);

    // Committed offset (piggy-backed on the pull) survives a restart.
    c.shutdown();
    b.shutdown().await;
    let b = start_broker(dir.path(), port).await;
    let c = RemotingClient::new(ClientConfig::default());
    let mut ext = ExtFields::new();
    ext.insert("consumerGroup", "cg");
    ext.insert("topic", "TopicA");
    ext.insert("queueId", "0");
    let r = c
        .invoke(
            &addr,
            RemotingCommand::request(request_code::QUERY_CONSUMER_OFFSET, ext),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert_eq!(r.ext("offset"), Some("2"));
    let r = c
        .invoke(&addr, pull("TopicA", 0, "*", 0, None), T)
        .await
        .unwrap();
    let msgs = r.body.to_bytes();
    assert_eq!(
        decode_messages(&msgs, true).count(),
        2,
        "both messages survive"
    );
    c.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_java_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    let r = c
        .invoke(&addr, send("bad topic", "T", "x"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::INVALID_PARAMETER);
    let r = c
        .invoke(&addr, send("SCHEDULE_TOPIC_XXXX", "T", "x"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::NO_PERMISSION);
    let r = c
        .invoke(&addr, pull("NoSuchTopic", 0, "*", 0, None), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::TOPIC_NOT_EXIST);
    let r = c
        .invoke(
            &addr,
            RemotingCommand::request(request_code::PULL_MESSAGE, ExtFields::new()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("is null"));
    c.shutdown();
    b.shutdown().await;
}
