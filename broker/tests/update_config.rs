//! UPDATE_BROKER_CONFIG (mqadmin updateBrokerConfig) takes effect at once for the keys the Java
//! broker reads on every use: autoCreateTopicEnable stops topic creation on send; an update with
//! a value that does not parse is refused naming the key and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, props, send};

use std::time::Duration;

use remoting::client::RemotingClient;
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};

const T: Duration = Duration::from_secs(5);

async fn start_broker(
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, &str)],
) -> broker::BrokerHandle {
    common::start_broker("broker-b", root, port, extra).await
}

fn update_config(body: &str) -> RemotingCommand {
    RemotingCommand::request(request_code::UPDATE_BROKER_CONFIG, ExtFields::new())
        .with_body(body.as_bytes().to_vec())
}

async fn broker_config(c: &RemotingClient, addr: &str) -> String {
    let r = c
        .invoke(
            addr,
            RemotingCommand::request(request_code::GET_BROKER_CONFIG, ExtFields::new()),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS);
    String::from_utf8_lossy(&r.body.to_bytes()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_broker_config_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(Default::default());

    let r = c
        .invoke(&addr, send("auto_before", &props(&[]), "x"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    let r = c
        .invoke(&addr, update_config("autoCreateTopicEnable=false\n"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(&addr, send("auto_after", &props(&[]), "x"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::TOPIC_NOT_EXIST, "{:?}", r.remark);
    // Existing topics are still writable.
    let r = c
        .invoke(&addr, send("auto_before", &props(&[]), "y"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    // A value that does not parse: refused naming the key, nothing changed.
    let r = c
        .invoke(
            &addr,
            update_config("autoCreateTopicEnable=true\nmaxTransferCountOnMessageInMemory=lots\n"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(
        r.remark
            .as_deref()
            .unwrap_or("")
            .contains("maxTransferCountOnMessageInMemory"),
        "{:?}",
        r.remark
    );
    let cfg = broker_config(&c, &addr).await;
    assert!(cfg.contains("autoCreateTopicEnable=false"), "{cfg}");
    assert!(
        cfg.contains("maxTransferCountOnMessageInMemory=32"),
        "{cfg}"
    );
    let r = c
        .invoke(&addr, send("auto_after", &props(&[]), "x"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::TOPIC_NOT_EXIST, "{:?}", r.remark);

    // Back on: creation on send works again without a restart.
    let r = c
        .invoke(&addr, update_config("autoCreateTopicEnable=true\n"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(&addr, send("auto_after", &props(&[]), "x"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    b.shutdown().await;
}

/// The store keys Java reads on every use apply at once too: a lower maxMessageSize refuses the
/// next larger send with MESSAGE_ILLEGAL naming the new limit; a store value that does not parse is
/// refused naming its key and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_broker_config_applies_store_keys_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(Default::default());
    let body = "b".repeat(2048);

    let r = c
        .invoke(&addr, send("size_cap", &props(&[]), &body), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    let r = c
        .invoke(&addr, update_config("maxMessageSize=1024\n"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(&addr, send("size_cap", &props(&[]), &body), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::MESSAGE_ILLEGAL, "{:?}", r.remark);
    assert!(
        r.remark.as_deref().unwrap_or("").contains("1024B"),
        "{:?}",
        r.remark
    );
    let r = c
        .invoke(&addr, send("size_cap", &props(&[]), "small"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    let r = c
        .invoke(
            &addr,
            update_config("maxMessageSize=4194304\nflushIntervalCommitLog=often\n"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(
        r.remark
            .as_deref()
            .unwrap_or("")
            .contains("flushIntervalCommitLog"),
        "{:?}",
        r.remark
    );
    let r = c
        .invoke(&addr, send("size_cap", &props(&[]), &body), T)
        .await
        .unwrap();
    assert_eq!(
        r.code,
        response_code::MESSAGE_ILLEGAL,
        "the refused update changed nothing: {:?}",
        r.remark
    );

    let r = c
        .invoke(&addr, update_config("maxMessageSize=4194304\n"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(&addr, send("size_cap", &props(&[]), &body), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    b.shutdown().await;
}
