//! Admin reads of the broker's state: topic stats, consume stats, client connections,
//! who consumes what, all consumer offsets, and runtime info — from the store's offsets and the
//! broker's real counters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use remoting::protocol::body::admin::{
    mq_map_body, Connection, ConsumerConnection, GroupList, OffsetWrapper, ProducerConnection,
    TopicOffset,
};
use remoting::protocol::body::{to_json_bytes, KvTable, MessageQueue, TopicList};
use remoting::protocol::header::admin::{
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    GetProducerConnectionListRequestHeader, GroupTopicRequestHeader,
    ViewBrokerStatsDataRequestHeader,
};
use remoting::protocol::header::broker::TopicRequestHeader;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::client::ClientChannelInfo;
use crate::error::{BrokerError, BrokerResult};

pub const CODES: &[i32] = &[
    rc::GET_TOPIC_STATS_INFO,
    rc::GET_CONSUME_STATS,
    rc::GET_CONSUMER_CONNECTION_LIST,
    rc::GET_PRODUCER_CONNECTION_LIST,
    rc::QUERY_TOPIC_CONSUME_BY_WHO,
    rc::QUERY_TOPICS_BY_CONSUMER,
    rc::QUERY_SUBSCRIPTION_BY_CONSUMER,
    rc::GET_ALL_CONSUMER_OFFSET,
    rc::GET_BROKER_RUNTIME_INFO,
    rc::VIEW_BROKER_STATS_DATA,
];

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let ok = || RemotingCommand::response_to(&req, response_code::SUCCESS, None);
    let b = &*broker;
    let resp = match req.code {
        rc::VIEW_BROKER_STATS_DATA => {
            let h: ViewBrokerStatsDataRequestHeader = req.decode_header()?;
            let Some(data) = b
                .stats
                .view(&h.stats_name, &h.stats_key, &b.settings.cluster_name)
            else {
                return Err(BrokerError::refused(
                    response_code::SYSTEM_ERROR,
                    format!("The stats <{}> <{}> not exist", h.stats_name, h.stats_key),
                ));
            };
            ok().with_body(to_json_bytes(&data))
        }
        rc::GET_TOPIC_STATS_INFO => {
            let h: TopicRequestHeader = req.decode_header()?;
            let Some(tc) = b.topics.select(&h.topic) else {
                return Err(BrokerError::refused(
                    response_code::TOPIC_NOT_EXIST,
                    format!("topic[{}] not exist", h.topic),
                ));
            };
            let mut table = BTreeMap::new();
            for q in 0..tc.write_queue_nums {
                let min = b.store.min_offset_in_queue(&h.topic, q).max(0);
                let max = b.store.max_offset_in_queue(&h.topic, q).max(0);
                let last = if max > 0 {
                    b.store.message_store_timestamp(&h.topic, q, max - 1)
                } else {
                    0
                };
                table.insert(
                    mq(b, &h.topic, q),
                    TopicOffset {
                        last_update_timestamp: last,
                        max_offset: max,
                        min_offset: min,
                    },
                );
            }
            ok().with_body(mq_map_body("offsetTable", &table, ""))
        }
        rc::GET_CONSUME_STATS => {
            let h: GetConsumeStatsRequestHeader = req.decode_header()?;
            let topics: BTreeSet<String> = match (&h.topic_list, &h.topic) {
                (Some(list), _) if !list.is_empty() => list
                    .split(';')
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
                (_, Some(t)) if !t.is_empty() => std::iter::once(t.clone()).collect(),
                _ => b
                    .offsets
                    .topics_of_group(&h.consumer_group)
                    .into_iter()
                    .collect(),
            };
            let mut table = BTreeMap::new();
            let mut tps = 0.0;
            for topic in &topics {
                let Some(tc) = b.topics.select(topic) else {
                    continue;
                };
                for q in 0..tc.read_queue_nums {
                    let broker_offset = b.store.max_offset_in_queue(topic, q).max(0);
                    let consumer_offset = b.offsets.query(&h.consumer_group, topic, q).max(0);
                    let last = if consumer_offset > 0 {
                        b.store
                            .message_store_timestamp(topic, q, consumer_offset - 1)
                            .max(0)
                    } else {
                        0
                    };
                    table.insert(
                        mq(b, topic, q),
                        OffsetWrapper {
                            broker_offset,
                            consumer_offset,
                            last_timestamp: last,
                            pull_offset: consumer_offset,
                        },
                    );
                }
                tps += b.stats.group_get_tps(&h.consumer_group, topic);
            }
            // fastjson writes members alphabetically: consumeTps before offsetTable.
            let table_body = mq_map_body("offsetTable", &table, "");
            let mut out = format!("{{\"consumeTps\":{tps:.1},").into_bytes();
            out.extend_from_slice(table_body.get(1..).unwrap_or_default());
            ok().with_body(out)
        }
        rc::GET_CONSUMER_CONNECTION_LIST => {
            let h: GetConsumerConnectionListRequestHeader = req.decode_header()?;
            let Some(g) = b.consumers.group(&h.consumer_group) else {
                return Err(BrokerError::refused(
                    response_code::CONSUMER_NOT_ONLINE,
                    format!("the consumer group[{}] not online", h.consumer_group),
                ));
            };
            let body = ConsumerConnection {
                connection_set: g.channels.values().map(connection).collect(),
                consume_from_where: g.consume_from_where.clone(),
                consume_type: g.consume_type.clone(),
                message_model: g.message_model.clone(),
                subscription_table: g.subscriptions.clone().into_iter().collect(),
            };
            ok().with_body(to_json_bytes(&body))
        }
        rc::GET_PRODUCER_CONNECTION_LIST => {
            let h: GetProducerConnectionListRequestHeader = req.decode_header()?;
            let channels = b.producers.channels(&h.producer_group);
            if channels.is_empty() {
                return Err(BrokerError::refused(
                    response_code::SYSTEM_ERROR,
                    format!("the producer group[{}] not exist", h.producer_group),
                ));
            }
            let body = ProducerConnection {
                connection_set: channels.iter().map(connection).collect(),
            };
            ok().with_body(to_json_bytes(&body))
        }
        rc::QUERY_TOPIC_CONSUME_BY_WHO => {
            let h: TopicRequestHeader = req.decode_header()?;
            let mut groups: BTreeSet<String> =
                b.offsets.groups_of_topic(&h.topic).into_iter().collect();
            for g in b.consumers.groups() {
                if b.consumers.subscription(&g, &h.topic).is_some() {
                    groups.insert(g);
                }
            }
            ok().with_body(to_json_bytes(&GroupList {
                group_list: groups.into_iter().collect(),
            }))
        }
        rc::QUERY_TOPICS_BY_CONSUMER => {
            let h: GroupTopicRequestHeader = req.decode_header()?;
            let list = TopicList {
                broker_addr: Some(b.settings.broker_addr()),
                topic_list: b.offsets.topics_of_group(&h.group),
            };
            ok().with_body(to_json_bytes(&list))
        }
        rc::QUERY_SUBSCRIPTION_BY_CONSUMER => {
            let h: GroupTopicRequestHeader = req.decode_header()?;
            let topic = h.topic.clone().unwrap_or_default();
            let sub = b.consumers.subscription(&h.group, &topic);
            let body = serde_json::json!({
                "group": h.group,
                "subscriptionData": sub,
                "topic": topic,
            });
            ok().with_body(to_json_bytes(&body))
        }
        rc::GET_ALL_CONSUMER_OFFSET => {
            let body = serde_json::json!({ "offsetTable": b.offsets.snapshot() });
            ok().with_body(to_json_bytes(&body))
        }
        _ => ok().with_body(to_json_bytes(&KvTable {
            table: runtime_info(b),
        })),
    };
    Ok(Some(resp))
}

