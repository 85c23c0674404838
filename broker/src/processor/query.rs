//! QUERY_MESSAGE (by key, over the index files) and VIEW_MESSAGE_BY_ID (by CommitLog offset):
//! the answers carry the stored records themselves.

use std::sync::Arc;

use remoting::protocol::command::Body;
use remoting::protocol::header::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

/// Java `defaultQueryMaxNum`: the cap for unique-key queries.
const DEFAULT_QUERY_MAX_NUM: i32 = 32;

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    if req.code == rc::VIEW_MESSAGE_BY_ID {
        let h: ViewMessageRequestHeader = req.decode_header()?;
        return match broker.store.look_message_by_offset(h.offset) {
            Some(record) => {
                let mut r = RemotingCommand::response_to(&req, response_code::SUCCESS, None);
                r.body = Body::Bytes(record);
                Ok(Some(r))
            }
            None => Err(BrokerError::refused(
                response_code::SYSTEM_ERROR,
                format!("can not find message by the offset, {}", h.offset),
            )),
        };
    }
    let h: QueryMessageRequestHeader = req.decode_header()?;
    let unique = req
        .ext("_UNIQUE_KEY_QUERY")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let max = if unique {
        DEFAULT_QUERY_MAX_NUM
    } else {
        h.max_num.max(0)
    };
    let store = broker.store.clone();
    let (topic, key) = (h.topic.clone(), h.key.clone());
    let result = tokio::task::spawn_blocking(move || {
        store.query_message(
            &topic,
            &key,
            max as usize,
            h.begin_timestamp,
            h.end_timestamp,
        )
    })
    .await
    .map_err(|e| BrokerError::refused(response_code::SYSTEM_ERROR, format!("query failed: {e}")))?;
    let header = QueryMessageResponseHeader {
        index_last_update_timestamp: result.index_last_update_timestamp,
        index_last_update_phyoffset: result.index_last_update_phyoffset,
    };
    let mut r = RemotingCommand::success_with_header(&req, &header);
    if result.messages.is_empty() {
        r.code = response_code::QUERY_NOT_FOUND;
        r.remark = Some("can not find message, maybe time range not correct".into());
    } else {
        r.body = Body::Parts(result.messages);
    }
    Ok(Some(r))
}
