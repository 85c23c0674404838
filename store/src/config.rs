//! `StoreConfig`: every tunable of the store, named exactly as the Java `MessageStoreConfig`
//! property (serde camelCase, explicit renames where Java's spelling differs) with Java's default.
//! `from_properties` takes a parsed `broker.conf`; `validate` rejects impossible combinations.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// When a put is acknowledged relative to the fsync of its bytes (Java `FlushDiskType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlushDiskType {
    /// The put completes once the record is in the page cache; a background thread flushes every
    /// `flushIntervalCommitLog`. A machine crash loses up to that much; a process crash loses nothing.
    AsyncFlush,
    /// The put completes only after the record has been fsynced (group commit: concurrent writers
    /// share one fsync). A machine crash loses no acknowledged message.
    SyncFlush,
}

/// Replication role (Java `BrokerRole`). The store itself only distinguishes slaves (which refuse
/// puts and do not correct pull offsets unless `offsetCheckInSlave`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BrokerRole {
    /// Master that replicates asynchronously.
    AsyncMaster,
    /// Master that waits for a slave.
    SyncMaster,
    /// Slave: read-only for clients.
    Slave,
}

/// Store configuration. Field docs give the Java property name and the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StoreConfig {
    /// `storePathRootDir`: root of the store. Default `$HOME/store`.
    pub store_path_root_dir: PathBuf,
    /// `storePathCommitLog`: CommitLog directory. Default `<storePathRootDir>/commitlog`.
    pub store_path_commit_log: Option<PathBuf>,
    /// `mappedFileSizeCommitLog`: bytes per CommitLog file. Default 1 GiB (1073741824).
    pub mapped_file_size_commit_log: u32,
    /// `mappedFileSizeConsumeQueue`: bytes per ConsumeQueue file, rounded up to a multiple of 20.
    /// Default 6000000 (300000 units).
    pub mapped_file_size_consume_queue: u32,
    /// `flushDiskType`: `ASYNC_FLUSH` (default) or `SYNC_FLUSH`.
    pub flush_disk_type: FlushDiskType,
    /// `brokerRole`: `ASYNC_MASTER` (default), `SYNC_MASTER` or `SLAVE`.
    pub broker_role: BrokerRole,
    /// `flushIntervalCommitLog`: async flush period in ms. Default 500.
    pub flush_interval_commit_log: u64,
    /// `flushCommitLogLeastPages`: async flush only when this many 4 KiB pages are dirty. Default 4.
    pub flush_commit_log_least_pages: u32,
    /// `flushCommitLogThoroughInterval`: flush whatever is dirty at least this often (ms). Default 10000.
    pub flush_commit_log_thorough_interval: u64,
    /// `syncFlushTimeout`: ms a SYNC_FLUSH put waits for its fsync before FLUSH_DISK_TIMEOUT. Default 5000.
    pub sync_flush_timeout: u64,
    /// `flushIntervalConsumeQueue`: ConsumeQueue flush period in ms. Default 1000.
    pub flush_interval_consume_queue: u64,
    /// `flushConsumeQueueLeastPages`: pages dirty before a ConsumeQueue flush. Default 2.
    pub flush_consume_queue_least_pages: u32,
    /// `flushConsumeQueueThoroughInterval`: full ConsumeQueue + checkpoint flush period (ms). Default 60000.
    pub flush_consume_queue_thorough_interval: u64,
    /// `maxMessageSize`: largest body (and batch body) accepted, bytes. Default 4 MiB (4194304).
    pub max_message_size: u32,
    /// `checkCRCOnRecover`: verify BODYCRC while recovering. Default true.
    #[serde(rename = "checkCRCOnRecover")]
    pub check_crc_on_recover: bool,
    /// `autoMessageVersionOnTopicLen`: write magic v2 when the topic is longer than 127 bytes. Default true.
    pub auto_message_version_on_topic_len: bool,
    /// `fileReservedTime`: hours a CommitLog file is kept after its last write. Default 72.
    pub file_reserved_time: u64,
    /// `deleteWhen`: hours of day (`;`-separated, local time) when expired files are deleted. Default "04".
    pub delete_when: String,
    /// `diskMaxUsedSpaceRatio`: above this disk use (%) expired files are deleted at any hour. Default 75.
    pub disk_max_used_space_ratio: u32,
    /// `diskSpaceCleanForciblyRatio`: above this disk use (%) files are deleted even if not expired
    /// (when `cleanFileForciblyEnable`). Default 85.
    pub disk_space_clean_forcibly_ratio: u32,
    /// `diskSpaceWarningLevelRatio`: above this disk use (%) puts are refused (SERVICE_NOT_AVAILABLE). Default 90.
    pub disk_space_warning_level_ratio: u32,
    /// `cleanFileForciblyEnable`: allow deleting unexpired files when the disk is nearly full. Default true.
    pub clean_file_forcibly_enable: bool,
    /// `cleanResourceInterval`: period of the cleanup thread, ms. Default 10000.
    pub clean_resource_interval: u64,
    /// `deleteCommitLogFilesInterval`: pause between two CommitLog deletions, ms. Default 100.
    pub delete_commit_log_files_interval: u64,
    /// `deleteConsumeQueueFilesInterval`: pause between two ConsumeQueue deletions, ms. Default 100.
    pub delete_consume_queue_files_interval: u64,
    /// `deleteFileBatchMax`: CommitLog files deleted per cleanup round at most. Default 10.
    pub delete_file_batch_max: u32,
    /// `messageIndexEnable`: build IndexFiles (query by key / unique key). Default true.
    pub message_index_enable: bool,
    /// `messageIndexSafe`: take the index checkpoint into account when recovering. Default false.
    pub message_index_safe: bool,
    /// `maxHashSlotNum`: hash slots per IndexFile. Default 5000000.
    pub max_hash_slot_num: u32,
    /// `maxIndexNum`: entries per IndexFile. Default 20000000.
    pub max_index_num: u32,
    /// `maxMsgsNumBatch`: most messages one index query returns. Default 64.
    pub max_msgs_num_batch: u32,
    /// `messageDelayLevel`: delay of each level for `SCHEDULE_TOPIC_XXXX`.
    /// Default "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h".
    pub message_delay_level: String,
    /// `maxTransferBytesOnMessageInMemory`: pull batch byte cap when the data is hot. Default 262144.
    pub max_transfer_bytes_on_message_in_memory: u32,
    /// `maxTransferCountOnMessageInMemory`: pull batch count cap when hot. Default 32.
    pub max_transfer_count_on_message_in_memory: u32,
    /// `maxTransferBytesOnMessageInDisk`: pull batch byte cap when the data is cold. Default 65536.
    pub max_transfer_bytes_on_message_in_disk: u32,
    /// `maxTransferCountOnMessageInDisk`: pull batch count cap when cold. Default 8.
    pub max_transfer_count_on_message_in_disk: u32,
    /// `accessMessageInMemoryMaxRatio`: % of RAM behind the CommitLog head still counted as hot. Default 40.
    pub access_message_in_memory_max_ratio: u32,
    /// `osPageCacheBusyTimeOutMills`: a put lock held longer than this makes new puts fail with
    /// OS_PAGE_CACHE_BUSY. Default 1000.
    pub os_page_cache_busy_time_out_mills: u64,
    /// `offsetCheckInSlave`: let a slave correct pull offsets. Default false.
    pub offset_check_in_slave: bool,
    /// `warmMapedFileEnable` (Java's spelling): touch every page of a new CommitLog file on the
    /// allocation thread before the writer gets it, so appends never page-fault. The file then
    /// takes its full size on disk at once. Default false.
    pub warm_maped_file_enable: bool,
    /// `flushLeastPagesWhenWarmMapedFile`: under SYNC_FLUSH, msync every this many pages while
    /// warming (and at the end). Default 4096 (16 MiB).
    pub flush_least_pages_when_warm_maped_file: u32,
    /// `preallocateMappedFileEnable` (not a Java key: Java always runs `AllocateMappedFileService`):
    /// create the next CommitLog file on a background thread while the current one fills, so a
    /// roll does not wait for file creation. Default true.
    pub preallocate_mapped_file_enable: bool,
    /// `readAheadOnPullEnable` (not a Java key): a pull reading fully written CommitLog data asks
    /// the kernel to start reading the next 4 MiB (`MADV_WILLNEED`), so a consumer catching up
    /// from disk does not block on a page fault per window. Default true.
    pub read_ahead_on_pull_enable: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        StoreConfig {
            store_path_root_dir: home.join("store"),
            store_path_commit_log: None,
            mapped_file_size_commit_log: 1024 * 1024 * 1024,
            mapped_file_size_consume_queue: 300_000 * 20,
            flush_disk_type: FlushDiskType::AsyncFlush,
            broker_role: BrokerRole::AsyncMaster,
            flush_interval_commit_log: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval: 10_000,
            sync_flush_timeout: 5_000,
            flush_interval_consume_queue: 1_000,
            flush_consume_queue_least_pages: 2,
            flush_consume_queue_thorough_interval: 60_000,
            max_message_size: 4 * 1024 * 1024,
            check_crc_on_recover: true,
            auto_message_version_on_topic_len: true,
            file_reserved_time: 72,
            delete_when: "04".to_string(),
            disk_max_used_space_ratio: 75,
            disk_space_clean_forcibly_ratio: 85,
            disk_space_warning_level_ratio: 90,
            clean_file_forcibly_enable: true,
            clean_resource_interval: 10_000,
            delete_commit_log_files_interval: 100,
            delete_consume_queue_files_interval: 100,
            delete_file_batch_max: 10,
            message_index_enable: true,
            message_index_safe: false,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            max_msgs_num_batch: 64,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .to_string(),
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_disk: 64 * 1024,
            max_transfer_count_on_message_in_disk: 8,
            access_message_in_memory_max_ratio: 40,
            os_page_cache_busy_time_out_mills: 1_000,
            offset_check_in_slave: false,
            warm_maped_file_enable: false,
            flush_least_pages_when_warm_maped_file: 4096,
            preallocate_mapped_file_enable: true,
            read_ahead_on_pull_enable: true,
        }
    }
}

