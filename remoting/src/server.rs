//! The remoting server: accepts connections (up to a cap), runs a `Channel` for each, and
//! dispatches every request to the processor registered for its code.
//!
//! Unknown codes get REQUEST_CODE_NOT_SUPPORTED with Java's remark; a full processor gets
//! SYSTEM_BUSY; a processor that panics gets SYSTEM_ERROR (the process and other connections
//! carry on). Shutdown: cancel the token; the accept loop stops and every channel closes.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::channel::{Channel, ChannelConfig, InboundHandler};
use crate::processor::ProcessorTable;
use crate::protocol::command::{RemotingCommand, FLAG_RESPONSE};
use crate::protocol::response_code;

/// A check in front of the processor table (ACL): runs for every request that has a processor,
/// after the busy checks and before the processor, off the connection's reader. `Some(answer)`
/// refuses the request with that answer (not sent for oneway requests); `None` lets it through.
pub trait RequestInterceptor: Send + Sync + std::fmt::Debug + 'static {
    fn before(&self, channel: &Channel, request: &RemotingCommand) -> Option<RemotingCommand>;
}

/// Told about connections opening and closing (broker liveness, client channels).
pub trait ChannelEventListener: Send + Sync + 'static {
    fn on_channel_connect(&self, _channel: &Channel) {}
    fn on_channel_close(&self, _channel: &Channel) {}
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub channel: ChannelConfig,
    /// Most connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Where request latencies, refusals and connection counts are recorded, if anywhere.
    pub metrics: Option<Arc<crate::metrics::RpcMetrics>>,
    /// Checks every request before its processor, if set.
    pub interceptor: Option<Arc<dyn RequestInterceptor>>,
    /// TLS on this port (first-byte sniffing, Java's `tls.server.mode`); `None`: plain only.
    pub tls: Option<Arc<crate::tls::ServerTls>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            max_connections: 65_536,
            metrics: None,
            interceptor: None,
            tls: None,
        }
    }
}

struct Dispatcher {
    table: ProcessorTable,
    events: Option<Arc<dyn ChannelEventListener>>,
    metrics: Option<Arc<crate::metrics::RpcMetrics>>,
    interceptor: Option<Arc<dyn RequestInterceptor>>,
}

impl Dispatcher {
    fn reject(&self, reason: &'static str) {
        if let Some(m) = &self.metrics {
            m.reject(reason);
        }
    }
}

impl InboundHandler for Dispatcher {
    fn on_request(&self, channel: &Channel, request: RemotingCommand) {
        let Some(reg) = self.table.lookup(request.code) else {
            let remark = format!(" request type {} not supported", request.code);
            tracing::warn!(peer = %channel.peer_addr(), code = request.code, "request code not supported");
            self.reject("not_supported");
            reply(
                channel,
                &request,
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                remark,
            );
            return;
        };
        if reg.processor.reject_request() {
            self.reject("busy");
            reply(
                channel,
                &request,
                response_code::SYSTEM_BUSY,
                "[REJECTREQUEST]system busy, start flow control for a while".into(),
            );
            return;
        }
        let permit = match &reg.limit {
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    tracing::warn!(peer = %channel.peer_addr(), code = request.code, "too many requests in flight; answering SYSTEM_BUSY");
                    self.reject("busy");
                    reply(
                        channel,
                        &request,
                        response_code::SYSTEM_BUSY,
                        "[OVERLOAD]system busy, start flow control for a while".into(),
                    );
                    return;
                }
            },
            None => None,
        };
        let processor = reg.processor.clone();
        let channel = channel.clone();
        let metrics = self.metrics.clone();
        let interceptor = self.interceptor.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let _permit = permit;
            let oneway = request.is_oneway();
            let opaque = request.opaque;
            let code = request.code;
            let for_error = RemotingCommand {
                opaque,
                serialize_type: request.serialize_type,
                ..RemotingCommand::default()
            };
            let refused = match &interceptor {
                Some(i) => {
                    let i = i.clone();
                    let (ch, req) = (&channel, &request);
                    std::panic::catch_unwind(AssertUnwindSafe(|| i.before(ch, req)))
                        .unwrap_or_else(|_| {
                            tracing::error!(peer = %channel.peer_addr(), code, "request check panicked");
                            Some(RemotingCommand::response_to(
                                &for_error,
                                response_code::SYSTEM_ERROR,
                                Some("process request failed: internal error".into()),
                            ))
                        })
                }
                None => None,
            };
            if refused.is_some() {
                if let Some(m) = &metrics {
                    m.reject("refused_by_check");
                }
            }
            let outcome = match refused {
                Some(answer) => Ok(Some(answer)),
                None => {
                    AssertUnwindSafe(processor.process(&channel, request))
                        .catch_unwind()
                        .await
                }
            };
            let response = match outcome {
                Ok(r) => r,
                Err(_) => {
                    tracing::error!(peer = %channel.peer_addr(), code, "processor panicked");
                    Some(RemotingCommand::response_to(
                        &for_error,
                        response_code::SYSTEM_ERROR,
                        Some("process request failed: internal error".into()),
                    ))
                }
            };
            if let Some(m) = &metrics {
                let code_out = response.as_ref().map(|r| r.code).unwrap_or(-1);
                m.record(code, code_out, started.elapsed());
            }
            if let (Some(mut resp), false) = (response, oneway) {
                resp.opaque = opaque;
                resp.flag |= FLAG_RESPONSE;
                let _ = channel.send(resp).await;
            }
        });
    }

    fn on_close(&self, channel: &Channel) {
        tracing::info!(peer = %channel.peer_addr(), "connection closed");
        if let Some(m) = &self.metrics {
            m.connection_closed();
        }
        if let Some(ev) = &self.events {
            ev.on_channel_close(channel);
        }
    }
}

