//! Administration requests used by mqadmin and the clients' admin API: topics, subscription
//! groups, broker config and runtime info.
//! Invariant (Java 5.x): system topics are refused by create/update and delete.

use std::sync::Arc;

use remoting::protocol::body::{to_json_bytes, TopicConfig, TopicList};
use remoting::protocol::header::broker::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, TopicRequestHeader,
};
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};
use crate::subscription_group::SubscriptionGroupConfig;
use crate::topic_config;

pub const CODES: &[i32] = &[
    rc::UPDATE_AND_CREATE_TOPIC,
    rc::DELETE_TOPIC_IN_BROKER,
    rc::GET_ALL_TOPIC_CONFIG,
    rc::GET_TOPIC_CONFIG,
    rc::GET_TOPIC_NAME_LIST,
    rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    rc::DELETE_SUBSCRIPTIONGROUP,
    rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
    rc::GET_BROKER_CONFIG,
    rc::UPDATE_BROKER_CONFIG,
];

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let ok = || RemotingCommand::response_to(&req, response_code::SUCCESS, None);
    let resp = match req.code {
        rc::UPDATE_AND_CREATE_TOPIC => {
            let h: CreateTopicRequestHeader = req.decode_header()?;
            if let Some(remark) = topic_config::validate_topic(&h.topic) {
                return Err(BrokerError::refused(
                    response_code::INVALID_PARAMETER,
                    remark,
                ));
            }
            refuse_system_topic(&broker, &h.topic)?;
            let mut tc = TopicConfig::new(h.topic.clone(), h.read_queue_nums);
            tc.write_queue_nums = h.write_queue_nums;
            tc.perm = h.perm;
            tc.topic_filter_type = h.topic_filter_type.clone();
            tc.topic_sys_flag = h.topic_sys_flag.unwrap_or(0);
            tc.order = h.order.unwrap_or(false);
            let modification =
                crate::topic_attributes::parse(h.attributes.as_deref().unwrap_or(""))
                    .map_err(|e| BrokerError::refused(response_code::SYSTEM_ERROR, e))?;
            crate::topic_attributes::resolve(
                &mut tc,
                broker.topics.select(&h.topic).as_ref(),
                &modification,
                mixed_message_type_allowed(&broker),
            )
            .map_err(|(code, remark)| BrokerError::refused(code, remark))?;
            tracing::info!(topic = %h.topic, peer = %channel.peer_addr(), "updateAndCreateTopic");
            if broker.topics.update(tc) {
                let limit = std::time::Duration::from_millis(
                    broker.settings.register_timeout_ms.clamp(1_000, 6_000),
                );
                broker.topics_changed_and_registered(limit).await;
            }
            ok()
        }
        rc::DELETE_TOPIC_IN_BROKER => {
            let h: TopicRequestHeader = req.decode_header()?;
            tracing::info!(topic = %h.topic, peer = %channel.peer_addr(), "deleteTopic");
            if h.topic.trim().is_empty() {
                return Err(BrokerError::refused(
                    response_code::INVALID_PARAMETER,
                    "The specified topic is blank.",
                ));
            }
            refuse_system_topic(&broker, &h.topic)?;
            broker.topics.delete(&h.topic);
            broker.offsets.remove_topic(&h.topic);
            broker.stats.forget_topic(&h.topic);
            broker.topics_changed();
            ok()
        }
        rc::GET_ALL_TOPIC_CONFIG => ok().with_body(to_json_bytes(&broker.topics.wrapper())),
        rc::GET_TOPIC_CONFIG => {
            let h: TopicRequestHeader = req.decode_header()?;
            match broker.topics.select(&h.topic) {
                Some(tc) => {
                    ok().with_body(to_json_bytes(&serde_json::json!({ "topicConfig": tc })))
                }
                None => {
                    return Err(BrokerError::refused(
                        response_code::TOPIC_NOT_EXIST,
                        format!("No topic in this broker. topic: {}", h.topic),
                    ))
                }
            }
        }
        rc::GET_TOPIC_NAME_LIST => {
            let list = TopicList {
                broker_addr: None,
                topic_list: broker.topics.topic_names(),
            };
            ok().with_body(to_json_bytes(&list))
        }
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            let body = req.body.to_bytes();
            let cfg: SubscriptionGroupConfig =
                serde_json::from_slice(&body).map_err(|e| BrokerError::Body(e.to_string()))?;
            tracing::info!(group = %cfg.group_name, peer = %channel.peer_addr(), "updateAndCreateSubscriptionGroup");
            broker.groups.update(cfg);
            ok()
        }
        rc::DELETE_SUBSCRIPTIONGROUP => {
            let h: DeleteSubscriptionGroupRequestHeader = req.decode_header()?;
            broker.groups.delete(&h.group_name);
            if h.clean_offset.unwrap_or(false) {
                broker.offsets.remove_group(&h.group_name);
            }
            ok()
        }
        rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => {
            ok().with_body(to_json_bytes(&broker.groups.snapshot_json()))
        }
        rc::GET_BROKER_CONFIG => {
            let text = {
                let c = broker.config.read().unwrap_or_else(|p| p.into_inner());
                remoting::properties::to_text(
                    c.props
                        .iter()
                        .filter(|(k, _)| !crate::config_java::NOT_REPORTED.contains(k)),
                )
            };
            let mut r = ok().with_body(text.into_bytes());
            let mut ext = remoting::protocol::ext_fields::ExtFields::new();
            let v = broker.topics.data_version();
            ext.insert("version", serde_json::to_string(&v).unwrap_or_default());
            r.ext_fields = Some(ext);
            r
        }
        rc::UPDATE_BROKER_CONFIG => {
            let body = req.body.to_bytes();
            if body.is_empty() {
                return Ok(Some(ok()));
            }
            let props = remoting::properties::parse(&String::from_utf8_lossy(&body));
            let black: Vec<String> = {
                let c = broker.config.read().unwrap_or_else(|p| p.into_inner());
                let list = c
                    .props
                    .get("configBlackList")
                    .unwrap_or("configBlackList;brokerConfigPath");
                list.split(';')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect()
            };
            if props.keys().any(|k| black.contains(k)) {
                return Err(BrokerError::refused(
                    response_code::NO_PERMISSION,
                    "Can not update config in black list.",
                ));
            }
            let new_perm = match props.get("brokerPermission") {
                Some(v) => Some(v.trim().parse::<i32>().map_err(|_| {
                    BrokerError::refused(
                        response_code::SYSTEM_ERROR,
                        format!("invalid value '{v}' for config key 'brokerPermission'"),
                    )
                })?),
                None => None,
            };
            tracing::info!(peer = %channel.peer_addr(), keys = ?props.keys().collect::<Vec<_>>(), "updateBrokerConfig");
            {
                let mut c = broker.config.write().unwrap_or_else(|p| p.into_inner());
                // Parse first: a value that does not parse changes nothing.
                let mut next = c.clone();
                next.props.apply(props.clone());
                let parsed = next
                    .settings()
                    .map(|s| (s, next.props.bool("rejectTransactionMessage")));
                let (settings, reject) = parsed.map_err(|e| {
                    BrokerError::refused(response_code::SYSTEM_ERROR, e.to_string())
                })?;
                let store_config = store::StoreConfig::from_properties(&next.store_properties())
                    .map_err(|e| {
                        BrokerError::refused(response_code::SYSTEM_ERROR, e.to_string())
                    })?;
                broker.live.apply(&settings, reject);
                broker.store.apply_tunables(&store_config);
                broker
                    .groups
                    .set_auto_create(settings.auto_create_subscription_group);
                c.props.apply(props);
                // As Java: the whole table goes back to the -c file.
                if let Err(e) = c.persist() {
                    tracing::warn!(error = %e, "updateBrokerConfig: cannot write the config file");
                }
            }
            if let Some(p) = new_perm {
                broker
                    .permission
                    .store(p, std::sync::atomic::Ordering::Relaxed);
                broker.topics.next_version();
                broker.topics_changed();
            }
            ok()
        }
        other => {
            return Err(BrokerError::refused(
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {other} not supported"),
            ))
        }
    };
    Ok(Some(resp))
}

/// Java 5.x: with `validateSystemTopicWhenUpdateTopic` (default true) a system topic can be
/// neither created/updated nor deleted through the admin API (4.9.8 answered SYSTEM_ERROR with
/// the same remark; 5.x answers INVALID_PARAMETER).
fn refuse_system_topic(broker: &Broker, topic: &str) -> BrokerResult<()> {
    let validate = {
        let c = broker.config.read().unwrap_or_else(|p| p.into_inner());
        c.props
            .get("validateSystemTopicWhenUpdateTopic")
            .is_none_or(|v| v.trim().eq_ignore_ascii_case("true"))
    };
    if validate && broker.topics.is_system_topic(topic) {
        return Err(BrokerError::refused(
            response_code::INVALID_PARAMETER,
            format!("The topic[{topic}] is conflict with system topic."),
        ));
    }
    Ok(())
}

/// `enableMixedMessageType` (Java BrokerConfig, default false): whether a topic may be MIXED.
pub(crate) fn mixed_message_type_allowed(broker: &Broker) -> bool {
    let c = broker.config.read().unwrap_or_else(|p| p.into_inner());
    c.props
        .get("enableMixedMessageType")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}