impl StoreConfig {
    /// A default configuration rooted at `root`.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        StoreConfig {
            store_path_root_dir: root.into(),
            ..StoreConfig::default()
        }
    }

    /// Builds a configuration from Java property names and their string values (a parsed
    /// `broker.conf`). Keys the store does not know are ignored (the broker's own keys live in the
    /// same file); a known key whose value does not parse is an error.
    pub fn from_properties(props: &HashMap<String, String>) -> Result<Self> {
        let defaults = serde_json::to_value(StoreConfig::default())
            .map_err(|e| StoreError::InvalidConfig(format!("cannot serialize defaults: {e}")))?;
        let serde_json::Value::Object(mut map) = defaults else {
            return Err(StoreError::InvalidConfig(
                "defaults are not an object".into(),
            ));
        };
        for (key, raw) in props {
            let raw = raw.trim();
            let Some(slot) = map.get_mut(key.as_str()) else {
                continue;
            };
            let value = match slot {
                serde_json::Value::Bool(_) => match raw {
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    _ => return Err(bad_value(key, raw, "true or false")),
                },
                serde_json::Value::Number(_) => {
                    let n: u64 = raw
                        .parse()
                        .map_err(|_| bad_value(key, raw, "a non-negative integer"))?;
                    serde_json::Value::from(n)
                }
                _ => serde_json::Value::String(raw.to_string()),
            };
            *slot = value;
        }
        let config: StoreConfig = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| StoreError::InvalidConfig(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<()> {
        let err = |m: String| Err(StoreError::InvalidConfig(m));
        if self.mapped_file_size_commit_log < 4096
            || self.mapped_file_size_commit_log > i32::MAX as u32
        {
            return err(format!(
                "mappedFileSizeCommitLog {} must be within 4096..={}",
                self.mapped_file_size_commit_log,
                i32::MAX
            ));
        }
        if self.consume_queue_file_size() < 20
            || self.consume_queue_file_size() > i32::MAX as u32 - 20
        {
            return err(format!(
                "mappedFileSizeConsumeQueue {} is out of range",
                self.mapped_file_size_consume_queue
            ));
        }
        if self.max_message_size == 0 || self.max_message_size > i32::MAX as u32 / 2 {
            return err(format!(
                "maxMessageSize {} is out of range",
                self.max_message_size
            ));
        }
        if self.max_hash_slot_num == 0 || self.max_index_num < 2 {
            return err("maxHashSlotNum must be > 0 and maxIndexNum >= 2".into());
        }
        let index_size =
            40u64 + 4 * u64::from(self.max_hash_slot_num) + 20 * u64::from(self.max_index_num);
        if index_size > i32::MAX as u64 {
            return err(format!("an IndexFile of {index_size} bytes exceeds 2 GiB"));
        }
        parse_delay_levels(&self.message_delay_level)?;
        parse_delete_when(&self.delete_when)?;
        for (name, v) in [
            ("diskMaxUsedSpaceRatio", self.disk_max_used_space_ratio),
            (
                "diskSpaceCleanForciblyRatio",
                self.disk_space_clean_forcibly_ratio,
            ),
            (
                "diskSpaceWarningLevelRatio",
                self.disk_space_warning_level_ratio,
            ),
        ] {
            if v > 100 {
                return err(format!("{name} {v} is above 100"));
            }
        }
        Ok(())
    }

    /// The CommitLog directory.
    pub fn commit_log_dir(&self) -> PathBuf {
        self.store_path_commit_log
            .clone()
            .unwrap_or_else(|| self.store_path_root_dir.join("commitlog"))
    }

    /// `<root>/consumequeue`.
    pub fn consume_queue_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("consumequeue")
    }

    /// `<root>/index`.
    pub fn index_dir(&self) -> PathBuf {
        self.store_path_root_dir.join("index")
    }

    /// `<root>/checkpoint`.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.store_path_root_dir.join("checkpoint")
    }

    /// `<root>/abort`.
    pub fn abort_path(&self) -> PathBuf {
        self.store_path_root_dir.join("abort")
    }

    /// `<root>/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.store_path_root_dir.join("lock")
    }

    /// ConsumeQueue file size as Java computes it: rounded up to a whole number of 20-byte units.
    pub fn consume_queue_file_size(&self) -> u32 {
        self.mapped_file_size_consume_queue
            .div_ceil(20)
            .saturating_mul(20)
    }

    /// Delay in ms of each level, index 0 = level 1.
    pub fn delay_levels(&self) -> Result<Vec<i64>> {
        parse_delay_levels(&self.message_delay_level)
    }

    /// Hours of day listed in `deleteWhen`.
    pub fn delete_hours(&self) -> Result<Vec<u32>> {
        parse_delete_when(&self.delete_when)
    }
}