fn mq(b: &Broker, topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue {
        broker_name: b.settings.broker_name.clone(),
        queue_id,
        topic: topic.to_string(),
    }
}

fn connection(c: &ClientChannelInfo) -> Connection {
    Connection {
        client_addr: c.channel.peer_addr().to_string(),
        client_id: c.client_id.clone(),
        language: c.language.name().to_string(),
        version: c.version,
    }
}

/// GET_BROKER_RUNTIME_INFO, with the keys mqadmin's clusterList and brokerStatus read.
fn runtime_info(b: &Broker) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    let store = &b.store;
    let put = b.stats.put_marks();
    let get = b.stats.get_marks();
    let now_put = b
        .stats
        .broker_put
        .nums
        .load(std::sync::atomic::Ordering::Relaxed);
    let now_get = b
        .stats
        .broker_get
        .nums
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut set = |k: &str, v: String| {
        t.insert(k.to_string(), v);
    };
    set("brokerVersionDesc", "V5_3_3".into());
    set(
        "brokerVersion",
        remoting::protocol::version::CURRENT_VERSION.to_string(),
    );
    set("bootTimestamp", b.started_at_ms.to_string());
    set("startAcceptSendRequestTimeStamp", "0".into());
    set("brokerActive", "true".into());
    set("putTps", b.stats.put_tps());
    set("getTransferredTps", b.stats.get_tps());
    set("getTransferedTps", b.stats.get_tps());
    set(
        "msgPutTotalYesterdayMorning",
        put.yesterday_morning.to_string(),
    );
    set("msgPutTotalTodayMorning", put.today_morning.to_string());
    set("msgPutTotalTodayNow", now_put.to_string());
    set(
        "msgGetTotalYesterdayMorning",
        get.yesterday_morning.to_string(),
    );
    set("msgGetTotalTodayMorning", get.today_morning.to_string());
    set("msgGetTotalTodayNow", now_get.to_string());
    set("commitLogMaxOffset", store.max_phy_offset().to_string());
    set("commitLogMinOffset", store.min_phy_offset().to_string());
    set(
        "dispatchBehindBytes",
        store.dispatch_behind_bytes().to_string(),
    );
    set("pageCacheLockTimeMills", "0".into());
    let root = b.settings.store_root.clone();
    let ratio = store::disk_used_percent(&root)
        .map(|p| p / 100.0)
        .unwrap_or(0.0);
    set("commitLogDiskRatio", format!("{ratio}"));
    let commit_log_dir = b
        .config
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .props
        .get("storePathCommitLog")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("commitlog"));
    let dir_ratio = store::disk_used_percent(&commit_log_dir)
        .map(|p| p / 100.0)
        .unwrap_or(0.0);
    set(
        &format!("commitLogDiskRatio_{}", commit_log_dir.display()),
        format!("{dir_ratio}"),
    );
    if let Some((total, free)) = store::disk_space(&commit_log_dir) {
        set(
            "commitLogDirCapacity",
            format!(
                "Total : {}, Free : {}.",
                human_size(total),
                human_size(free)
            ),
        );
    }
    // Java's ordered-dispatch ring buffer; dispatch here has no such buffer, so nothing waits.
    set("dispatchMaxBuffer", "0".into());
    let (found, miss, total) = b.stats.store_get_tps();
    for (k, v) in b.stats.store.runtime_info(found, miss, total) {
        set(&k, v);
    }
    set("consumeQueueDiskRatio", format!("{ratio}"));
    let earliest = store
        .look_message_by_offset(store.min_phy_offset())
        .and_then(|m| {
            store::message::record::decode_message(&m, false)
                .ok()
                .map(|r| r.store_timestamp)
        })
        .unwrap_or(0);
    set("earliestMessageTimeStamp", earliest.to_string());
    for pool in ["send", "pull", "litePull", "query", "ack"] {
        set(&format!("{pool}ThreadPoolQueueSize"), "0".into());
        set(
            &format!("{pool}ThreadPoolQueueHeadWaitTimeMills"),
            "0".into(),
        );
    }
    set("sendThreadPoolQueueCapacity", "10000".into());
    set("pullThreadPoolQueueCapacity", "100000".into());
    set("litePullThreadPoolQueueCapacity", "100000".into());
    set("queryThreadPoolQueueCapacity", "20000".into());
    set("ackThreadPoolQueueCapacity", "100000".into());
    set("EndTransactionQueueSize", "0".into());
    set("EndTransactionThreadPoolQueueCapacity", "100000".into());
    set(
        "remainHowManyDataToFlush",
        (store.max_phy_offset() - store.flushed_phy_offset())
            .max(0)
            .to_string(),
    );
    set("remainHowManyDataToCommit", "0".into());
    set("remainTransientStoreBufferNumbs", "2147483647".into());
    for k in ["timerReadBehind", "timerOffsetBehind", "timerCongestNum"] {
        set(k, "0".into());
    }
    set("timerEnqueueTps", "0.0".into());
    set("timerDequeueTps", "0.0".into());
    // Java `ScheduleMessageService.buildRunningStats`: "delay offset,max offset" per level known.
    for (level, offset) in b.schedule.offset_table() {
        let max = store.max_offset_in_queue(
            store::message::SCHEDULE_TOPIC,
            crate::schedule::level_to_queue_id(level),
        );
        set(
            &format!("scheduleMessageOffset_{level}"),
            format!("{offset},{max}"),
        );
    }
    t
}

/// Bytes as Java's `MessageStoreUtil` style sizes: one decimal and a binary unit.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}
