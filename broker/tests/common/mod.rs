//! Shared by the broker integration tests: a free local port, an in-process broker on a
//! temporary store (1 MiB CommitLog segments, no reachable nameserver, brokerIP1 127.0.0.1),
//! and message properties in the stored encoding.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, RemotingCommand};

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

/// A broker named `name` on `port` with its store under `root`; `extra` keys override. Every
/// key must be known to the broker (a typo fails the test).
pub async fn start_broker(
    name: &str,
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, &str)],
) -> broker::BrokerHandle {
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", name.to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", root.display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".to_string()),
        ("brokerIP1", "127.0.0.1".to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    for (k, v) in extra {
        props.insert(k.to_string(), v.to_string());
    }
    let (cfg, unknown) = broker::BrokerConfig::from_properties(props).unwrap();
    assert!(unknown.is_empty(), "unknown keys {unknown:?}");
    broker::start(cfg).await.unwrap()
}

/// Message properties (name 0x01 value 0x02 ...), as senders put them in the header.
pub fn props(pairs: &[(&str, &str)]) -> String {
    store::message::encode_properties(pairs.iter().copied())
}

/// SEND_MESSAGE_V2 to queue 0 of `topic`.
pub fn send(topic: &str, properties: &str, body: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    let born = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    for (k, v) in [
        ("a", "pg"),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", "0"),
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

/// Milliseconds since the epoch, as message timestamps are.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
