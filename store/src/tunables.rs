//! The store settings that change while running (Java reads its MessageStoreConfig fields on every
//! flush round, cleanup round and read, so UPDATE_BROKER_CONFIG applies them at once): flush
//! intervals and page thresholds, retention and disk ratios, read-ahead limits, the message size cap.
//! Invariant: every value comes from a `StoreConfig` that parsed; loops re-read them each round.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::config::StoreConfig;

/// Keys of the MessageStoreConfig whose new value the running store takes.
pub const LIVE_STORE_KEYS: &[&str] = &[
    "flushIntervalCommitLog",
    "flushCommitLogLeastPages",
    "flushCommitLogThoroughInterval",
    "flushIntervalConsumeQueue",
    "flushConsumeQueueLeastPages",
    "flushConsumeQueueThoroughInterval",
    "fileReservedTime",
    "deleteWhen",
    "diskMaxUsedSpaceRatio",
    "diskSpaceCleanForciblyRatio",
    "diskSpaceWarningLevelRatio",
    "cleanFileForciblyEnable",
    "cleanResourceInterval",
    "deleteCommitLogFilesInterval",
    "deleteConsumeQueueFilesInterval",
    "deleteFileBatchMax",
    "accessMessageInMemoryMaxRatio",
    "maxMessageSize",
];

macro_rules! tunables {
    ($($field:ident: $atomic:ident as $ty:ty,)*) => {
        /// The live values (see the module header).
        #[derive(Debug)]
        pub struct Tunables {
            $($field: $atomic,)*
            /// `deleteWhen` as a bit set of hours (bit h = hour h).
            delete_hours: AtomicU32,
        }

        impl Tunables {
            pub fn new(c: &StoreConfig) -> Self {
                Tunables {
                    $($field: $atomic::new(c.$field),)*
                    delete_hours: AtomicU32::new(hour_mask(c)),
                }
            }

            /// Takes every live value of `c`.
            pub fn apply(&self, c: &StoreConfig) {
                $(self.$field.store(c.$field, Ordering::Relaxed);)*
                self.delete_hours.store(hour_mask(c), Ordering::Relaxed);
            }

            $(pub fn $field(&self) -> $ty {
                self.$field.load(Ordering::Relaxed)
            })*
        }
    };
}

tunables! {
    flush_interval_commit_log: AtomicU64 as u64,
    flush_commit_log_least_pages: AtomicU32 as u32,
    flush_commit_log_thorough_interval: AtomicU64 as u64,
    flush_interval_consume_queue: AtomicU64 as u64,
    flush_consume_queue_least_pages: AtomicU32 as u32,
    flush_consume_queue_thorough_interval: AtomicU64 as u64,
    file_reserved_time: AtomicU64 as u64,
    disk_max_used_space_ratio: AtomicU32 as u32,
    disk_space_clean_forcibly_ratio: AtomicU32 as u32,
    disk_space_warning_level_ratio: AtomicU32 as u32,
    clean_file_forcibly_enable: AtomicBool as bool,
    clean_resource_interval: AtomicU64 as u64,
    delete_commit_log_files_interval: AtomicU64 as u64,
    delete_consume_queue_files_interval: AtomicU64 as u64,
    delete_file_batch_max: AtomicU32 as u32,
    access_message_in_memory_max_ratio: AtomicU32 as u32,
    max_message_size: AtomicU32 as u32,
}

fn hour_mask(c: &StoreConfig) -> u32 {
    c.delete_hours()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| *h < 24)
        .fold(0, |m, h| m | (1 << h))
}

impl Tunables {
    /// Whether `hour` (0-23) is one of the `deleteWhen` hours.
    pub fn is_delete_hour(&self, hour: u32) -> bool {
        hour < 24 && self.delete_hours.load(Ordering::Relaxed) & (1 << hour) != 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> StoreConfig {
        let props: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        StoreConfig::from_properties(&props).expect("config")
    }

    #[test]
    fn apply_takes_the_new_values() {
        let t = Tunables::new(&StoreConfig::default());
        assert!(t.is_delete_hour(4), "Java's default deleteWhen is 04");
        t.apply(&config(&[
            ("fileReservedTime", "1"),
            ("deleteWhen", "01;13"),
            ("flushIntervalCommitLog", "123"),
            ("maxMessageSize", "1024"),
            ("cleanFileForciblyEnable", "false"),
        ]));
        assert_eq!(t.file_reserved_time(), 1);
        assert!(t.is_delete_hour(1) && t.is_delete_hour(13) && !t.is_delete_hour(4));
        assert!(!t.is_delete_hour(24));
        assert_eq!(t.flush_interval_commit_log(), 123);
        assert_eq!(t.max_message_size(), 1024);
        assert!(!t.clean_file_forcibly_enable());
    }

    #[test]
    fn every_live_key_is_a_store_key() {
        let known = serde_json::to_value(StoreConfig::default()).expect("json");
        for k in LIVE_STORE_KEYS {
            assert!(
                known.get(*k).is_some(),
                "{k} is not a MessageStoreConfig key"
            );
        }
    }
}