fn reply(channel: &Channel, request: &RemotingCommand, code: i32, remark: String) {
    if request.is_oneway() {
        return;
    }
    let resp = RemotingCommand::response_to(request, code, Some(remark));
    let _ = channel.try_send(resp);
}

/// A running server; dropping it does not stop it, `shutdown` does.
pub struct RemotingServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RemotingServer {
    /// Binds `addr` and starts serving `table`.
    pub async fn bind(
        addr: SocketAddr,
        table: ProcessorTable,
        config: ServerConfig,
        events: Option<Arc<dyn ChannelEventListener>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::start(listener, table, config, events))
    }

    /// Serves `table` on an already bound listener.
    pub fn start(
        listener: TcpListener,
        table: ProcessorTable,
        config: ServerConfig,
        events: Option<Arc<dyn ChannelEventListener>>,
    ) -> Self {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let shutdown = CancellationToken::new();
        let dispatcher = Arc::new(Dispatcher {
            table,
            events: events.clone(),
            metrics: config.metrics.clone(),
            interceptor: config.interceptor.clone(),
        });
        let task = tokio::spawn(accept_loop(
            listener,
            dispatcher,
            events,
            config,
            shutdown.clone(),
        ));
        Self {
            local_addr,
            shutdown,
            task,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A token cancelled when the server shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, closes every connection, and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    events: Option<Arc<dyn ChannelEventListener>>,
    config: ServerConfig,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(5);
                a
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = config.max_connections, "connection refused: too many connections");
            if let Some(m) = &config.metrics {
                m.reject("too_many_connections");
            }
            drop(stream);
            continue;
        };
        let handler: Arc<dyn InboundHandler> = dispatcher.clone();
        if let Some(tls) = config.tls.clone() {
            // Sniff the first byte off the accept loop: a silent peer must not stall it.
            let (events, config, shutdown) = (events.clone(), config.clone(), shutdown.clone());
            tokio::spawn(async move {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => None,
                    a = tls.accept(stream, peer, config.channel.idle_timeout) => a,
                };
                let opened = match accepted {
                    None => return,
                    Some(crate::tls::Accepted::Plain(stream)) => {
                        Channel::spawn(stream, config.channel, handler, shutdown)
                    }
                    Some(crate::tls::Accepted::Tls(stream)) => {
                        tracing::debug!(%peer, "TLS session established");
                        Ok(Channel::spawn_io(
                            stream,
                            peer,
                            config.channel,
                            handler,
                            shutdown,
                        ))
                    }
                };
                serve_channel(opened, peer, &config, &events, permit).await;
            });
            continue;
        }
        let opened = Channel::spawn(stream, config.channel, handler, shutdown.clone());
        serve_channel(opened, peer, &config, &events, permit).await;
    }
}

/// Announces a set-up connection and holds its slot until it closes.
async fn serve_channel(
    opened: std::io::Result<Channel>,
    peer: SocketAddr,
    config: &ServerConfig,
    events: &Option<Arc<dyn ChannelEventListener>>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    match opened {
        Ok(channel) => {
            tracing::info!(%peer, "connection opened");
            if let Some(m) = &config.metrics {
                m.connection_opened();
            }
            if let Some(ev) = events {
                ev.on_channel_connect(&channel);
            }
            tokio::spawn(async move {
                channel.closed().await;
                drop(permit);
            });
        }
        Err(e) => tracing::warn!(%peer, error = %e, "could not set up connection"),
    }
}
