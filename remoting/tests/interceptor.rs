//! The request check in front of the processor table: a refused request gets the check's answer
//! and never reaches its processor, others pass; unknown codes are still answered as such; a
//! check that panics answers SYSTEM_ERROR; refusals are counted in the server's metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use remoting::client::{ClientConfig, RemotingClient};
use remoting::processor::{FnProcessor, ProcessorTable};
use remoting::protocol::ext_fields::ExtFields;
use remoting::server::{RemotingServer, RequestInterceptor, ServerConfig};
use remoting::{response_code, Channel, RemotingCommand};

const OPEN: i32 = 1000;
const GUARDED: i32 = 1001;
const BOOM: i32 = 1002;

#[derive(Debug)]
struct Guard;

impl RequestInterceptor for Guard {
    fn before(&self, _channel: &Channel, request: &RemotingCommand) -> Option<RemotingCommand> {
        match request.code {
            GUARDED if request.ext("token") != Some("let-me-in") => {
                Some(RemotingCommand::response_to(
                    request,
                    response_code::NO_PERMISSION,
                    Some("no token".into()),
                ))
            }
            BOOM => panic!("check bug"),
            _ => None,
        }
    }
}

#[tokio::test]
async fn refusals_answer_and_skip_the_processor() {
    let served = Arc::new(AtomicUsize::new(0));
    let mut table = ProcessorTable::new();
    let s = served.clone();
    table.register(
        &[OPEN, GUARDED, BOOM],
        Arc::new(FnProcessor(move |_ch, req: RemotingCommand| {
            s.fetch_add(1, Ordering::SeqCst);
            async move {
                Some(RemotingCommand::response_to(
                    &req,
                    response_code::SUCCESS,
                    None,
                ))
            }
        })),
        None,
    );
    let metrics = Arc::new(remoting::metrics::RpcMetrics::default());
    let config = ServerConfig {
        interceptor: Some(Arc::new(Guard)),
        metrics: Some(metrics.clone()),
        ..ServerConfig::default()
    };
    let server = RemotingServer::bind("127.0.0.1:0".parse().unwrap(), table, config, None)
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    let c = RemotingClient::new(ClientConfig::default());
    let call = |code: i32, token: Option<&str>| {
        let mut ext = ExtFields::new();
        if let Some(t) = token {
            ext.insert("token", t);
        }
        let c = c.clone();
        let addr = addr.clone();
        async move {
            c.invoke(
                &addr,
                RemotingCommand::request(code, ext),
                Duration::from_secs(3),
            )
            .await
            .unwrap()
        }
    };

    assert_eq!(call(OPEN, None).await.code, response_code::SUCCESS);
    let r = call(GUARDED, None).await;
    assert_eq!(r.code, response_code::NO_PERMISSION);
    assert_eq!(r.remark.as_deref(), Some("no token"));
    assert_eq!(
        call(GUARDED, Some("let-me-in")).await.code,
        response_code::SUCCESS
    );
    assert_eq!(call(BOOM, None).await.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        call(4242, None).await.code,
        response_code::REQUEST_CODE_NOT_SUPPORTED
    );
    // OPEN and the admitted GUARDED reached the processor; the refused and the panicked did not.
    assert_eq!(served.load(Ordering::SeqCst), 2);
    let mut page = String::new();
    metrics.render("", &mut page);
    assert!(page.contains("reason=\"refused_by_check\"} 2"), "{page}");
    server.shutdown().await;
}
