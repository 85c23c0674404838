//! The transaction check (Java `TransactionalMessageCheckService` + `check` of
//! `TransactionalMessageServiceImpl` + `AbstractTransactionalMessageCheckListener`).
//!
//! Each pass walks every half queue from the half offset of `CID_RMQ_SYS_TRANS`:
//! * a half with an op record, or whose transaction is already resolved under another copy
//!   (then an op record is written for this copy too), is passed;
//! * a half checked `transactionCheckMax` times, or born more than `fileReservedTime` ago, is
//!   moved to `TRANS_CHECK_MAX_TIME_TOPIC` (Java's discard);
//! * the pass stops at a half stored after the pass began, or younger than `transactionTimeOut`
//!   (or its own `CHECK_IMMUNITY_TIME_IN_SECONDS`), or whose transaction is being ended now;
//! * otherwise the half is re-put to the half queue with `TRANSACTION_CHECK_TIMES` + 1 and the
//!   producer group (property `PGROUP`) is asked about the *copy*: CHECK_TRANSACTION_STATE,
//!   oneway, to one live channel of the group, body = the copy in stored format (v1) with its
//!   real topic and queue. The producer answers with END_TRANSACTION for the copy.
//!
//! Invariant: the half offset only moves past a half once it is resolved, discarded or stored
//! again as a newer copy, so a crash at any point leads at worst to one more check.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use remoting::protocol::body::perm;
use remoting::protocol::header::broker::CheckTransactionStateRequestHeader;
use remoting::{request_code, RemotingCommand};
use store::message::properties::{self as props, keys};
use store::message::record::{encode_record_to_vec, MessageVersion, RecordHeader};
use store::message::{decode_message, MessageExtBrokerInner, MessageRecord};
use store::result::{AppendMessageResult, GetMessageStatus};

use super::{
    now_ms, op_half_offsets, transaction_key, Decision, QueueState, CID_RMQ_SYS_TRANS, REMOVE_TAG,
};
use crate::broker::Broker;
use crate::topic_config::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};

/// Java `MAX_PROCESS_TIME_LIMIT`: one queue's share of a pass.
const MAX_PROCESS_TIME_MS: i64 = 60_000;

fn half_queue_ids(broker: &Broker) -> std::ops::Range<i32> {
    let n = broker
        .topics
        .select(TRANS_HALF_TOPIC)
        .map(|t| t.read_queue_nums)
        .unwrap_or(1);
    0..n.max(0)
}

/// Java `fetchConsumeOffset`: the group's offset, else the queue's min offset.
fn fetch_offset(broker: &Broker, topic: &str, queue_id: i32) -> i64 {
    let o = broker.offsets.query(CID_RMQ_SYS_TRANS, topic, queue_id);
    if o >= 0 {
        return o;
    }
    broker.store.min_offset_in_queue(topic, queue_id).max(0)
}

fn commit_offsets(broker: &Broker, queue_id: i32, q: &QueueState) {
    broker
        .offsets
        .commit(CID_RMQ_SYS_TRANS, TRANS_HALF_TOPIC, queue_id, q.half_next);
    broker
        .offsets
        .commit(CID_RMQ_SYS_TRANS, TRANS_OP_HALF_TOPIC, queue_id, q.op_next);
}

/// Moves queue `queue_id` past half offsets below `to` and commits the offsets.
fn advance(broker: &Broker, queue_id: i32, to: i64) {
    let mut s = broker.transactions.lock();
    if let Some(q) = s.queues.get_mut(&queue_id) {
        q.advance(to);
        commit_offsets(broker, queue_id, q);
    }
}

/// The half record at `offset` of the half queue, with the pull status.
fn half_at(broker: &Broker, queue_id: i32, offset: i64) -> (Option<Bytes>, GetMessageStatus, i64) {
    let r = broker.store.get_message(
        CID_RMQ_SYS_TRANS,
        TRANS_HALF_TOPIC,
        queue_id,
        offset,
        1,
        0,
        None,
    );
    (r.messages.into_iter().next(), r.status, r.next_begin_offset)
}

