//! The broker's settings under the Java property names (BrokerConfig, NettyServerConfig and
//! MessageStoreConfig share one broker.conf), with Java's defaults. The values the hot paths
//! read are parsed once into `BrokerSettings`; the full table answers GET_BROKER_CONFIG.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use remoting::properties::{InvalidValue, PropertiesConfig};

/// Java property name -> default for the keys this broker reads or reports: the broker's own
/// list, then every MessageStoreConfig key the store understands (with the store's default).
pub fn defaults() -> Vec<(String, Option<String>)> {
    let mut all: Vec<(String, Option<String>)> = broker_defaults()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if let Ok(serde_json::Value::Object(store)) =
        serde_json::to_value(store::StoreConfig::default())
    {
        for (k, v) in store {
            if all.iter().any(|(known, _)| *known == k) {
                continue;
            }
            let text = match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s),
                other => Some(other.to_string()),
            };
            all.push((k, text));
        }
    }
    // Java's keys without a behaviour here: reported with Java's default (config_java.rs).
    for (k, v) in crate::config_java::REPORTED_ONLY {
        if !all.iter().any(|(known, _)| known == k) {
            all.push((k.to_string(), Some(v.to_string())));
        }
    }
    for (k, v) in crate::config_java::cpu_derived() {
        if !all.iter().any(|(known, _)| known == k) {
            all.push((k.to_string(), Some(v)));
        }
    }
    // Java reads these as system properties (-D); here broker.conf may set them. Known, unset.
    for k in remoting::tls::PROPERTY_KEYS
        .iter()
        .chain(&[crate::acl::PLAIN_FILE_KEY])
    {
        all.push((k.to_string(), None));
    }
    all
}

fn broker_defaults() -> Vec<(&'static str, Option<String>)> {
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".to_string());
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "DEFAULT_BROKER".to_string());
    let s = |v: &str| Some(v.to_string());
    vec![
        ("rocketmqHome", std::env::var("ROCKETMQ_HOME").ok()),
        ("namesrvAddr", std::env::var("NAMESRV_ADDR").ok()),
        // Java picks a local address; we default to loopback, or BROKER_IP1 from the environment
        // (how docker-compose sets the address clients outside the compose network reach).
        (
            "brokerIP1",
            Some(std::env::var("BROKER_IP1").unwrap_or_else(|_| "127.0.0.1".to_string())),
        ),
        ("brokerIP2", s("127.0.0.1")),
        ("listenPort", s("10911")),
        ("brokerName", Some(host)),
        ("brokerClusterName", s("DefaultCluster")),
        ("brokerId", s("0")),
        ("brokerPermission", s("6")),
        ("defaultTopicQueueNums", s("8")),
        ("autoCreateTopicEnable", s("true")),
        ("clusterTopicEnable", s("true")),
        ("brokerTopicEnable", s("true")),
        ("autoCreateSubscriptionGroup", s("true")),
        ("messageStorePlugIn", s("")),
        ("traceTopicEnable", s("false")),
        ("msgTraceTopicName", s("RMQ_SYS_TRACE_TOPIC")),
        ("storeReplyMessageEnable", s("true")),
        ("regionId", s("DefaultRegion")),
        ("traceOn", s("true")),
        ("longPollingEnable", s("true")),
        ("shortPollingTimeMills", s("1000")),
        ("notifyConsumerIdsChangedEnable", s("true")),
        ("transferMsgByHeap", s("true")),
        ("registerNameServerPeriod", s("30000")),
        ("registerBrokerTimeoutMills", s("24000")),
        ("brokerNotActiveTimeoutMillis", s("10000")),
        ("channelExpiredTimeout", s("120000")),
        ("flushConsumerOffsetInterval", s("5000")),
        ("sendMessageThreadPoolNums", s("4")),
        ("pullMessageThreadPoolNums", s("16")),
        ("sendThreadPoolQueueCapacity", s("10000")),
        ("pullThreadPoolQueueCapacity", s("100000")),
        ("enablePropertyFilter", s("false")),
        ("forceRegister", s("true")),
        ("fetchNamesrvAddrByAddressServer", s("false")),
        ("haListenPort", s("10912")),
        ("brokerRole", s("ASYNC_MASTER")),
        ("flushDiskType", s("ASYNC_FLUSH")),
        ("storePathRootDir", Some(format!("{home}/store"))),
        ("storePathCommitLog", None),
        ("mappedFileSizeCommitLog", s("1073741824")),
        ("mappedFileSizeConsumeQueue", s("6000000")),
        ("flushIntervalCommitLog", s("500")),
        ("syncFlushTimeout", s("5000")),
        ("maxMessageSize", s("4194304")),
        ("fileReservedTime", s("72")),
        ("deleteWhen", s("04")),
        ("diskMaxUsedSpaceRatio", s("75")),
        ("messageIndexEnable", s("true")),
        ("maxHashSlotNum", s("5000000")),
        ("maxIndexNum", s("20000000")),
        (
            "messageDelayLevel",
            s("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"),
        ),
        ("flushDelayOffsetInterval", s("10000")),
        ("timerWheelEnable", s("true")),
        ("timerMaxDelaySec", s("259200")),
        ("timerPrecisionMs", s("1000")),
        ("timerFlushIntervalMs", s("1000")),
        ("transactionTimeOut", s("6000")),
        ("transactionCheckMax", s("15")),
        ("transactionCheckInterval", s("30000")),
        ("rejectTransactionMessage", s("false")),
        ("maxTransferCountOnMessageInMemory", s("32")),
        ("maxTransferBytesOnMessageInMemory", s("262144")),
        ("serverChannelMaxIdleTimeSeconds", s("120")),
        ("bindAddress", s("0.0.0.0")),
        ("aclEnable", s("false")),
        ("configBlackList", s("configBlackList;brokerConfigPath")),
        ("metricsExporterType", s("DISABLE")),
        ("metricsPromExporterHost", s("")),
        ("metricsPromExporterPort", s("5557")),
        // Ours: the log filter (Java sets levels in its logback file; RUST_LOG overrides). Not
        // printed or reported while unset (then `info`), so GET_BROKER_CONFIG shows Java's key set.
        ("logLevel", None),
    ]
}

