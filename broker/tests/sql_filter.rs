//! SQL92 property filtering over real sockets: with `enablePropertyFilter=true` a pull carrying
//! an SQL92 subscription (or a group whose heartbeat registered one) gets only the messages
//! whose properties match; bad expressions and a broker without the filter answer with the
//! Java broker's codes, on pulls and on CHECK_CLIENT_CONFIG.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

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

async fn start_broker(root: &std::path::Path, port: u16, filter: bool) -> broker::BrokerHandle {
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", "broker-sql".to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", root.display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".to_string()),
        ("brokerIP1", "127.0.0.1".to_string()),
        ("enablePropertyFilter", filter.to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    let (cfg, _) = broker::BrokerConfig::from_properties(props).unwrap();
    broker::start(cfg).await.unwrap()
}

/// SEND_MESSAGE_V2 to queue 0 with a tag and user properties.
fn send(topic: &str, tags: &str, user: &[(&str, &str)], body: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("a", "pg"),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "1"),
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
    let mut props = format!("TAGS\u{1}{tags}\u{2}");
    for (k, v) in user {
        props.push_str(&format!("{k}\u{1}{v}\u{2}"));
    }
    props.push_str("WAIT\u{1}true");
    ext.insert("i", props);
    RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext).with_body(body.as_bytes().to_vec())
}

/// A pull from queue 0; `sub` = Some((expression, type)) sets the SUBSCRIPTION flag.
fn pull(group: &str, topic: &str, offset: i64, sub: Option<(&str, &str)>) -> RemotingCommand {
    let mut ext = ExtFields::new();
    let flags = if sub.is_some() { 4 } else { 0 };
    for (k, v) in [
        ("consumerGroup", group.to_string()),
        ("topic", topic.to_string()),
        ("queueId", "0".to_string()),
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

fn heartbeat(group: &str, topic: &str, expr: &str, ty: &str, version: i64) -> RemotingCommand {
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
                "subVersion": version,
                "expressionType": ty,
            }],
        }],
        "producerDataSet": [],
    });
    RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
        .with_body(serde_json::to_vec(&hb).unwrap())
}

/// CHECK_CLIENT_CONFIG as the Java client sends it: no header, a CheckClientRequestBody.
fn check_client(expr: &str, ty: &str) -> RemotingCommand {
    let body = serde_json::json!({
        "clientId": "127.0.0.1@check",
        "group": "cg-check",
        "subscriptionData": {
            "classFilterMode": false,
            "codeSet": [],
            "expressionType": ty,
            "subString": expr,
            "subVersion": 1700000000000i64,
            "tagsSet": [],
            "topic": "TopicS",
        },
    });
    RemotingCommand::request(request_code::CHECK_CLIENT_CONFIG, ExtFields::new())
        .with_body(serde_json::to_vec(&body).unwrap())
}

fn bodies(r: &RemotingCommand) -> Vec<String> {
    let body = r.body.to_bytes();
    decode_messages(&body, true)
        .map(|m| String::from_utf8(m.unwrap().body.to_vec()).unwrap())
        .collect()
}

