//! END_TRANSACTION (37), as Java's `EndTransactionProcessor`: unknown (0) does nothing and
//! answers nothing; commit (8) re-puts the half message to its real queue with transaction type
//! COMMIT and PREPAREDTRANSACTIONOFFSET = the half's CommitLog offset, then writes the op
//! record; rollback (12) only writes the op record. The half is found by `commitLogOffset` and
//! must match the request's producer group, queue offset and CommitLog offset (Java's remarks).
//!
//! Invariant: a transaction is ended once (see `crate::transaction`): a second END_TRANSACTION
//! for the same transaction id, for any copy of its half, stores nothing but that copy's op
//! record and answers SUCCESS.

use std::sync::Arc;

use remoting::protocol::header::broker::EndTransactionRequestHeader;
use remoting::{response_code, Channel, RemotingCommand};
use store::message::{decode_message, sys_flag, MessageExtBrokerInner, MessageRecord};
use store::result::PutMessageStatus;
use store::BrokerRole;

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};
use crate::topic_config::TRANS_HALF_TOPIC;
use crate::transaction::{transaction_key, Begin, Decision};

const FIND_FAILED: &str = "Find prepared transaction message failed";

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: EndTransactionRequestHeader = req.decode_header()?;
    let decision = match h.commit_or_rollback {
        sys_flag::TRANSACTION_NOT => None,
        sys_flag::TRANSACTION_COMMIT => Some(Decision::Commit),
        sys_flag::TRANSACTION_ROLLBACK => Some(Decision::Rollback),
        _ => {
            return Err(BrokerError::refused(
                response_code::SYSTEM_ERROR,
                "org.apache.rocketmq.remoting.exception.RemotingCommandException: commitOrRollback field wrong",
            ))
        }
    };
    if broker.store.config().broker_role == BrokerRole::Slave {
        tracing::warn!("message store is slave mode, so end transaction is forbidden");
        return Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SLAVE_NOT_AVAILABLE,
            None,
        )));
    }
    let from_check = h.from_transaction_check.unwrap_or(false);
    let peer = channel.peer_addr();
    let Some(decision) = decision else {
        tracing::warn!(%peer, from_check, msg_id = %h.msg_id, remark = ?req.remark, "end transaction with unknown (pending) state");
        return Ok(None);
    };
    if decision == Decision::Rollback || from_check {
        tracing::info!(%peer, from_check, ?decision, msg_id = %h.msg_id, remark = ?req.remark, "end transaction");
    }

    let Some(record) = broker.store.look_message_by_offset(h.commit_log_offset) else {
        return Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            FIND_FAILED,
        ));
    };
    let half = match decode_message(&record, false) {
        Ok(m)
            if m.topic == TRANS_HALF_TOPIC
                && m.property(store::message::properties::keys::REAL_TOPIC)
                    .is_some() =>
        {
            m
        }
        _ => {
            return Err(BrokerError::refused(
                response_code::SYSTEM_ERROR,
                FIND_FAILED,
            ))
        }
    };
    check_prepare_message(&half, &h)?;

    let svc = &broker.transactions;
    let id = transaction_key(&half);
    if let Begin::Already(first) = svc.begin_resolve(&id, decision) {
        tracing::info!(%peer, transaction_id = %id, ?first, ?decision, "transaction already ended; only the op record of this half copy is written");
        svc.write_op_once(&broker, half.queue_id, half.queue_offset, &id)
            .await;
        return Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            None,
        )));
    }
    if decision == Decision::Commit {
        let mut msg = end_message_transaction(&record, &half, h.commit_log_offset);
        let timer = &broker.settings.timer;
        if let Err(t) = crate::timer::rewrite::apply_timer(&mut msg, timer, crate::timer::now_ms())
        {
            svc.finish_resolve(&id, false);
            return Err(BrokerError::timer(t, timer));
        }
        msg.apply_delay_level(broker.schedule.max_level());
        let r = broker.store.put_message(msg).await;
        if !r.status.is_stored() {
            svc.finish_resolve(&id, false);
            let (code, remark) = final_put_refusal(
                r.status,
                broker.store.tunables().max_message_size() as usize,
            );
            return Err(BrokerError::refused(code, remark));
        }
    }
    svc.finish_resolve(&id, true);
    svc.write_op(&broker, half.queue_id, half.queue_offset, &id)
        .await;
    Ok(Some(RemotingCommand::response_to(
        &req,
        response_code::SUCCESS,
        None,
    )))
}

/// Java `checkPrepareMessage`.
fn check_prepare_message(
    half: &MessageRecord<'_>,
    h: &EndTransactionRequestHeader,
) -> BrokerResult<()> {
    let wrong = |remark: &str| Err(BrokerError::refused(response_code::SYSTEM_ERROR, remark));
    if half.property(store::message::properties::keys::PGROUP) != Some(h.producer_group.as_str()) {
        return wrong("The producer group wrong");
    }
    if half.queue_offset != h.tran_state_table_offset {
        return wrong("The transaction state table offset wrong");
    }
    if half.physical_offset != h.commit_log_offset {
        return wrong("The commit log offset wrong");
    }
    Ok(())
}

