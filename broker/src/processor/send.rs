//! SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE: validate as Java does (topic name,
//! forbidden system topics, auto-create from TBW102, queue id range), redirect exhausted
//! retries to the group's DLQ, store, and answer with the offset message id.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use remoting::protocol::body::perm;
use remoting::protocol::header::broker::{SendMessageRequestHeader, SendMessageResponseHeader};
use remoting::protocol::version;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use store::message::properties::{self as props, keys};
use store::message::{MessageExtBatch, MessageExtBrokerInner};
use store::result::{PutMessageResult, PutMessageStatus};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult, FAQ_SUFFIX};
use crate::topic_config::{self, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    mut req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    // The header's values are moved out of the request's fields, which nothing reads after.
    let mut ext = req.ext_fields.take().unwrap_or_default();
    let mut h = match req.code {
        rc::SEND_MESSAGE => {
            <SendMessageRequestHeader as remoting::protocol::header::CommandHeader>::take_ext_fields(
                &mut ext,
            )?
        }
        _ => SendMessageRequestHeader::take_v2(&mut ext)?,
    };
    let topic_config = check(&broker, &channel, &req, &h)?;
    let mut properties = h.properties.take().unwrap_or_default();
    let mut queue_id = h.queue_id;
    if queue_id < 0 {
        queue_id = random_below(topic_config.write_queue_nums.max(1));
    }
    // The request's topic, or the group's DLQ when retries are exhausted.
    let mut topic = std::mem::take(&mut h.topic);
    if let Some(group) = topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) {
        let group = group.to_string();
        let group = group.as_str();
        if req.code == rc::SEND_BATCH_MESSAGE {
            return Err(BrokerError::refused(
                response_code::MESSAGE_ILLEGAL,
                format!("batch request does not support retry group {topic}"),
            ));
        }
        let Some(group_cfg) = broker.groups.find_or_create(group) else {
            return Err(BrokerError::refused(
                response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group not exist, {group} {FAQ_SUFFIX}"),
            ));
        };
        let mut max = group_cfg.retry_max_times;
        if req.version >= 121 {
            if let Some(m) = h.max_reconsume_times {
                max = m;
            }
        }
        // Orderly consumers (queue locks held) do not retry through the retry topic.
        let orderly = !broker.locks.is_lock_all_expired(group);
        if h.reconsume_times.unwrap_or(0) >= max || orderly {
            topic = format!("{DLQ_GROUP_TOPIC_PREFIX}{group}");
            queue_id = 0;
            broker
                .topics
                .create_in_send_back(&topic, 1, perm::READ | perm::WRITE, 0);
            broker.topics_changed();
            properties = props::set_property(&properties, keys::DELAY, "0");
            tracing::info!(%topic, "retries exhausted; message goes to the dead letter queue");
        }
    }
    let mut sys_flag = h.sys_flag;
    if topic_config.multi_tag {
        sys_flag |= store::message::sys_flag::MULTI_TAGS;
    }
    let s = &broker.settings;
    if req.code != rc::SEND_BATCH_MESSAGE {
        // As Java's send context (AbstractSendMessageProcessor.buildMsgContext): every single
        // message is stored with the broker's region and trace switch (mqadmin's queryMsg*/printMsg
        // show them) and its cluster, re-encoded from a HashMap: same stored bytes, same order.
        properties = super::msg_context::java_properties(&properties, s);
    } else if props::get_property(&properties, keys::CLUSTER).is_none() {
        props::append_property(&mut properties, keys::CLUSTER, &s.cluster_name);
    }
    let born_host = channel.peer_addr();
    let store_host = s.store_host();
    let body = req.body.to_bytes();
    let started = std::time::Instant::now();
    let result = if req.code == rc::SEND_BATCH_MESSAGE {
        use crate::timer::rewrite::{check_batch, BatchRefusal};
        match check_batch(&properties, sys_flag, &s.timer) {
            Ok(()) => {}
            Err(BatchRefusal::Illegal) => {
                let r = PutMessageResult::refused(PutMessageStatus::MessageIllegal);
                return Ok(Some(answer(
                    &broker,
                    &req,
                    r,
                    &topic,
                    queue_id,
                    SentIds::default(),
                    started,
                )));
            }
            Err(BatchRefusal::Timer(t)) => return Err(BrokerError::timer(t, &s.timer)),
        }
        let batch = MessageExtBatch {
            topic: topic.clone(),
            queue_id,
            sys_flag,
            born_timestamp: h.born_timestamp,
            born_host,
            store_host,
            reconsume_times: h.reconsume_times.unwrap_or(0),
            body,
        };
        broker.store.put_messages(batch).await
    } else {
        let uniq = match props::get_property(&properties, keys::UNIQ_KEY) {
            Some(u) => u.to_string(),
            None => {
                let u = new_uniq_id(&s.broker_ip1);
                props::append_property(&mut properties, keys::UNIQ_KEY, &u);
                u
            }
        };
        let tags_code = props::get_property(&properties, keys::TAGS)
            .map(store::message::hash::tags_code)
            .unwrap_or(0);
        let mut msg = MessageExtBrokerInner::new(topic, queue_id, body, properties);
        msg.flag = h.flag;
        msg.sys_flag = sys_flag;
        msg.tags_code = tags_code;
        msg.born_timestamp = h.born_timestamp;
        msg.born_host = born_host;
        msg.store_host = store_host;
        msg.reconsume_times = h.reconsume_times.unwrap_or(0);
        // Delivery semantics (crate::transaction, crate::schedule): a half message goes to the
        // half topic; otherwise DELAY > 0 moves the message to SCHEDULE_TOPIC_XXXX.
        if crate::transaction::is_half_send(&msg.properties) {
            if broker.live.reject_transaction_message() {
                return Err(BrokerError::refused(
                    response_code::NO_PERMISSION,
                    format!(
                        "the broker[{}] sending transaction message is forbidden",
                        s.broker_ip1
                    ),
                ));
            }
            crate::transaction::to_half(&mut msg);
        } else {
            check_delay_level(&msg.properties)?;
            crate::timer::rewrite::apply_timer(&mut msg, &s.timer, crate::timer::now_ms())
                .map_err(|t| BrokerError::timer(t, &s.timer))?;
            crate::schedule::apply_delay(&mut msg, broker.schedule.max_level());
        }
        let recall = recall_handle(&msg, &s.broker_name, &uniq);
        // The stored message is gone into the store; the answer needs its topic for statistics.
        let topic = msg.topic.clone();
        let r = broker.store.put_message(msg).await;
        return Ok(Some(answer(
            &broker,
            &req,
            r,
            &topic,
            queue_id,
            SentIds {
                uniq: Some(uniq),
                recall_handle: recall,
            },
            started,
        )));
    };
    Ok(Some(answer(
        &broker,
        &req,
        result,
        &topic,
        queue_id,
        SentIds::default(),
        started,
    )))
}