/// Rebuilds the op state from the op queues: op records from the op offset on are matched
/// against halves, and the transaction ids of op records within the resolution horizon are
/// remembered so a late END_TRANSACTION for another copy is not applied twice.
pub async fn recover(broker: &Arc<Broker>) {
    let svc = &broker.transactions;
    let now = now_ms();
    let horizon = svc.settings.resolution_horizon_ms();
    for queue_id in half_queue_ids(broker) {
        let half_next = fetch_offset(broker, TRANS_HALF_TOPIC, queue_id);
        let op_next = fetch_offset(broker, TRANS_OP_HALF_TOPIC, queue_id);
        svc.lock().queues.insert(
            queue_id,
            QueueState {
                half_next,
                op_next,
                ..Default::default()
            },
        );
        let store = &broker.store;
        let min = store
            .min_offset_in_queue(TRANS_OP_HALF_TOPIC, queue_id)
            .max(0);
        let mut offset = store
            .offset_in_queue_by_time(TRANS_OP_HALF_TOPIC, queue_id, now - horizon)
            .min(op_next)
            .max(min);
        let max = store.max_offset_in_queue(TRANS_OP_HALF_TOPIC, queue_id);
        let mut ops = 0usize;
        while offset < max && !svc.stop.is_cancelled() {
            let r = store.get_message(
                CID_RMQ_SYS_TRANS,
                TRANS_OP_HALF_TOPIC,
                queue_id,
                offset,
                32,
                0,
                None,
            );
            if r.status != GetMessageStatus::Found {
                if r.next_begin_offset > offset {
                    offset = r.next_begin_offset;
                    continue;
                }
                break;
            }
            for (record, op_offset) in r.messages.iter().zip(r.queue_offsets.iter().copied()) {
                let Ok(m) = decode_message(record, false) else {
                    tracing::error!(queue_id, op_offset, "undecodable transaction op record");
                    continue;
                };
                ops += 1;
                if m.tags() != Some(REMOVE_TAG) {
                    tracing::error!(queue_id, op_offset, tags = ?m.tags(), "transaction op record with an illegal tag");
                    let mut s = svc.lock();
                    if let Some(q) = s.queues.get_mut(&queue_id) {
                        q.record_op(-1, op_offset);
                    }
                    continue;
                }
                for half_offset in op_half_offsets(m.body) {
                    let id = match m.property(keys::TRANSACTION_ID) {
                        Some(id) => Some(id.to_string()),
                        None if op_offset >= op_next => {
                            half_at(broker, queue_id, half_offset).0.and_then(|rec| {
                                decode_message(&rec, false)
                                    .ok()
                                    .map(|h| transaction_key(&h))
                            })
                        }
                        None => None,
                    };
                    if let Some(id) = id {
                        svc.mark_resolved(&id, Decision::Ended, m.store_timestamp);
                    }
                    let mut s = svc.lock();
                    if let Some(q) = s.queues.get_mut(&queue_id) {
                        q.record_op(half_offset, op_offset);
                    }
                }
            }
            offset = r.next_begin_offset.max(offset + 1);
            tokio::task::yield_now().await;
        }
        advance(broker, queue_id, half_next);
        tracing::info!(
            queue_id,
            half_next,
            op_next,
            ops,
            "transaction op state recovered"
        );
    }
}

/// Java `getInt`/`getLong`: -1 when unparsable.
fn parse_or_minus_one(s: &str) -> i64 {
    s.trim().parse().unwrap_or(-1)
}

/// One check pass over every half queue.
pub async fn check_once(broker: &Arc<Broker>) {
    let svc = &broker.transactions;
    let start = now_ms();
    svc.prune_resolved(start);
    for queue_id in half_queue_ids(broker) {
        let known = svc.lock().queues.contains_key(&queue_id);
        if !known {
            let q = QueueState {
                half_next: fetch_offset(broker, TRANS_HALF_TOPIC, queue_id),
                op_next: fetch_offset(broker, TRANS_OP_HALF_TOPIC, queue_id),
                ..Default::default()
            };
            svc.lock().queues.insert(queue_id, q);
        }
        check_queue(broker, queue_id, start).await;
    }
}

enum Step {
    /// The half at this offset is done with; go on.
    Next,
    /// Stop this queue for this pass.
    Stop,
}

