//! A broker registers over a real connection; clients then see its routes; when the broker's
//! connection closes its routes disappear at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::body::{RegisterBrokerBody, TopicConfig, TopicRouteData};
use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::header::namesrv::RegisterBrokerRequestHeader;
use remoting::{request_code, response_code, RemotingCommand};

async fn start() -> namesrv::NamesrvHandle {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut props = std::collections::BTreeMap::new();
    props.insert(
        "kvConfigPath".to_string(),
        dir.join("kv.json").display().to_string(),
    );
    props.insert(
        "configStorePath".to_string(),
        dir.join("ns.properties").display().to_string(),
    );
    let (cfg, _) = namesrv::NamesrvConfig::from_properties(props).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    namesrv::start_on(listener, cfg)
}

fn register_request() -> RemotingCommand {
    let header = RegisterBrokerRequestHeader {
        broker_name: "broker-a".into(),
        broker_addr: "127.0.0.1:10911".into(),
        cluster_name: "DefaultCluster".into(),
        ha_server_addr: "127.0.0.1:10912".into(),
        broker_id: 0,
        body_crc32: Some(0),
        ..Default::default()
    };
    let mut body = RegisterBrokerBody::default();
    for t in ["TopicTest", "TBW102"] {
        body.topic_config_serialize_wrapper
            .topic_config_table
            .insert(t.into(), TopicConfig::new(t, 4));
    }
    RemotingCommand::request_with_header(request_code::REGISTER_BROKER, &header)
        .with_body(serde_json::to_vec(&body).unwrap())
}

fn route_request(topic: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("topic", topic);
    RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC, ext)
}

#[tokio::test]
async fn routes_follow_broker_registration_and_connection() {
    let ns = start().await;
    let addr = ns.local_addr().to_string();
    let t = Duration::from_secs(3);

    let broker = RemotingClient::new(ClientConfig::default());
    let resp = broker.invoke(&addr, register_request(), t).await.unwrap();
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);

    let client = RemotingClient::new(ClientConfig::default());
    let resp = client
        .invoke(&addr, route_request("TopicTest"), t)
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS);
    let route: TopicRouteData = serde_json::from_slice(&resp.body.to_bytes()).unwrap();
    assert_eq!(route.broker_datas[0].broker_addrs[&0], "127.0.0.1:10911");
    assert_eq!(route.queue_datas[0].write_queue_nums, 4);

    let missing = client
        .invoke(&addr, route_request("Nope"), t)
        .await
        .unwrap();
    assert_eq!(missing.code, response_code::TOPIC_NOT_EXIST);
    assert!(missing
        .remark
        .unwrap()
        .starts_with("No topic route info in name server for the topic: Nope"));

    broker.shutdown();
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let r = client
            .invoke(&addr, route_request("TopicTest"), t)
            .await
            .unwrap();
        if r.code == response_code::TOPIC_NOT_EXIST {
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "routes of a broker whose connection closed are removed"
    );
}

#[tokio::test]
async fn bad_crc_is_refused_and_missing_header_fields_answer_system_error() {
    let ns = start().await;
    let addr = ns.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    let mut req = register_request();
    req.ext_fields
        .as_mut()
        .unwrap()
        .insert("bodyCrc32", "12345");
    let resp = client
        .invoke(&addr, req, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert_eq!(resp.remark.as_deref(), Some("crc32 not match"));

    let resp = client
        .invoke(
            &addr,
            RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC, ExtFields::new()),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert!(resp
        .remark
        .unwrap()
        .contains("the custom field <topic> is null"));
}

#[tokio::test]
async fn namesrv_config_round_trips_and_black_list_is_refused() {
    let ns = start().await;
    let addr = ns.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    let t = Duration::from_secs(3);
    let upd = RemotingCommand::request(request_code::UPDATE_NAMESRV_CONFIG, ExtFields::new())
        .with_body(&b"orderMessageEnable=true\n"[..]);
    assert_eq!(
        client.invoke(&addr, upd, t).await.unwrap().code,
        response_code::SUCCESS
    );
    let get = RemotingCommand::request(request_code::GET_NAMESRV_CONFIG, ExtFields::new());
    let body = client.invoke(&addr, get, t).await.unwrap().body.to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("orderMessageEnable=true\n"));
    assert!(text.contains("listenPort="));
    let bad = RemotingCommand::request(request_code::UPDATE_NAMESRV_CONFIG, ExtFields::new())
        .with_body(&b"kvConfigPath=/etc/x\n"[..]);
    let r = client.invoke(&addr, bad, t).await.unwrap();
    assert_eq!(r.code, response_code::NO_PERMISSION);
}