fn bad_value(key: &str, raw: &str, expected: &str) -> StoreError {
    StoreError::InvalidConfig(format!("{key}={raw}: expected {expected}"))
}

/// Parses `messageDelayLevel` ("1s 5s 1m 2h 1d"): units s, m, h, d.
fn parse_delay_levels(spec: &str) -> Result<Vec<i64>> {
    spec.split(' ')
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (num, unit) = item.split_at(item.len() - 1);
            let unit_ms: i64 = match unit {
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad_value("messageDelayLevel", item, "<number><s|m|h|d>")),
            };
            let n: i64 = num
                .parse()
                .map_err(|_| bad_value("messageDelayLevel", item, "<number><s|m|h|d>"))?;
            Ok(n.saturating_mul(unit_ms))
        })
        .collect()
}

fn parse_delete_when(spec: &str) -> Result<Vec<u32>> {
    spec.split(';')
        .map(|h| {
            h.trim()
                .parse::<u32>()
                .map_err(|_| bad_value("deleteWhen", spec, "hours separated by ';'"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Java property names map onto fields, with type coercion from strings; unknown keys are ignored.
    #[test]
    fn from_properties_uses_java_names() {
        let mut p = HashMap::new();
        p.insert("storePathRootDir".to_string(), "/tmp/x".to_string());
        p.insert("flushDiskType".to_string(), "SYNC_FLUSH".to_string());
        p.insert("mappedFileSizeCommitLog".to_string(), "65536".to_string());
        p.insert("checkCRCOnRecover".to_string(), "false".to_string());
        p.insert("brokerName".to_string(), "broker-a".to_string());
        p.insert("storePathCommitLog".to_string(), "/tmp/cl".to_string());
        let c = StoreConfig::from_properties(&p).unwrap();
        assert_eq!(c.store_path_root_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.flush_disk_type, FlushDiskType::SyncFlush);
        assert_eq!(c.mapped_file_size_commit_log, 65536);
        assert!(!c.check_crc_on_recover);
        assert_eq!(c.commit_log_dir(), PathBuf::from("/tmp/cl"));
        assert_eq!(c.max_message_size, 4 * 1024 * 1024);
    }

    /// A bad value for a known key is reported with its name.
    #[test]
    fn from_properties_rejects_bad_values() {
        let mut p = HashMap::new();
        p.insert("fileReservedTime".to_string(), "abc".to_string());
        let e = StoreConfig::from_properties(&p).unwrap_err();
        assert!(e.to_string().contains("fileReservedTime"));
    }

    /// The default delay table has 18 levels, 1 s to 2 h.
    #[test]
    fn delay_levels_parse() {
        let levels = StoreConfig::default().delay_levels().unwrap();
        assert_eq!(levels.len(), 18);
        assert_eq!(levels[0], 1_000);
        assert_eq!(levels[4], 60_000);
        assert_eq!(levels[17], 7_200_000);
    }

    /// Java rounds the ConsumeQueue file size up to whole units.
    #[test]
    fn consume_queue_size_rounds_up() {
        let c = StoreConfig {
            mapped_file_size_consume_queue: 101,
            ..StoreConfig::default()
        };
        assert_eq!(c.consume_queue_file_size(), 120);
    }
}
