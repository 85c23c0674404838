//! TLS on a remoting port: first-byte sniffing serves TLS and plaintext clients on one port in
//! permissive mode, refuses plaintext when enforcing and TLS when disabled; certificates from
//! PEM files (made here with rcgen) verified by a client that trusts only their CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::processor::{FnProcessor, ProcessorTable};
use remoting::protocol::ext_fields::ExtFields;
use remoting::server::{RemotingServer, ServerConfig};
use remoting::tls::{self, ClientTls, ServerTls, TlsMode, TlsSettings};
use remoting::{response_code, RemotingCommand};

const ECHO: i32 = 1000;

async fn start(tls: ServerTls) -> RemotingServer {
    let mut table = ProcessorTable::new();
    table.register(
        &[ECHO],
        Arc::new(FnProcessor(|_ch, req: RemotingCommand| async move {
            let mut resp = RemotingCommand::response_to(&req, response_code::SUCCESS, None);
            resp.body = req.body.clone();
            Some(resp)
        })),
        None,
    );
    let config = ServerConfig {
        tls: Some(Arc::new(tls)),
        ..ServerConfig::default()
    };
    RemotingServer::bind("127.0.0.1:0".parse().unwrap(), table, config, None)
        .await
        .unwrap()
}

fn settings(mode: &str) -> TlsSettings {
    let mode = mode.to_string();
    TlsSettings::from_lookup(move |k| (k == tls::TLS_SERVER_MODE).then(|| mode.clone()))
}

fn plain_client() -> RemotingClient {
    RemotingClient::new(ClientConfig::default())
}

fn tls_client(tls: ClientTls) -> RemotingClient {
    RemotingClient::new(ClientConfig {
        tls: Some(tls),
        ..ClientConfig::default()
    })
}

/// Sends a 64 KiB body (several TLS records) and checks the echo.
async fn echo(client: &RemotingClient, server: &RemotingServer) -> Result<(), String> {
    let body: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    let req = RemotingCommand::request(ECHO, ExtFields::new()).with_body(body.clone());
    let resp = client
        .invoke(
            &server.local_addr().to_string(),
            req,
            Duration::from_secs(3),
        )
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(resp.code, response_code::SUCCESS);
    assert_eq!(resp.body.to_bytes().as_ref(), body.as_slice());
    Ok(())
}

#[tokio::test]
async fn permissive_serves_tls_and_plaintext_on_one_port() {
    let server = start(ServerTls::try_new(&settings("permissive")).unwrap()).await;
    let tls = tls_client(ClientTls::trust_all().unwrap());
    let plain = plain_client();
    for _ in 0..3 {
        echo(&tls, &server).await.unwrap();
        echo(&plain, &server).await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn enforcing_refuses_plaintext() {
    let server = start(ServerTls::try_new(&settings("enforcing")).unwrap()).await;
    echo(&tls_client(ClientTls::trust_all().unwrap()), &server)
        .await
        .unwrap();
    assert!(echo(&plain_client(), &server).await.is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn disabled_refuses_tls() {
    let s = settings("disabled");
    assert_eq!(s.mode, TlsMode::Disabled);
    let server = start(ServerTls::try_new(&s).unwrap()).await;
    echo(&plain_client(), &server).await.unwrap();
    assert!(echo(&tls_client(ClientTls::trust_all().unwrap()), &server)
        .await
        .is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn certificate_files_are_served_and_verified_against_their_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let path = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("server.pem"), leaf.pem()).unwrap();
    std::fs::write(path("server.key"), leaf_key.serialize_pem()).unwrap();
    // Java reads these from tls.config.file; the mode only from the property.
    std::fs::write(
        path("tls.properties"),
        format!(
            "tls.test.mode.enable=false\ntls.server.certPath={}\ntls.server.keyPath={}\ntls.client.authServer=true\ntls.client.trustCertPath={}\n",
            path("server.pem"),
            path("server.key"),
            path("ca.pem")
        ),
    )
    .unwrap();
    let conf = path("tls.properties");
    let s = TlsSettings::load(|k| match k {
        tls::TLS_CONFIG_FILE => Some(conf.clone()),
        tls::TLS_SERVER_MODE => Some("enforcing".into()),
        _ => None,
    });
    let server = start(ServerTls::try_new(&s).unwrap()).await;
    let verifying = tls_client(ClientTls::from_settings(&s).unwrap());
    echo(&verifying, &server).await.unwrap();

    // A client trusting a different CA refuses the server's certificate.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(
        path("other.pem"),
        other.self_signed(&other_key).unwrap().pem(),
    )
    .unwrap();
    let other_path = path("other.pem");
    let wrong = TlsSettings::from_lookup(|k| match k {
        tls::TLS_TEST_MODE_ENABLE => Some("false".into()),
        tls::TLS_CLIENT_AUTHSERVER => Some("true".into()),
        tls::TLS_CLIENT_TRUSTCERTPATH => Some(other_path.clone()),
        _ => None,
    });
    assert!(echo(
        &tls_client(ClientTls::from_settings(&wrong).unwrap()),
        &server
    )
    .await
    .is_err());
    server.shutdown().await;
}
