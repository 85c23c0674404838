//! The nameserver's settings under the Java property names of `NamesrvConfig` and
//! `NettyServerConfig`, with Java's defaults, so one namesrv.properties starts either server
//! and GET_NAMESRV_CONFIG lists the same keys.

use remoting::properties::{InvalidValue, PropertiesConfig};

/// Java property name -> default. `None`: a key Java knows but leaves null by default.
pub fn defaults() -> Vec<(&'static str, Option<String>)> {
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".to_string());
    let rocketmq_home = std::env::var("ROCKETMQ_HOME").ok();
    let s = |v: &str| Some(v.to_string());
    let mut v = vec![
        // NamesrvConfig
        ("rocketmqHome", rocketmq_home),
        (
            "kvConfigPath",
            Some(format!("{home}/namesrv/kvConfig.json")),
        ),
        (
            "configStorePath",
            Some(format!("{home}/namesrv/namesrv.properties")),
        ),
        ("productEnvName", s("center")),
        ("clusterTest", s("false")),
        ("orderMessageEnable", s("false")),
        ("returnOrderTopicConfigToBroker", s("true")),
        ("clientRequestThreadPoolNums", s("8")),
        ("defaultThreadPoolNums", s("16")),
        ("clientRequestThreadPoolQueueCapacity", s("50000")),
        ("defaultThreadPoolQueueCapacity", s("10000")),
        ("scanNotActiveBrokerInterval", s("5000")),
        ("unRegisterBrokerQueueCapacity", s("3000")),
        ("supportActingMaster", s("false")),
        ("enableAllTopicList", s("true")),
        ("enableTopicList", s("true")),
        ("notifyMinBrokerIdChanged", s("false")),
        ("enableControllerInNamesrv", s("false")),
        ("needWaitForService", s("false")),
        ("waitSecondsForService", s("45")),
        ("deleteTopicWithBrokerRegistration", s("false")),
        (
            "configBlackList",
            s("configBlackList;configStorePath;kvConfigPath"),
        ),
        // NettyServerConfig
        ("bindAddress", s("0.0.0.0")),
        ("listenPort", s("9876")),
        ("serverWorkerThreads", s("8")),
        ("serverCallbackExecutorThreads", s("0")),
        ("serverSelectorThreads", s("3")),
        ("serverOnewaySemaphoreValue", s("256")),
        ("serverAsyncSemaphoreValue", s("64")),
        ("serverChannelMaxIdleTimeSeconds", s("120")),
        ("serverSocketSndBufSize", s("0")),
        ("serverSocketRcvBufSize", s("0")),
        ("writeBufferHighWaterMark", s("0")),
        ("writeBufferLowWaterMark", s("0")),
        ("serverSocketBacklog", s("1024")),
        ("serverNettyWorkerGroupEnable", s("true")),
        ("serverPooledByteBufAllocatorEnable", s("true")),
        ("enableShutdownGracefully", s("false")),
        ("shutdownWaitTimeSeconds", s("30")),
        ("useEpollNativeSelector", s("false")),
    ];
    // TLS: Java's system properties (tls.server.mode, ...), settable here in the config file.
    v.extend(remoting::tls::PROPERTY_KEYS.iter().map(|k| (*k, None)));
    // Ours: the log filter (Java sets levels in its logback file; RUST_LOG overrides). Not
    // printed or reported while unset (then `info`), so GET_NAMESRV_CONFIG shows Java's key set.
    v.push((crate::logging::LOG_LEVEL_KEY, None));
    v
}

/// The effective nameserver configuration.
#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    pub props: PropertiesConfig,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        Self {
            props: PropertiesConfig::with_defaults(defaults()),
        }
    }
}

impl NamesrvConfig {
    /// Defaults overridden by `props`; refuses values of the wrong type, naming the key.
    /// Returns the config and the keys it does not know.
    pub fn from_properties(
        props: std::collections::BTreeMap<String, String>,
    ) -> Result<(Self, Vec<String>), InvalidValue> {
        let mut c = Self::default();
        let unknown = c.props.apply(props);
        c.props.validate_types(defaults())?;
        Ok((c, unknown))
    }

    pub fn listen_port(&self) -> Result<u16, InvalidValue> {
        self.props.number("listenPort", 9876)
    }

    pub fn bind_address(&self) -> String {
        self.props
            .get("bindAddress")
            .filter(|s| !s.is_empty())
            .unwrap_or("0.0.0.0")
            .to_string()
    }

    pub fn kv_config_path(&self) -> String {
        self.props.string("kvConfigPath")
    }

    pub fn config_store_path(&self) -> String {
        self.props.string("configStorePath")
    }

    pub fn scan_interval_ms(&self) -> u64 {
        self.props
            .number("scanNotActiveBrokerInterval", 5000)
            .unwrap_or(5000)
    }

    pub fn idle_seconds(&self) -> u64 {
        self.props
            .number("serverChannelMaxIdleTimeSeconds", 120)
            .unwrap_or(120)
    }

    /// Keys that UPDATE_NAMESRV_CONFIG may not change.
    pub fn black_list(&self) -> Vec<String> {
        self.props
            .string("configBlackList")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}