/// Java reads a (non-transactional) message's DELAY with `Integer.parseInt` while storing it: a
/// value that is not a decimal int (no blanks, optional sign, in range) fails the send with
/// SYSTEM_ERROR and the exception as remark (`UtilAll.exceptionSimpleDesc`, JDK 17 frame). An
/// empty value is no property at all for Java.
fn check_delay_level(properties: &str) -> BrokerResult<()> {
    match props::get_property(properties, keys::DELAY) {
        Some(v) if !v.is_empty() && v.parse::<i32>().is_err() => Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!(
                "java.lang.NumberFormatException: For input string: \"{v}\", \
                 java.base/java.lang.NumberFormatException.forInputString(NumberFormatException.java:67)"
            ),
        )),
        _ => Ok(()),
    }
}

/// Java `msgCheck`: the topic's config, created from the default topic when allowed.
pub(super) fn check(
    broker: &Broker,
    channel: &Channel,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
) -> BrokerResult<topic_config::SendView> {
    let s = &broker.settings;
    if !perm::is_writeable(broker.permission()) {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("the broker[{}] sending message is forbidden", s.broker_ip1),
        ));
    }
    if let Some(remark) = topic_config::validate_topic(&h.topic) {
        return Err(BrokerError::refused(
            response_code::INVALID_PARAMETER,
            remark,
        ));
    }
    if topic_config::is_not_allowed_send_topic(&h.topic) {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let tc = match broker.topics.send_view(&h.topic) {
        Some(tc) => tc,
        None => {
            let sys_flag = if h.unit_mode.unwrap_or(false) {
                if h.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
                    2
                } else {
                    1
                }
            } else {
                0
            };
            let created = if broker.live.auto_create_topic_enable()
                || h.default_topic != topic_config::AUTO_CREATE_TOPIC_KEY
            {
                broker.topics.create_in_send(
                    &h.topic,
                    &h.default_topic,
                    h.default_topic_queue_nums,
                    sys_flag,
                    &channel.peer_addr().to_string(),
                )
            } else {
                None
            };
            let created = created.or_else(|| {
                h.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX).then(|| {
                    broker.topics.create_in_send_back(
                        &h.topic,
                        1,
                        perm::READ | perm::WRITE,
                        sys_flag,
                    )
                })
            });
            match created {
                Some(tc) => {
                    broker.topics_changed();
                    topic_config::SendView::of(&tc)
                }
                None => {
                    return Err(BrokerError::refused(
                        response_code::TOPIC_NOT_EXIST,
                        format!(
                            "topic[{}] not exist, apply first please!{FAQ_SUFFIX}",
                            h.topic
                        ),
                    ))
                }
            }
        }
    };
    let valid = tc.write_queue_nums.max(tc.read_queue_nums);
    if h.queue_id >= valid {
        return Err(BrokerError::refused(
            response_code::INVALID_PARAMETER,
            format!(
                "request queueId[{}] is illegal, {:?} Producer: {}",
                h.queue_id,
                broker.topics.select(&h.topic),
                channel.peer_addr()
            ),
        ));
    }
    let _ = req;
    Ok(tc)
}

