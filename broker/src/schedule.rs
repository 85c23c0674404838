//! Delay levels (Java `ScheduleMessageService`): a send with property `DELAY` = L > 0 is stored in
//! `SCHEDULE_TOPIC_XXXX` queue L-1 (see [`apply_delay`]); one task per level reads its queue in
//! order and, once `store time + delay(L)` has passed, puts the message back to `REAL_TOPIC` /
//! `REAL_QID` with its body, flag, sysflag, born/store hosts, reconsume times and properties
//! string unchanged. (Java builds the re-put's properties string before it clears `DELAY` in its
//! property map, so the delivered record keeps `DELAY`, `REAL_TOPIC` and `REAL_QID`; so does
//! this broker. Nothing re-reads `DELAY` after a put, so the message is not delayed twice.)
//!
//! Invariants:
//! * Progress per level is the next schedule-queue offset to deliver; it only moves past a
//!   message once that message is stored in its real queue (or is undeliverable and logged), so
//!   delivery is at-least-once; a graceful stop persists the progress, so a restart neither
//!   loses nor repeats messages.
//! * Progress lives in `<storePathRootDir>/config/delayOffset.json` as Java 5.x writes it
//!   (`{"dataVersion":{..},"offsetTable":{1:5,2:0}}`, keys = level), saved every
//!   `flushDelayOffsetInterval` ms and at shutdown, and is clamped into the queue's [min, max]
//!   at load as Java does. The data version moves every `delayOffsetUpdateVersionStep` offset
//!   updates (Java's rule); GET_ALL_DELAY_OFFSET answers the same text.
//! * A level records its offset whenever it looks at its queue head (as Java), so a level with
//!   a message not yet due has a table entry.
//! * Messages of one level are due in queue order (same delay, increasing store time), so a level
//!   waits exactly until its head is due; when it has caught up it waits for the dispatcher's
//!   arrival notice on its queue (the long-polling notifier), with a 1 s fallback.
//! * Not run on a slave (Java starts the service on masters only).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use remoting::protocol::body::DataVersion;
use store::message::properties::keys;
use store::message::{decode_message, MessageExtBrokerInner, MessageRecord, SCHEDULE_TOPIC};
use store::result::GetMessageStatus;
use store::MessageStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::persist;
use crate::topic_config::TRANS_HALF_TOPIC;

/// Java `MixAll.SCHEDULE_CONSUMER_GROUP` (statistics only).
pub const SCHEDULE_CONSUMER_GROUP: &str = "SCHEDULE_CONSUMER";
/// Retry pause after a failed put or an unreadable queue (Java `DELAY_FOR_A_WHILE`).
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Longest wait without an arrival notice once a level has caught up.
const IDLE_FALLBACK: Duration = Duration::from_secs(1);
const BATCH: i32 = 32;

/// Java `ScheduleMessageService.queueId2DelayLevel`.
pub fn queue_id_to_level(queue_id: i32) -> i32 {
    queue_id + 1
}

/// Java `ScheduleMessageService.delayLevel2QueueId`.
pub fn level_to_queue_id(level: i32) -> i32 {
    level - 1
}

/// Send-path rewrite: a message with `DELAY` > 0 (transaction type NOT or COMMIT) moves to the
/// schedule topic, its level clamped to `max_level`. `DELAY` <= 0 or unparsable: no delay.
pub fn apply_delay(msg: &mut MessageExtBrokerInner, max_level: i32) -> bool {
    msg.apply_delay_level(max_level)
}

/// `{"dataVersion":{..},"offsetTable":{1:5,2:0}}` as fastjson writes Java's
/// `DelayOffsetSerializeWrapper` (members sorted, bare integer keys).
fn encode_offset_table(table: &BTreeMap<i32, i64>, version: &DataVersion) -> String {
    let entries: Vec<String> = table.iter().map(|(l, o)| format!("{l}:{o}")).collect();
    let version = serde_json::to_string(version).unwrap_or_else(|_| "{}".into());
    format!(
        "{{\"dataVersion\":{version},\"offsetTable\":{{{}}}}}",
        entries.join(",")
    )
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DelayOffsetFile {
    #[serde(default)]
    offset_table: BTreeMap<i32, i64>,
    /// Absent in files written by 4.x brokers and by earlier versions of this one.
    #[serde(default)]
    data_version: Option<DataVersion>,
}

/// What a level does after a pass over its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The head is due in this long.
    Due(Duration),
    /// Caught up: wait for an arrival.
    Arrival,
    /// Something failed: try again shortly.
    Retry,
    /// The service is stopping.
    Stop,
}