/// Java `endMessageTransaction` + the commit settings: the message for the real queue. The
/// properties string is the half's, as Java stores it (its property-map edits come after the
/// string is built).
fn end_message_transaction(
    record: &bytes::Bytes,
    half: &MessageRecord<'_>,
    half_offset: i64,
) -> MessageExtBrokerInner {
    use store::message::properties::keys;
    let topic = half.property(keys::REAL_TOPIC).unwrap_or_default();
    let queue_id = half
        .property(keys::REAL_QID)
        .and_then(|q| q.trim().parse().ok())
        .unwrap_or(0);
    let mut msg = MessageExtBrokerInner::new(
        topic,
        queue_id,
        record.slice_ref(half.body),
        half.properties.to_string(),
    );
    msg.flag = half.flag;
    msg.born_timestamp = half.born_timestamp;
    msg.born_host = half.born_host;
    msg.store_host = half.store_host;
    msg.reconsume_times = half.reconsume_times;
    msg.sys_flag = (half.sys_flag & !sys_flag::TRANSACTION_MASK) | sys_flag::TRANSACTION_COMMIT;
    msg.tags_code = half.tags_code();
    msg.prepared_transaction_offset = half_offset;
    msg
}

/// Java `sendFinalMessage`: code and remark of a refused commit put.
fn final_put_refusal(status: PutMessageStatus, max_message_size: usize) -> (i32, String) {
    match status {
        PutMessageStatus::CreateMappedFileFailed => (
            response_code::SYSTEM_ERROR,
            "Create mapped file failed.".into(),
        ),
        PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => (
            response_code::MESSAGE_ILLEGAL,
            format!("The message is illegal, maybe msg body or properties length not matched. msg body length limit {max_message_size}B, msg properties length limit 32KB."),
        ),
        PutMessageStatus::ServiceNotAvailable => (
            response_code::SERVICE_NOT_AVAILABLE,
            "Service not available now.".into(),
        ),
        PutMessageStatus::OsPageCacheBusy => (
            response_code::SYSTEM_ERROR,
            "OS page cache busy, please try another machine".into(),
        ),
        PutMessageStatus::UnknownError => (response_code::SYSTEM_ERROR, "UNKNOWN_ERROR".into()),
        _ => (response_code::SYSTEM_ERROR, "UNKNOWN_ERROR DEFAULT".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::message::record::{encode_record_to_vec, MessageVersion, RecordHeader};

    fn half_record(pgroup: &str) -> bytes::Bytes {
        let props = store::message::encode_properties([
            ("TAGS", "TagA"),
            ("REAL_TOPIC", "TopicT"),
            ("REAL_QID", "2"),
            ("PGROUP", pgroup),
            ("UNIQ_KEY", "U1"),
            ("TRAN_MSG", "true"),
        ]);
        let host: std::net::SocketAddr = "127.0.0.1:10911".parse().unwrap();
        bytes::Bytes::from(
            encode_record_to_vec(
                MessageVersion::V1,
                &RecordHeader {
                    queue_id: 0,
                    flag: 3,
                    queue_offset: 4,
                    physical_offset: 800,
                    sys_flag: sys_flag::COMPRESSED,
                    born_timestamp: 10,
                    born_host: host,
                    store_timestamp: 20,
                    store_host: host,
                    reconsume_times: 1,
                    prepared_transaction_offset: 0,
                    body_crc: store::message::body_crc(b"b"),
                },
                b"b",
                TRANS_HALF_TOPIC,
                props.as_bytes(),
            )
            .unwrap(),
        )
    }

    fn header(group: &str, queue_offset: i64, phy: i64) -> EndTransactionRequestHeader {
        EndTransactionRequestHeader {
            producer_group: group.into(),
            tran_state_table_offset: queue_offset,
            commit_log_offset: phy,
            commit_or_rollback: 8,
            msg_id: "U1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn prepare_checks_use_java_remarks() {
        let rec = half_record("pg");
        let m = decode_message(&rec, true).unwrap();
        assert!(check_prepare_message(&m, &header("pg", 4, 800)).is_ok());
        let remark = |h| check_prepare_message(&m, &h).unwrap_err().to_string();
        assert_eq!(remark(header("other", 4, 800)), "The producer group wrong");
        assert_eq!(
            remark(header("pg", 5, 800)),
            "The transaction state table offset wrong"
        );
        assert_eq!(remark(header("pg", 4, 1)), "The commit log offset wrong");
    }

    #[test]
    fn commit_goes_to_the_real_queue_as_commit_type() {
        let rec = half_record("pg");
        let m = decode_message(&rec, true).unwrap();
        let msg = end_message_transaction(&rec, &m, 800);
        assert_eq!((msg.topic.as_str(), msg.queue_id), ("TopicT", 2));
        assert_eq!(
            msg.sys_flag,
            sys_flag::COMPRESSED | sys_flag::TRANSACTION_COMMIT
        );
        assert_eq!(msg.prepared_transaction_offset, 800);
        assert_eq!((msg.flag, msg.reconsume_times), (3, 1));
        assert_eq!(&msg.body[..], b"b");
        assert_eq!(msg.tags_code, store::message::tags_code("TagA"));
    }

    #[test]
    fn refused_commit_puts_map_like_java() {
        assert_eq!(
            final_put_refusal(PutMessageStatus::ServiceNotAvailable, 4).0,
            response_code::SERVICE_NOT_AVAILABLE
        );
        assert_eq!(
            final_put_refusal(PutMessageStatus::MessageIllegal, 4).0,
            response_code::MESSAGE_ILLEGAL
        );
    }
}
