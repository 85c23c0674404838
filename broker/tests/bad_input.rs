//! Bad input on the delivery paths, answered as the Java broker (4.9.8 / 5.3.x) answers it, and
//! the broker keeps serving afterwards (checked against the Java 5.5.0 broker through the
//! harness's raw remoting client): a delay level above the configured ones (clamped to the last),
//! zero or negative (not delayed), not a number (refused); END_TRANSACTION for a half that does not exist;
//! CONSUMER_SEND_MSG_BACK for an offset that holds no message (the retry topic is created first,
//! as in Java) and the shape of a good send-back copy; a malformed SQL92 subscription at heartbeat
//! and at pull time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, props, send};

use std::time::{Duration, Instant};

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::header::broker::EndTransactionRequestHeader;
use remoting::{request_code, response_code, RemotingCommand};
use store::message::record::decode_messages;

const T: Duration = Duration::from_secs(5);

async fn start_broker(
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, &str)],
) -> broker::BrokerHandle {
    common::start_broker("broker-b", root, port, extra).await
}

/// A pull of `topic` queue `queue` from `offset`; `sub` = Some((expression, type)) sets the
/// SUBSCRIPTION flag (without it the group's registered subscription applies).
fn pull(
    group: &str,
    topic: &str,
    queue: i32,
    offset: i64,
    sub: Option<(&str, &str)>,
) -> RemotingCommand {
    let mut ext = ExtFields::new();
    let flags = if sub.is_some() { 4 } else { 0 };
    for (k, v) in [
        ("consumerGroup", group.to_string()),
        ("topic", topic.to_string()),
        ("queueId", queue.to_string()),
        ("queueOffset", offset.to_string()),
        ("maxMsgNums", "32".to_string()),
        ("sysFlag", flags.to_string()),
        ("commitOffset", "0".to_string()),
        ("suspendTimeoutMillis", "0".to_string()),
        ("subVersion", "0".to_string()),
    ] {
        ext.insert(k, v);
    }
    if let Some((expr, ty)) = sub {
        ext.insert("subscription", expr);
        ext.insert("expressionType", ty);
    }
    RemotingCommand::request(request_code::PULL_MESSAGE, ext)
}

/// (topic, body, properties string, reconsume times) of every message a pull found.
type Found = Vec<(String, Vec<u8>, String, i32)>;

async fn pulled(c: &RemotingClient, addr: &str, req: RemotingCommand) -> Found {
    let r = c.invoke(addr, req, T).await.unwrap();
    if r.code != response_code::SUCCESS {
        return Vec::new();
    }
    let body = r.body.to_bytes();
    decode_messages(&body, true)
        .map(|m| {
            let m = m.unwrap();
            (
                m.topic.to_string(),
                m.body.to_vec(),
                m.properties.to_string(),
                m.reconsume_times,
            )
        })
        .collect()
}

/// Pulls queue `queue` of `topic` with `*` until `n` messages are there (or 5 s pass).
async fn wait_pull(c: &RemotingClient, addr: &str, topic: &str, queue: i32, n: usize) -> Found {
    let deadline = Instant::now() + T;
    loop {
        let got = pulled(c, addr, pull("cg", topic, queue, 0, Some(("*", "TAG")))).await;
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn prop<'a>(properties: &'a str, key: &str) -> Option<&'a str> {
    store::message::get_property(properties, key)
}