async fn check_queue(broker: &Arc<Broker>, queue_id: i32, start: i64) {
    let svc = &broker.transactions;
    let begin = now_ms();
    loop {
        if svc.stop.is_cancelled() || now_ms() - begin > MAX_PROCESS_TIME_MS {
            return;
        }
        let (i, has_op) = {
            let s = svc.lock();
            let Some(q) = s.queues.get(&queue_id) else {
                return;
            };
            (q.half_next, q.removed.contains_key(&q.half_next))
        };
        if has_op {
            advance(broker, queue_id, i + 1);
            continue;
        }
        let (record, status, next) = half_at(broker, queue_id, i);
        let Some(record) = record else {
            match status {
                GetMessageStatus::OffsetOverflowOne
                | GetMessageStatus::NoMessageInQueue
                | GetMessageStatus::NoMatchedLogicQueue => return,
                _ if next > i => {
                    tracing::info!(queue_id, offset = i, next, %status, "illegal half offset, skipping");
                    advance(broker, queue_id, next);
                    continue;
                }
                _ => return,
            }
        };
        let m = match decode_message(&record, false) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(queue_id, offset = i, error = %e, "undecodable half message skipped");
                advance(broker, queue_id, i + 1);
                continue;
            }
        };
        match check_half(broker, queue_id, i, &record, &m, start).await {
            Step::Next => advance(broker, queue_id, i + 1),
            Step::Stop => return,
        }
    }
}

async fn check_half(
    broker: &Arc<Broker>,
    queue_id: i32,
    offset: i64,
    record: &Bytes,
    m: &MessageRecord<'_>,
    start: i64,
) -> Step {
    let svc = &broker.transactions;
    let settings = &svc.settings;
    let id = transaction_key(m);
    match svc.resolution(&id) {
        Some(true) => {
            // Ended under another copy: this copy only needs its op record.
            return if svc.write_op(broker, queue_id, offset, &id).await {
                Step::Next
            } else {
                Step::Stop
            };
        }
        Some(false) => return Step::Stop,
        None => {}
    }
    // Java needDiscard: the first check sets TRANSACTION_CHECK_TIMES to 1.
    let mut properties = m.properties.to_string();
    let discard = match m.property(keys::TRANSACTION_CHECK_TIMES) {
        Some(t) if parse_or_minus_one(t) >= i64::from(settings.check_max) => true,
        Some(t) => {
            let next = parse_or_minus_one(t) + 1;
            properties = props::set_property(
                &properties,
                keys::TRANSACTION_CHECK_TIMES,
                &next.to_string(),
            );
            false
        }
        None => {
            properties = props::set_property(&properties, keys::TRANSACTION_CHECK_TIMES, "1");
            false
        }
    };
    let now = now_ms();
    let age = now - m.born_timestamp;
    if discard || age > settings.file_reserved_ms {
        return if discard_half(broker, record, m, &properties).await {
            Step::Next
        } else {
            Step::Stop
        };
    }
    if m.store_timestamp >= start {
        return Step::Stop;
    }
    let mut immunity = settings.timeout_ms;
    if let Some(s) = m.property(keys::CHECK_IMMUNITY_TIME_IN_SECONDS) {
        let v = parse_or_minus_one(s);
        if v != -1 {
            immunity = v.saturating_mul(1000);
        }
        if age < immunity {
            // Java checkPrepareQueueOffset: keep the half (as a copy that remembers the
            // original offset) until its immunity ends, unless that original is ended.
            let original = m.property(keys::TRAN_PREPARED_QUEUE_OFFSET);
            if let Some(o) = original {
                let o = parse_or_minus_one(o);
                if o == -1 {
                    return Step::Stop;
                }
                let ended = {
                    let mut s = svc.lock();
                    s.queues
                        .get_mut(&queue_id)
                        .is_some_and(|q| match q.removed.remove(&o) {
                            Some(op) => {
                                q.done_ops.insert(op);
                                true
                            }
                            None => false,
                        })
                };
                if ended {
                    return Step::Next;
                }
            }
            let prepared = original
                .map(str::to_string)
                .unwrap_or_else(|| m.queue_offset.to_string());
            let props2 =
                props::set_property(&properties, keys::TRAN_PREPARED_QUEUE_OFFSET, &prepared);
            return match put_copy(broker, record, m, props2).await {
                Some(_) => Step::Next,
                None => Step::Stop,
            };
        }
    } else if (0..immunity).contains(&age) {
        return Step::Stop;
    }
    if !(age > immunity || age <= -1) {
        return Step::Stop;
    }
    let Some(copy) = put_copy(broker, record, m, properties.clone()).await else {
        return Step::Stop;
    };
    send_check(broker, m, &copy, &properties);
    Step::Next
}