/// The values read on hot paths, parsed once at start.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub broker_name: String,
    pub cluster_name: String,
    pub broker_id: i64,
    pub broker_ip1: String,
    pub broker_ip2: String,
    pub listen_port: u16,
    pub ha_listen_port: u16,
    pub bind_address: String,
    pub namesrv_addrs: Vec<String>,
    pub broker_permission: i32,
    pub default_topic_queue_nums: i32,
    pub auto_create_topic_enable: bool,
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    pub auto_create_subscription_group: bool,
    pub trace_topic_enable: bool,
    pub trace_topic_name: String,
    /// `storeReplyMessageEnable`: replies are stored in the reply topic after the push.
    pub store_reply_message_enable: bool,
    pub region_id: String,
    pub trace_on: bool,
    pub long_polling_enable: bool,
    pub short_polling_time_ms: u64,
    pub register_period_ms: u64,
    pub register_timeout_ms: u64,
    pub channel_expired_timeout_ms: u64,
    pub flush_consumer_offset_interval_ms: u64,
    pub store_root: PathBuf,
    pub max_message_size: usize,
    pub idle_seconds: u64,
    pub max_transfer_count: i32,
    pub max_transfer_bytes: i32,
    /// `enablePropertyFilter`: SQL92 subscriptions are served (otherwise refused as Java does).
    pub enable_property_filter: bool,
    /// `timerWheelEnable`, `timerMaxDelaySec`, `timerPrecisionMs` (timer messages).
    pub timer: crate::timer::TimerSettings,
}

impl BrokerSettings {
    /// The address clients use: `brokerIP1:listenPort`.
    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip1, self.listen_port)
    }

    /// The same as a socket address, written into stored records as the store host.
    pub fn store_host(&self) -> SocketAddr {
        // Parsed without formatting "ip:port" first: this runs twice per send.
        let ip = self
            .broker_ip1
            .trim()
            .parse::<std::net::IpAddr>()
            .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
        SocketAddr::new(ip, self.listen_port)
    }

    pub fn ha_server_addr(&self) -> String {
        format!("{}:{}", self.broker_ip2, self.ha_listen_port)
    }
}

