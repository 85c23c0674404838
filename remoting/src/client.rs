//! The remoting client: one reused connection per peer address, opened on first use and
//! reopened after it closes; sync calls with a timeout, oneway sends, and async calls.
//! Requests a peer sends us on these connections go to an optional inbound handler. With a
//! `ClientTls` in the config every connection is a TLS session.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::channel::{Channel, ChannelConfig, InboundHandler};
use crate::error::RemotingError;
use crate::protocol::command::RemotingCommand;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub channel: ChannelConfig,
    pub connect_timeout: Duration,
    /// Open every connection as a TLS session (Java's `tls.enable`), if set.
    pub tls: Option<crate::tls::ClientTls>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            connect_timeout: Duration::from_secs(3),
            tls: None,
        }
    }
}

/// Ignores requests from peers (a client that serves nothing).
struct NoInbound;
impl InboundHandler for NoInbound {
    fn on_request(&self, channel: &Channel, request: RemotingCommand) {
        tracing::debug!(peer = %channel.peer_addr(), code = request.code, "ignoring request on a client connection");
    }
}

#[derive(Clone)]
pub struct RemotingClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: ClientConfig,
    channels: Mutex<HashMap<String, Channel>>,
    inbound: Arc<dyn InboundHandler>,
    shutdown: CancellationToken,
}

impl RemotingClient {
    pub fn new(config: ClientConfig) -> Self {
        Self::with_inbound(config, Arc::new(NoInbound))
    }

    pub fn with_inbound(config: ClientConfig, inbound: Arc<dyn InboundHandler>) -> Self {
        Self {
            inner: Arc::new(ClientInner {
                config,
                channels: Mutex::new(HashMap::new()),
                inbound,
                shutdown: CancellationToken::new(),
            }),
        }
    }

    /// The open connection to `addr` ("host:port"), connecting if there is none.
    pub async fn channel(&self, addr: &str) -> Result<Channel, RemotingError> {
        let mut map = self.inner.channels.lock().await;
        if let Some(ch) = map.get(addr) {
            if !ch.is_closed() {
                return Ok(ch.clone());
            }
            map.remove(addr);
        }
        let stream =
            tokio::time::timeout(self.inner.config.connect_timeout, TcpStream::connect(addr))
                .await
                .map_err(|_| RemotingError::ConnectTimeout {
                    addr: addr.to_string(),
                })?
                .map_err(|source| RemotingError::Connect {
                    addr: addr.to_string(),
                    source,
                })?;
        let ch = match &self.inner.config.tls {
            None => Channel::spawn(
                stream,
                self.inner.config.channel,
                self.inner.inbound.clone(),
                self.inner.shutdown.clone(),
            )?,
            Some(tls) => {
                let peer = stream.peer_addr()?;
                let _ = stream.set_nodelay(true);
                let session = tokio::time::timeout(
                    self.inner.config.connect_timeout,
                    tls.connect(addr, stream),
                )
                .await
                .map_err(|_| RemotingError::ConnectTimeout {
                    addr: addr.to_string(),
                })?
                .map_err(|source| RemotingError::Connect {
                    addr: addr.to_string(),
                    source,
                })?;
                Channel::spawn_io(
                    session,
                    peer,
                    self.inner.config.channel,
                    self.inner.inbound.clone(),
                    self.inner.shutdown.clone(),
                )
            }
        };
        map.insert(addr.to_string(), ch.clone());
        Ok(ch)
    }

    /// Sends `request` to `addr` and waits for the response, at most `timeout` in all.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, RemotingError> {
        let started = std::time::Instant::now();
        let ch = tokio::time::timeout(timeout, self.channel(addr))
            .await
            .map_err(|_| RemotingError::ConnectTimeout {
                addr: addr.to_string(),
            })??;
        let left = timeout.saturating_sub(started.elapsed());
        let result = ch.invoke(request, left).await;
        if matches!(result, Err(RemotingError::Timeout { .. })) {
            tracing::debug!(addr, "call timed out");
        }
        result
    }

    /// Sends `request` to `addr` as a oneway request.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<(), RemotingError> {
        self.channel(addr).await?.invoke_oneway(request).await
    }

    /// Sends `request` without waiting; `callback` gets the outcome from a spawned task.
    pub fn invoke_async<F>(
        &self,
        addr: &str,
        request: RemotingCommand,
        timeout: Duration,
        callback: F,
    ) where
        F: FnOnce(Result<RemotingCommand, RemotingError>) + Send + 'static,
    {
        let client = self.clone();
        let addr = addr.to_string();
        tokio::spawn(async move {
            callback(client.invoke(&addr, request, timeout).await);
        });
    }

    /// Closes the connection to `addr`, if any.
    pub async fn close_channel(&self, addr: &str) {
        if let Some(ch) = self.inner.channels.lock().await.remove(addr) {
            ch.close();
        }
    }

    /// Closes every connection.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }
}
