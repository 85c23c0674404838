//! Transactional messages (Java `TransactionalMessageServiceImpl` + `TransactionalMessageBridge`).
//!
//! * A send with `TRAN_MSG`="true" stores a *half message*: topic `RMQ_SYS_TRANS_HALF_TOPIC`
//!   queue 0, the real destination in `REAL_TOPIC`/`REAL_QID`, `__transactionId__` = UNIQ_KEY,
//!   transaction bits reset to NOT (so the half queue gets ConsumeQueue units; the real topic's
//!   consumers never see it). See [`to_half`].
//! * END_TRANSACTION (`crate::processor::end_transaction`) commits (re-put to the real queue
//!   with type COMMIT and PREPAREDTRANSACTIONOFFSET = half offset) or rolls back; either way an
//!   *op record* goes to `RMQ_SYS_TRANS_OP_HALF_TOPIC` (same queue id; body = the half's queue
//!   offset as text, tag `d`; this broker also stores the transaction id in `__transactionId__`).
//! * The check service ([`check`]) asks the producer group about halves older than
//!   `transactionTimeOut` that have no op record, at most `transactionCheckMax` times.
//!
//! Invariants:
//! * Progress is Java's: the consumer offsets of system group `CID_RMQ_SYS_TRANS` on the half
//!   queue (every half below it is resolved, discarded or superseded by a newer copy) and on the
//!   op queue (every op record below it refers to a half below the half offset). Both live in
//!   `consumerOffset.json`; the in-memory op state is rebuilt from the op queue at start.
//! * A transaction is resolved once per transaction id (UNIQ_KEY), not per half copy: the check
//!   re-puts a half before asking, so the producer may answer for a copy after it already ended
//!   the original. The first decision wins; a later END_TRANSACTION for any copy only gets an op
//!   record for that copy. Hence a committed message is delivered once, a rolled-back one never.

pub mod check;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use store::message::properties::{self as props, keys};
use store::message::{sys_flag, MessageExtBrokerInner, MessageRecord};
use store::result::PutMessageResult;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::topic_config::{TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};

/// Java `MixAll.CID_SYS_RMQ_TRANS`: the system group holding the check progress.
pub const CID_RMQ_SYS_TRANS: &str = "CID_RMQ_SYS_TRANS";
/// Java `TransactionalMessageUtil.REMOVETAG`: the tag of op records.
pub const REMOVE_TAG: &str = "d";

/// The broker config keys of transactions, with Java's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSettings {
    /// `transactionTimeOut`: a half younger than this (ms since born) is not checked yet.
    pub timeout_ms: i64,
    /// `transactionCheckMax`: checks before the half is discarded.
    pub check_max: i32,
    /// `transactionCheckInterval`: pause between check passes (ms).
    pub check_interval_ms: u64,
    /// `rejectTransactionMessage`: refuse half messages with NO_PERMISSION.
    pub reject_transaction_message: bool,
    /// `fileReservedTime` (hours) in ms: a half born longer ago is discarded, not checked.
    pub file_reserved_ms: i64,
}

impl Default for TransactionSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 6_000,
            check_max: 15,
            check_interval_ms: 30_000,
            reject_transaction_message: false,
            file_reserved_ms: 72 * 3_600_000,
        }
    }
}

impl TransactionSettings {
    pub fn from_config(c: &BrokerConfig) -> Result<Self, remoting::properties::InvalidValue> {
        let d = Self::default();
        let p = &c.props;
        Ok(Self {
            timeout_ms: p.number("transactionTimeOut", d.timeout_ms)?,
            check_max: p.number("transactionCheckMax", d.check_max)?,
            check_interval_ms: p.number("transactionCheckInterval", d.check_interval_ms)?,
            reject_transaction_message: p.bool("rejectTransactionMessage"),
            file_reserved_ms: p
                .number::<i64>("fileReservedTime", 72)?
                .saturating_mul(3_600_000),
        })
    }

    /// How long a transaction can still be ended or checked after it was first resolved: the
    /// window in which a late END_TRANSACTION for another copy may arrive (1 min..1 h).
    pub fn resolution_horizon_ms(&self) -> i64 {
        let interval = i64::try_from(self.check_interval_ms).unwrap_or(i64::MAX);
        self.timeout_ms
            .saturating_add(interval.saturating_mul(i64::from(self.check_max.max(0)) + 1))
            .clamp(60_000, 3_600_000)
    }
}

