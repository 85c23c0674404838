//! Delivery semantics over real sockets: delay levels (invisible before their time, delivered
//! after it, also across a restart; levels clamped, negative levels not delayed) and
//! transactions (commit delivered exactly once, rollback never, Java's refusals, and the
//! CHECK_TRANSACTION_STATE round trip to a registered producer whose answer commits).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, now_ms, props};

use std::sync::Arc;
use std::time::{Duration, Instant};

use remoting::channel::InboundHandler;
use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::header::broker::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use remoting::{request_code, response_code, Channel, RemotingCommand};
use store::message::record::decode_messages;
use store::message::{parse_offset_msg_id, sys_flag};

const T: Duration = Duration::from_secs(5);

async fn start_broker(
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, &str)],
) -> broker::BrokerHandle {
    common::start_broker("broker-d", root, port, extra).await
}

/// SEND_MESSAGE_V2 to queue 0 of `topic` with `properties` (`k\x01v\x02...`).
fn send(group: &str, topic: &str, properties: &str, sys_flag: i32, body: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    let born = now_ms().to_string();
    let flag = sys_flag.to_string();
    for (k, v) in [
        ("a", group),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", flag.as_str()),
        ("g", born.as_str()),
        ("h", "0"),
        ("i", properties),
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
        ("sysFlag", "4".to_string()),
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

/// Owned view of a pulled message.
#[derive(Debug, Clone)]
struct Pulled {
    body: Vec<u8>,
    topic: String,
    sys_flag: i32,
    prepared_transaction_offset: i64,
    properties: String,
}

impl Pulled {
    fn property(&self, key: &str) -> Option<&str> {
        store::message::get_property(&self.properties, key)
    }
}

/// Every message of queue 0 of `topic` from `offset`.
async fn pull_all(c: &RemotingClient, addr: &str, topic: &str, offset: i64) -> Vec<Pulled> {
    let r = c.invoke(addr, pull(topic, offset), T).await.unwrap();
    if r.code != response_code::SUCCESS {
        return Vec::new();
    }
    let body = r.body.to_bytes();
    decode_messages(&body, true)
        .map(|m| {
            let m = m.unwrap();
            Pulled {
                body: m.body.to_vec(),
                topic: m.topic.to_string(),
                sys_flag: m.sys_flag,
                prepared_transaction_offset: m.prepared_transaction_offset,
                properties: m.properties.to_string(),
            }
        })
        .collect()
}

/// Pulls until at least `n` messages are there (or `limit` passes).
async fn wait_for(
    c: &RemotingClient,
    addr: &str,
    topic: &str,
    n: usize,
    limit: Duration,
) -> Vec<Pulled> {
    let deadline = Instant::now() + limit;
    loop {
        let got = pull_all(c, addr, topic, 0).await;
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_levels_deliver_on_time_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = [("messageDelayLevel", "1s 2s")];
    let b = start_broker(dir.path(), port, &conf).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    // Level 1 (1 s): invisible at first, delivered after a second with its properties.
    let sent = Instant::now();
    let p = props(&[("TAGS", "TagA"), ("KEYS", "k1"), ("DELAY", "1"), ("u", "v")]);
    let r = c
        .invoke(&addr, send("pg", "TopicD", &p, 0, "one"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.ext("queueId"), Some("0"));
    assert!(pull_all(&c, &addr, "TopicD", 0).await.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        pull_all(&c, &addr, "TopicD", 0).await.is_empty(),
        "not before its time"
    );
    let got = wait_for(&c, &addr, "TopicD", 1, Duration::from_secs(5)).await;
    let elapsed = sent.elapsed();
    assert_eq!(got.len(), 1);
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "timely: {elapsed:?}");
    let m = &got[0];
    assert_eq!(
        (m.topic.as_str(), m.body.as_slice()),
        ("TopicD", &b"one"[..])
    );
    assert_eq!(m.property("TAGS"), Some("TagA"));
    assert_eq!(m.property("KEYS"), Some("k1"));
    assert_eq!(m.property("u"), Some("v"));
    // As in Java, the delivered record keeps the schedule bookkeeping properties.
    assert_eq!(m.property("REAL_TOPIC"), Some("TopicD"));

    // A negative level is not delayed; a level above the max is clamped to it (2 s).
    let p = props(&[("DELAY", "-1")]);
    let r = c
        .invoke(&addr, send("pg", "TopicN", &p, 0, "now"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let now = Instant::now();
    assert_eq!(wait_for(&c, &addr, "TopicN", 1, T).await.len(), 1);
    assert!(now.elapsed() < Duration::from_millis(900), "not delayed");

    // Level 9 -> 2 s; the broker restarts before it is due and delivers it once after.
    let p = props(&[("DELAY", "9")]);
    let sent = Instant::now();
    let r = c
        .invoke(&addr, send("pg", "TopicD", &p, 0, "two"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    c.shutdown();
    b.shutdown().await;
    let offsets = std::fs::read_to_string(dir.path().join("config/delayOffset.json")).unwrap();
    assert!(offsets.contains("1:1"), "{offsets}");
    let b = start_broker(dir.path(), port, &conf).await;
    let c = RemotingClient::new(ClientConfig::default());
    let got = wait_for(&c, &addr, "TopicD", 2, Duration::from_secs(6)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(sent.elapsed() >= Duration::from_millis(1900));
    assert_eq!(got[1].body, b"two");
    // Nothing is delivered twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pull_all(&c, &addr, "TopicD", 0).await.len(), 2);
    c.shutdown();
    b.shutdown().await;

    // And nothing is delivered again after another restart.
    let b = start_broker(dir.path(), port, &conf).await;
    let c = RemotingClient::new(ClientConfig::default());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pull_all(&c, &addr, "TopicD", 0).await.len(), 2);
    c.shutdown();
    b.shutdown().await;
}

/// Sends a half message; returns (queue offset, CommitLog offset, UNIQ_KEY).
async fn send_half(
    c: &RemotingClient,
    addr: &str,
    group: &str,
    topic: &str,
    uniq: &str,
    body: &str,
) -> (i64, i64) {
    let p = props(&[
        ("TAGS", "TagT"),
        ("TRAN_MSG", "true"),
        ("PGROUP", group),
        ("UNIQ_KEY", uniq),
    ]);
    let r = c
        .invoke(
            addr,
            send(group, topic, &p, sys_flag::TRANSACTION_PREPARED, body),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(r.ext("transactionId"), Some(uniq));
    let (_, phy) = parse_offset_msg_id(r.ext("msgId").unwrap()).unwrap();
    (r.ext("queueOffset").unwrap().parse().unwrap(), phy)
}

fn end_tx(
    group: &str,
    queue_offset: i64,
    phy: i64,
    decision: i32,
    uniq: &str,
    from_check: bool,
) -> RemotingCommand {
    let h = EndTransactionRequestHeader {
        producer_group: group.into(),
        tran_state_table_offset: queue_offset,
        commit_log_offset: phy,
        commit_or_rollback: decision,
        from_transaction_check: Some(from_check),
        msg_id: uniq.into(),
        transaction_id: Some(uniq.into()),
        ..Default::default()
    };
    RemotingCommand::request_with_header(request_code::END_TRANSACTION, &h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_is_delivered_once_and_rollback_never() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    let (qo, phy) = send_half(&c, &addr, "pg", "TopicX", "UNIQ-1", "tx-commit").await;
    let (qo2, phy2) = send_half(&c, &addr, "pg", "TopicX", "UNIQ-2", "tx-rollback").await;
    assert_eq!((qo, qo2), (0, 1), "offsets of the half queue");
    assert!(pull_all(&c, &addr, "TopicX", 0).await.is_empty());

    // Refusals as Java answers them.
    let r = c
        .invoke(&addr, end_tx("other", qo, phy, 8, "UNIQ-1", false), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("The producer group wrong"));
    let r = c
        .invoke(&addr, end_tx("pg", qo, 123_456, 8, "UNIQ-1", false), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        r.remark.as_deref(),
        Some("Find prepared transaction message failed")
    );
    let r = c
        .invoke(&addr, end_tx("pg", qo + 5, phy, 8, "UNIQ-1", false), T)
        .await
        .unwrap();
    assert_eq!(
        r.remark.as_deref(),
        Some("The transaction state table offset wrong")
    );
    let r = c
        .invoke(&addr, end_tx("pg", qo, phy, 3, "UNIQ-1", false), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("commitOrRollback field wrong"));

    // Unknown: nothing happens (and, as in Java, no answer). Commit and rollback are oneway.
    c.invoke_oneway(&addr, end_tx("pg", qo, phy, 0, "UNIQ-1", false))
        .await
        .unwrap();
    c.invoke_oneway(&addr, end_tx("pg", qo, phy, 8, "UNIQ-1", false))
        .await
        .unwrap();
    c.invoke_oneway(&addr, end_tx("pg", qo2, phy2, 12, "UNIQ-2", false))
        .await
        .unwrap();
    let got = wait_for(&c, &addr, "TopicX", 1, T).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.body, b"tx-commit");
    assert_eq!(
        m.sys_flag & sys_flag::TRANSACTION_MASK,
        sys_flag::TRANSACTION_COMMIT
    );
    assert_eq!(m.prepared_transaction_offset, phy);
    assert_eq!(m.property("TAGS"), Some("TagT"));
    assert_eq!(m.property("UNIQ_KEY"), Some("UNIQ-1"));

    // A repeated commit (sync this time) succeeds without a second delivery; a late rollback of
    // the committed transaction changes nothing.
    let r = c
        .invoke(&addr, end_tx("pg", qo, phy, 8, "UNIQ-1", false), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let r = c
        .invoke(&addr, end_tx("pg", qo, phy, 12, "UNIQ-1", true), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = pull_all(&c, &addr, "TopicX", 0).await;
    assert_eq!(got.len(), 1, "delivered once, rollback never: {got:?}");

    // The op records are in the op topic (one per ended half, none for repeats of the same copy
    // beyond the first... the repeats add op records for the same half, which are harmless).
    c.shutdown();
    b.shutdown().await;
}

/// Records the CHECK_TRANSACTION_STATE requests the broker sends to this producer.
struct Checks(tokio::sync::mpsc::UnboundedSender<RemotingCommand>);

impl InboundHandler for Checks {
    fn on_request(&self, _channel: &Channel, request: RemotingCommand) {
        if request.code == request_code::CHECK_TRANSACTION_STATE {
            let _ = self.0.send(request);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_state_is_checked_and_the_answer_commits() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = [
        ("transactionTimeOut", "300"),
        ("transactionCheckInterval", "200"),
        ("transactionCheckMax", "3"),
    ];
    let b = start_broker(dir.path(), port, &conf).await;
    let addr = format!("127.0.0.1:{port}");
    let (tx, mut checks) = tokio::sync::mpsc::unbounded_channel();
    let c = RemotingClient::with_inbound(ClientConfig::default(), Arc::new(Checks(tx)));

    let hb = serde_json::json!({
        "clientID": "127.0.0.1@test",
        "consumerDataSet": [],
        "producerDataSet": [{"groupName": "pgc"}],
    });
    let r = c
        .invoke(
            &addr,
            RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
                .with_body(serde_json::to_vec(&hb).unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);

    let (qo, phy) = send_half(&c, &addr, "pgc", "TopicC", "UNIQ-C", "checked").await;
    c.invoke_oneway(&addr, end_tx("pgc", qo, phy, 0, "UNIQ-C", false))
        .await
        .unwrap();

    let check = tokio::time::timeout(Duration::from_secs(5), checks.recv())
        .await
        .expect("a transaction check")
        .unwrap();
    let h: CheckTransactionStateRequestHeader = check.decode_header().unwrap();
    assert_eq!(h.msg_id.as_deref(), Some("UNIQ-C"));
    assert_eq!(h.transaction_id.as_deref(), Some("UNIQ-C"));
    assert_ne!(h.commit_log_offset, phy, "the check is about a new copy");
    let (_, id_phy) = parse_offset_msg_id(h.offset_msg_id.as_deref().unwrap()).unwrap();
    assert_eq!(id_phy, h.commit_log_offset);
    let body = check.body.to_bytes();
    let msgs: Vec<_> = decode_messages(&body, true)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!((m.topic, m.queue_id), ("TopicC", 0));
    assert_eq!(m.body, b"checked");
    assert_eq!(m.property("PGROUP"), Some("pgc"));
    assert_eq!(m.property("TRANSACTION_CHECK_TIMES"), Some("1"));
    assert_eq!(m.queue_offset, h.tran_state_table_offset);

    // The producer answers COMMIT for the checked copy.
    let r = c
        .invoke(
            &addr,
            end_tx(
                "pgc",
                h.tran_state_table_offset,
                h.commit_log_offset,
                8,
                "UNIQ-C",
                true,
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let got = wait_for(&c, &addr, "TopicC", 1, T).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"checked");

    // The original's late commit does not deliver it again, and no more checks come.
    let r = c
        .invoke(&addr, end_tx("pgc", qo, phy, 8, "UNIQ-C", false), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    while let Ok(extra) = checks.try_recv() {
        // A check sent before the answer arrived may still be in flight; none after it.
        let eh: CheckTransactionStateRequestHeader = extra.decode_header().unwrap();
        assert!(eh.commit_log_offset < h.commit_log_offset + 1_000_000);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(checks.try_recv().is_err(), "no checks once committed");
    assert_eq!(pull_all(&c, &addr, "TopicC", 0).await.len(), 1);

    // Progress survives a restart: no check and no second delivery afterwards.
    c.shutdown();
    b.shutdown().await;
    let b = start_broker(dir.path(), port, &conf).await;
    let (tx, mut checks) = tokio::sync::mpsc::unbounded_channel();
    let c = RemotingClient::with_inbound(ClientConfig::default(), Arc::new(Checks(tx)));
    let r = c
        .invoke(
            &addr,
            RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
                .with_body(serde_json::to_vec(&hb).unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(checks.try_recv().is_err(), "no checks after a restart");
    assert_eq!(pull_all(&c, &addr, "TopicC", 0).await.len(), 1);
    c.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_checked_too_often_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = [
        ("transactionTimeOut", "100"),
        ("transactionCheckInterval", "100"),
        ("transactionCheckMax", "2"),
    ];
    let b = start_broker(dir.path(), port, &conf).await;
    let addr = format!("127.0.0.1:{port}");
    let (tx, mut checks) = tokio::sync::mpsc::unbounded_channel();
    let c = RemotingClient::with_inbound(ClientConfig::default(), Arc::new(Checks(tx)));
    let hb = serde_json::json!({
        "clientID": "127.0.0.1@test2",
        "producerDataSet": [{"groupName": "pgd"}],
    });
    c.invoke(
        &addr,
        RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
            .with_body(serde_json::to_vec(&hb).unwrap()),
        T,
    )
    .await
    .unwrap();
    send_half(&c, &addr, "pgd", "TopicE", "UNIQ-E", "never").await;
    // Two checks (never answered), then the half goes to TRANS_CHECK_MAX_TIME_TOPIC.
    for n in 1..=2 {
        let check = tokio::time::timeout(Duration::from_secs(5), checks.recv())
            .await
            .expect("a transaction check")
            .unwrap();
        let body = check.body.to_bytes();
        let m = decode_messages(&body, true).next().unwrap().unwrap();
        assert_eq!(
            m.property("TRANSACTION_CHECK_TIMES"),
            Some(n.to_string().as_str())
        );
    }
    let got = wait_for(&c, &addr, "TRANS_CHECK_MAX_TIME_TOPIC", 1, T).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"never");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(checks.try_recv().is_err(), "no checks after the discard");
    assert!(pull_all(&c, &addr, "TopicE", 0).await.is_empty());
    c.shutdown();
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_half_is_checked_after_a_restart_and_its_rollback_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = [
        ("transactionTimeOut", "500"),
        ("transactionCheckInterval", "200"),
    ];
    let b = start_broker(dir.path(), port, &conf).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    let (qo, _) = send_half(&c, &addr, "pgr", "TopicR", "UNIQ-R", "rolled-back").await;
    c.shutdown();
    b.shutdown().await;

    let b = start_broker(dir.path(), port, &conf).await;
    let (tx, mut checks) = tokio::sync::mpsc::unbounded_channel();
    let c = RemotingClient::with_inbound(ClientConfig::default(), Arc::new(Checks(tx)));
    let hb = serde_json::json!({
        "clientID": "127.0.0.1@test3",
        "producerDataSet": [{"groupName": "pgr"}],
    });
    let r = c
        .invoke(
            &addr,
            RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
                .with_body(serde_json::to_vec(&hb).unwrap()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    let check = tokio::time::timeout(Duration::from_secs(5), checks.recv())
        .await
        .expect("a transaction check after the restart")
        .unwrap();
    let h: CheckTransactionStateRequestHeader = check.decode_header().unwrap();
    assert!(h.tran_state_table_offset > qo);
    c.invoke_oneway(
        &addr,
        end_tx(
            "pgr",
            h.tran_state_table_offset,
            h.commit_log_offset,
            12,
            "UNIQ-R",
            true,
        ),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    while checks.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(checks.try_recv().is_err(), "no checks once rolled back");
    assert!(pull_all(&c, &addr, "TopicR", 0).await.is_empty());
    c.shutdown();
    b.shutdown().await;
}
