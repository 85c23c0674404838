//! The requests rmq-bench sends, built the way the Java client builds them: SEND_MESSAGE_V2
//! (one-letter header keys), SEND_BATCH_MESSAGE (client batch body), PULL_MESSAGE with an
//! inline `*` subscription, UPDATE_AND_CREATE_TOPIC, GET_MAX_OFFSET and GET_ROUTEINFO_BY_TOPIC;
//! plus where to send them (topic routes resolved through the nameserver, or one broker given
//! directly). Nothing here trusts a response: missing or malformed fields are errors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use remoting::client::RemotingClient;
use remoting::protocol::body::fastjson::quote_bare_keys;
use remoting::protocol::body::TopicRouteData;
use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::header::broker::CreateTopicRequestHeader;
use remoting::protocol::SerializeType;
use remoting::{request_code, response_code, RemotingCommand};
use store::message::batch::encode_batch;

/// Property carrying the send time in microseconds since the epoch (produce-to-consume latency).
pub const TS_PROPERTY: &str = "BENCH_TS";
/// Producer group named in send headers.
pub const PRODUCER_GROUP: &str = "rmq-bench-producer";

const NAME_SEP: char = '\u{1}';
const PROP_SEP: char = '\u{2}';

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Microseconds since the Unix epoch (0 if the clock is before it).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The name of topic `i` of `count` topics with prefix `prefix`: the prefix itself for one topic.
pub fn topic_name(prefix: &str, i: usize, count: usize) -> String {
    if count <= 1 {
        prefix.to_string()
    } else {
        format!("{prefix}-{i}")
    }
}

/// One message queue on one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub broker: String,
    pub topic: String,
    pub queue_id: i32,
}

/// Which header serialization requests use (the Java benchmark tools set ROCKETMQ).
pub fn serialize_type(name: &str) -> Result<SerializeType, BoxError> {
    match name.to_ascii_lowercase().as_str() {
        "rocketmq" => Ok(SerializeType::RocketMq),
        "json" => Ok(SerializeType::Json),
        other => Err(format!("unknown serialization {other:?} (rocketmq or json)").into()),
    }
}

/// Unique message ids (`UNIQ_KEY`, 32 hex digits like the Java client's).
pub struct UniqIds {
    prefix: String,
    next: AtomicU64,
}

impl UniqIds {
    pub fn new() -> Self {
        let pid = std::process::id();
        let start = now_micros();
        Self {
            prefix: format!("{pid:08X}{:08X}", (start & 0xFFFF_FFFF) as u32),
            next: AtomicU64::new(0),
        }
    }

    pub fn next_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}{n:016X}", self.prefix)
    }
}

impl Default for UniqIds {
    fn default() -> Self {
        Self::new()
    }
}

fn message_properties(uniq: &str, ts_micros: u64) -> String {
    format!(
        "UNIQ_KEY{NAME_SEP}{uniq}{PROP_SEP}WAIT{NAME_SEP}true{PROP_SEP}{TS_PROPERTY}{NAME_SEP}{ts_micros}"
    )
}

fn send_header(target: &Target, born_ms: u64, properties: String, batch: bool) -> ExtFields {
    let mut ext = ExtFields::with_capacity(12);
    ext.insert("a", PRODUCER_GROUP);
    ext.insert("b", target.topic.as_str());
    ext.insert("c", "TBW102");
    ext.insert("d", "4");
    ext.insert("e", target.queue_id.to_string());
    ext.insert("f", "0");
    ext.insert("g", born_ms.to_string());
    ext.insert("h", "0");
    ext.insert("i", properties);
    ext.insert("j", "0");
    ext.insert("k", "false");
    ext.insert("m", if batch { "true" } else { "false" });
    ext
}

/// SEND_MESSAGE_V2 of one message with `body`, stamped with the current time.
pub fn send_request(
    target: &Target,
    body: &Bytes,
    ids: &UniqIds,
    ser: SerializeType,
) -> RemotingCommand {
    let ts = now_micros();
    let props = message_properties(&ids.next_id(), ts);
    let mut cmd = RemotingCommand::request(
        request_code::SEND_MESSAGE_V2,
        send_header(target, ts / 1000, props, false),
    )
    .with_body(body.clone());
    cmd.serialize_type = ser;
    cmd
}