/// Whether a send is a half message (Java: `Boolean.parseBoolean(TRAN_MSG)`).
pub fn is_half_send(properties: &str) -> bool {
    props::get_property(properties, keys::TRAN_MSG).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Java `parseHalfMessageInner` (5.x): the half message stored instead of `msg`.
pub fn to_half(msg: &mut MessageExtBrokerInner) {
    let mut p = msg.properties.clone();
    if let Some(uniq) = msg.property(keys::UNIQ_KEY).filter(|u| !u.is_empty()) {
        p = props::set_property(&p, keys::TRANSACTION_ID, uniq);
    }
    p = props::set_property(&p, keys::REAL_TOPIC, &msg.topic);
    p = props::set_property(&p, keys::REAL_QID, &msg.queue_id.to_string());
    msg.properties = p;
    msg.sys_flag = (msg.sys_flag & !sys_flag::TRANSACTION_MASK) | sys_flag::TRANSACTION_NOT;
    msg.topic = TRANS_HALF_TOPIC.to_string();
    msg.queue_id = 0;
}

/// The transaction id a half is resolved under: UNIQ_KEY, else `__transactionId__`, else the
/// record's own offset id (then copies cannot be matched, but nothing is lost).
pub fn transaction_key(m: &MessageRecord<'_>) -> String {
    m.property(keys::UNIQ_KEY)
        .or_else(|| m.property(keys::TRANSACTION_ID))
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| m.offset_msg_id())
}

/// The half queue offsets an op record refers to: its body, one offset or (5.x batched op
/// records) several separated by commas. Unparsable parts are skipped.
pub fn op_half_offsets(body: &[u8]) -> Vec<i64> {
    String::from_utf8_lossy(body)
        .split(',')
        .filter_map(|s| s.trim().parse::<i64>().ok())
        .collect()
}

/// Java `makeOpMessageInner`: the op record for half `half_offset` of half queue `queue_id`.
pub fn op_message(
    store_host: std::net::SocketAddr,
    queue_id: i32,
    half_offset: i64,
    transaction_id: &str,
    now_ms: i64,
) -> MessageExtBrokerInner {
    let properties = props::encode_properties([
        (keys::TAGS, REMOVE_TAG),
        (keys::WAIT, "true"),
        (keys::TRANSACTION_ID, transaction_id),
    ]);
    let mut m = MessageExtBrokerInner::new(
        TRANS_OP_HALF_TOPIC,
        queue_id,
        Bytes::from(half_offset.to_string()),
        properties,
    );
    m.tags_code = store::message::tags_code(REMOVE_TAG);
    m.born_timestamp = now_ms;
    m.born_host = store_host;
    m.store_host = store_host;
    m
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Commit,
    Rollback,
    /// Known only from an op record (rebuilt at start).
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    /// An END_TRANSACTION is storing this decision now.
    Pending(Decision),
    Done(Decision),
}

/// Answer of [`TransactionalMessageService::begin_resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// The caller resolves the transaction and must call `finish_resolve`.
    Fresh,
    /// Already resolved (or being resolved) with this decision.
    Already(Decision),
}

/// Op bookkeeping of one half queue.
#[derive(Debug, Default)]
struct QueueState {
    /// Next half offset to examine (Java's half consume offset).
    half_next: i64,
    /// Next op offset not yet known to be obsolete (Java's op consume offset).
    op_next: i64,
    /// Half offset -> op offset, for op records of halves at or after `half_next`.
    removed: BTreeMap<i64, i64>,
    /// Op offsets (>= `op_next`) whose halves are below `half_next`.
    done_ops: BTreeSet<i64>,
}

impl QueueState {
    fn record_op(&mut self, half_offset: i64, op_offset: i64) {
        if op_offset < self.op_next {
            return;
        }
        if half_offset < self.half_next {
            self.done_ops.insert(op_offset);
        } else if let Some(earlier) = self.removed.insert(half_offset, op_offset) {
            // A second op record for the same half: one of them is enough to track it, the
            // other must not hold the op offset back forever (Java's removeMap loses it).
            let (keep, extra) = (earlier.min(op_offset), earlier.max(op_offset));
            self.removed.insert(half_offset, keep);
            self.done_ops.insert(extra);
        }
    }

