//! With `metricsExporterType=PROM` the broker serves Prometheus text on
//! `metricsPromExporterPort`, with per-topic message counters from real sends and the request
//! latency histogram.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, response_code, RemotingCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_page_counts_real_sends() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mport = free_port();
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", "broker-m".to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", dir.path().display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".to_string()),
        ("metricsExporterType", "PROM".to_string()),
        ("metricsPromExporterPort", mport.to_string()),
        ("metricsPromExporterHost", "127.0.0.1".to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    let (cfg, _) = broker::BrokerConfig::from_properties(props).unwrap();
    let b = broker::start(cfg).await.unwrap();

    let c = RemotingClient::new(ClientConfig::default());
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("a", "pg"),
        ("b", "MetricsTopic"),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", "0"),
        ("g", "1"),
        ("h", "0"),
        ("i", "TAGS\u{1}x\u{2}"),
    ] {
        ext.insert(k, v);
    }
    for _ in 0..3 {
        let req = RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext.clone())
            .with_body(&b"abc"[..]);
        let r = c
            .invoke(&format!("127.0.0.1:{port}"), req, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS);
    }

    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", mport))
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut page))
        .await
        .unwrap()
        .unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK"));
    assert!(
        page.contains("rocketmq_messages_in_total{cluster=\"DefaultCluster\",node_type=\"broker\",node_id=\"broker-m\",topic=\"MetricsTopic\"} 3"),
        "{page}"
    );
    assert!(
        page.contains("request_code=\"310\",response_code=\"0\",le=\"+Inf\"} 3"),
        "{page}"
    );
    assert!(page.contains("rocketmq_connections{"));
    c.shutdown();
    b.shutdown().await;
}
