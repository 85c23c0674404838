//! Timer messages over real sockets (Java 5.x semantics): a send with TIMER_DELIVER_MS /
//! TIMER_DELAY_SEC is invisible in its topic before its time, delivered after it with Java's
//! bookkeeping properties, survives a broker restart without being lost or repeated; Java's
//! refusals (too far, garbage, wheel disabled); and batches with DELAY refused as Java does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, now_ms, props};

use std::time::{Duration, Instant};

use base64::Engine;
use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};
use store::message::record::decode_messages;

const T: Duration = Duration::from_secs(5);

async fn start_broker(
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, &str)],
) -> broker::BrokerHandle {
    common::start_broker("broker-t", root, port, extra).await
}

/// SEND_MESSAGE_V2 (or SEND_BATCH_MESSAGE) to `queue` of `topic`.
fn send(code: i32, topic: &str, queue: i32, properties: &str, body: Vec<u8>) -> RemotingCommand {
    let mut ext = ExtFields::new();
    let born = now_ms().to_string();
    let queue = queue.to_string();
    for (k, v) in [
        ("a", "pg"),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", queue.as_str()),
        ("f", "0"),
        ("g", born.as_str()),
        ("h", "0"),
        ("i", properties),
        ("j", "0"),
        ("k", "false"),
        (
            "m",
            if code == request_code::SEND_BATCH_MESSAGE {
                "true"
            } else {
                "false"
            },
        ),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(code, ext).with_body(body)
}

fn send_one(topic: &str, queue: i32, properties: &str, body: &str) -> RemotingCommand {
    send(
        request_code::SEND_MESSAGE_V2,
        topic,
        queue,
        properties,
        body.as_bytes().to_vec(),
    )
}

/// (body, properties) of every message of `queue` of `topic`.
async fn pull_all(
    c: &RemotingClient,
    addr: &str,
    topic: &str,
    queue: i32,
) -> Vec<(String, String)> {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("consumerGroup", "cg".to_string()),
        ("topic", topic.to_string()),
        ("queueId", queue.to_string()),
        ("queueOffset", "0".to_string()),
        ("maxMsgNums", "32".to_string()),
        ("sysFlag", "4".to_string()),
        ("commitOffset", "0".to_string()),
        ("suspendTimeoutMillis", "0".to_string()),
        ("subscription", "*".to_string()),
        ("subVersion", "0".to_string()),
        ("expressionType", "TAG".to_string()),
    ] {
        ext.insert(k, v);
    }
    let req = RemotingCommand::request(request_code::PULL_MESSAGE, ext);
    let r = c.invoke(addr, req, T).await.unwrap();
    if r.code != response_code::SUCCESS {
        return Vec::new();
    }
    let body = r.body.to_bytes();
    decode_messages(&body, true)
        .map(|m| {
            let m = m.unwrap();
            (
                String::from_utf8(m.body.to_vec()).unwrap(),
                m.properties.to_string(),
            )
        })
        .collect()
}

