//! GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP, GET_EARLIEST_MSG_STORETIME:
//! a queue's bounds and time lookups, straight from the store.

use std::sync::Arc;

use remoting::protocol::header::broker::{
    EarliestMsgStoretimeResponseHeader, OffsetResponseHeader, SearchOffsetRequestHeader,
    TopicQueueRequestHeader,
};
use remoting::{request_code as rc, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::BrokerResult;

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let store = &broker.store;
    let resp = match req.code {
        rc::SEARCH_OFFSET_BY_TIMESTAMP => {
            let h: SearchOffsetRequestHeader = req.decode_header()?;
            let offset = store.offset_in_queue_by_time(&h.topic, h.queue_id, h.timestamp);
            RemotingCommand::success_with_header(&req, &OffsetResponseHeader { offset })
        }
        rc::GET_EARLIEST_MSG_STORETIME => {
            let h: TopicQueueRequestHeader = req.decode_header()?;
            let timestamp = store.earliest_message_time(&h.topic, h.queue_id);
            RemotingCommand::success_with_header(
                &req,
                &EarliestMsgStoretimeResponseHeader { timestamp },
            )
        }
        code => {
            let h: TopicQueueRequestHeader = req.decode_header()?;
            let offset = if code == rc::GET_MAX_OFFSET {
                store.max_offset_in_queue(&h.topic, h.queue_id)
            } else {
                store.min_offset_in_queue(&h.topic, h.queue_id)
            };
            RemotingCommand::success_with_header(&req, &OffsetResponseHeader { offset })
        }
    };
    Ok(Some(resp))
}