/// Java 5.x `attachRecallHandle`: for a message moved to the timer topic (not a retry), the
/// URL-safe base64 of `v1 <real topic> <broker name> <TIMER_OUT_MS + 1> <uniq id>`.
fn recall_handle(msg: &MessageExtBrokerInner, broker_name: &str, uniq: &str) -> Option<String> {
    use base64::Engine;
    if msg.topic != crate::timer::TIMER_TOPIC {
        return None;
    }
    let out_ms: i64 = msg
        .property(crate::timer::rewrite::timer_keys::OUT_MS)?
        .parse()
        .ok()?;
    let real = msg.property(keys::REAL_TOPIC)?;
    if real.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
        return None;
    }
    let raw = format!("v1 {real} {broker_name} {} {uniq}", out_ms.wrapping_add(1));
    Some(base64::engine::general_purpose::URL_SAFE.encode(raw.as_bytes()))
}

/// Maps a put result to the send answer (Java `handlePutMessageResult`).
/// The ids a single-message answer carries: the message's unique id (also the transaction id)
/// and, for a timer message, Java 5.x's recall handle.
#[derive(Default)]
struct SentIds {
    uniq: Option<String>,
    recall_handle: Option<String>,
}

fn answer(
    broker: &Broker,
    req: &RemotingCommand,
    r: PutMessageResult,
    topic: &str,
    queue_id: i32,
    ids: SentIds,
    started: std::time::Instant,
) -> RemotingCommand {
    let SentIds {
        uniq,
        recall_handle,
    } = ids;
    if let (true, Some(a)) = (r.status.is_stored(), r.append.as_ref()) {
        broker
            .stats
            .record_put(topic, a.msg_num.max(0) as u64, a.wrote_bytes.max(0) as u64);
        broker.stats.store.record_put(
            true,
            a.msg_num.max(0) as u64,
            a.wrote_bytes.max(0) as u64,
            started.elapsed(),
        );
    } else {
        broker
            .stats
            .store
            .record_put(false, 0, 0, started.elapsed());
    }
    let max_size = broker.store.tunables().max_message_size() as usize;
    let (code, remark) = match r.status {
        PutMessageStatus::PutOk => (response_code::SUCCESS, None),
        PutMessageStatus::FlushDiskTimeout => (response_code::FLUSH_DISK_TIMEOUT, None),
        PutMessageStatus::FlushSlaveTimeout => (response_code::FLUSH_SLAVE_TIMEOUT, None),
        PutMessageStatus::SlaveNotAvailable => (response_code::SLAVE_NOT_AVAILABLE, None),
        PutMessageStatus::InSyncReplicasNotEnough => (response_code::SYSTEM_ERROR, Some("in-sync replicas not enough".to_string())),
        PutMessageStatus::CreateMappedFileFailed => (
            response_code::SYSTEM_ERROR,
            Some("create mapped file failed, server is busy or broken.".to_string()),
        ),
        PutMessageStatus::MessageIllegal | PutMessageStatus::PropertiesSizeExceeded => (
            response_code::MESSAGE_ILLEGAL,
            Some(format!("the message is illegal, maybe msg body or properties length not matched. msg body length limit {max_size}B, msg properties length limit 32KB.")),
        ),
        PutMessageStatus::ServiceNotAvailable => (
            response_code::SERVICE_NOT_AVAILABLE,
            Some(format!("service not available now. It may be caused by one of the following reasons: the broker's disk is full [{}], messages are put to the slave, message store has been shut down, etc.", disk_util(&broker.store.disk_usage()))),
        ),
        PutMessageStatus::OsPageCacheBusy => (
            response_code::SYSTEM_BUSY,
            Some("[PC_SYNCHRONIZED]broker busy, start flow control for a while".to_string()),
        ),
        PutMessageStatus::LmqConsumeQueueNumExceeded | PutMessageStatus::UnknownError => {
            (response_code::SYSTEM_ERROR, Some("UNKNOWN_ERROR".to_string()))
        }
    };
    let mut resp = RemotingCommand::response_to(req, code, remark);
    let mut ext = remoting::protocol::ext_fields::ExtFields::new();
    if let (true, Some(a)) = (r.status.is_stored(), r.append) {
        let header = SendMessageResponseHeader {
            msg_id: a.msg_id,
            queue_id,
            queue_offset: a.logics_offset,
            transaction_id: uniq,
            batch_uniq_id: None,
            recall_handle,
        };
        ext = remoting::protocol::header::CommandHeader::to_ext_fields(&header);
    }
    ext.insert(keys::MSG_REGION, broker.settings.region_id.clone());
    ext.insert(keys::TRACE_ON, broker.settings.trace_on.to_string());
    resp.ext_fields = Some(ext);
    let _ = version::CURRENT_VERSION;
    resp
}

