//! GET_ALL_PRODUCER_INFO (mqadmin `producer`): every producer group with its connections as a
//! Java `ProducerTableInfo` (`{"data":{group:[ProducerInfo..]}}`); remote addresses are written
//! as Netty prints them (`/ip:port`), update times in epoch ms.

use std::collections::BTreeMap;
use std::sync::Arc;

use remoting::protocol::body::to_json_bytes;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};
use serde::Serialize;

use crate::broker::Broker;
use crate::client::ClientChannelInfo;
use crate::error::BrokerResult;

pub const CODES: &[i32] = &[rc::GET_ALL_PRODUCER_INFO];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProducerInfo {
    client_id: String,
    language: &'static str,
    last_update_timestamp: i64,
    #[serde(rename = "remoteIP")]
    remote_ip: String,
    version: i32,
}

#[derive(Debug, Serialize)]
struct ProducerTableInfo {
    data: BTreeMap<String, Vec<ProducerInfo>>,
}

fn info(c: &ClientChannelInfo, now_ms: i64) -> ProducerInfo {
    let age = i64::try_from(c.last_update.elapsed().as_millis()).unwrap_or(i64::MAX);
    ProducerInfo {
        client_id: c.client_id.clone(),
        language: c.language.name(),
        last_update_timestamp: now_ms.saturating_sub(age),
        remote_ip: format!("/{}", c.channel.peer_addr()),
        version: c.version,
    }
}

pub async fn process(
    broker: Arc<Broker>,
    _channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let now = crate::timer::now_ms();
    let data = broker
        .producers
        .table()
        .into_iter()
        .map(|(g, members)| (g, members.iter().map(|c| info(c, now)).collect()))
        .collect();
    let body = to_json_bytes(&ProducerTableInfo { data });
    Ok(Some(
        RemotingCommand::response_to(&req, response_code::SUCCESS, None).with_body(body),
    ))
}
