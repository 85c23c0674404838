//! With `metricsExporterType=PROM` the nameserver serves its request metrics over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code, RemotingCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn prometheus_page_shows_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mport = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut props = std::collections::BTreeMap::new();
    props.insert(
        "kvConfigPath".into(),
        dir.path().join("kv.json").display().to_string(),
    );
    props.insert(
        "configStorePath".into(),
        dir.path().join("ns.properties").display().to_string(),
    );
    props.insert("metricsExporterType".into(), "PROM".into());
    props.insert("metricsPromExporterHost".into(), "127.0.0.1".into());
    props.insert("metricsPromExporterPort".into(), mport.to_string());
    let (cfg, _) = namesrv::NamesrvConfig::from_properties(props).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ns = namesrv::start_on(listener, cfg);
    let client = RemotingClient::new(ClientConfig::default());
    let req = RemotingCommand::request(request_code::GET_BROKER_CLUSTER_INFO, ExtFields::new());
    client
        .invoke(&ns.local_addr().to_string(), req, Duration::from_secs(3))
        .await
        .unwrap();
    let mut page = String::new();
    for _ in 0..50 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", mport)).await {
            s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
            s.read_to_string(&mut page).await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(page.contains("request_code=\"106\""), "{page}");
    assert!(
        page.contains("rocketmq_connections{node_type=\"namesrv\"} 1"),
        "{page}"
    );
    ns.shutdown().await;
}
