//! CLEAN_UNUSED_TOPIC (mqadmin `cleanUnusedTopic`): the store drops the ConsumeQueues of every
//! topic that is not in the topic config (system topics and LMQs excepted). Always SUCCESS.

use std::collections::HashSet;
use std::sync::Arc;

use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::BrokerResult;

pub const CODES: &[i32] = &[rc::CLEAN_UNUSED_TOPIC];

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    tracing::warn!(peer = %channel.peer_addr(), "invoke cleanUnusedTopic start.");
    let retain: HashSet<String> = broker.topics.topic_names().into_iter().collect();
    let store = broker.store.clone();
    let removed = tokio::task::spawn_blocking(move || store.clean_unused_topics(&retain))
        .await
        .unwrap_or(0);
    tracing::warn!(queues = removed, "invoke cleanUnusedTopic end.");
    Ok(Some(RemotingCommand::response_to(
        &req,
        response_code::SUCCESS,
        None,
    )))
}
