//! UPDATE_BROKER_CONFIG (mqadmin updateBrokerConfig) takes effect at once for the keys the Java
//! broker reads on every use: autoCreateTopicEnable stops topic creation on send, a lower
//! maxMessageSize refuses larger sends; an update with a value that does not parse is refused
//! naming the key and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{free_port, props, send};

use std::time::Duration;

use remoting::client::RemotingClient;
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};

const T: Duration = Duration::from_secs(5);

/// A broker of its own and a client to it.
struct Peer {
    broker: broker::BrokerHandle,
    client: RemotingClient,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Peer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let broker = common::start_broker("broker-b", dir.path(), port, &[]).await;
        Peer {
            broker,
            client: RemotingClient::new(Default::default()),
            addr: format!("127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Sends `cmd` and checks the answer's code; returns the answer.
    async fn expect(&self, cmd: RemotingCommand, code: i32) -> RemotingCommand {
        let r = self.client.invoke(&self.addr, cmd, T).await.unwrap();
        assert_eq!(r.code, code, "{:?}", r.remark);
        r
    }

    /// An update that must be refused with SYSTEM_ERROR naming `key`.
    async fn refused_naming(&self, body: &str, key: &str) {
        let r = self.expect(update(body), response_code::SYSTEM_ERROR).await;
        assert!(
            r.remark.as_deref().unwrap_or("").contains(key),
            "{:?}",
            r.remark
        );
    }

    async fn config(&self) -> String {
        let get = RemotingCommand::request(request_code::GET_BROKER_CONFIG, ExtFields::new());
        let r = self.expect(get, response_code::SUCCESS).await;
        String::from_utf8_lossy(&r.body.to_bytes()).into_owned()
    }
}

fn update(body: &str) -> RemotingCommand {
    RemotingCommand::request(request_code::UPDATE_BROKER_CONFIG, ExtFields::new())
        .with_body(body.as_bytes().to_vec())
}

fn send_to(topic: &str, body: &str) -> RemotingCommand {
    send(topic, &props(&[]), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_broker_config_applies_at_once() {
    let p = Peer::start().await;
    let ok = response_code::SUCCESS;
    p.expect(send_to("auto_before", "x"), ok).await;

    p.expect(update("autoCreateTopicEnable=false\n"), ok).await;
    p.expect(send_to("auto_after", "x"), response_code::TOPIC_NOT_EXIST)
        .await;
    // Existing topics are still writable.
    p.expect(send_to("auto_before", "y"), ok).await;

    // A value that does not parse: refused naming the key, nothing changed.
    p.refused_naming(
        "autoCreateTopicEnable=true\nmaxTransferCountOnMessageInMemory=lots\n",
        "maxTransferCountOnMessageInMemory",
    )
    .await;
    let cfg = p.config().await;
    assert!(cfg.contains("autoCreateTopicEnable=false"), "{cfg}");
    assert!(
        cfg.contains("maxTransferCountOnMessageInMemory=32"),
        "{cfg}"
    );
    p.expect(send_to("auto_after", "x"), response_code::TOPIC_NOT_EXIST)
        .await;

    // Back on: creation on send works again without a restart.
    p.expect(update("autoCreateTopicEnable=true\n"), ok).await;
    p.expect(send_to("auto_after", "x"), ok).await;
    p.broker.shutdown().await;
}

/// The store keys Java reads on every use apply at once too: a lower maxMessageSize refuses the
/// next larger send with MESSAGE_ILLEGAL naming the new limit; a store value that does not parse is
/// refused naming its key and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_broker_config_applies_store_keys_at_once() {
    let p = Peer::start().await;
    let ok = response_code::SUCCESS;
    let illegal = response_code::MESSAGE_ILLEGAL;
    let body = "b".repeat(2048);
    p.expect(send_to("size_cap", &body), ok).await;

    p.expect(update("maxMessageSize=1024\n"), ok).await;
    let r = p.expect(send_to("size_cap", &body), illegal).await;
    assert!(
        r.remark.as_deref().unwrap_or("").contains("1024B"),
        "{:?}",
        r.remark
    );
    p.expect(send_to("size_cap", "small"), ok).await;

    p.refused_naming(
        "maxMessageSize=4194304\nflushIntervalCommitLog=often\n",
        "flushIntervalCommitLog",
    )
    .await;
    // The refused update changed nothing.
    p.expect(send_to("size_cap", &body), illegal).await;

    p.expect(update("maxMessageSize=4194304\n"), ok).await;
    p.expect(send_to("size_cap", &body), ok).await;
    p.broker.shutdown().await;
}