    /// Whether half `half_offset` is known to have an op record (or is already passed).
    fn has_op(&self, half_offset: i64) -> bool {
        half_offset < self.half_next || self.removed.contains_key(&half_offset)
    }

    /// Moves the half offset to `to` (never back) and the op offset over contiguous done ops.
    fn advance(&mut self, to: i64) {
        if to > self.half_next {
            self.half_next = to;
        }
        let later = self.removed.split_off(&self.half_next);
        for (_, op) in std::mem::replace(&mut self.removed, later) {
            self.done_ops.insert(op);
        }
        while self.done_ops.remove(&self.op_next) {
            self.op_next += 1;
        }
        let keep = self.done_ops.split_off(&self.op_next);
        self.done_ops = keep;
    }
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<i32, QueueState>,
    /// Transaction id -> (resolution, when, ms).
    resolved: HashMap<String, (Resolution, i64)>,
}

pub struct TransactionalMessageService {
    pub settings: TransactionSettings,
    state: Mutex<State>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Round robin over a producer group's channels.
    next_channel: AtomicUsize,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl TransactionalMessageService {
    pub fn new(settings: TransactionSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::default()),
            stop: CancellationToken::new(),
            task: Mutex::new(None),
            next_channel: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claims the resolution of transaction `id` for `decision`.
    pub fn begin_resolve(&self, id: &str, decision: Decision) -> Begin {
        let mut s = self.lock();
        match s.resolved.get(id) {
            Some((Resolution::Pending(d) | Resolution::Done(d), _)) => Begin::Already(*d),
            None => {
                s.resolved
                    .insert(id.to_string(), (Resolution::Pending(decision), now_ms()));
                Begin::Fresh
            }
        }
    }

    /// Ends a claim from `begin_resolve`: kept as done when `stored`, released otherwise.
    pub fn finish_resolve(&self, id: &str, stored: bool) {
        let mut s = self.lock();
        match s.resolved.get(id).copied() {
            Some((Resolution::Pending(d), _)) if stored => {
                s.resolved
                    .insert(id.to_string(), (Resolution::Done(d), now_ms()));
            }
            Some((Resolution::Pending(_), _)) => {
                s.resolved.remove(id);
            }
            _ => {}
        }
    }

    /// Whether transaction `id` is resolved (`Some(true)`), being resolved (`Some(false)`), or
    /// open (`None`).
    pub fn resolution(&self, id: &str) -> Option<bool> {
        self.lock().resolved.get(id).map(|(r, _)| match r {
            Resolution::Done(_) => true,
            Resolution::Pending(_) => false,
        })
    }

    fn mark_resolved(&self, id: &str, decision: Decision, at_ms: i64) {
        self.lock()
            .resolved
            .entry(id.to_string())
            .or_insert((Resolution::Done(decision), at_ms));
    }

    /// Forgets resolutions older than the horizon (pending ones are kept).
    fn prune_resolved(&self, now: i64) {
        let horizon = self.settings.resolution_horizon_ms();
        self.lock()
            .resolved
            .retain(|_, (r, at)| matches!(r, Resolution::Pending(_)) || now - *at <= horizon);
    }

    /// Writes the op record of half `half_offset` unless it is known to have one already.
    pub async fn write_op_once(
        &self,
        broker: &Broker,
        queue_id: i32,
        half_offset: i64,
        transaction_id: &str,
    ) -> bool {
        let known = self
            .lock()
            .queues
            .get(&queue_id)
            .is_some_and(|q| q.has_op(half_offset));
        known
            || self
                .write_op(broker, queue_id, half_offset, transaction_id)
                .await
    }

    /// Writes the op record of half `half_offset` and notes it; false if the put failed.
    pub async fn write_op(
        &self,
        broker: &Broker,
        queue_id: i32,
        half_offset: i64,
        transaction_id: &str,
    ) -> bool {
        let msg = op_message(
            broker.settings.store_host(),
            queue_id,
            half_offset,
            transaction_id,
            now_ms(),
        );
        let r: PutMessageResult = broker.store.put_message(msg).await;
        match (r.status.is_stored(), r.append.as_ref()) {
            (true, Some(a)) => {
                let mut s = self.lock();
                if let Some(q) = s.queues.get_mut(&queue_id) {
                    q.record_op(half_offset, a.logics_offset);
                }
                true
            }
            _ => {
                tracing::error!(queue_id, half_offset, status = %r.status, "transaction op record not stored");
                false
            }
        }
    }

    /// Starts the check service (masters only): rebuilds the op state, then checks every
    /// `transactionCheckInterval`.
    pub fn start(broker: &std::sync::Arc<Broker>) {
        let b = broker.clone();
        let handle = tokio::spawn(async move {
            check::recover(&b).await;
            let svc = &b.transactions;
            let interval = Duration::from_millis(svc.settings.check_interval_ms.max(10));
            loop {
                tokio::select! {
                    _ = svc.stop.cancelled() => break,
                    _ = tokio::time::sleep(interval) => {}
                }
                check::check_once(&b).await;
            }
        });
        *self_task(&broker.transactions) = Some(handle);
    }

    /// Stops the check service after its current step.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self_task(self).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

fn self_task(
    svc: &TransactionalMessageService,
) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
    svc.task.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_message_keeps_the_real_destination_and_resets_the_transaction_bits() {
        let mut m = MessageExtBrokerInner::new(
            "T",
            3,
            &b"b"[..],
            props::encode_properties([("TRAN_MSG", "true"), ("PGROUP", "pg"), ("UNIQ_KEY", "U1")]),
        );
        m.sys_flag = sys_flag::TRANSACTION_PREPARED | sys_flag::COMPRESSED;
        assert!(is_half_send(&m.properties));
        to_half(&mut m);
        assert_eq!((m.topic.as_str(), m.queue_id), (TRANS_HALF_TOPIC, 0));
        assert_eq!(m.sys_flag, sys_flag::COMPRESSED);
        assert_eq!(m.property("REAL_TOPIC"), Some("T"));
        assert_eq!(m.property("REAL_QID"), Some("3"));
        assert_eq!(m.property("__transactionId__"), Some("U1"));
        assert!(!is_half_send("TRAN_MSG\u{1}false\u{2}"));
        assert!(!is_half_send(""));
    }

    #[test]
    fn op_bodies_parse_single_and_batched_offsets() {
        assert_eq!(op_half_offsets(b"12"), vec![12]);
        assert_eq!(op_half_offsets(b"1,2,x,3"), vec![1, 2, 3]);
        assert!(op_half_offsets(b"").is_empty());
        let op = op_message("127.0.0.1:10911".parse().unwrap(), 0, 42, "U", 5);
        assert_eq!(op.topic, TRANS_OP_HALF_TOPIC);
        assert_eq!(&op.body[..], b"42");
        assert_eq!(op.property("TAGS"), Some("d"));
        assert_eq!(op.property("__transactionId__"), Some("U"));
    }

    #[test]
    fn queue_state_advances_over_contiguous_done_ops() {
        let mut q = QueueState::default();
        q.record_op(2, 0);
        q.record_op(0, 1);
        q.advance(1);
        // Half 0 done (op 1); op 0 still refers to half 2.
        assert_eq!((q.half_next, q.op_next), (1, 0));
        q.advance(3);
        assert_eq!((q.half_next, q.op_next), (3, 2));
        assert!(q.removed.is_empty() && q.done_ops.is_empty());
        q.record_op(1, 2);
        q.advance(3);
        assert_eq!(q.op_next, 3);
        // Op records below the op offset are obsolete and ignored.
        q.record_op(9, 0);
        assert!(q.removed.is_empty());
        // Two op records for one half: the later one counts as done at once.
        q.record_op(5, 3);
        q.record_op(5, 4);
        assert_eq!(q.removed.get(&5), Some(&3));
        assert!(q.has_op(5) && q.has_op(2) && !q.has_op(6));
        q.advance(6);
        assert_eq!(q.op_next, 5);
    }

    #[test]
    fn first_decision_wins() {
        let s = TransactionalMessageService::new(TransactionSettings::default());
        assert_eq!(s.begin_resolve("x", Decision::Commit), Begin::Fresh);
        assert_eq!(
            s.begin_resolve("x", Decision::Rollback),
            Begin::Already(Decision::Commit)
        );
        assert_eq!(s.resolution("x"), Some(false));
        s.finish_resolve("x", true);
        assert_eq!(s.resolution("x"), Some(true));
        assert_eq!(s.begin_resolve("y", Decision::Commit), Begin::Fresh);
        s.finish_resolve("y", false);
        assert_eq!(s.resolution("y"), None);
        assert_eq!(s.begin_resolve("y", Decision::Rollback), Begin::Fresh);
    }
}