/// SEND_BATCH_MESSAGE of `count` messages with `body` each, all stamped with the current time.
pub fn batch_request(
    target: &Target,
    body: &Bytes,
    count: usize,
    ids: &UniqIds,
    ser: SerializeType,
) -> RemotingCommand {
    let ts = now_micros();
    let props: Vec<String> = (0..count)
        .map(|_| message_properties(&ids.next_id(), ts))
        .collect();
    let encoded = encode_batch(props.iter().map(|p| (0, &body[..], p.as_str())));
    let mut cmd = RemotingCommand::request(
        request_code::SEND_BATCH_MESSAGE,
        send_header(target, ts / 1000, format!("WAIT{NAME_SEP}true"), true),
    )
    .with_body(encoded);
    cmd.serialize_type = ser;
    cmd
}

/// Pull flags (Java `PullSysFlag`).
const FLAG_SUSPEND: i32 = 0x2;
const FLAG_SUBSCRIPTION: i32 = 0x4;

/// PULL_MESSAGE of `target` from `offset` with an inline `*` subscription, long polling up to
/// `suspend_ms` when the queue is empty.
pub fn pull_request(
    group: &str,
    target: &Target,
    offset: i64,
    max_msgs: i32,
    suspend_ms: i64,
    ser: SerializeType,
) -> RemotingCommand {
    let mut ext = ExtFields::with_capacity(11);
    let flags = FLAG_SUBSCRIPTION | if suspend_ms > 0 { FLAG_SUSPEND } else { 0 };
    ext.insert("consumerGroup", group);
    ext.insert("topic", target.topic.as_str());
    ext.insert("queueId", target.queue_id.to_string());
    ext.insert("queueOffset", offset.to_string());
    ext.insert("maxMsgNums", max_msgs.to_string());
    ext.insert("sysFlag", flags.to_string());
    ext.insert("commitOffset", "0");
    ext.insert("suspendTimeoutMillis", suspend_ms.to_string());
    ext.insert("subscription", "*");
    ext.insert("subVersion", "0");
    ext.insert("expressionType", "TAG");
    let mut cmd = RemotingCommand::request(request_code::PULL_MESSAGE, ext);
    cmd.serialize_type = ser;
    cmd
}

/// An integer ext field of a response, or an error naming it.
pub fn ext_i64(cmd: &RemotingCommand, key: &str) -> Result<i64, BoxError> {
    cmd.ext(key)
        .ok_or_else(|| format!("response has no {key}"))?
        .trim()
        .parse::<i64>()
        .map_err(|e| format!("response field {key}: {e}").into())
}

fn remark(cmd: &RemotingCommand) -> &str {
    cmd.remark.as_deref().unwrap_or("")
}