/// The effective broker configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub props: PropertiesConfig,
    /// The `-c` file: UPDATE_BROKER_CONFIG writes the whole table back to it, as Java's
    /// `Configuration.persist` does. `None`: changes stay in memory.
    pub config_file: Option<PathBuf>,
}

impl BrokerConfig {
    /// Defaults overridden by `props`; returns the keys it does not know.
    pub fn from_properties(
        props: BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), InvalidValue> {
        let mut c = Self {
            props: PropertiesConfig::with_defaults(
                defaults().iter().map(|(k, v)| (k.as_str(), v.clone())),
            ),
            config_file: None,
        };
        let ha_given = props.contains_key("haListenPort");
        let unknown = c.props.apply(props);
        c.props
            .validate_types(defaults().iter().map(|(k, v)| (k.as_str(), v.clone())))?;
        if !ha_given {
            let port: i64 = c.props.number("listenPort", 10911)?;
            c.props.set("haListenPort", (port + 1).to_string());
        }
        Ok((c, unknown))
    }

    /// Where updateBrokerConfig writes the table, as Java: the `brokerConfigPath` key if set, else
    /// the `-c` file, else `<home>/store/config/broker.properties` (Java's default even when
    /// `storePathRootDir` is elsewhere).
    pub fn persist_path(&self, flag: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
        let key = self.props.string("brokerConfigPath");
        if !key.trim().is_empty() {
            return Some(PathBuf::from(key.trim()));
        }
        if let Some(f) = flag {
            return Some(f.to_path_buf());
        }
        home.map(|h| h.join("store").join("config").join("broker.properties"))
    }