/// Java `renewHalfMessageInner` + put: the half again at the end of its queue (this broker also
/// keeps the user flag and reconsume times, which Java drops).
async fn put_copy(
    broker: &Broker,
    record: &Bytes,
    m: &MessageRecord<'_>,
    properties: String,
) -> Option<AppendMessageResult> {
    let mut msg =
        MessageExtBrokerInner::new(m.topic, m.queue_id, record.slice_ref(m.body), properties);
    msg.flag = m.flag;
    msg.sys_flag = m.sys_flag;
    msg.tags_code = m.tags_code();
    msg.born_timestamp = m.born_timestamp;
    msg.born_host = m.born_host;
    msg.store_host = m.store_host;
    msg.reconsume_times = m.reconsume_times;
    let r = broker.store.put_message(msg).await;
    match (r.status.is_stored(), r.append) {
        (true, Some(a)) => Some(a),
        _ => {
            tracing::error!(status = %r.status, msg_id = %m.offset_msg_id(), "putting a half message back failed");
            None
        }
    }
}

/// The CHECK_TRANSACTION_STATE request for half copy `copy` of `m`, or why there is none.
pub fn check_request(
    m: &MessageRecord<'_>,
    copy: &AppendMessageResult,
    properties: &str,
) -> Result<RemotingCommand, String> {
    let topic = m
        .property(keys::REAL_TOPIC)
        .ok_or_else(|| "no REAL_TOPIC".to_string())?;
    let queue_id: i32 = m
        .property(keys::REAL_QID)
        .and_then(|q| q.trim().parse().ok())
        .ok_or_else(|| "no valid REAL_QID".to_string())?;
    let uniq = m.property(keys::UNIQ_KEY).map(str::to_string);
    let header = CheckTransactionStateRequestHeader {
        tran_state_table_offset: copy.logics_offset,
        commit_log_offset: copy.wrote_offset,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(copy.msg_id.clone()),
        topic: None,
        bname: None,
    };
    let body = encode_record_to_vec(
        MessageVersion::V1,
        &RecordHeader {
            queue_id,
            flag: m.flag,
            queue_offset: copy.logics_offset,
            physical_offset: copy.wrote_offset,
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            store_timestamp: m.store_timestamp,
            store_host: m.store_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
            body_crc: m.body_crc,
        },
        m.body,
        topic,
        properties.as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    Ok(
        RemotingCommand::request_with_header(request_code::CHECK_TRANSACTION_STATE, &header)
            .with_body(body),
    )
}

/// Java `sendCheckMessage`: asks one live channel of the producer group, oneway.
fn send_check(
    broker: &Broker,
    m: &MessageRecord<'_>,
    copy: &AppendMessageResult,
    properties: &str,
) {
    let Some(group) = m.property(keys::PGROUP) else {
        tracing::warn!(msg_id = %copy.msg_id, "half message without producer group, cannot check");
        return;
    };
    let req = match check_request(m, copy, properties) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(msg_id = %copy.msg_id, error = %e, "cannot build the transaction check");
            return;
        }
    };
    let channels: Vec<_> = broker
        .producers
        .channels(group)
        .into_iter()
        .filter(|c| !c.channel.is_closed())
        .collect();
    if channels.is_empty() {
        tracing::warn!(
            group,
            "check transaction failed, no producer channel of the group"
        );
        return;
    }
    let n = broker
        .transactions
        .next_channel
        .fetch_add(1, Ordering::Relaxed);
    let ch = channels[n % channels.len()].channel.clone();
    let group = group.to_string();
    let msg_id = copy.msg_id.clone();
    tracing::debug!(%group, %msg_id, peer = %ch.peer_addr(), "checking transaction state");
    tokio::spawn(async move {
        if let Err(e) = ch.invoke_oneway(req).await {
            tracing::error!(%group, %msg_id, error = %e, "check transaction failed because invoking the producer failed");
        }
    });
}

