//! GET_CONSUMER_LIST_BY_GROUP, UPDATE_CONSUMER_OFFSET, QUERY_CONSUMER_OFFSET.

use std::sync::Arc;

use remoting::protocol::body::{to_json_bytes, ConsumerListBody};
use remoting::protocol::header::broker::{
    GetConsumerListByGroupRequestHeader, OffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    match req.code {
        rc::GET_CONSUMER_LIST_BY_GROUP => {
            let h: GetConsumerListByGroupRequestHeader = req.decode_header()?;
            match broker.consumers.group(&h.consumer_group) {
                Some(g) if !g.channels.is_empty() => {
                    let body = ConsumerListBody {
                        consumer_id_list: g.client_ids(),
                    };
                    Ok(Some(
                        RemotingCommand::response_to(&req, response_code::SUCCESS, None)
                            .with_body(to_json_bytes(&body)),
                    ))
                }
                _ => {
                    tracing::warn!(group = %h.consumer_group, peer = %channel.peer_addr(), "getConsumerListByGroup: no consumer");
                    Err(BrokerError::refused(
                        response_code::SYSTEM_ERROR,
                        format!("no consumer for this group, {}", h.consumer_group),
                    ))
                }
            }
        }
        rc::UPDATE_CONSUMER_OFFSET => {
            let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
            if broker.topics.select(&h.topic).is_none() {
                return Err(BrokerError::refused(
                    response_code::TOPIC_NOT_EXIST,
                    format!("Topic {} not exist!", h.topic),
                ));
            }
            broker
                .offsets
                .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
            Ok(Some(RemotingCommand::response_to(
                &req,
                response_code::SUCCESS,
                None,
            )))
        }
        _ => {
            let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
            let offset = broker
                .offsets
                .query(&h.consumer_group, &h.topic, h.queue_id);
            if offset >= 0 {
                return Ok(Some(RemotingCommand::success_with_header(
                    &req,
                    &OffsetResponseHeader { offset },
                )));
            }
            // No committed offset: a queue whose first message is still present starts at 0.
            let min = broker.store.min_offset_in_queue(&h.topic, h.queue_id);
            if h.set_zero_if_not_found != Some(false) && min <= 0 {
                return Ok(Some(RemotingCommand::success_with_header(
                    &req,
                    &OffsetResponseHeader { offset: 0 },
                )));
            }
            let mut r = RemotingCommand::response_to(
                &req,
                response_code::QUERY_NOT_FOUND,
                Some("Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first".into()),
            );
            r.ext_fields = Some(Default::default());
            Ok(Some(r))
        }
    }
}