async fn wait_for(
    c: &RemotingClient,
    addr: &str,
    topic: &str,
    n: usize,
    limit: Duration,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + limit;
    loop {
        let got = pull_all(c, addr, topic, 1).await;
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn prop<'a>(props: &'a str, key: &str) -> Option<&'a str> {
    store::message::get_property(props, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_messages_are_delivered_on_time_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    // A deliver time 2.5 s ahead: SEND_OK with the requested queue and an offset in the timer
    // queue, invisible at first, delivered at its (precision-rounded) time.
    let sent_ms = now_ms();
    let deliver = sent_ms + 2500;
    let p = props(&[
        ("TAGS", "TagT"),
        ("UNIQ_KEY", "UNIQ-ONE"),
        ("TIMER_DELIVER_MS", &deliver.to_string()),
        ("u", "v"),
    ]);
    let r = c
        .invoke(&addr, send_one("TopicT", 1, &p, "one"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.ext("queueId"), Some("1"));
    assert_eq!(r.ext("queueOffset"), Some("0"));
    assert_eq!(r.ext("transactionId"), Some("UNIQ-ONE"));
    let handle = base64::engine::general_purpose::URL_SAFE
        .decode(r.ext("recallHandle").unwrap())
        .unwrap();
    let out_ms = (deliver / 1000) * 1000;
    assert_eq!(
        String::from_utf8(handle).unwrap(),
        format!("v1 TopicT broker-t {} UNIQ-ONE", out_ms + 1)
    );
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(
        pull_all(&c, &addr, "TopicT", 1).await.is_empty(),
        "not before its time"
    );
    let got = wait_for(&c, &addr, "TopicT", 1, T).await;
    let arrived = now_ms();
    assert_eq!(got.len(), 1);
    // As Java: one precision (1 s) after the rounded-down time, so never before the deliver time.
    assert!(arrived >= deliver, "{} ms early", deliver - arrived);
    assert!(arrived < deliver + 2000, "{} ms late", arrived - deliver);
    let (body, p) = &got[0];
    assert_eq!(body, "one");
    for (k, v) in [
        ("TAGS", "TagT"),
        ("UNIQ_KEY", "UNIQ-ONE"),
        ("u", "v"),
        ("REAL_TOPIC", "TopicT"),
        ("REAL_QID", "1"),
    ] {
        assert_eq!(prop(p, k), Some(v), "{k}");
    }
    assert_eq!(prop(p, "TIMER_OUT_MS"), Some(out_ms.to_string().as_str()));
    assert!(prop(p, "TIMER_ENQUEUE_MS").is_some());
    let dequeued: i64 = prop(p, "TIMER_DEQUEUE_MS").unwrap().parse().unwrap();
    assert!(dequeued >= out_ms + 1000);

    // Two more, 3 s and 60 s ahead; the broker restarts before either is due.
    for (body, sec) in [("two", "3"), ("late", "60")] {
        let p = props(&[("TIMER_DELAY_SEC", sec)]);
        let r = c
            .invoke(&addr, send_one("TopicT", 1, &p, body), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    let sent = Instant::now();
    c.shutdown();
    b.shutdown().await;
    let progress = std::fs::read_to_string(dir.path().join("config/timerProgress.json")).unwrap();
    assert!(progress.contains("\"enqueueOffset\": 3"), "{progress}");
    let b = start_broker(dir.path(), port, &[]).await;
    let c = RemotingClient::new(ClientConfig::default());
    assert_eq!(pull_all(&c, &addr, "TopicT", 1).await.len(), 1);
    let got = wait_for(&c, &addr, "TopicT", 2, Duration::from_secs(6)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].0, "two");
    assert!(sent.elapsed() >= Duration::from_millis(2900));
    c.shutdown();
    b.shutdown().await;

    // Another restart: nothing delivered twice, the 60 s one still pending.
    let b = start_broker(dir.path(), port, &[]).await;
    let c = RemotingClient::new(ClientConfig::default());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let got = pull_all(&c, &addr, "TopicT", 1).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(b.broker.timer.pending_count(), 1);
    c.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_refusals_and_immediate_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[("timerMaxDelaySec", "100")]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    let illegal = "timer message illegal, the delay time should not be bigger than the max delay 100000ms; or if set del msg, the delay time should be bigger than the current time";
    for (k, v) in [
        ("TIMER_DELAY_SEC", "101"),
        ("TIMER_DELIVER_MS", "soon"),
        ("TIMER_DELAY_MS", "1e3"),
    ] {
        let r = c
            .invoke(&addr, send_one("TopicR", 1, &props(&[(k, v)]), "x"), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::MESSAGE_ILLEGAL, "{k}={v}");
        assert_eq!(r.remark.as_deref(), Some(illegal));
    }
    // In the past or negative: stored in its topic at once.
    for (k, v) in [("TIMER_DELAY_SEC", "-3"), ("TIMER_DELIVER_MS", "1000")] {
        let r = c
            .invoke(&addr, send_one("TopicR", 1, &props(&[(k, v)]), "now"), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS);
    }
    assert_eq!(wait_for(&c, &addr, "TopicR", 2, T).await.len(), 2);

    // Batches: a DELAY level (or timer keys) in the batch's properties is MESSAGE_ILLEGAL.
    let batch = store::message::encode_batch([(0, &b"a"[..], ""), (0, &b"b"[..], "")]);
    let ok = send(
        request_code::SEND_BATCH_MESSAGE,
        "TopicB",
        0,
        "",
        batch.clone(),
    );
    assert_eq!(
        c.invoke(&addr, ok, T).await.unwrap().code,
        response_code::SUCCESS
    );
    let delayed = send(
        request_code::SEND_BATCH_MESSAGE,
        "TopicB",
        0,
        &props(&[("DELAY", "2")]),
        batch.clone(),
    );
    let r = c.invoke(&addr, delayed, T).await.unwrap();
    assert_eq!(r.code, response_code::MESSAGE_ILLEGAL);
    assert_eq!(r.remark.as_deref(), Some("the message is illegal, maybe msg body or properties length not matched. msg body length limit 4194304B, msg properties length limit 32KB."));
    let timed = send(
        request_code::SEND_BATCH_MESSAGE,
        "TopicB",
        0,
        &props(&[("TIMER_DELAY_SEC", "2")]),
        batch,
    );
    let r = c.invoke(&addr, timed, T).await.unwrap();
    assert_eq!(r.code, response_code::MESSAGE_ILLEGAL);
    c.shutdown();
    b.shutdown().await;

    // With the wheel disabled, Java answers SYSTEM_ERROR.
    let b = start_broker(dir.path(), port, &[("timerWheelEnable", "false")]).await;
    let c = RemotingClient::new(ClientConfig::default());
    let r = c
        .invoke(
            &addr,
            send_one("TopicR", 1, &props(&[("TIMER_DELAY_SEC", "2")]), "x"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("accurate timer message is not enabled, timerWheelEnable is false")
    );
    c.shutdown();
    b.shutdown().await;
}

/// A kill -9 leaves a progress file older than what was delivered: after the restart nothing
/// pending is lost (repeats of what was delivered since are allowed, at-least-once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_progress_file_repeats_but_never_loses() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = [("timerFlushIntervalMs", "100")];
    let b = start_broker(dir.path(), port, &conf).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    for (body, sec) in [("a", "1"), ("b", "4")] {
        let p = props(&[("TIMER_DELAY_SEC", sec)]);
        let r = c
            .invoke(&addr, send_one("TopicK", 1, &p, body), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    // The progress saved before anything was delivered (both admitted, both pending).
    let file = dir.path().join("config/timerProgress.json");
    let deadline = Instant::now() + T;
    let stale = loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if text.contains("\"enqueueOffset\": 2") {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "progress never saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(wait_for(&c, &addr, "TopicK", 1, T).await.len(), 1);
    c.shutdown();
    b.shutdown().await;
    std::fs::write(&file, stale).unwrap();
    let _ = std::fs::remove_file(dir.path().join("config/timerProgress.json.bak"));

    let b = start_broker(dir.path(), port, &conf).await;
    let c = RemotingClient::new(ClientConfig::default());
    let got = wait_for(&c, &addr, "TopicK", 3, Duration::from_secs(8)).await;
    let bodies: Vec<&str> = got.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        bodies.iter().filter(|b| **b == "b").count(),
        1,
        "{bodies:?}"
    );
    assert!(
        bodies.iter().filter(|b| **b == "a").count() >= 1,
        "{bodies:?}"
    );
    assert_eq!(b.broker.timer.pending_count(), 0);
    c.shutdown();
    b.shutdown().await;
}