    /// Writes every setting to `config_file` (if any) as Java's `MixAll.string2File` does: the
    /// parent directories made, the new text to `<file>.tmp`, the old file kept as `<file>.bak`,
    /// then the rename.
    pub fn persist(&self) -> std::io::Result<()> {
        let Some(path) = &self.config_file else {
            return Ok(());
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let text = self.props.to_text();
        let with = |ext: &str| {
            let mut p = path.clone().into_os_string();
            p.push(ext);
            PathBuf::from(p)
        };
        let tmp = with(".tmp");
        std::fs::write(&tmp, text.as_bytes())?;
        if path.exists() {
            std::fs::copy(path, with(".bak"))?;
        }
        std::fs::rename(&tmp, path)
    }

    /// Parses the hot-path values; a bad value is refused naming its key.
    pub fn settings(&self) -> Result<BrokerSettings, InvalidValue> {
        let p = &self.props;
        let namesrv = p.string("namesrvAddr");
        Ok(BrokerSettings {
            broker_name: p.string("brokerName"),
            cluster_name: p.string("brokerClusterName"),
            broker_id: p.number("brokerId", 0)?,
            broker_ip1: p.string("brokerIP1"),
            broker_ip2: p
                .get("brokerIP2")
                .map(String::from)
                .unwrap_or_else(|| p.string("brokerIP1")),
            listen_port: p.number("listenPort", 10911)?,
            ha_listen_port: p.number("haListenPort", 10912)?,
            bind_address: p.string("bindAddress"),
            namesrv_addrs: namesrv
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            broker_permission: p.number("brokerPermission", 6)?,
            default_topic_queue_nums: p.number("defaultTopicQueueNums", 8)?,
            auto_create_topic_enable: p.bool("autoCreateTopicEnable"),
            cluster_topic_enable: p.bool("clusterTopicEnable"),
            broker_topic_enable: p.bool("brokerTopicEnable"),
            auto_create_subscription_group: p.bool("autoCreateSubscriptionGroup"),
            trace_topic_enable: p.bool("traceTopicEnable"),
            trace_topic_name: p.string("msgTraceTopicName"),
            store_reply_message_enable: p.bool("storeReplyMessageEnable"),
            region_id: p.string("regionId"),
            trace_on: p.bool("traceOn"),
            long_polling_enable: p.bool("longPollingEnable"),
            short_polling_time_ms: p.number("shortPollingTimeMills", 1000)?,
            register_period_ms: p
                .number::<u64>("registerNameServerPeriod", 30_000)?
                .clamp(10_000, 60_000),
            register_timeout_ms: p.number("registerBrokerTimeoutMills", 24_000)?,
            channel_expired_timeout_ms: p.number("channelExpiredTimeout", 120_000)?,
            flush_consumer_offset_interval_ms: p.number("flushConsumerOffsetInterval", 5000)?,
            store_root: PathBuf::from(p.string("storePathRootDir")),
            max_message_size: p.number("maxMessageSize", 4 * 1024 * 1024)?,
            idle_seconds: p.number("serverChannelMaxIdleTimeSeconds", 120)?,
            max_transfer_count: p.number("maxTransferCountOnMessageInMemory", 32)?,
            max_transfer_bytes: p.number("maxTransferBytesOnMessageInMemory", 262_144)?,
            enable_property_filter: p.bool("enablePropertyFilter"),
            timer: crate::timer::TimerSettings {
                enable: p.bool("timerWheelEnable"),
                max_delay_sec: p.number("timerMaxDelaySec", 259_200)?,
                precision_ms: p.number::<i64>("timerPrecisionMs", 1000)?.max(1),
            },
        })
    }

    /// The settings as the store reads them (Java MessageStoreConfig names).
    pub fn store_properties(&self) -> HashMap<String, String> {
        self.props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_path_is_javas_key_then_the_flag_then_home_store_config() {
        let (c, _) = BrokerConfig::from_properties(BTreeMap::new()).expect("config");
        assert_eq!(
            c.persist_path(Some(Path::new("/etc/b.conf")), Some(Path::new("/home/u"))),
            Some(PathBuf::from("/etc/b.conf"))
        );
        assert_eq!(
            c.persist_path(None, Some(Path::new("/home/u"))),
            Some(PathBuf::from("/home/u/store/config/broker.properties"))
        );
        assert_eq!(c.persist_path(None, None), None);
        let mut props = BTreeMap::new();
        props.insert(
            "brokerConfigPath".to_string(),
            "/srv/b.properties".to_string(),
        );
        let (c, _) = BrokerConfig::from_properties(props).expect("config");
        assert_eq!(
            c.persist_path(Some(Path::new("/etc/b.conf")), None),
            Some(PathBuf::from("/srv/b.properties"))
        );
    }

    #[test]
    fn persist_makes_the_directories_of_a_new_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir
            .path()
            .join("store")
            .join("config")
            .join("broker.properties");
        let (mut c, _) = BrokerConfig::from_properties(BTreeMap::new()).expect("config");
        c.config_file = Some(file.clone());
        c.persist().expect("persist");
        let text = std::fs::read_to_string(&file).expect("written");
        assert!(text.contains("brokerName="), "{text}");
    }

    #[test]
    fn persist_writes_the_table_to_the_config_file_and_keeps_a_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("broker.conf");
        std::fs::write(&file, "brokerName=old\n").expect("write");
        let mut props = BTreeMap::new();
        props.insert("brokerName".to_string(), "broker-x".to_string());
        let (mut c, _) = BrokerConfig::from_properties(props).expect("config");
        c.config_file = Some(file.clone());
        let mut update = BTreeMap::new();
        update.insert("maxMessageSize".to_string(), "2097152".to_string());
        c.props.apply(update);
        c.persist().expect("persist");
        let back = remoting::properties::parse(&std::fs::read_to_string(&file).expect("read"));
        assert_eq!(back["maxMessageSize"], "2097152");
        assert_eq!(back["brokerName"], "broker-x");
        assert!(
            back.contains_key("flushDiskType"),
            "the whole table, defaults included"
        );
        let bak = std::fs::read_to_string(dir.path().join("broker.conf.bak")).expect("bak");
        assert_eq!(bak, "brokerName=old\n");
        let (c2, unknown) = BrokerConfig::from_properties(back).expect("reloads");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(c2.props.get("maxMessageSize"), Some("2097152"));
    }
}