/// Java `diskUtil()` for the SERVICE_NOT_AVAILABLE remark: used fractions of the CommitLog,
/// ConsumeQueue and index disks, -1 where unmeasurable.
fn disk_util(u: &store::DiskUsage) -> String {
    let f = |p: Option<f64>| p.map(|v| v / 100.0).unwrap_or(-1.0);
    format!(
        "CL: {:5.2} CQ: {:5.2} INDEX: {:5.2}",
        f(u.commit_log),
        f(u.consume_queue),
        f(u.index)
    )
}

static UNIQ_COUNTER: AtomicU32 = AtomicU32::new(0);

pub(super) fn random_below(n: i32) -> i32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = nanos ^ UNIQ_COUNTER.fetch_add(0x9E37_79B9, Ordering::Relaxed);
    (mix % n.max(1) as u32) as i32
}

/// A message id in the layout of Java's `MessageClientIDSetter` (IP, pid, a fixed hash, ms
/// since the start of the month, counter), for messages that arrive without a UNIQ_KEY.
fn new_uniq_id(ip: &str) -> String {
    use std::fmt::Write;
    let octets: [u8; 4] = ip
        .parse::<std::net::Ipv4Addr>()
        .map(|a| a.octets())
        .unwrap_or([127, 0, 0, 1]);
    let pid = std::process::id() as u16;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let counter = UNIQ_COUNTER.fetch_add(1, Ordering::Relaxed) as u16;
    let mut s = String::with_capacity(32);
    for b in octets {
        let _ = write!(s, "{b:02X}");
    }
    let _ = write!(
        s,
        "{pid:04X}{:08X}{:08X}{counter:04X}",
        0x5253_5452u32,
        (now % 0xFFFF_FFFF) as u32
    );
    s
}