/// The broker still stores and serves an ordinary message (after some bad input).
async fn still_serving(c: &RemotingClient, addr: &str, topic: &str, body: &str) {
    let r = c
        .invoke(addr, send(topic, &props(&[("TAGS", "ok")]), body), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let deadline = Instant::now() + T;
    loop {
        let got = pulled(c, addr, pull("cg", topic, 0, 0, Some(("*", "TAG")))).await;
        if got.iter().any(|m| m.1 == body.as_bytes()) {
            return;
        }
        assert!(Instant::now() < deadline, "{body} not served: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_levels_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[("messageDelayLevel", "1s 2s")]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    // Above the last level: accepted, clamped to the last (2), kept in its schedule queue (1)
    // with DELAY rewritten to 2 and the real topic and queue remembered (Java: HookUtils /
    // CommitLog set the level to getMaxDelayLevel() before moving the message).
    let r = c
        .invoke(
            &addr,
            send("TopicBig", &props(&[("DELAY", "99")]), "big"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(
        r.ext("queueId"),
        Some("0"),
        "the answer names the real queue"
    );
    let sched = wait_pull(&c, &addr, "SCHEDULE_TOPIC_XXXX", 1, 1).await;
    assert_eq!(sched.len(), 1, "{sched:?}");
    assert_eq!(sched[0].1, b"big");
    assert_eq!(prop(&sched[0].2, "DELAY"), Some("2"));
    assert_eq!(prop(&sched[0].2, "REAL_TOPIC"), Some("TopicBig"));
    assert_eq!(prop(&sched[0].2, "REAL_QID"), Some("0"));
    assert!(
        pulled(&c, &addr, pull("cg", "TopicBig", 0, 0, Some(("*", "TAG"))))
            .await
            .is_empty()
    );

    // Zero and negative levels: not delayed at all.
    for (level, topic) in [("0", "TopicZero"), ("-3", "TopicNeg")] {
        let t0 = Instant::now();
        let r = c
            .invoke(&addr, send(topic, &props(&[("DELAY", level)]), level), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
        assert_eq!(wait_pull(&c, &addr, topic, 0, 1).await.len(), 1);
        assert!(t0.elapsed() < Duration::from_millis(900), "level {level}");
    }
    // Not a decimal int: Java's Integer.parseInt fails inside the put, the send is refused with
    // the exception as remark (as the Java 5.5.0 broker on JDK 17 answers); nothing is stored.
    for bad in ["abc", " 2", "99999999999", "1.5"] {
        let r = c
            .invoke(&addr, send("TopicBad", &props(&[("DELAY", bad)]), bad), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SYSTEM_ERROR, "{bad:?}");
        assert_eq!(
            r.remark,
            Some(format!(
                "java.lang.NumberFormatException: For input string: \"{bad}\", \
                 java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)"
            ))
        );
    }
    // An empty value is no property for Java: stored at once.
    let r = c
        .invoke(
            &addr,
            send("TopicBad", &props(&[("DELAY", "")]), "empty"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let got = wait_pull(&c, &addr, "TopicBad", 0, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, b"empty");
    // The clamped one is delivered at the last level's time.
    let got = wait_pull(&c, &addr, "TopicBig", 0, 1).await;
    assert_eq!(got.len(), 1);
    still_serving(&c, &addr, "TopicOk", "after-delay").await;
    c.shutdown();
    b.shutdown().await;
}

fn end_tx(offset: i64, decision: i32, from_check: bool) -> RemotingCommand {
    let h = EndTransactionRequestHeader {
        producer_group: "pg".into(),
        tran_state_table_offset: 0,
        commit_log_offset: offset,
        commit_or_rollback: decision,
        from_transaction_check: Some(from_check),
        msg_id: "NO-SUCH-HALF".into(),
        transaction_id: Some("NO-SUCH-HALF".into()),
        ..Default::default()
    };
    RemotingCommand::request_with_header(request_code::END_TRANSACTION, &h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_transaction_of_a_half_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    still_serving(&c, &addr, "TopicT", "before").await;

    // Java: commitMessage / rollbackMessage look the half up by offset and answer
    // SYSTEM_ERROR "Find prepared transaction message failed" when there is none, whether the
    // request comes from the producer or from a check.
    for offset in [1_000_000_000i64, -1, 3] {
        for decision in [8, 12] {
            for from_check in [false, true] {
                let r = c
                    .invoke(&addr, end_tx(offset, decision, from_check), T)
                    .await
                    .unwrap();
                assert_eq!(
                    (r.code, r.remark.as_deref()),
                    (
                        response_code::SYSTEM_ERROR,
                        Some("Find prepared transaction message failed")
                    ),
                    "offset {offset} decision {decision} from check {from_check}"
                );
            }
        }
    }
    still_serving(&c, &addr, "TopicT", "after").await;
    c.shutdown();
    b.shutdown().await;
}

fn send_back(group: &str, offset: i64, delay_level: i32) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("offset", offset.to_string()),
        ("group", group.to_string()),
        ("delayLevel", delay_level.to_string()),
        ("originMsgId", "CLIENT-SIDE-ID".to_string()),
        ("originTopic", "TopicSB".to_string()),
        ("unitMode", "false".to_string()),
        ("maxReconsumeTimes", "16".to_string()),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::CONSUMER_SEND_MSG_BACK, ext)
}

async fn topic_names(c: &RemotingClient, addr: &str) -> String {
    let r = c
        .invoke(
            addr,
            RemotingCommand::request(request_code::GET_ALL_TOPIC_CONFIG, ExtFields::new()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    String::from_utf8_lossy(&r.body.to_bytes()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_of_an_offset_without_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    let r = c
        .invoke(
            &addr,
            send("TopicSB", &props(&[("TAGS", "t"), ("KEYS", "k1")]), "orig"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let offset_msg_id = r.ext("msgId").unwrap().to_string();
    let (_, phy) = store::message::parse_offset_msg_id(&offset_msg_id).unwrap();

    // Past the end and negative: Java's lookMessageByOffset finds nothing; SYSTEM_ERROR with the
    // offset in the remark. The retry topic was created before the lookup, as in Java.
    assert!(!topic_names(&c, &addr).await.contains("%RETRY%cg-missing"));
    for offset in [1_000_000_000i64, -1] {
        let r = c
            .invoke(&addr, send_back("cg-missing", offset, 0), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SYSTEM_ERROR, "offset {offset}");
        assert_eq!(
            r.remark,
            Some(format!("look message by offset failed, {offset}"))
        );
    }
    assert!(topic_names(&c, &addr).await.contains("%RETRY%cg-missing"));
    // Inside a record: SYSTEM_ERROR too (Java reads a size from the middle of the record and
    // answers with whatever exception that gives; ours finds no record there).
    let r = c
        .invoke(&addr, send_back("cg-missing", phy + 7, 0), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);

    // A good one with a negative level goes straight to the DLQ, shaped as Java shapes it.
    let r = c
        .invoke(&addr, send_back("cg-missing", phy, -1), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let dlq = wait_pull(&c, &addr, "%DLQ%cg-missing", 0, 1).await;
    assert_eq!(dlq.len(), 1);
    let (topic, body, p, reconsume) = &dlq[0];
    assert_eq!(
        (topic.as_str(), body.as_slice()),
        ("%DLQ%cg-missing", &b"orig"[..])
    );
    assert_eq!(*reconsume, 1);
    assert_eq!(prop(p, "RETRY_TOPIC"), Some("TopicSB"));
    assert_eq!(
        prop(p, "ORIGIN_MESSAGE_ID"),
        Some(offset_msg_id.as_str()),
        "the original's offset message id, not the header's originMsgId"
    );
    assert_eq!(prop(p, "DELAY"), Some("0"));
    assert_eq!(prop(p, "KEYS"), Some("k1"));
    assert_eq!(prop(p, "RECONSUME_TIME"), None);
    assert_eq!(prop(p, "MAX_RECONSUME_TIMES"), None);
    still_serving(&c, &addr, "TopicSB2", "after").await;
    c.shutdown();
    b.shutdown().await;
}

fn heartbeat(group: &str, topic: &str, expr: &str) -> RemotingCommand {
    let hb = serde_json::json!({
        "clientID": format!("127.0.0.1@{group}"),
        "consumerDataSet": [{
            "groupName": group,
            "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING",
            "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
            "unitMode": false,
            "subscriptionDataSet": [{
                "classFilterMode": false,
                "topic": topic,
                "subString": expr,
                "tagsSet": [],
                "codeSet": [],
                "subVersion": 1,
                "expressionType": "SQL92",
            }],
        }],
        "producerDataSet": [],
    });
    RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
        .with_body(serde_json::to_vec(&hb).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sql92_at_subscription_time() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[("enablePropertyFilter", "true")]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    still_serving(&c, &addr, "TopicQ", "before").await;

    // Java's heartbeat accepts the subscription (the filter data just does not compile) ...
    for expr in ["a = = 1", "(a > 1", "a IN ()", "'unterminated"] {
        let group = format!("cg-bad-{}", expr.len());
        let r = c
            .invoke(&addr, heartbeat(&group, "TopicQ", expr), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{expr}: {:?}", r.remark);
        // ... and a pull relying on it is refused with FILTER_DATA_NOT_EXIST.
        let r = c
            .invoke(&addr, pull(&group, "TopicQ", 0, 0, None), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::FILTER_DATA_NOT_EXIST, "{expr}");
        assert_eq!(
            r.remark.as_deref(),
            Some("The broker's consumer filter data is not exist!Your expression may be wrong!")
        );
        // A pull carrying the expression itself: SUBSCRIPTION_PARSE_FAILED.
        let r = c
            .invoke(
                &addr,
                pull(&group, "TopicQ", 0, 0, Some((expr, "SQL92"))),
                T,
            )
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUBSCRIPTION_PARSE_FAILED, "{expr}");
        assert_eq!(
            r.remark.as_deref(),
            Some("parse the consumer's subscription failed")
        );
    }
    still_serving(&c, &addr, "TopicQ", "after").await;
    c.shutdown();
    b.shutdown().await;
}
