//! The broker settings UPDATE_BROKER_CONFIG changes while running, as the Java broker reads them
//! from its config objects on every use (send, pull and filter checks; `autoCreateSubscriptionGroup`
//! lives in the group manager, `brokerPermission` in the broker).
//! Invariant: each value is the config table's, parsed; an update that does not parse changes
//! neither the table nor these values.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use crate::config::BrokerSettings;

/// Keys whose new value takes effect at once (besides `brokerPermission`, kept by the broker).
pub const LIVE_KEYS: &[&str] = &[
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
    "longPollingEnable",
    "shortPollingTimeMills",
    "maxTransferCountOnMessageInMemory",
    "maxTransferBytesOnMessageInMemory",
    "enablePropertyFilter",
    "rejectTransactionMessage",
];

#[derive(Debug)]
pub struct LiveSettings {
    auto_create_topic_enable: AtomicBool,
    long_polling_enable: AtomicBool,
    short_polling_time_ms: AtomicU64,
    max_transfer_count: AtomicI32,
    max_transfer_bytes: AtomicI32,
    enable_property_filter: AtomicBool,
    reject_transaction_message: AtomicBool,
}

impl LiveSettings {
    pub fn new(s: &BrokerSettings, reject_transaction_message: bool) -> Self {
        let live = Self {
            auto_create_topic_enable: AtomicBool::new(false),
            long_polling_enable: AtomicBool::new(false),
            short_polling_time_ms: AtomicU64::new(0),
            max_transfer_count: AtomicI32::new(0),
            max_transfer_bytes: AtomicI32::new(0),
            enable_property_filter: AtomicBool::new(false),
            reject_transaction_message: AtomicBool::new(false),
        };
        live.apply(s, reject_transaction_message);
        live
    }

    /// Takes the values of freshly parsed settings.
    pub fn apply(&self, s: &BrokerSettings, reject_transaction_message: bool) {
        let r = Ordering::Relaxed;
        self.auto_create_topic_enable
            .store(s.auto_create_topic_enable, r);
        self.long_polling_enable.store(s.long_polling_enable, r);
        self.short_polling_time_ms.store(s.short_polling_time_ms, r);
        self.max_transfer_count.store(s.max_transfer_count, r);
        self.max_transfer_bytes.store(s.max_transfer_bytes, r);
        self.enable_property_filter
            .store(s.enable_property_filter, r);
        self.reject_transaction_message
            .store(reject_transaction_message, r);
    }

    pub fn auto_create_topic_enable(&self) -> bool {
        self.auto_create_topic_enable.load(Ordering::Relaxed)
    }
    pub fn long_polling_enable(&self) -> bool {
        self.long_polling_enable.load(Ordering::Relaxed)
    }
    pub fn short_polling_time_ms(&self) -> u64 {
        self.short_polling_time_ms.load(Ordering::Relaxed)
    }
    pub fn max_transfer_count(&self) -> i32 {
        self.max_transfer_count.load(Ordering::Relaxed)
    }
    pub fn max_transfer_bytes(&self) -> i32 {
        self.max_transfer_bytes.load(Ordering::Relaxed)
    }
    pub fn enable_property_filter(&self) -> bool {
        self.enable_property_filter.load(Ordering::Relaxed)
    }
    pub fn reject_transaction_message(&self) -> bool {
        self.reject_transaction_message.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;

    fn settings(pairs: &[(&str, &str)]) -> BrokerSettings {
        let (c, _) = BrokerConfig::from_properties(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap();
        c.settings().unwrap()
    }

    #[test]
    fn apply_takes_every_live_value() {
        let live = LiveSettings::new(&settings(&[]), false);
        assert!(live.auto_create_topic_enable());
        assert!(live.long_polling_enable());
        assert!(!live.enable_property_filter());
        live.apply(
            &settings(&[
                ("autoCreateTopicEnable", "false"),
                ("autoCreateSubscriptionGroup", "false"),
                ("longPollingEnable", "false"),
                ("shortPollingTimeMills", "250"),
                ("maxTransferCountOnMessageInMemory", "7"),
                ("maxTransferBytesOnMessageInMemory", "4096"),
                ("enablePropertyFilter", "true"),
            ]),
            true,
        );
        assert!(!live.auto_create_topic_enable());
        assert!(!live.long_polling_enable());
        assert_eq!(live.short_polling_time_ms(), 250);
        assert_eq!(live.max_transfer_count(), 7);
        assert_eq!(live.max_transfer_bytes(), 4096);
        assert!(live.enable_property_filter());
        assert!(live.reject_transaction_message());
    }
}
