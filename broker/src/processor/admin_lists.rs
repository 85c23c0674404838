//! Batch creation from mqadmin `updateTopicList` / `updateSubGroupList` (5.x):
//! UPDATE_AND_CREATE_TOPIC_LIST validates every topic first (nothing changes if one is invalid),
//! then applies them all and re-registers with the nameservers before answering, as the
//! single-topic path does; UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST likewise for groups.

use std::sync::Arc;
use std::time::Duration;

use remoting::protocol::body::fastjson::quote_bare_keys;
use remoting::protocol::body::TopicConfig;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use serde::Deserialize;

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};
use crate::subscription_group::SubscriptionGroupConfig;
use crate::topic_config;

pub const CODES: &[i32] = &[
    rc::UPDATE_AND_CREATE_TOPIC_LIST,
    rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST,
];

/// Java `CreateTopicListRequestBody`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTopicListRequestBody {
    topic_config_list: Vec<TopicConfig>,
}

/// Java `SubscriptionGroupList`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionGroupList {
    group_config_list: Vec<SubscriptionGroupConfig>,
}

/// Java `TopicValidator.isSystemTopic` (its fixed set, the `rmq_sys_` prefix, and the cluster
/// and broker name topics the broker adds to it).
pub(crate) fn is_system_topic(broker: &Broker, topic: &str) -> bool {
    const SYSTEM: &[&str] = &[
        topic_config::AUTO_CREATE_TOPIC_KEY,
        topic_config::SCHEDULE_TOPIC,
        topic_config::BENCHMARK_TOPIC,
        topic_config::TRANS_HALF_TOPIC,
        "RMQ_SYS_TRACE_TOPIC",
        topic_config::TRANS_OP_HALF_TOPIC,
        topic_config::TRANS_CHECK_MAX_TIME_TOPIC,
        topic_config::SELF_TEST_TOPIC,
        topic_config::OFFSET_MOVED_EVENT,
        "CHECKPOINT_TOPIC",
    ];
    SYSTEM.contains(&topic)
        || topic.starts_with("rmq_sys_")
        || topic == broker.settings.cluster_name
        || topic == broker.settings.broker_name
}

/// Java `TopicValidator.validateGroup`: the remark for an invalid name, `None` if valid.
fn validate_group(group: &str) -> Option<String> {
    if group.trim().is_empty() {
        return Some("The specified group is blank.".into());
    }
    let legal = group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'-' | b'_' | b'|'));
    if !legal {
        return Some(format!(
            "The specified group: {group}, contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ));
    }
    if group.len() > 120 {
        return Some(format!(
            "The specified group: {group}, is longer than group max length: 120"
        ));
    }
    None
}

fn decode<T: serde::de::DeserializeOwned>(req: &RemotingCommand) -> BrokerResult<T> {
    let raw = req.body.to_bytes();
    serde_json::from_slice(&quote_bare_keys(&raw)).map_err(|e| BrokerError::Body(e.to_string()))
}

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    if req.code == rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST {
        let list: SubscriptionGroupList = decode(&req)?;
        for cfg in &list.group_config_list {
            if let Some(remark) = validate_group(&cfg.group_name) {
                return Err(BrokerError::refused(
                    response_code::INVALID_PARAMETER,
                    remark,
                ));
            }
        }
        let names: Vec<&str> = list
            .group_config_list
            .iter()
            .map(|c| c.group_name.as_str())
            .collect();
        tracing::info!(groups = ?names, peer = %channel.peer_addr(), "updateAndCreateSubscriptionGroupList");
        for cfg in list.group_config_list {
            broker.groups.update(cfg);
        }
        return Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            None,
        )));
    }
    let list: CreateTopicListRequestBody = decode(&req)?;
    let check_system = {
        let c = broker.config.read().unwrap_or_else(|p| p.into_inner());
        c.props
            .get("validateSystemTopicWhenUpdateTopic")
            .is_none_or(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    let ok = || RemotingCommand::response_to(&req, response_code::SUCCESS, None);
    for tc in &list.topic_config_list {
        let topic = &tc.topic_name;
        if let Some(remark) = topic_config::validate_topic(topic) {
            return Err(BrokerError::refused(
                response_code::INVALID_PARAMETER,
                remark,
            ));
        }
        if check_system && is_system_topic(&broker, topic) {
            return Err(BrokerError::refused(
                response_code::INVALID_PARAMETER,
                format!("The topic[{topic}] is conflict with system topic."),
            ));
        }
        // Java answers at the first topic already configured exactly so, changing nothing.
        if broker.topics.select(topic).as_ref() == Some(tc) {
            tracing::info!(topic = %topic, "updateAndCreateTopicList: no changes, idempotent");
            return Ok(Some(ok()));
        }
    }
    let names: Vec<&str> = list
        .topic_config_list
        .iter()
        .map(|t| t.topic_name.as_str())
        .collect();
    tracing::info!(topics = ?names, peer = %channel.peer_addr(), "updateAndCreateTopicList");
    let allow_mixed = super::admin::mixed_message_type_allowed(&broker);
    let mut resolved = Vec::with_capacity(list.topic_config_list.len());
    for mut tc in list.topic_config_list {
        // The body carries the modification in the attributes map (`+key` / `-key`).
        let modification: Vec<(String, String)> =
            std::mem::take(&mut tc.attributes).into_iter().collect();
        let existing = broker.topics.select(&tc.topic_name);
        crate::topic_attributes::resolve(&mut tc, existing.as_ref(), &modification, allow_mixed)
            .map_err(|(code, remark)| BrokerError::refused(code, remark))?;
        resolved.push(tc);
    }
    let mut changed = false;
    for tc in resolved {
        changed |= broker.topics.update(tc);
    }
    if changed {
        let limit = Duration::from_millis(broker.settings.register_timeout_ms.clamp(1_000, 6_000));
        broker.topics_changed_and_registered(limit).await;
    }
    Ok(Some(ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_validated_as_java() {
        assert_eq!(validate_group("g_1-%|A"), None);
        assert_eq!(
            validate_group(" ").as_deref(),
            Some("The specified group is blank.")
        );
        assert!(validate_group("a b")
            .unwrap()
            .contains("illegal characters"));
        assert!(validate_group(&"g".repeat(121))
            .unwrap()
            .ends_with("max length: 120"));
    }
}
