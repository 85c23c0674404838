//! The nameserver: a route table fed by broker registrations and read by clients, KV config,
//! and its own settings — everything the Java nameserver answers, on the same port and codes.
//!
//! Layout: `config` (Java property names and defaults), `route` (RouteInfoManager and its
//! tables), `kv_config`, `register_body` (compressed register bodies), `processor` (one module
//! per request family). `start` wires them to a remoting server with the broker-expiry scan;
//! the broker binary uses it too for its embedded single-node mode.

pub mod config;
pub mod kv_config;
pub mod logging;
pub mod metrics;
pub mod processor;
pub mod register_body;
pub mod route;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use remoting::channel::ChannelConfig;
use remoting::server::{ChannelEventListener, RemotingServer, ServerConfig};
use remoting::Channel;

pub use config::NamesrvConfig;
use kv_config::KvConfigManager;
use route::RouteInfoManager;

/// KV namespace holding per-topic order configuration (`brokerName:queueNums;...`).
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// The nameserver's state, shared by its processors and background task.
pub struct Namesrv {
    pub routes: RouteInfoManager,
    pub kv: KvConfigManager,
    config: RwLock<NamesrvConfig>,
    pub started: Instant,
}

impl Namesrv {
    pub fn new(config: NamesrvConfig) -> Self {
        let kv_path = config.kv_config_path();
        Self {
            routes: RouteInfoManager::new(),
            kv: KvConfigManager::load((!kv_path.is_empty()).then(|| PathBuf::from(kv_path))),
            config: RwLock::new(config),
            started: Instant::now(),
        }
    }

    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, NamesrvConfig> {
        self.config.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies UPDATE_NAMESRV_CONFIG properties and persists the whole table to
    /// `configStorePath`, as Java's `Configuration.update` does.
    pub fn update_config(&self, props: BTreeMap<String, String>) {
        let mut cfg = self.config.write().unwrap_or_else(|p| p.into_inner());
        for k in props.keys() {
            tracing::info!(key = %k, "namesrv config updated");
        }
        cfg.props.apply(props);
        let path = cfg.config_store_path();
        if !path.is_empty() {
            if let Err(e) = kv_config::write_atomically(
                std::path::Path::new(&path),
                cfg.props.to_text().as_bytes(),
            ) {
                tracing::error!(%path, error = %e, "persisting namesrv config failed");
            }
        }
    }
}

struct BrokerChannelEvents(Arc<Namesrv>);

impl ChannelEventListener for BrokerChannelEvents {
    fn on_channel_close(&self, channel: &Channel) {
        self.0.routes.on_channel_destroy(channel);
    }
}

/// A running nameserver.
pub struct NamesrvHandle {
    pub state: Arc<Namesrv>,
    server: RemotingServer,
    scan: tokio::task::JoinHandle<()>,
}

impl NamesrvHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops serving and the expiry scan.
    pub async fn shutdown(self) {
        self.scan.abort();
        self.server.shutdown().await;
    }
}

/// Starts a nameserver on `bindAddress:listenPort` of `config`.
pub async fn start(config: NamesrvConfig) -> std::io::Result<NamesrvHandle> {
    let port = config
        .listen_port()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let ip: std::net::IpAddr = config.bind_address().parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "invalid config key 'bindAddress'",
        )
    })?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, port)).await?;
    Ok(start_on(listener, config))
}

/// Starts a nameserver on an already bound listener.
pub fn start_on(listener: tokio::net::TcpListener, config: NamesrvConfig) -> NamesrvHandle {
    let server_config = ServerConfig {
        channel: ChannelConfig {
            idle_timeout: Duration::from_secs(config.idle_seconds().max(1)),
            ..ChannelConfig::default()
        },
        ..ServerConfig::default()
    };
    let scan_every = Duration::from_millis(config.scan_interval_ms().max(100));
    let rpc_metrics = Arc::new(remoting::metrics::RpcMetrics::default());
    let tls = remoting::tls::TlsSettings::load(|k| config.props.get(k).map(String::from));
    let server_config = ServerConfig {
        metrics: Some(rpc_metrics.clone()),
        // Java's tls.server.mode (default permissive: TLS and plaintext on one port).
        tls: Some(Arc::new(remoting::tls::ServerTls::new(&tls))),
        ..server_config
    };
    let prom = config
        .props
        .get("metricsExporterType")
        .is_some_and(|v| v.eq_ignore_ascii_case("PROM"));
    let prom_addr = SocketAddr::new(
        config
            .props
            .get("metricsPromExporterHost")
            .and_then(|h| h.parse().ok())
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        config
            .props
            .number("metricsPromExporterPort", 5557u16)
            .unwrap_or(5557),
    );
    let state = Arc::new(Namesrv::new(config));
    let table = processor::processor_table(state.clone());
    let events: Arc<dyn ChannelEventListener> = Arc::new(BrokerChannelEvents(state.clone()));
    let server = RemotingServer::start(listener, table, server_config, Some(events));
    let scan_state = state.clone();
    let scan = tokio::spawn(async move {
        let mut tick = tokio::time::interval(scan_every);
        tick.tick().await;
        loop {
            tick.tick().await;
            scan_state.routes.scan_not_active();
        }
    });
    if prom {
        let weak = Arc::downgrade(&state);
        let rpc = rpc_metrics.clone();
        let render: remoting::metrics::RenderFn = Arc::new(move || match weak.upgrade() {
            Some(s) => metrics::render(&s, &rpc),
            None => String::new(),
        });
        let token = server.shutdown_token();
        tokio::spawn(async move {
            if let Err(e) = remoting::metrics::serve_http(prom_addr, render, token).await {
                tracing::error!(addr = %prom_addr, error = %e, "metrics endpoint not started");
            }
        });
    }
    tracing::info!(addr = %server.local_addr(), "nameserver started");
    NamesrvHandle {
        state,
        server,
        scan,
    }
}

/// Resolves on SIGINT or SIGTERM: how both binaries (`mqnamesrv`, `mqbroker`) wait to shut down.
pub async fn wait_for_shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
