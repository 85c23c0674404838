//! Admin request codes of mqadmin `queryCq`, `producer`, `updateTopicList`, `updateSubGroupList`,
//! `cleanUnusedTopic` and `getConsumerStatus`, with the Java broker's answers at the edges:
//! unknown queue / unreadable index, invalid or system names in a batch (nothing applied), a
//! group with no consumer online, and the aggregation of a client's consumer status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, props, send};

use std::sync::Arc;
use std::time::Duration;

use remoting::channel::InboundHandler;
use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

fn request(code: i32, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in fields {
        ext.insert(k.to_string(), *v);
    }
    RemotingCommand::request(code, ext)
}

fn body_json(r: &RemotingCommand) -> Value {
    serde_json::from_slice(&r.body.to_bytes()).unwrap()
}

async fn broker_with_messages(
    dir: &std::path::Path,
) -> (broker::BrokerHandle, RemotingClient, String) {
    let port = free_port();
    let b = common::start_broker("broker-adm", dir, port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    for i in 0..3 {
        let p = props(&[("TAGS", "TagA"), ("KEYS", &format!("k{i}"))]);
        let r = c
            .invoke(&addr, send("TopicCq", &p, "body"), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    (b, c, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_consume_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, addr) = broker_with_messages(dir.path()).await;
    let q = |queue: &str, index: &str, count: &str, group: Option<&str>| {
        let mut f = vec![
            ("topic", "TopicCq"),
            ("queueId", queue),
            ("index", index),
            ("count", count),
        ];
        if let Some(g) = group {
            f.push(("consumerGroup", g));
        }
        request(rc::QUERY_CONSUME_QUEUE, &f)
    };
    // Dispatch to the ConsumeQueue is asynchronous.
    let deadline = std::time::Instant::now() + T;
    let v = loop {
        let r = c.invoke(&addr, q("0", "1", "10", None), T).await.unwrap();
        // Until the first dispatch the queue does not exist yet (SYSTEM_ERROR "... is not exist!").
        if r.code == response_code::SUCCESS
            && !r.body.to_bytes().is_empty()
            && body_json(&r)["maxQueueIndex"] == json!(3)
        {
            break body_json(&r);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not dispatched: {} {:?}",
            r.code,
            r.remark
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(v["minQueueIndex"], json!(0));
    let units = v["queueData"].as_array().unwrap();
    assert_eq!(units.len(), 2, "{v}");
    let tag_hash = "TagA"
        .bytes()
        .fold(0i32, |h, b| h.wrapping_mul(31).wrapping_add(b as i32));
    for u in units {
        assert_eq!(u["tagsCode"], json!(tag_hash));
        assert_eq!(u["eval"], json!(false));
        assert!(u["physicSize"].as_i64().unwrap() > 0);
        assert!(u.get("msg").is_none() && u.get("bitMap").is_none());
    }
    assert!(units[0]["physicOffset"].as_i64() < units[1]["physicOffset"].as_i64());
    assert!(v.get("subscriptionData").is_none() && v.get("filterData").is_none());

    // count limits the units.
    let r = c.invoke(&addr, q("0", "0", "1", None), T).await.unwrap();
    assert_eq!(body_json(&r)["queueData"].as_array().unwrap().len(), 1);

    // A group that is not online: the filter data says so.
    let r = c
        .invoke(&addr, q("0", "0", "1", Some("cg_none")), T)
        .await
        .unwrap();
    assert_eq!(
        body_json(&r)["filterData"],
        json!("cg_none@TopicCq is not online!")
    );

    // Unknown queue: SYSTEM_ERROR.
    let r = c.invoke(&addr, q("7", "0", "1", None), T).await.unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("7@TopicCq is not exist!"));

    // Index past the end: SUCCESS with a remark and no body.
    let r = c.invoke(&addr, q("0", "3", "1", None), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert_eq!(
        r.remark.as_deref(),
        Some("Index 3 of 0@TopicCq is not exist!")
    );
    assert!(r.body.to_bytes().is_empty());

    // No topic in the header.
    let r = c
        .invoke(
            &addr,
            request(rc::QUERY_CONSUME_QUEUE, &[("queueId", "0")]),
            T,
        )
        .await
        .unwrap();
    assert_ne!(r.code, response_code::SUCCESS);

    // CLEAN_UNUSED_TOPIC keeps the configured topic's queue.
    let r = c
        .invoke(&addr, request(rc::CLEAN_UNUSED_TOPIC, &[]), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c.invoke(&addr, q("0", "0", "10", None), T).await.unwrap();
    assert_eq!(body_json(&r)["queueData"].as_array().unwrap().len(), 3);
    c.shutdown();
    b.shutdown().await;
}

fn heartbeat(
    client_id: &str,
    producer_group: Option<&str>,
    consumer_group: Option<&str>,
) -> RemotingCommand {
    let producers: Vec<Value> = producer_group
        .map(|g| json!({"groupName": g}))
        .into_iter()
        .collect();
    let consumers: Vec<Value> = consumer_group
        .map(|g| {
            json!({
                "groupName": g,
                "consumeType": "CONSUME_PASSIVELY",
                "messageModel": "CLUSTERING",
                "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
                "unitMode": false,
                "subscriptionDataSet": [{
                    "classFilterMode": false, "topic": "TopicCq", "subString": "*",
                    "tagsSet": [], "codeSet": [], "subVersion": 1, "expressionType": "TAG",
                }],
            })
        })
        .into_iter()
        .collect();
    let hb =
        json!({"clientID": client_id, "consumerDataSet": consumers, "producerDataSet": producers});
    RemotingCommand::request(rc::HEART_BEAT, ExtFields::new())
        .with_body(serde_json::to_vec(&hb).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_table() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, addr) = broker_with_messages(dir.path()).await;
    let r = c
        .invoke(&addr, heartbeat("10.0.0.9@p1", Some("pg_adm"), None), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c
        .invoke(&addr, request(rc::GET_ALL_PRODUCER_INFO, &[]), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let v = body_json(&r);
    let list = v["data"]["pg_adm"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let p = &list[0];
    assert_eq!(p["clientId"], json!("10.0.0.9@p1"));
    assert!(p["remoteIP"].as_str().unwrap().starts_with("/127.0.0.1:"));
    assert!(p["language"].is_string());
    let ts = p["lastUpdateTimestamp"].as_i64().unwrap();
    assert!((common::now_ms() - ts).abs() < 60_000, "{ts}");
    c.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_and_group_lists() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, addr) = broker_with_messages(dir.path()).await;
    let topics = |list: Value| {
        RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC_LIST, ExtFields::new())
            .with_body(serde_json::to_vec(&json!({ "topicConfigList": list })).unwrap())
    };
    let config_of = |t: &str| request(rc::GET_TOPIC_CONFIG, &[("topic", t)]);
    let r = c
        .invoke(&addr, topics(json!([
            {"topicName": "TL_a", "readQueueNums": 2, "writeQueueNums": 2, "perm": 6},
            {"topicName": "TL_b", "readQueueNums": 1, "writeQueueNums": 1, "perm": 4,
             "attributes": {}, "order": false, "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0},
        ])), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c.invoke(&addr, config_of("TL_b"), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert_eq!(body_json(&r)["topicConfig"]["perm"], json!(4));

    // One invalid name or system topic: nothing of the batch is applied.
    for (bad, remark) in [
        ("bad topic", "contains illegal characters"),
        (
            "SCHEDULE_TOPIC_XXXX",
            "The topic[SCHEDULE_TOPIC_XXXX] is conflict with system topic.",
        ),
    ] {
        let r = c
            .invoke(
                &addr,
                topics(json!([{"topicName": "TL_c"}, {"topicName": bad}])),
                T,
            )
            .await
            .unwrap();
        assert_eq!(r.code, response_code::INVALID_PARAMETER);
        assert!(
            r.remark.as_deref().unwrap().contains(remark),
            "{:?}",
            r.remark
        );
        let r = c.invoke(&addr, config_of("TL_c"), T).await.unwrap();
        assert_eq!(r.code, response_code::TOPIC_NOT_EXIST);
    }
    // A body that is not a topic list.
    let r = c
        .invoke(
            &addr,
            RemotingCommand::request(rc::UPDATE_AND_CREATE_TOPIC_LIST, ExtFields::new())
                .with_body(b"[1".to_vec()),
            T,
        )
        .await
        .unwrap();
    assert_ne!(r.code, response_code::SUCCESS);

    let groups = |list: Value| {
        RemotingCommand::request(
            rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST,
            ExtFields::new(),
        )
        .with_body(serde_json::to_vec(&json!({ "groupConfigList": list })).unwrap())
    };
    let r = c
        .invoke(
            &addr,
            groups(json!([{"groupName": "GL_a", "retryMaxTimes": 5}, {"groupName": "GL_b"}])),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c
        .invoke(&addr, request(rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG, &[]), T)
        .await
        .unwrap();
    let all = body_json(&r);
    assert_eq!(
        all["subscriptionGroupTable"]["GL_a"]["retryMaxTimes"],
        json!(5)
    );
    assert!(all["subscriptionGroupTable"]["GL_b"].is_object());
    let r = c
        .invoke(
            &addr,
            groups(json!([{"groupName": "GL_c"}, {"groupName": "bad group"}])),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::INVALID_PARAMETER);
    assert!(r
        .remark
        .as_deref()
        .unwrap()
        .starts_with("The specified group: bad group, contains illegal"));
    c.shutdown();
    b.shutdown().await;
}

/// A consumer client answering GET_CONSUMER_STATUS_FROM_CLIENT as the Java client does.
struct StatusClient;

impl InboundHandler for StatusClient {
    fn on_request(&self, channel: &Channel, request: RemotingCommand) {
        if request.code != rc::GET_CONSUMER_STATUS_FROM_CLIENT {
            return;
        }
        let ext = request.ext_fields.clone().unwrap_or_default();
        let topic = ext.get("topic").unwrap_or_default().to_string();
        let body = format!(
            r#"{{"consumerTable":{{}},"messageQueueTable":{{{{"brokerName":"broker-adm","queueId":0,"topic":"{topic}"}}:3,{{"brokerName":"broker-adm","queueId":1,"topic":"{topic}"}}:0}}}}"#
        );
        let answer = RemotingCommand::response_to(&request, response_code::SUCCESS, None)
            .with_body(body.into_bytes());
        let channel = channel.clone();
        tokio::spawn(async move {
            let _ = channel.send(answer).await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_status_is_gathered_from_the_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (b, c, addr) = broker_with_messages(dir.path()).await;
    let ask = |group: &str, client: Option<&str>| {
        let mut f = vec![("topic", "TopicCq"), ("group", group)];
        if let Some(cl) = client {
            f.push(("clientAddr", cl));
        }
        request(rc::INVOKE_BROKER_TO_GET_CONSUMER_STATUS, &f)
    };
    let r = c.invoke(&addr, ask("cg_status", None), T).await.unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("No Any Consumer online in the consumer group: [cg_status]")
    );
    let r = c
        .invoke(
            &addr,
            request(
                rc::INVOKE_BROKER_TO_GET_CONSUMER_STATUS,
                &[("topic", "TopicCq")],
            ),
            T,
        )
        .await
        .unwrap();
    assert_ne!(r.code, response_code::SUCCESS);

    let consumer = RemotingClient::with_inbound(ClientConfig::default(), Arc::new(StatusClient));
    let r = consumer
        .invoke(&addr, heartbeat("10.0.0.9@c1", None, Some("cg_status")), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c.invoke(&addr, ask("cg_status", None), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let text = String::from_utf8(r.body.to_bytes().to_vec()).unwrap();
    assert_eq!(
        text,
        r#"{"consumerTable":{"10.0.0.9@c1":{{"brokerName":"broker-adm","queueId":0,"topic":"TopicCq"}:3,{"brokerName":"broker-adm","queueId":1,"topic":"TopicCq"}:0}},"messageQueueTable":{}}"#
    );
    // Another client id: nobody asked, an empty table.
    let r = c
        .invoke(&addr, ask("cg_status", Some("10.0.0.9@other")), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert_eq!(
        String::from_utf8(r.body.to_bytes().to_vec()).unwrap(),
        r#"{"consumerTable":{},"messageQueueTable":{}}"#
    );
    consumer.shutdown();
    c.shutdown();
    b.shutdown().await;
}
