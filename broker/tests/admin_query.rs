//! The admin queries of the dashboard and of slave brokers (QUERY_CONSUME_TIME_SPAN,
//! GET_SYSTEM_TOPIC_LIST_FROM_BROKER, GET_SUBSCRIPTIONGROUP_CONFIG, GET_ALL_DELAY_OFFSET) and the
//! 5.x refusal of system topics by UPDATE_AND_CREATE_TOPIC / DELETE_TOPIC_IN_BROKER, with their
//! edges: unknown topic or group, illegal group name, missing header fields.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, now_ms, props, send};

use std::time::Duration;

use remoting::client::RemotingClient;
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code as rc, response_code, RemotingCommand};

const T: Duration = Duration::from_secs(5);

fn request(code: i32, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for &(k, v) in fields {
        ext.insert(k.to_string(), v);
    }
    RemotingCommand::request(code, ext)
}

async fn call(c: &RemotingClient, addr: &str, req: RemotingCommand) -> RemotingCommand {
    c.invoke(addr, req, T).await.unwrap()
}

fn body_json(r: &RemotingCommand) -> serde_json::Value {
    serde_json::from_slice(&r.body.to_bytes()).unwrap()
}

fn create_topic(topic: &str) -> RemotingCommand {
    request(
        rc::UPDATE_AND_CREATE_TOPIC,
        &[
            ("topic", topic),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "2"),
            ("writeQueueNums", "2"),
            ("perm", "6"),
            ("topicFilterType", "SINGLE_TAG"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_time_span_follows_the_group_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = common::start_broker("broker-ts", dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(Default::default());

    for i in 0..3 {
        let r = call(&c, &addr, send("ts_topic", &props(&[]), &format!("m{i}"))).await;
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    // The consume queue is built behind the CommitLog: wait until all three are dispatched.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(
            &c,
            &addr,
            request(
                rc::GET_MAX_OFFSET,
                &[("topic", "ts_topic"), ("queueId", "0")],
            ),
        )
        .await;
        let max: i64 = r
            .ext_fields
            .as_ref()
            .and_then(|e| e.get("offset"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if max == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "max offset {max}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let span = |group: &str| {
        request(
            rc::QUERY_CONSUME_TIME_SPAN,
            &[("topic", "ts_topic"), ("group", group)],
        )
    };

    // A group without offsets: consume time = oldest store time; the delay counts from -1 (Java).
    let before = now_ms();
    let r = call(&c, &addr, span("ts_nobody")).await;
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let v = body_json(&r);
    let set = v["consumeTimeSpanSet"].as_array().unwrap();
    assert_eq!(set.len(), 4, "one entry per write queue: {v}");
    let q0 = &set[0];
    assert_eq!(q0["messageQueue"]["queueId"], 0);
    assert_eq!(q0["messageQueue"]["topic"], "ts_topic");
    assert_eq!(q0["messageQueue"]["brokerName"], "broker-ts");
    let (min, max) = (
        q0["minTimeStamp"].as_i64().unwrap(),
        q0["maxTimeStamp"].as_i64().unwrap(),
    );
    assert!(min > 0 && min <= max && max <= now_ms(), "{q0}");
    assert_eq!(q0["consumeTimeStamp"].as_i64(), Some(min));
    assert!(q0["delayTime"].as_i64().unwrap() > before, "{q0}");
    // An empty queue: no store times; offset -1 is still below the max offset 0 (Java).
    assert_eq!(set[1]["minTimeStamp"], -1);
    assert_eq!(set[1]["maxTimeStamp"], -1);
    assert!(set[1]["delayTime"].as_i64().unwrap() > before, "{}", set[1]);

    // Offset 1 of 3: consume time = first message's, lag = since the second was stored.
    let commit = |offset: &str| {
        request(
            rc::UPDATE_CONSUMER_OFFSET,
            &[
                ("consumerGroup", "ts_cg"),
                ("topic", "ts_topic"),
                ("queueId", "0"),
                ("commitOffset", offset),
            ],
        )
    };
    let r = call(&c, &addr, commit("1")).await;
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let v = body_json(&call(&c, &addr, span("ts_cg")).await);
    let q0 = &v["consumeTimeSpanSet"][0];
    assert_eq!(q0["consumeTimeStamp"].as_i64(), Some(min));
    let lag = q0["delayTime"].as_i64().unwrap();
    assert!((0..60_000).contains(&lag), "{q0}");

    // All consumed: consume time = newest store time, no lag.
    call(&c, &addr, commit("3")).await;
    let v = body_json(&call(&c, &addr, span("ts_cg")).await);
    let q0 = &v["consumeTimeSpanSet"][0];
    assert_eq!(q0["consumeTimeStamp"].as_i64(), Some(max), "{v}");
    assert_eq!(q0["delayTime"], 0);

    // Unknown topic: Java's code and remark.
    let r = call(
        &c,
        &addr,
        request(
            rc::QUERY_CONSUME_TIME_SPAN,
            &[("topic", "ts_none"), ("group", "g")],
        ),
    )
    .await;
    assert_eq!(r.code, response_code::TOPIC_NOT_EXIST);
    assert_eq!(r.remark.as_deref(), Some("topic[ts_none] not exist"));
    // Missing group field: a header error.
    let r = call(
        &c,
        &addr,
        request(rc::QUERY_CONSUME_TIME_SPAN, &[("topic", "ts_topic")]),
    )
    .await;
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_topics_are_listed_and_refused_by_topic_admin() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = common::start_broker("broker-sys", dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(Default::default());

    let r = call(
        &c,
        &addr,
        request(rc::GET_SYSTEM_TOPIC_LIST_FROM_BROKER, &[]),
    )
    .await;
    assert_eq!(r.code, response_code::SUCCESS);
    let list: Vec<String> = serde_json::from_value(body_json(&r)["topicList"].clone()).unwrap();
    for t in [
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRACE_TOPIC",
        "CHECKPOINT_TOPIC",
        "DefaultCluster",
        "DefaultCluster_REPLY_TOPIC",
        "broker-sys",
        "rmq_sys_SYNC_BROKER_MEMBER_broker-sys",
    ] {
        assert!(list.iter().any(|x| x == t), "{t} missing from {list:?}");
    }

    // Create/update and delete refuse them (static set, broker-added, rmq_sys_ prefix).
    for t in [
        "SELF_TEST_TOPIC",
        "broker-sys",
        "DefaultCluster",
        "rmq_sys_anything",
    ] {
        let r = call(&c, &addr, create_topic(t)).await;
        assert_eq!(r.code, response_code::INVALID_PARAMETER, "create {t}");
        assert_eq!(
            r.remark.as_deref(),
            Some(format!("The topic[{t}] is conflict with system topic.").as_str())
        );
        let r = call(
            &c,
            &addr,
            request(rc::DELETE_TOPIC_IN_BROKER, &[("topic", t)]),
        )
        .await;
        assert_eq!(r.code, response_code::INVALID_PARAMETER, "delete {t}");
    }
    let r = call(
        &c,
        &addr,
        request(rc::GET_TOPIC_CONFIG, &[("topic", "SELF_TEST_TOPIC")]),
    )
    .await;
    assert_eq!(r.code, response_code::SUCCESS, "the system topic survived");
    let r = call(
        &c,
        &addr,
        request(rc::DELETE_TOPIC_IN_BROKER, &[("topic", " ")]),
    )
    .await;
    assert_eq!(r.code, response_code::INVALID_PARAMETER);
    assert_eq!(r.remark.as_deref(), Some("The specified topic is blank."));
    // An ordinary topic still works both ways.
    assert_eq!(
        call(&c, &addr, create_topic("plain_topic")).await.code,
        response_code::SUCCESS
    );
    let r = call(
        &c,
        &addr,
        request(rc::DELETE_TOPIC_IN_BROKER, &[("topic", "plain_topic")]),
    )
    .await;
    assert_eq!(r.code, response_code::SUCCESS);
    b.shutdown().await;

    // validateSystemTopicWhenUpdateTopic=false lifts the check (as Java).
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = common::start_broker(
        "broker-sys2",
        dir.path(),
        port,
        &[("validateSystemTopicWhenUpdateTopic", "false")],
    )
    .await;
    let addr = format!("127.0.0.1:{port}");
    let r = call(&c, &addr, create_topic("rmq_sys_allowed")).await;
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_group_config_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = common::start_broker("broker-sg", dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(Default::default());
    let get = |g: &str| request(rc::GET_SUBSCRIPTIONGROUP_CONFIG, &[("group", g)]);

    // Missing: auto-created with Java's defaults (autoCreateSubscriptionGroup=true).
    let r = call(&c, &addr, get("sg_auto")).await;
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let v = body_json(&r);
    assert_eq!(v["groupName"], "sg_auto");
    assert_eq!(v["retryMaxTimes"], 16);
    assert_eq!(v["consumeEnable"], true);
    let r = call(
        &c,
        &addr,
        request(rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG, &[]),
    )
    .await;
    assert!(body_json(&r)["subscriptionGroupTable"]["sg_auto"].is_object());

    // An illegal name is never created.
    let r = call(&c, &addr, get("bad@group")).await;
    assert_eq!(r.code, response_code::SUBSCRIPTION_GROUP_NOT_EXIST);
    assert_eq!(r.remark.as_deref(), Some("No group in this broker"));
    let r = call(&c, &addr, request(rc::GET_SUBSCRIPTIONGROUP_CONFIG, &[])).await;
    assert_eq!(r.code, response_code::SYSTEM_ERROR, "missing header field");
    b.shutdown().await;

    // Without auto-creation a missing group is not found.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = common::start_broker(
        "broker-sg2",
        dir.path(),
        port,
        &[("autoCreateSubscriptionGroup", "false")],
    )
    .await;
    let addr = format!("127.0.0.1:{port}");
    let r = call(&c, &addr, get("sg_missing")).await;
    assert_eq!(r.code, response_code::SUBSCRIPTION_GROUP_NOT_EXIST);
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_delay_offsets_are_the_delay_offset_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = common::start_broker("broker-dl", dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(Default::default());

    let r = call(&c, &addr, request(rc::GET_ALL_DELAY_OFFSET, &[])).await;
    assert_eq!(r.code, response_code::SUCCESS);
    let text = String::from_utf8(r.body.to_bytes().to_vec()).unwrap();
    assert!(
        text.starts_with(r#"{"dataVersion":{"counter":0,"stateVersion":0,"timestamp":"#),
        "{text}"
    );
    assert!(text.ends_with(r#""offsetTable":{}}"#), "{text}");

    // A message delayed by level 18 (2 h): the level's entry appears once its task saw the head.
    let r = call(
        &c,
        &addr,
        send("dl_topic", &props(&[("DELAY", "18")]), "later"),
    )
    .await;
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(&c, &addr, request(rc::GET_ALL_DELAY_OFFSET, &[])).await;
        let text = String::from_utf8(r.body.to_bytes().to_vec()).unwrap();
        if text.ends_with(r#""offsetTable":{18:0}}"#) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no entry for level 18: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The runtime info reports the level as "delay offset,max offset" (Java buildRunningStats).
    let r = call(&c, &addr, request(rc::GET_BROKER_RUNTIME_INFO, &[])).await;
    let v = body_json(&r);
    assert_eq!(v["table"]["scheduleMessageOffset_18"], "0,1", "{v}");
    b.shutdown().await;

    // The data version survives a restart through delayOffset.json.
    let text = std::fs::read_to_string(dir.path().join("config").join("delayOffset.json")).unwrap();
    assert!(
        text.contains(r#""dataVersion":{"counter":0"#) && text.contains("18:0"),
        "{text}"
    );
}
