//! LOCK_BATCH_MQ and UNLOCK_BATCH_MQ: orderly consumers claim the queues they process.

use std::sync::Arc;

use remoting::protocol::body::{to_json_bytes, LockBatchRequestBody, LockBatchResponseBody};
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let body = req.body.to_bytes();
    let r: LockBatchRequestBody =
        serde_json::from_slice(&body).map_err(|e| BrokerError::Body(e.to_string()))?;
    if req.code == rc::LOCK_BATCH_MQ {
        let locked = broker
            .locks
            .try_lock_batch(&r.consumer_group, &r.mq_set, &r.client_id);
        let resp = LockBatchResponseBody {
            lock_ok_mq_set: locked,
        };
        Ok(Some(
            RemotingCommand::response_to(&req, response_code::SUCCESS, None)
                .with_body(to_json_bytes(&resp)),
        ))
    } else {
        broker
            .locks
            .unlock_batch(&r.consumer_group, &r.mq_set, &r.client_id);
        Ok(Some(RemotingCommand::response_to(
            &req,
            response_code::SUCCESS,
            None,
        )))
    }
}
