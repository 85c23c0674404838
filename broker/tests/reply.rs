//! Request-reply over real sockets: a requester registered as a producer (HEARTBEAT) receives
//! the reply a responder sends with SEND_REPLY_MESSAGE(_V2) as PUSH_REPLY_MESSAGE_TO_CLIENT with
//! Java's header fields; the reply is stored in `<cluster>_REPLY_TOPIC` (unless
//! `storeReplyMessageEnable=false`); an unknown, missing or failing requester gives Java's
//! SYSTEM_ERROR remarks. Plain sends carry the broker's MSG_REGION / TRACE_ON properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::free_port;

use std::sync::Arc;
use std::time::Duration;

use remoting::channel::InboundHandler;
use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, Channel, RemotingCommand};
use store::message::get_property;
use store::message::record::decode_messages;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);
const REPLY_TOPIC: &str = "DefaultCluster_REPLY_TOPIC";
const REQUESTER: &str = "127.0.0.1@requester";

async fn start_broker(
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, &str)],
) -> broker::BrokerHandle {
    common::start_broker("broker-r", root, port, extra).await
}

/// The requester's side: records every push and answers it with `answer_code`.
struct Requester {
    pushes: mpsc::UnboundedSender<RemotingCommand>,
    answer_code: i32,
}

impl InboundHandler for Requester {
    fn on_request(&self, channel: &Channel, request: RemotingCommand) {
        if request.code != request_code::PUSH_REPLY_MESSAGE_TO_CLIENT {
            return;
        }
        let answer = RemotingCommand::response_to(&request, self.answer_code, None);
        let _ = self.pushes.send(request);
        let channel = channel.clone();
        tokio::spawn(async move {
            let _ = channel.send(answer).await;
        });
    }
}

/// A requester connection registered as producer `pg_req` under `REQUESTER`.
async fn requester(
    addr: &str,
    answer_code: i32,
) -> (RemotingClient, mpsc::UnboundedReceiver<RemotingCommand>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let c = RemotingClient::with_inbound(
        ClientConfig::default(),
        Arc::new(Requester {
            pushes: tx,
            answer_code,
        }),
    );
    let hb = serde_json::json!({
        "clientID": REQUESTER,
        "consumerDataSet": [],
        "producerDataSet": [{"groupName": "pg_req"}],
    });
    let r = c
        .invoke(
            addr,
            RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
                .with_body(serde_json::to_vec(&hb).unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    (c, rx)
}

fn reply_properties(reply_to: Option<&str>, correlation: &str) -> String {
    let mut p = format!(
        "CORRELATION_ID\u{1}{correlation}\u{2}MSG_TYPE\u{1}reply\u{2}TTL\u{1}3000\u{2}UNIQ_KEY\u{1}U{correlation}\u{2}u\u{1}v\u{2}"
    );
    if let Some(to) = reply_to {
        p.push_str(&format!("REPLY_TO_CLIENT\u{1}{to}\u{2}"));
    }
    p
}

/// SEND_REPLY_MESSAGE_V2 (compact header), or SEND_REPLY_MESSAGE (long names) when `v1`.
fn send_reply(properties: &str, body: &str, v1: bool) -> RemotingCommand {
    let fields = [
        ("producerGroup", "a", "pg_resp"),
        ("topic", "b", REPLY_TOPIC),
        ("defaultTopic", "c", "TBW102"),
        ("defaultTopicQueueNums", "d", "4"),
        ("queueId", "e", "0"),
        ("sysFlag", "f", "0"),
        ("bornTimestamp", "g", "1700000000000"),
        ("flag", "h", "0"),
        ("properties", "i", properties),
        ("reconsumeTimes", "j", "0"),
        ("unitMode", "k", "false"),
    ];
    let mut ext = ExtFields::new();
    for (long, short, v) in fields {
        ext.insert(if v1 { long } else { short }, v);
    }
    let code = if v1 {
        request_code::SEND_REPLY_MESSAGE
    } else {
        request_code::SEND_REPLY_MESSAGE_V2
    };
    RemotingCommand::request(code, ext).with_body(body.as_bytes().to_vec())
}

fn ext<'a>(cmd: &'a RemotingCommand, key: &str) -> Option<&'a str> {
    cmd.ext_fields.as_ref().and_then(|e| e.get(key))
}