pub struct ScheduleMessageService {
    /// Delay in ms of each level; index 0 = level 1.
    delays: Vec<i64>,
    offsets: Mutex<BTreeMap<i32, i64>>,
    version: Mutex<DataVersion>,
    /// Offset updates so far; the data version moves every `version_step` of them.
    updates: AtomicU64,
    version_step: u64,
    dirty: AtomicBool,
    path: PathBuf,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ScheduleMessageService {
    /// Loads `config/delayOffset.json` (or its `.bak`) and corrects each level's offset into its
    /// queue's range. `delays` comes from `messageDelayLevel` (already validated by the store).
    pub fn load(store_root: &Path, delays: Vec<i64>, store: &MessageStore) -> Self {
        let path = persist::config_dir(store_root).join("delayOffset.json");
        let file: DelayOffsetFile = persist::load(&path).unwrap_or_default();
        let mut offsets = file.offset_table;
        for (level, offset) in offsets.iter_mut() {
            let queue_id = level_to_queue_id(*level);
            let (min, max) = (
                store.min_offset_in_queue(SCHEDULE_TOPIC, queue_id),
                store.max_offset_in_queue(SCHEDULE_TOPIC, queue_id),
            );
            if min < 0 || (min == 0 && max == 0) {
                // Unknown or empty queue: the delivery task corrects the offset when it reads.
                continue;
            }
            let corrected = (*offset).clamp(min, max.max(min));
            if corrected != *offset {
                tracing::error!(
                    level,
                    from = *offset,
                    to = corrected,
                    min,
                    max,
                    "correct delay offset"
                );
                *offset = corrected;
            }
        }
        let version = file.data_version.unwrap_or_else(|| DataVersion {
            timestamp: now_ms(),
            ..Default::default()
        });
        Self {
            delays,
            offsets: Mutex::new(offsets),
            version: Mutex::new(version),
            updates: AtomicU64::new(0),
            version_step: 200,
            dirty: AtomicBool::new(false),
            path,
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Java `delayOffsetUpdateVersionStep`: offset updates per data version change (0 = never).
    pub fn with_version_step(mut self, step: u64) -> Self {
        self.version_step = step;
        self
    }

    /// Java `ScheduleMessageService.encode()`: what `delayOffset.json` holds and
    /// GET_ALL_DELAY_OFFSET answers.
    pub fn encode(&self) -> String {
        let table = self.table().clone();
        let version = self
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        encode_offset_table(&table, &version)
    }

    /// The highest level (the number of configured levels).
    pub fn max_level(&self) -> i32 {
        self.delays.len() as i32
    }

    /// Delay of `level` in ms.
    pub fn delay_ms(&self, level: i32) -> Option<i64> {
        usize::try_from(level - 1)
            .ok()
            .and_then(|i| self.delays.get(i).copied())
    }

    /// Next schedule-queue offset to deliver for `level`.
    pub fn offset(&self, level: i32) -> i64 {
        self.table().get(&level).copied().unwrap_or(0)
    }

    /// Level -> next offset, as persisted.
    pub fn offset_table(&self) -> BTreeMap<i32, i64> {
        self.table().clone()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, i64>> {
        self.offsets.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_offset(&self, level: i32, offset: i64) {
        {
            let mut t = self.table();
            if t.get(&level) != Some(&offset) {
                t.insert(level, offset);
                self.dirty.store(true, Ordering::Release);
            }
        }
        let n = self.updates.fetch_add(1, Ordering::AcqRel) + 1;
        if self.version_step > 0 && n.is_multiple_of(self.version_step) {
            let mut v = self.version.lock().unwrap_or_else(|p| p.into_inner());
            v.counter += 1;
            v.timestamp = now_ms();
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// Writes `delayOffset.json`.
    pub fn persist(&self) {
        let text = self.encode();
        self.dirty.store(false, Ordering::Release);
        if let Err(e) = persist::store_bytes(&self.path, text.as_bytes()) {
            self.dirty.store(true, Ordering::Release);
            tracing::error!(path = %self.path.display(), error = %e, "persisting delay offsets failed");
        }
    }

    /// Starts one delivery task per level and the periodic persist task (masters only).
    pub fn start(broker: &Arc<Broker>, persist_interval: Duration) {
        let svc = &broker.schedule;
        let mut tasks = svc.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for level in 1..=svc.max_level() {
            tasks.push(tokio::spawn(run_level(broker.clone(), level)));
        }
        let b = broker.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(persist_interval.max(Duration::from_millis(100)));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = b.schedule.stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if b.schedule.dirty.load(Ordering::Acquire) {
                    let b2 = b.clone();
                    let _ = tokio::task::spawn_blocking(move || b2.schedule.persist()).await;
                }
            }
        }));
    }

    /// Stops the tasks (a delivery in progress finishes first) and persists the progress.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
        self.persist();
    }
}

async fn run_level(broker: Arc<Broker>, level: i32) {
    let queue_id = level_to_queue_id(level);
    let notify = broker.long_polling.notifier(SCHEDULE_TOPIC, queue_id);
    let stop = broker.schedule.stop.clone();
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let wait = match deliver_due(&broker, level).await {
            Next::Stop => break,
            Next::Due(d) => {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(d) => {}
                }
                continue;
            }
            Next::Retry => RETRY_PAUSE,
            Next::Arrival => IDLE_FALLBACK,
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = &mut notified => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Java `messageTimeup`: the message to put back into its real queue, or why it cannot be.
fn time_up(record: &Bytes, m: &MessageRecord<'_>) -> Result<MessageExtBrokerInner, &'static str> {
    let topic = m.property(keys::REAL_TOPIC).ok_or("no REAL_TOPIC")?;
    let queue_id: i32 = m
        .property(keys::REAL_QID)
        .and_then(|q| q.trim().parse().ok())
        .ok_or("no valid REAL_QID")?;
    if topic == TRANS_HALF_TOPIC {
        return Err("real topic is the half topic");
    }
    let mut msg = MessageExtBrokerInner::new(
        topic,
        queue_id,
        record.slice_ref(m.body),
        m.properties.to_string(),
    );
    msg.flag = m.flag;
    msg.sys_flag = m.sys_flag;
    msg.tags_code = m.tags_code();
    msg.born_timestamp = m.born_timestamp;
    msg.born_host = m.born_host;
    msg.store_host = m.store_host;
    msg.reconsume_times = m.reconsume_times;
    Ok(msg)
}

/// Delivers every due message of `level` from its progress offset; says what to wait for next.
async fn deliver_due(broker: &Broker, level: i32) -> Next {
    let svc = &broker.schedule;
    let queue_id = level_to_queue_id(level);
    let Some(delay) = svc.delay_ms(level) else {
        return Next::Stop;
    };
    loop {
        if svc.stop.is_cancelled() {
            return Next::Stop;
        }
        let offset = svc.offset(level);
        let r = broker.store.get_message(
            SCHEDULE_CONSUMER_GROUP,
            SCHEDULE_TOPIC,
            queue_id,
            offset,
            BATCH,
            0,
            None,
        );
        match r.status {
            GetMessageStatus::Found => {}
            GetMessageStatus::OffsetOverflowOne
            | GetMessageStatus::NoMessageInQueue
            | GetMessageStatus::NoMatchedLogicQueue => return Next::Arrival,
            status => {
                if r.next_begin_offset != offset {
                    tracing::warn!(level, offset, next = r.next_begin_offset, %status, "schedule offset moved");
                    svc.set_offset(level, r.next_begin_offset);
                    continue;
                }
                return Next::Retry;
            }
        }
        for (record, queue_offset) in r.messages.iter().zip(r.queue_offsets.iter().copied()) {
            if svc.stop.is_cancelled() {
                return Next::Stop;
            }
            let m = match decode_message(record, false) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(level, queue_offset, error = %e, "undecodable delayed message skipped");
                    svc.set_offset(level, queue_offset + 1);
                    continue;
                }
            };
            let now = now_ms();
            let mut deliver_at = m.store_timestamp.saturating_add(delay);
            if deliver_at > now.saturating_add(delay) {
                // The clock went back: Java delivers at once rather than wait too long.
                deliver_at = now;
            }
            if deliver_at > now {
                // Java records the head's offset each time it finds it not yet due.
                svc.set_offset(level, queue_offset);
                return Next::Due(Duration::from_millis((deliver_at - now) as u64));
            }
            let msg = match time_up(record, &m) {
                Ok(msg) => msg,
                Err(why) => {
                    tracing::error!(level, queue_offset, why, msg_id = %m.offset_msg_id(), "delayed message discarded");
                    svc.set_offset(level, queue_offset + 1);
                    continue;
                }
            };
            let (topic, real_queue) = (msg.topic.clone(), msg.queue_id);
            let result = broker.store.put_message(msg).await;
            if !result.status.is_stored() {
                tracing::warn!(level, queue_offset, %topic, status = %result.status, "delivering delayed message failed; retrying");
                return Next::Retry;
            }
            tracing::debug!(level, queue_offset, %topic, queue = real_queue, "delayed message delivered");
            svc.set_offset(level, queue_offset + 1);
        }
        if r.next_begin_offset > svc.offset(level) {
            svc.set_offset(level, r.next_begin_offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_table_is_written_with_bare_keys_and_read_back() {
        let mut t = BTreeMap::new();
        t.insert(1, 5);
        t.insert(2, 0);
        let v = DataVersion {
            counter: 3,
            state_version: 0,
            timestamp: 1_700_000_000_000,
        };
        let text = encode_offset_table(&t, &v);
        assert_eq!(
            text,
            r#"{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"offsetTable":{1:5,2:0}}"#
        );
        assert_eq!(
            encode_offset_table(&BTreeMap::new(), &DataVersion::default()),
            r#"{"dataVersion":{"counter":0,"stateVersion":0,"timestamp":0},"offsetTable":{}}"#
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delayOffset.json");
        persist::store_bytes(&path, text.as_bytes()).unwrap();
        let back: DelayOffsetFile = persist::load(&path).unwrap();
        assert_eq!(back.offset_table, t);
        assert_eq!(back.data_version, Some(v));
        // A 4.x file (no data version) still loads.
        persist::store_bytes(&path, br#"{"offsetTable":{3:9}}"#).unwrap();
        let old: DelayOffsetFile = persist::load(&path).unwrap();
        assert_eq!(old.offset_table.get(&3), Some(&9));
        assert_eq!(old.data_version, None);
    }

    #[test]
    fn level_queue_mapping() {
        assert_eq!(level_to_queue_id(1), 0);
        assert_eq!(queue_id_to_level(17), 18);
    }

    #[test]
    fn delivered_message_goes_to_the_real_queue_with_its_fields() {
        use store::message::record::{encode_record_to_vec, MessageVersion, RecordHeader};
        let props = store::message::encode_properties([
            ("TAGS", "TagA"),
            ("DELAY", "2"),
            ("REAL_TOPIC", "T"),
            ("REAL_QID", "3"),
        ]);
        let born: std::net::SocketAddr = "10.0.0.1:5555".parse().unwrap();
        let host: std::net::SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let header = RecordHeader {
            queue_id: 1,
            flag: 7,
            queue_offset: 4,
            physical_offset: 100,
            sys_flag: 0,
            born_timestamp: 11,
            born_host: born,
            store_timestamp: 22,
            store_host: host,
            reconsume_times: 2,
            prepared_transaction_offset: 0,
            body_crc: store::message::body_crc(b"hello"),
        };
        let rec = Bytes::from(
            encode_record_to_vec(
                MessageVersion::V1,
                &header,
                b"hello",
                SCHEDULE_TOPIC,
                props.as_bytes(),
            )
            .unwrap(),
        );
        let m = decode_message(&rec, true).unwrap();
        let out = time_up(&rec, &m).unwrap();
        assert_eq!((out.topic.as_str(), out.queue_id), ("T", 3));
        assert_eq!(&out.body[..], b"hello");
        assert_eq!(
            (out.flag, out.reconsume_times, out.born_timestamp),
            (7, 2, 11)
        );
        assert_eq!((out.born_host, out.store_host), (born, host));
        assert_eq!(out.property("TAGS"), Some("TagA"));
        assert_eq!(out.tags_code, store::message::tags_code("TagA"));
        let mut bad = props.clone();
        bad = store::message::properties::remove_property(&bad, "REAL_QID");
        let rec2 = Bytes::from(
            encode_record_to_vec(
                MessageVersion::V1,
                &header,
                b"hello",
                SCHEDULE_TOPIC,
                bad.as_bytes(),
            )
            .unwrap(),
        );
        let m2 = decode_message(&rec2, true).unwrap();
        assert!(time_up(&rec2, &m2).is_err());
    }
}
