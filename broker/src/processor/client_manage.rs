//! HEART_BEAT, UNREGISTER_CLIENT, CHECK_CLIENT_CONFIG: clients announcing their producer and
//! consumer groups. A heartbeat creates the consumer group's retry topic and, when the group's
//! members or subscriptions change, tells the group's clients to rebalance.

use std::sync::Arc;
use std::time::Instant;

use remoting::protocol::body::{perm, HeartbeatData, SubscriptionData};
use remoting::protocol::header::broker::UnregisterClientRequestHeader;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::client::consumer_manager::ConsumerRegistration;
use crate::client::ClientChannelInfo;
use crate::error::{BrokerError, BrokerResult};
use crate::topic_config::RETRY_GROUP_TOPIC_PREFIX;

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    match req.code {
        rc::HEART_BEAT => heartbeat(&broker, &channel, &req),
        rc::UNREGISTER_CLIENT => unregister(&broker, &channel, &req),
        rc::CHECK_CLIENT_CONFIG => crate::filter::check_client_config(&broker, &req),
        _ => Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            None,
        ))),
    }
}

/// Recomputes tag codes from the tag strings with Java's hash (Go hashes differently).
pub fn normalize_subscription(mut sub: SubscriptionData) -> SubscriptionData {
    if sub.expression_type.is_empty() || sub.expression_type.eq_ignore_ascii_case("TAG") {
        sub.code_set = sub
            .tags_set
            .iter()
            .map(|t| store::message::hash::java_string_hash(t))
            .collect();
    }
    sub
}

fn heartbeat(
    broker: &Arc<Broker>,
    channel: &Channel,
    req: &RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let body = req.body.to_bytes();
    let data: HeartbeatData =
        serde_json::from_slice(&body).map_err(|e| BrokerError::Body(e.to_string()))?;
    let info = |client_id: &str| ClientChannelInfo {
        channel: channel.clone(),
        client_id: client_id.to_string(),
        language: req.language,
        version: req.version,
        last_update: Instant::now(),
    };
    let mut created_topic = false;
    for consumer in data.consumer_data_set {
        let group = consumer.group_name.clone();
        if let Some(cfg) = broker.groups.find_or_create(&group) {
            let retry = format!("{RETRY_GROUP_TOPIC_PREFIX}{group}");
            if !broker.topics.contains(&retry) {
                broker.topics.create_in_send_back(
                    &retry,
                    cfg.retry_queue_nums.max(1),
                    perm::READ | perm::WRITE,
                    0,
                );
                created_topic = true;
            }
        }
        let changed = broker.consumers.register(ConsumerRegistration {
            group: &group,
            client: info(&data.client_id),
            consume_type: &consumer.consume_type,
            message_model: &consumer.message_model,
            consume_from_where: &consumer.consume_from_where,
            subscriptions: consumer
                .subscription_data_set
                .into_iter()
                .map(normalize_subscription)
                .collect(),
        });
        if changed {
            broker.notify_consumer_ids_changed(&group);
        }
    }
    for producer in data.producer_data_set {
        broker
            .producers
            .register(&producer.group_name, info(&data.client_id));
    }
    if created_topic {
        broker.topics_changed();
    }
    Ok(Some(RemotingCommand::response_to(
        req,
        response_code::SUCCESS,
        None,
    )))
}

fn unregister(
    broker: &Arc<Broker>,
    channel: &Channel,
    req: &RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: UnregisterClientRequestHeader = req.decode_header()?;
    if let Some(g) = h.producer_group.as_deref().filter(|g| !g.is_empty()) {
        broker.producers.unregister(g, channel);
    }
    if let Some(g) = h.consumer_group.as_deref().filter(|g| !g.is_empty()) {
        if broker.consumers.unregister(g, channel) {
            tracing::info!(group = g, client = %h.client_id, "consumer unregistered");
            broker.notify_consumer_ids_changed(g);
        }
    }
    Ok(Some(RemotingCommand::response_to(
        req,
        response_code::SUCCESS,
        None,
    )))
}
