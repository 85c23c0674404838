//! Admin requests on the store as a whole: CLEAN_EXPIRED_CONSUMEQUEUE, DELETE_EXPIRED_COMMITLOG
//! (mqadmin cleanExpiredCQ / deleteExpiredCommitLog) and GET_BROKER_CONSUME_STATS (mqadmin
//! brokerConsumeStats: every subscription group's consume stats, from the real offsets).
//! Invariants: answers are SUCCESS as Java's; the consume stats follow Java's selection rules
//! (groups of the subscription table, topics the group has offsets in, write queues).

use std::sync::Arc;

use remoting::protocol::body::admin::{mq_map_body, OffsetWrapper};
use remoting::protocol::body::MessageQueue;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::BrokerResult;

pub const CODES: &[i32] = &[
    rc::CLEAN_EXPIRED_CONSUMEQUEUE,
    rc::DELETE_EXPIRED_COMMITLOG,
    rc::GET_BROKER_CONSUME_STATS,
];

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let ok = || RemotingCommand::response_to(&req, response_code::SUCCESS, None);
    let resp = match req.code {
        rc::CLEAN_EXPIRED_CONSUMEQUEUE => {
            let store = broker.store.clone();
            let n = tokio::task::spawn_blocking(move || store.clean_expired_consume_queue())
                .await
                .unwrap_or(0);
            tracing::info!(peer = %channel.peer_addr(), removed = n, "cleanExpiredConsumeQueue");
            ok()
        }
        rc::DELETE_EXPIRED_COMMITLOG => {
            let store = broker.store.clone();
            let n = tokio::task::spawn_blocking(move || store.delete_expired_files())
                .await
                .unwrap_or(0);
            tracing::info!(peer = %channel.peer_addr(), deleted = n, "deleteExpiredCommitLog");
            ok()
        }
        _ => {
            let is_order = req
                .ext_fields
                .as_ref()
                .and_then(|e| e.get("isOrder"))
                .is_some_and(|v| v.trim() == "true");
            ok().with_body(broker_consume_stats(&broker, is_order))
        }
    };
    Ok(Some(resp))
}

/// The ConsumeStatsList body: `{"brokerAddr":..,"consumeStatsList":[{group:[ConsumeStats..]}..],
/// "totalDiff":..}` (fastjson member order).
fn broker_consume_stats(b: &Broker, is_order: bool) -> Vec<u8> {
    let mut total_diff: i64 = 0;
    let mut groups_json: Vec<Vec<u8>> = Vec::new();
    for group in b.groups.names() {
        let mut stats: Vec<Vec<u8>> = Vec::new();
        for topic in b.offsets.topics_of_group(&group) {
            let Some(tc) = b.topics.select(&topic) else {
                continue;
            };
            if is_order && !tc.order {
                continue;
            }
            // A group online with subscriptions only reports the topics it subscribes to.
            if let Some(g) = b.consumers.group(&group) {
                if !g.subscriptions.is_empty() && !g.subscriptions.contains_key(&topic) {
                    continue;
                }
            }
            let mut table = std::collections::BTreeMap::new();
            for q in 0..tc.write_queue_nums {
                let broker_offset = b.store.max_offset_in_queue(&topic, q).max(0);
                let consumer_offset = b.offsets.query(&group, &topic, q).max(0);
                let last = if consumer_offset > 0 {
                    b.store
                        .message_store_timestamp(&topic, q, consumer_offset - 1)
                        .max(0)
                } else {
                    0
                };
                total_diff += broker_offset - consumer_offset;
                table.insert(
                    MessageQueue {
                        broker_name: b.settings.broker_name.clone(),
                        queue_id: q,
                        topic: topic.clone(),
                    },
                    OffsetWrapper {
                        broker_offset,
                        consumer_offset,
                        last_timestamp: last,
                        pull_offset: consumer_offset,
                    },
                );
            }
            let tps = b.stats.group_get_tps(&group, &topic);
            let body = mq_map_body("offsetTable", &table, "");
            let mut one = format!("{{\"consumeTps\":{tps:.1},").into_bytes();
            one.extend_from_slice(body.get(1..).unwrap_or_default());
            stats.push(one);
        }
        let mut g = b"{".to_vec();
        g.extend_from_slice(&serde_json::to_vec(&group).unwrap_or_default());
        g.extend_from_slice(b":[");
        g.extend_from_slice(&stats.join(&b","[..]));
        g.extend_from_slice(b"]}");
        groups_json.push(g);
    }
    let mut out = b"{\"brokerAddr\":".to_vec();
    out.extend_from_slice(&serde_json::to_vec(&b.settings.broker_addr()).unwrap_or_default());
    out.extend_from_slice(b",\"consumeStatsList\":[");
    out.extend_from_slice(&groups_json.join(&b","[..]));
    out.extend_from_slice(format!("],\"totalDiff\":{total_diff}}}").as_bytes());
    out
}