/// The stored messages of queue 0 of the reply topic, once there are `n` (the ConsumeQueue is
/// written behind the CommitLog), or what is there after 5 s: (body, properties).
async fn stored_replies(c: &RemotingClient, addr: &str, n: usize) -> Vec<(Vec<u8>, String)> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let got = pull_replies(c, addr).await;
        if got.len() >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pull_replies(c: &RemotingClient, addr: &str) -> Vec<(Vec<u8>, String)> {
    let mut e = ExtFields::new();
    for (k, v) in [
        ("consumerGroup", "cg"),
        ("topic", REPLY_TOPIC),
        ("queueId", "0"),
        ("queueOffset", "0"),
        ("maxMsgNums", "32"),
        ("sysFlag", "4"),
        ("commitOffset", "0"),
        ("suspendTimeoutMillis", "0"),
        ("subscription", "*"),
        ("subVersion", "0"),
        ("expressionType", "TAG"),
    ] {
        e.insert(k, v);
    }
    let r = c
        .invoke(
            addr,
            RemotingCommand::request(request_code::PULL_MESSAGE, e),
            T,
        )
        .await
        .unwrap();
    if r.code != response_code::SUCCESS {
        return Vec::new();
    }
    let body = r.body.to_bytes();
    decode_messages(&body, true)
        .map(|m| {
            let m = m.unwrap();
            (m.body.to_vec(), m.properties.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_is_pushed_to_the_requester_and_stored() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let (req_client, mut pushes) = requester(&addr, response_code::SUCCESS).await;
    let responder = RemotingClient::new(ClientConfig::default());

    for (i, v1) in [(0, false), (1, true)] {
        let corr = format!("corr-{i}");
        let body = format!("reply body {i}");
        let r = responder
            .invoke(
                &addr,
                send_reply(&reply_properties(Some(REQUESTER), &corr), &body, v1),
                T,
            )
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
        assert_eq!(ext(&r, "queueId"), Some("0"));
        assert_eq!(ext(&r, "queueOffset"), Some(i.to_string().as_str()));
        let msg_id = ext(&r, "msgId").unwrap();
        assert_eq!(
            msg_id.len(),
            32,
            "stored: the offset message id, not the placeholder"
        );
        assert_eq!(ext(&r, "MSG_REGION"), Some("DefaultRegion"));
        assert_eq!(ext(&r, "TRACE_ON"), Some("true"));

        let push = tokio::time::timeout(T, pushes.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(push.code, request_code::PUSH_REPLY_MESSAGE_TO_CLIENT);
        assert_eq!(push.body.to_bytes().as_ref(), body.as_bytes());
        assert_eq!(ext(&push, "topic"), Some(REPLY_TOPIC));
        assert_eq!(ext(&push, "producerGroup"), Some("pg_resp"));
        assert_eq!(ext(&push, "defaultTopic"), Some("TBW102"));
        assert_eq!(ext(&push, "defaultTopicQueueNums"), Some("4"));
        assert_eq!(ext(&push, "queueId"), Some("0"));
        assert_eq!(ext(&push, "sysFlag"), Some("0"));
        assert_eq!(ext(&push, "flag"), Some("0"));
        assert_eq!(ext(&push, "bornTimestamp"), Some("1700000000000"));
        assert_eq!(ext(&push, "reconsumeTimes"), Some("0"));
        assert_eq!(ext(&push, "unitMode"), Some("false"));
        assert_eq!(ext(&push, "storeHost"), Some(addr.as_str()));
        assert!(ext(&push, "bornHost").unwrap().starts_with("127.0.0.1:"));
        assert!(
            ext(&push, "storeTimestamp")
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > 1_700_000_000_000
        );
        let props = ext(&push, "properties").unwrap();
        assert_eq!(get_property(props, "CORRELATION_ID"), Some(corr.as_str()));
        assert_eq!(get_property(props, "REPLY_TO_CLIENT"), Some(REQUESTER));
        assert_eq!(get_property(props, "MSG_TYPE"), Some("reply"));
        assert_eq!(get_property(props, "u"), Some("v"));
        assert_eq!(get_property(props, "MSG_REGION"), Some("DefaultRegion"));
        assert!(get_property(props, "PUSH_REPLY_TIME")
            .unwrap()
            .parse::<i64>()
            .is_ok());
    }

    let stored = stored_replies(&responder, &addr, 2).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].0, b"reply body 1");
    assert_eq!(get_property(&stored[1].1, "CORRELATION_ID"), Some("corr-1"));

    req_client.shutdown();
    responder.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_missing_or_failing_requesters_get_java_remarks() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let responder = RemotingClient::new(ClientConfig::default());

    let r = responder
        .invoke(
            &addr,
            send_reply(&reply_properties(Some("nobody@x"), "c1"), "b", false),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("push reply message fail, channel of <nobody@x> not found.")
    );
    // Stored all the same (Java stores after a failed push), and the answer says where.
    assert_eq!(ext(&r, "queueOffset"), Some("0"));

    let r = responder
        .invoke(
            &addr,
            send_reply(&reply_properties(None, "c2"), "b", true),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("reply message properties[REPLY_TO_CLIENT] is null")
    );

    let (req_client, mut pushes) = requester(&addr, response_code::SYSTEM_ERROR).await;
    let r = responder
        .invoke(
            &addr,
            send_reply(&reply_properties(Some(REQUESTER), "c3"), "b", false),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some(format!("push reply message to {REQUESTER}fail.").as_str())
    );
    assert!(pushes.recv().await.is_some());
    assert_eq!(stored_replies(&responder, &addr, 3).await.len(), 3);

    // A reply to a topic that does not exist is refused before any push (Java msgCheck).
    let mut bad = send_reply(&reply_properties(Some(REQUESTER), "c4"), "b", true);
    bad.ext_fields
        .as_mut()
        .unwrap()
        .insert("topic", "no_such_topic");
    bad.ext_fields
        .as_mut()
        .unwrap()
        .insert("defaultTopic", "no_template");
    let r = responder.invoke(&addr, bad, T).await.unwrap();
    assert_eq!(r.code, response_code::TOPIC_NOT_EXIST);
    assert!(pushes.try_recv().is_err());

    req_client.shutdown();
    responder.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_not_stored_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[("storeReplyMessageEnable", "false")]).await;
    let addr = format!("127.0.0.1:{port}");
    let (req_client, mut pushes) = requester(&addr, response_code::SUCCESS).await;
    let responder = RemotingClient::new(ClientConfig::default());
    let r = responder
        .invoke(
            &addr,
            send_reply(&reply_properties(Some(REQUESTER), "c"), "b", false),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    assert_eq!(ext(&r, "msgId"), Some("0"));
    assert_eq!(ext(&r, "queueOffset"), Some("0"));
    assert!(pushes.recv().await.is_some());
    // A plain send after the reply: once it is visible, the reply would be too.
    let mut e = ExtFields::new();
    for (k, v) in [
        ("a", "pg"),
        ("b", REPLY_TOPIC),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("i", "a\u{1}b\u{2}"),
    ] {
        e.insert(k, v);
    }
    let r = responder
        .invoke(
            &addr,
            RemotingCommand::request(request_code::SEND_MESSAGE_V2, e).with_body(b"plain".to_vec()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let stored = stored_replies(&responder, &addr, 1).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, b"plain");
    // Plain sends carry the broker's region and trace switch (Java 5.x buildMsgContext).
    assert_eq!(
        get_property(&stored[0].1, "MSG_REGION"),
        Some("DefaultRegion")
    );
    assert_eq!(get_property(&stored[0].1, "TRACE_ON"), Some("true"));
    req_client.shutdown();
    responder.shutdown();
    b.shutdown().await;
}