/// Creates (or updates) `topic` with `queues` read and write queues on `broker`.
pub async fn create_topic(
    client: &RemotingClient,
    broker: &str,
    topic: &str,
    queues: i32,
    timeout: Duration,
) -> Result<(), BoxError> {
    let header = CreateTopicRequestHeader {
        topic: topic.to_string(),
        default_topic: "TBW102".to_string(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".to_string(),
        topic_sys_flag: Some(0),
        order: Some(false),
        attributes: None,
        force: None,
    };
    let req = RemotingCommand::request_with_header(request_code::UPDATE_AND_CREATE_TOPIC, &header);
    let r = client.invoke(broker, req, timeout).await?;
    if r.code != response_code::SUCCESS {
        return Err(format!("creating topic {topic}: code {} {}", r.code, remark(&r)).into());
    }
    Ok(())
}

/// The max (next) offset of one queue.
pub async fn max_offset(
    client: &RemotingClient,
    target: &Target,
    timeout: Duration,
) -> Result<i64, BoxError> {
    let mut ext = ExtFields::new();
    ext.insert("topic", target.topic.as_str());
    ext.insert("queueId", target.queue_id.to_string());
    let req = RemotingCommand::request(request_code::GET_MAX_OFFSET, ext);
    let r = client.invoke(&target.broker, req, timeout).await?;
    if r.code != response_code::SUCCESS {
        return Err(format!(
            "max offset of {}/{}: code {} {}",
            target.topic,
            target.queue_id,
            r.code,
            remark(&r)
        )
        .into());
    }
    ext_i64(&r, "offset")
}

/// The route of `topic` from the nameserver; `None` when the nameserver has none.
pub async fn route(
    client: &RemotingClient,
    namesrv: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Option<TopicRouteData>, BoxError> {
    let mut ext = ExtFields::new();
    ext.insert("topic", topic);
    let req = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC, ext);
    let r = client.invoke(namesrv, req, timeout).await?;
    if r.code == response_code::TOPIC_NOT_EXIST {
        return Ok(None);
    }
    if r.code != response_code::SUCCESS {
        return Err(format!("route of {topic}: code {} {}", r.code, remark(&r)).into());
    }
    let body = r.body.to_bytes();
    let data: TopicRouteData = serde_json::from_slice(&quote_bare_keys(&body))
        .map_err(|e| format!("route of {topic}: bad body: {e}"))?;
    Ok(Some(data))
}

/// The master queues of a route: write queues (`write`) or read queues.
pub fn route_targets(topic: &str, data: &TopicRouteData, write: bool) -> Vec<Target> {
    let masters: BTreeMap<&str, &str> = data
        .broker_datas
        .iter()
        .filter_map(|b| {
            b.broker_addrs
                .get(&0)
                .map(|a| (b.broker_name.as_str(), a.as_str()))
        })
        .collect();
    let mut out = Vec::new();
    for q in &data.queue_datas {
        let Some(addr) = masters.get(q.broker_name.as_str()) else {
            continue;
        };
        let n = if write {
            q.write_queue_nums
        } else {
            q.read_queue_nums
        };
        out.extend((0..n).map(|queue_id| Target {
            broker: (*addr).to_string(),
            topic: topic.to_string(),
            queue_id,
        }));
    }
    out
}

/// How to find the queues of the benchmark topics.
#[derive(Debug, Clone)]
pub struct Locator {
    pub namesrv: Option<String>,
    pub broker: Option<String>,
    pub topic_prefix: String,
    pub topics: usize,
    pub queues: i32,
}

impl Locator {
    pub fn topic_names(&self) -> Vec<String> {
        (0..self.topics)
            .map(|i| topic_name(&self.topic_prefix, i, self.topics))
            .collect()
    }

    /// Every queue of every topic: `--queues` queues on `--broker` when given, else the routes
    /// from the nameserver (waiting up to `wait` for a topic that has none yet).
    pub async fn targets(
        &self,
        client: &RemotingClient,
        write: bool,
        wait: Duration,
    ) -> Result<Vec<Target>, BoxError> {
        if let Some(broker) = &self.broker {
            return Ok(self
                .topic_names()
                .into_iter()
                .flat_map(|topic| {
                    (0..self.queues).map(move |queue_id| Target {
                        broker: broker.clone(),
                        topic: topic.clone(),
                        queue_id,
                    })
                })
                .collect());
        }
        let Some(ns) = &self.namesrv else {
            return Err("give --broker or --namesrv".into());
        };
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        for topic in self.topic_names() {
            loop {
                let found = route(client, ns, &topic, Duration::from_secs(3)).await?;
                let targets = found
                    .map(|r| route_targets(&topic, &r, write))
                    .unwrap_or_default();
                if !targets.is_empty() {
                    out.extend(targets);
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(format!("no route for topic {topic} after {wait:?}").into());
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::message::batch::decode_batch;
    use store::message::properties::get_property;

    fn target() -> Target {
        Target {
            broker: "127.0.0.1:1".into(),
            topic: "T".into(),
            queue_id: 3,
        }
    }

    #[test]
    fn send_request_carries_queue_and_timestamp() {
        let ids = UniqIds::new();
        let cmd = send_request(
            &target(),
            &Bytes::from_static(b"xyz"),
            &ids,
            SerializeType::RocketMq,
        );
        assert_eq!(cmd.code, request_code::SEND_MESSAGE_V2);
        assert_eq!(cmd.ext("e"), Some("3"));
        let props = cmd.ext("i").unwrap();
        let ts: u64 = get_property(props, TS_PROPERTY).unwrap().parse().unwrap();
        assert!(ts > 0);
        assert_eq!(get_property(props, "UNIQ_KEY").unwrap().len(), 32);
    }

    #[test]
    fn batch_request_decodes_to_count_messages() {
        let ids = UniqIds::new();
        let cmd = batch_request(
            &target(),
            &Bytes::from_static(b"abcd"),
            5,
            &ids,
            SerializeType::Json,
        );
        let body = cmd.body.to_bytes();
        let entries = decode_batch(&body).unwrap();
        assert_eq!(entries.len(), 5);
        assert!(entries.iter().all(|e| e.body == b"abcd"));
        assert_ne!(
            get_property(entries[0].properties, "UNIQ_KEY"),
            get_property(entries[1].properties, "UNIQ_KEY")
        );
    }

    #[test]
    fn route_targets_use_master_and_queue_counts() {
        let json = br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"b","cluster":"C"}],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":2,"writeQueueNums":3,"topicSysFlag":0}]}"#;
        let data: TopicRouteData = serde_json::from_slice(&quote_bare_keys(json)).unwrap();
        let w = route_targets("T", &data, true);
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|t| t.broker == "127.0.0.1:10911"));
        assert_eq!(route_targets("T", &data, false).len(), 2);
    }

    #[test]
    fn topic_names() {
        assert_eq!(topic_name("B", 0, 1), "B");
        assert_eq!(topic_name("B", 7, 10), "B-7");
    }
}
