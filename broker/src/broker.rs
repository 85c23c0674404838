//! The broker runtime: what it holds and the order it starts and stops in.
//! Start: store (recovery) -> topic/group/offset managers -> servers (main and VIP port) ->
//! registration with the nameservers -> periodic tasks. Stop: unregister, stop serving,
//! persist offsets, shut the store down (flush + checkpoint).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use remoting::channel::ChannelConfig;
use remoting::client::RemotingClient;
use remoting::protocol::header::broker::NotifyConsumerIdsChangedRequestHeader;
use remoting::server::{ChannelEventListener, RemotingServer, ServerConfig};
use remoting::{request_code, Channel, RemotingCommand};
use store::MessageStore;
use tokio::sync::Notify;

use crate::client::consumer_manager::ConsumerManager;
use crate::client::producer_manager::ProducerManager;
use crate::config::{BrokerConfig, BrokerSettings};
use crate::consumer_offset::ConsumerOffsetManager;
use crate::long_polling::LongPolling;
use crate::subscription_group::SubscriptionGroupManager;
use crate::topic_config::TopicConfigManager;
use crate::{namesrv_registration, processor};

pub struct Broker {
    pub config: RwLock<BrokerConfig>,
    pub settings: BrokerSettings,
    /// The settings UPDATE_BROKER_CONFIG changes at run time (read these, not `settings`).
    pub live: crate::live_settings::LiveSettings,
    pub store: Arc<MessageStore>,
    pub topics: TopicConfigManager,
    pub groups: SubscriptionGroupManager,
    pub offsets: ConsumerOffsetManager,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub long_polling: LongPolling,
    pub locks: crate::rebalance_lock::RebalanceLockManager,
    /// `brokerPermission`, changeable at run time (UPDATE_BROKER_CONFIG, wipe/add write perm).
    pub permission: std::sync::atomic::AtomicI32,
    /// Put/get counters and TPS.
    pub stats: crate::stats::BrokerStats,
    /// Delay levels (SCHEDULE_TOPIC_XXXX delivery).
    pub schedule: crate::schedule::ScheduleMessageService,
    /// Timer messages (rmq_sys_wheel_timer delivery).
    pub timer: crate::timer::TimerMessageService,
    /// Half messages, END_TRANSACTION bookkeeping and the transaction check.
    pub transactions: crate::transaction::TransactionalMessageService,
    /// Compiled SQL92 subscriptions by group and topic.
    pub filters: crate::filter::FilterCache,
    /// Connections to nameservers.
    pub outbound: RemotingClient,
    /// Poked when topics change so the broker re-registers at once.
    pub register_now: Notify,
    /// Re-registrations asked for so far (tickets of `topics_changed_and_registered`).
    pub register_requests: std::sync::atomic::AtomicU64,
    /// The highest ticket covered by a finished registration round.
    pub registered: tokio::sync::watch::Sender<u64>,
    pub started_at_ms: i64,
    /// The ACL 1.0 validator when `aclEnable=true` (its files are changed by the ACL admin codes).
    pub acl: Option<Arc<crate::acl::AclValidator>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] remoting::properties::InvalidValue),
    #[error("store: {0}")]
    Store(#[from] store::error::StoreError),
    #[error("acl: {0}")]
    Acl(#[from] crate::acl::AclError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Broker {
    /// Tells every consumer of `group` that the group's membership changed.
    pub fn notify_consumer_ids_changed(&self, group: &str) {
        if let Some(cfg) = self.groups.get(group) {
            if !cfg.notify_consumer_ids_changed_enable {
                return;
            }
        }
        for c in self.consumers.channels(group) {
            let header = NotifyConsumerIdsChangedRequestHeader {
                consumer_group: group.to_string(),
            };
            let req = RemotingCommand::request_with_header(
                request_code::NOTIFY_CONSUMER_IDS_CHANGED,
                &header,
            );
            let ch = c.channel.clone();
            tokio::spawn(async move {
                if let Err(e) = ch.invoke_oneway(req).await {
                    tracing::debug!(peer = %ch.peer_addr(), error = %e, "notify consumer ids changed failed");
                }
            });
        }
    }

    /// The broker's current permission bits (`brokerPermission`).
    pub fn permission(&self) -> i32 {
        self.permission.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Asks the registration task to register with the nameservers now.
    pub fn topics_changed(&self) {
        self.register_requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.register_now.notify_one();
    }

    /// Like `topics_changed`, then waits (at most `limit`) until a registration that started
    /// after the change has finished: Java's updateAndCreateTopic answers only after registering
    /// the topic with the nameservers, so a route query right after sees it.
    pub async fn topics_changed_and_registered(&self, limit: std::time::Duration) {
        let mut done = self.registered.subscribe();
        let ticket = self
            .register_requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        self.register_now.notify_one();
        let _ = tokio::time::timeout(limit, done.wait_for(|r| *r >= ticket)).await;
    }
}

struct ClientChannelEvents(std::sync::Weak<Broker>);

impl ChannelEventListener for ClientChannelEvents {
    fn on_channel_close(&self, channel: &Channel) {
        let Some(broker) = self.0.upgrade() else {
            return;
        };
        broker.producers.on_channel_close(channel);
        for group in broker.consumers.on_channel_close(channel) {
            tracing::info!(%group, peer = %channel.peer_addr(), "consumer connection closed");
            broker.notify_consumer_ids_changed(&group);
        }
    }
}

/// A running broker.
pub struct BrokerHandle {
    pub broker: Arc<Broker>,
    servers: Vec<RemotingServer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    metrics_shutdown: tokio_util::sync::CancellationToken,
}

impl BrokerHandle {
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.servers.first().map(RemotingServer::local_addr)
    }

    pub async fn shutdown(self) {
        namesrv_registration::unregister_all(&self.broker).await;
        for t in &self.tasks {
            t.abort();
        }
        self.metrics_shutdown.cancel();
        for s in self.servers {
            s.shutdown().await;
        }
        self.broker.schedule.shutdown().await;
        self.broker.timer.shutdown().await;
        self.broker.transactions.shutdown().await;
        self.broker.offsets.persist();
        self.broker.topics.persist();
        self.broker.groups.persist();
        let store = self.broker.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.shutdown()).await;
        self.broker.outbound.shutdown();
        tracing::info!("broker shut down");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Starts a broker with `config`.
pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, StartError> {
    start_with_fs(config, store::fs::os()).await
}

/// [`start`] with the store's file-system seam (and disk usage source) replaced: tests inject
/// I/O faults or a disk usage figure through it.
pub async fn start_with_fs(
    config: BrokerConfig,
    fs: std::sync::Arc<dyn store::FileSystem>,
) -> Result<BrokerHandle, StartError> {
    let settings = config.settings()?;
    let store_config = store::config::StoreConfig::from_properties(&config.store_properties())?;
    let store = tokio::task::spawn_blocking(move || MessageStore::open_with_fs(store_config, fs))
        .await
        .map_err(|e| {
            store::error::StoreError::InvalidConfig(format!("store open task failed: {e}"))
        })??;
    let topics = TopicConfigManager::load(&settings);
    let groups = SubscriptionGroupManager::load(
        &settings.store_root,
        settings.auto_create_subscription_group,
    );
    let offsets = ConsumerOffsetManager::load(&settings.store_root);
    let schedule = crate::schedule::ScheduleMessageService::load(
        &settings.store_root,
        store.config().delay_levels()?,
        &store,
    )
    .with_version_step(
        config
            .props
            .number("delayOffsetUpdateVersionStep", 200u64)?,
    );
    let timer_flush_ms: u64 = config.props.number("timerFlushIntervalMs", 1000)?;
    let timer = crate::timer::TimerMessageService::load(
        &settings.store_root,
        settings.timer,
        Duration::from_millis(timer_flush_ms),
        &store,
    );
    let transactions = crate::transaction::TransactionalMessageService::new(
        crate::transaction::TransactionSettings::from_config(&config)?,
    );
    let flush_delay_offset_ms: u64 = config.props.number("flushDelayOffsetInterval", 10_000)?;
    let acl = crate::acl::AclValidator::from_config(&config)?;
    let tls = crate::security::tls_settings(&config);
    let live = crate::live_settings::LiveSettings::new(
        &settings,
        transactions.settings.reject_transaction_message,
    );
    let broker = Arc::new(Broker {
        config: RwLock::new(config),
        settings: settings.clone(),
        live,
        store,
        topics,
        groups,
        offsets,
        consumers: ConsumerManager::default(),
        producers: ProducerManager::default(),
        long_polling: LongPolling::default(),
        locks: Default::default(),
        permission: std::sync::atomic::AtomicI32::new(settings.broker_permission),
        stats: Default::default(),
        schedule,
        timer,
        transactions,
        filters: Default::default(),
        outbound: RemotingClient::new(crate::security::outbound_client_config(&tls)),
        register_now: Notify::new(),
        register_requests: std::sync::atomic::AtomicU64::new(0),
        registered: tokio::sync::watch::Sender::new(0),
        started_at_ms: now_ms(),
        acl: acl.clone(),
    });

    let weak = Arc::downgrade(&broker);
    broker.store.set_message_arrival_listener(Arc::new(
        move |info: &store::result::ArrivalInfo<'_>| {
            if let Some(b) = weak.upgrade() {
                b.long_polling.notify_arrival(info.topic, info.queue_id);
            }
        },
    ));

    let rpc_metrics = Arc::new(remoting::metrics::RpcMetrics::default());
    let server_config = ServerConfig {
        channel: ChannelConfig {
            idle_timeout: Duration::from_secs(settings.idle_seconds.max(1)),
            ..ChannelConfig::default()
        },
        metrics: Some(rpc_metrics.clone()),
        interceptor: crate::security::interceptor(&acl),
        tls: crate::security::server_tls(&tls),
        ..ServerConfig::default()
    };
    let events: Arc<dyn ChannelEventListener> =
        Arc::new(ClientChannelEvents(Arc::downgrade(&broker)));
    let ip: std::net::IpAddr = settings
        .bind_address
        .parse()
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let mut servers = Vec::new();
    let main_addr = SocketAddr::new(ip, settings.listen_port);
    let main = RemotingServer::bind(
        main_addr,
        processor::processor_table(broker.clone(), false),
        server_config.clone(),
        Some(events.clone()),
    )
    .await
    .map_err(|source| StartError::Bind {
        addr: main_addr,
        source,
    })?;
    servers.push(main);
    if settings.listen_port > 2 {
        let vip_addr = SocketAddr::new(ip, settings.listen_port - 2);
        match RemotingServer::bind(
            vip_addr,
            processor::processor_table(broker.clone(), true),
            server_config,
            Some(events),
        )
        .await
        {
            Ok(s) => servers.push(s),
            Err(e) => tracing::warn!(addr = %vip_addr, error = %e, "VIP channel not started"),
        }
    }

    let metrics_shutdown = tokio_util::sync::CancellationToken::new();
    let exporter = broker
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .props
        .string("metricsExporterType");
    if exporter.eq_ignore_ascii_case("PROM") {
        let (host, port) = {
            let c = broker.config.read().unwrap_or_else(|p| p.into_inner());
            (
                c.props.string("metricsPromExporterHost"),
                c.props.number::<u16>("metricsPromExporterPort", 5557)?,
            )
        };
        let ip: std::net::IpAddr = host.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let weak = Arc::downgrade(&broker);
        let rpc = rpc_metrics.clone();
        let render: remoting::metrics::RenderFn = Arc::new(move || match weak.upgrade() {
            Some(b) => crate::metrics::render(&b, &rpc),
            None => String::new(),
        });
        let addr = SocketAddr::new(ip, port);
        remoting::metrics::serve_http(addr, render, metrics_shutdown.clone())
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
    }
    let mut tasks = Vec::new();
    if let Some(acl) = &acl {
        tasks.push(acl.clone().spawn_watch());
    }
    if broker.store.config().broker_role != store::BrokerRole::Slave {
        crate::schedule::ScheduleMessageService::start(
            &broker,
            Duration::from_millis(flush_delay_offset_ms),
        );
        crate::transaction::TransactionalMessageService::start(&broker);
        if broker.settings.timer.enable {
            crate::timer::TimerMessageService::start(&broker);
        }
    }
    tasks.push(tokio::spawn(namesrv_registration::run(broker.clone())));
    let b = broker.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            b.stats.sample();
        }
    }));
    // Java's StatsItemSet: minute windows every 10 s, hour windows every 10 min, day windows every
    // hour, all first sampled at start.
    let b = broker.clone();
    tasks.push(tokio::spawn(async move {
        use crate::stats_windows::Window;
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        let mut n: u64 = 0;
        loop {
            tick.tick().await;
            b.stats.sample_windows(Window::Minute);
            if n.is_multiple_of(60) {
                b.stats.sample_windows(Window::Hour);
            }
            if n.is_multiple_of(360) {
                b.stats.sample_windows(Window::Day);
            }
            n += 1;
        }
    }));
    let b = broker.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(
            b.settings.flush_consumer_offset_interval_ms.max(100),
        ));
        loop {
            tick.tick().await;
            let b2 = b.clone();
            let _ = tokio::task::spawn_blocking(move || b2.offsets.persist()).await;
        }
    }));
    let b = broker.clone();
    tasks.push(tokio::spawn(async move {
        let timeout = Duration::from_millis(b.settings.channel_expired_timeout_ms);
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            b.producers.scan_expired(timeout);
            let expired = b.consumers.scan_expired(timeout);
            let mut groups: Vec<String> = Vec::new();
            for (group, ch) in expired {
                ch.close();
                if !groups.contains(&group) {
                    groups.push(group);
                }
            }
            for g in groups {
                b.notify_consumer_ids_changed(&g);
            }
        }
    }));
    tracing::info!(
        broker = %settings.broker_name,
        cluster = %settings.cluster_name,
        addr = %settings.broker_addr(),
        namesrv = ?settings.namesrv_addrs,
        "broker started"
    );
    Ok(BrokerHandle {
        broker,
        servers,
        tasks,
        metrics_shutdown,
    })
}