/// Java `DefaultTransactionalMessageCheckListener.resolveDiscardMsg`: the half goes to
/// `TRANS_CHECK_MAX_TIME_TOPIC`. False if it could not be stored (then it is tried again).
async fn discard_half(
    broker: &Broker,
    record: &Bytes,
    m: &MessageRecord<'_>,
    properties: &str,
) -> bool {
    if !broker.topics.contains(TRANS_CHECK_MAX_TIME_TOPIC) {
        broker.topics.create_in_send_back(
            TRANS_CHECK_MAX_TIME_TOPIC,
            1,
            perm::READ | perm::WRITE,
            0,
        );
        broker.topics_changed();
    }
    let mut msg = MessageExtBrokerInner::new(
        TRANS_CHECK_MAX_TIME_TOPIC,
        0,
        record.slice_ref(m.body),
        properties.to_string(),
    );
    msg.flag = m.flag;
    msg.sys_flag = m.sys_flag;
    msg.tags_code = m.tags_code();
    msg.born_timestamp = m.born_timestamp;
    msg.born_host = m.born_host;
    msg.store_host = m.store_host;
    msg.reconsume_times = m.reconsume_times;
    let r = broker.store.put_message(msg).await;
    if r.status.is_stored() {
        tracing::error!(
            msg_id = %m.offset_msg_id(),
            real_topic = ?m.property(keys::REAL_TOPIC),
            "half message checked too many times (or too old): moved to TRANS_CHECK_MAX_TIME_TOPIC"
        );
        true
    } else {
        tracing::error!(status = %r.status, msg_id = %m.offset_msg_id(), "discarding a half message failed");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_body_is_the_half_with_its_real_destination() {
        let props = props::encode_properties([
            ("TAGS", "TagA"),
            ("REAL_TOPIC", "TopicT"),
            ("REAL_QID", "2"),
            ("PGROUP", "pg"),
            ("UNIQ_KEY", "U1"),
            ("TRAN_MSG", "true"),
        ]);
        let born: std::net::SocketAddr = "10.0.0.1:5555".parse().unwrap();
        let host: std::net::SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let rec = encode_record_to_vec(
            MessageVersion::V1,
            &RecordHeader {
                queue_id: 0,
                flag: 1,
                queue_offset: 3,
                physical_offset: 500,
                sys_flag: 0,
                born_timestamp: 10,
                born_host: born,
                store_timestamp: 20,
                store_host: host,
                reconsume_times: 0,
                prepared_transaction_offset: 0,
                body_crc: store::message::body_crc(b"body"),
            },
            b"body",
            TRANS_HALF_TOPIC,
            props.as_bytes(),
        )
        .unwrap();
        let m = decode_message(&rec, true).unwrap();
        let copy = AppendMessageResult {
            wrote_offset: 900,
            wrote_bytes: 10,
            msg_id: "ID900".into(),
            store_timestamp: 30,
            logics_offset: 7,
            msg_num: 1,
        };
        let with_times = props::set_property(&props, keys::TRANSACTION_CHECK_TIMES, "1");
        let req = check_request(&m, &copy, &with_times).unwrap();
        assert_eq!(req.code, request_code::CHECK_TRANSACTION_STATE);
        let h: CheckTransactionStateRequestHeader = req.decode_header().unwrap();
        assert_eq!((h.tran_state_table_offset, h.commit_log_offset), (7, 900));
        assert_eq!(h.msg_id.as_deref(), Some("U1"));
        assert_eq!(h.transaction_id.as_deref(), Some("U1"));
        assert_eq!(h.offset_msg_id.as_deref(), Some("ID900"));
        let body = req.body.to_bytes();
        let d = decode_message(&body, true).unwrap();
        assert_eq!(d.version, MessageVersion::V1);
        assert_eq!((d.topic, d.queue_id), ("TopicT", 2));
        assert_eq!((d.queue_offset, d.physical_offset), (7, 900));
        assert_eq!(d.body, b"body");
        assert_eq!(d.property("TRANSACTION_CHECK_TIMES"), Some("1"));
        assert_eq!(d.property("PGROUP"), Some("pg"));
    }
}
