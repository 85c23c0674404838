//! End-to-end behaviour of the server and client over real loopback sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::processor::{FnProcessor, ProcessorTable};
use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::SerializeType;
use remoting::server::{RemotingServer, ServerConfig};
use remoting::{response_code, RemotingCommand, RemotingError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ECHO: i32 = 1000;
const SLOW: i32 = 1001;
const PANIC: i32 = 1002;

async fn start() -> RemotingServer {
    let mut table = ProcessorTable::new();
    table.register(
        &[ECHO],
        Arc::new(FnProcessor(|_ch, req: RemotingCommand| async move {
            let mut resp = RemotingCommand::response_to(&req, response_code::SUCCESS, None);
            resp.ext_fields = req.ext_fields.clone();
            resp.body = req.body.clone();
            Some(resp)
        })),
        None,
    );
    table.register(
        &[SLOW],
        Arc::new(FnProcessor(|_ch, req: RemotingCommand| async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Some(RemotingCommand::response_to(
                &req,
                response_code::SUCCESS,
                None,
            ))
        })),
        Some(1),
    );
    table.register(
        &[PANIC],
        Arc::new(FnProcessor(|_ch, _req: RemotingCommand| async move {
            panic!("processor bug");
        })),
        None,
    );
    RemotingServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        table,
        ServerConfig::default(),
        None,
    )
    .await
    .unwrap()
}

fn req(code: i32) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.insert("k", "v");
    RemotingCommand::request(code, ext)
}

#[tokio::test]
async fn echo_round_trip_in_both_serializations() {
    let server = start().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let mut r = req(ECHO).with_body(&b"payload"[..]);
        r.serialize_type = st;
        let resp = client
            .invoke(&addr, r, Duration::from_secs(3))
            .await
            .unwrap();
        assert_eq!(resp.code, response_code::SUCCESS);
        assert_eq!(resp.ext("k"), Some("v"));
        assert_eq!(resp.body.to_bytes().as_ref(), b"payload");
        assert_eq!(
            resp.serialize_type, st,
            "a response uses its request's serialization"
        );
    }
}

#[tokio::test]
async fn unknown_code_gets_java_remark() {
    let server = start().await;
    let client = RemotingClient::new(ClientConfig::default());
    let resp = client
        .invoke(
            &server.local_addr().to_string(),
            req(4242),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 4242 not supported")
    );
}

#[tokio::test]
async fn over_the_processor_limit_answers_system_busy() {
    let server = start().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    let first = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            client
                .invoke(&addr, req(SLOW), Duration::from_secs(3))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = client
        .invoke(&addr, req(SLOW), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(second.code, response_code::SYSTEM_BUSY);
    assert_eq!(first.await.unwrap().unwrap().code, response_code::SUCCESS);
}

#[tokio::test]
async fn a_panicking_processor_answers_system_error_and_the_server_lives_on() {
    let server = start().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    let resp = client
        .invoke(&addr, req(PANIC), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    let ok = client
        .invoke(&addr, req(ECHO), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(ok.code, response_code::SUCCESS);
}

#[tokio::test]
async fn timeout_fails_the_call_and_the_channel_stays_usable() {
    let server = start().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    let err = client
        .invoke(&addr, req(SLOW), Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(err, RemotingError::Timeout { .. }), "{err:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let ok = client
        .invoke(&addr, req(ECHO), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(ok.code, response_code::SUCCESS);
}

#[tokio::test]
async fn oneway_requests_get_no_response() {
    let server = start().await;
    let mut raw = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let mut oneway = req(ECHO);
    oneway.mark_oneway();
    raw.write_all(&oneway.encode_frame()).await.unwrap();
    let mut probe = req(ECHO);
    probe.opaque = 77;
    raw.write_all(&probe.encode_frame()).await.unwrap();
    let mut len = [0u8; 4];
    raw.read_exact(&mut len).await.unwrap();
    let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
    raw.read_exact(&mut frame).await.unwrap();
    let resp = RemotingCommand::decode_frame_body(frame.into(), &Default::default()).unwrap();
    assert_eq!(
        resp.opaque, 77,
        "the first response is the probe's: the oneway got none"
    );
}

#[tokio::test]
async fn malformed_frame_closes_only_that_connection() {
    let server = start().await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    client
        .invoke(&addr, req(ECHO), Duration::from_secs(3))
        .await
        .unwrap();

    let mut bad = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    bad.write_all(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(3), bad.read(&mut buf))
        .await
        .expect("server must close the bad connection")
        .unwrap_or(0);
    assert_eq!(n, 0);

    let mut garbage = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    garbage
        .write_all(&[0, 0, 0, 8, 0, 0, 0, 4, b'{', b'x', b'"', b'}'])
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(3), garbage.read(&mut buf))
        .await
        .expect("server must close on a bad JSON header")
        .unwrap_or(0);
    assert_eq!(n, 0);

    let ok = client
        .invoke(&addr, req(ECHO), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(
        ok.code,
        response_code::SUCCESS,
        "other connections are undisturbed"
    );
}

#[tokio::test]
async fn client_reconnects_after_server_restart() {
    let server = start().await;
    let addr = server.local_addr();
    let client = RemotingClient::new(ClientConfig::default());
    client
        .invoke(&addr.to_string(), req(ECHO), Duration::from_secs(3))
        .await
        .unwrap();
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut table = ProcessorTable::new();
    table.register(
        &[ECHO],
        Arc::new(FnProcessor(|_ch, req: RemotingCommand| async move {
            Some(RemotingCommand::response_to(
                &req,
                response_code::SUCCESS,
                None,
            ))
        })),
        None,
    );
    let _again = RemotingServer::bind(addr, table, ServerConfig::default(), None)
        .await
        .unwrap();
    let ok = client
        .invoke(&addr.to_string(), req(ECHO), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(ok.code, response_code::SUCCESS);
}