/// Six messages: m0..m5 with a = index, b = x for even / y for odd, TagA / TagB alternating;
/// m5 has no `b` at all.
async fn send_six(c: &RemotingClient, addr: &str) {
    for i in 0..6 {
        let a = i.to_string();
        let b = if i % 2 == 0 { "x" } else { "y" };
        let tag = if i % 2 == 0 { "TagA" } else { "TagB" };
        let mut user = vec![("a", a.as_str())];
        if i != 5 {
            user.push(("b", b));
        }
        let r = c
            .invoke(addr, send("TopicS", tag, &user, &format!("m{i}")), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    // The ConsumeQueue is written after the send returns: wait until all six are pullable.
    let deadline = std::time::Instant::now() + T;
    loop {
        let r = c
            .invoke(addr, pull("cg-wait", "TopicS", 0, Some(("*", "TAG"))), T)
            .await
            .unwrap();
        if r.code == response_code::SUCCESS && bodies(&r).len() == 6 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "six messages never became pullable"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_pulls_return_only_matching_messages() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, true).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    send_six(&c, &addr).await;

    for (expr, want) in [
        ("a > 1 AND b = 'x'", vec!["m2", "m4"]),
        ("a BETWEEN 1 AND 3", vec!["m1", "m2", "m3"]),
        ("TAGS = 'TagB'", vec!["m1", "m3", "m5"]),
        ("b IS NULL", vec!["m5"]),
        ("b IN ('y') OR a >= 4", vec!["m1", "m3", "m4", "m5"]),
        ("b <> 'x'", vec!["m1", "m3"]),
        ("NOT (a < 5)", vec!["m5"]),
    ] {
        let r = c
            .invoke(&addr, pull("cg", "TopicS", 0, Some((expr, "SQL92"))), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{expr}: {:?}", r.remark);
        assert_eq!(bodies(&r), want, "{expr}");
        assert_eq!(r.ext("nextBeginOffset"), Some("6"), "{expr}");
    }

    // Nothing matches: the scanned units are skipped, as for a tag that matches nothing.
    let r = c
        .invoke(
            &addr,
            pull("cg", "TopicS", 0, Some(("a > 100", "SQL92"))),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::PULL_RETRY_IMMEDIATELY);
    assert_eq!(r.ext("nextBeginOffset"), Some("6"));

    // A tag subscription on the same broker still filters by tag.
    let r = c
        .invoke(&addr, pull("cg", "TopicS", 0, Some(("TagA", "TAG"))), T)
        .await
        .unwrap();
    assert_eq!(bodies(&r), vec!["m0", "m2", "m4"]);

    // A pull's own expression that does not compile: SUBSCRIPTION_PARSE_FAILED.
    let r = c
        .invoke(&addr, pull("cg", "TopicS", 0, Some(("a >", "SQL92"))), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUBSCRIPTION_PARSE_FAILED);
    assert_eq!(
        r.remark.as_deref(),
        Some("parse the consumer's subscription failed")
    );

    // A group that registered its SQL92 subscription by heartbeat pulls without the flag.
    let r = c
        .invoke(
            &addr,
            heartbeat("cg-hb", "TopicS", "a < 2 OR b = 'y'", "SQL92", 1),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c
        .invoke(&addr, pull("cg-hb", "TopicS", 0, None), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(bodies(&r), vec!["m0", "m1", "m3"]);
    // Its subscription changes (a new version): the new expression applies.
    let r = c
        .invoke(&addr, heartbeat("cg-hb", "TopicS", "a = 4", "SQL92", 2), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c
        .invoke(&addr, pull("cg-hb", "TopicS", 0, None), T)
        .await
        .unwrap();
    assert_eq!(bodies(&r), vec!["m4"]);

    // A registered expression that does not compile: FILTER_DATA_NOT_EXIST.
    c.invoke(
        &addr,
        heartbeat("cg-bad", "TopicS", "a = = 1", "SQL92", 1),
        T,
    )
    .await
    .unwrap();
    let r = c
        .invoke(&addr, pull("cg-bad", "TopicS", 0, None), T)
        .await
        .unwrap();
    assert_eq!(
        r.code,
        response_code::FILTER_DATA_NOT_EXIST,
        "{:?}",
        r.remark
    );

    // CHECK_CLIENT_CONFIG: a good expression passes, a bad one is code 23 with the reason.
    let r = c
        .invoke(&addr, check_client("a > 5 AND b = 'x'", "SQL92"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(&addr, check_client("a > 5 AND b =", "SQL92"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUBSCRIPTION_PARSE_FAILED);
    let remark = r.remark.unwrap_or_default();
    assert!(remark.contains("Invalid MessageSelector"), "{remark}");
    assert!(remark.contains("column 14"), "{remark}");
    let r = c
        .invoke(&addr, check_client("a > 'x'", "SQL92"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUBSCRIPTION_PARSE_FAILED);
    let r = c
        .invoke(&addr, check_client("TagA || TagB", "TAG"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);

    c.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql92_is_refused_when_the_property_filter_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, false).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    send_six(&c, &addr).await;

    let disabled = Some("The broker does not support consumer to filter message by SQL92");
    let r = c
        .invoke(&addr, pull("cg", "TopicS", 0, Some(("a > 1", "SQL92"))), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), disabled);

    c.invoke(&addr, heartbeat("cg-hb", "TopicS", "a > 1", "SQL92", 1), T)
        .await
        .unwrap();
    let r = c
        .invoke(&addr, pull("cg-hb", "TopicS", 0, None), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), disabled);

    let r = c
        .invoke(&addr, check_client("a > 1", "SQL92"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), disabled);
    let r = c.invoke(&addr, check_client("*", "TAG"), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS);

    // Tag pulls are unaffected.
    let r = c
        .invoke(&addr, pull("cg", "TopicS", 0, Some(("*", "TAG"))), T)
        .await
        .unwrap();
    assert_eq!(bodies(&r).len(), 6);

    c.shutdown();
    b.shutdown().await;
}
