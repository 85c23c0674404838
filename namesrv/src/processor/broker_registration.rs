//! REGISTER_BROKER, UNREGISTER_BROKER, BROKER_HEARTBEAT, QUERY_DATA_VERSION and
//! GET_BROKER_MEMBER_GROUP: how brokers join, stay alive in, and leave the route table.

use std::time::Duration;

use remoting::protocol::body::{
    to_json_bytes, DataVersion, KvTable, RegisterBrokerBody, TopicConfigSerializeWrapper,
};
use remoting::protocol::header::namesrv::{
    BrokerHeartbeatRequestHeader, GetBrokerMemberGroupRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    UnregisterBrokerRequestHeader,
};
use remoting::protocol::version;
use remoting::{response_code, Channel, RemotingCommand};

use super::{header, success, Handled};
use crate::register_body;
use crate::route::Registration;
use crate::{Namesrv, NAMESPACE_ORDER_TOPIC_CONFIG};

pub fn register(s: &Namesrv, channel: &Channel, req: &RemotingCommand) -> Handled {
    let h: RegisterBrokerRequestHeader = header(req)?;
    let body = req.body.to_bytes();
    if let Some(crc) = h.body_crc32.filter(|c| *c != 0) {
        let actual = (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32;
        if actual != crc {
            tracing::warn!(peer = %channel.peer_addr(), "registerBroker: crc32 not match");
            return Ok(RemotingCommand::response_to(
                req,
                response_code::SYSTEM_ERROR,
                Some("crc32 not match".into()),
            ));
        }
    }
    let (wrapper, filter_servers) = if body.is_empty() {
        (TopicConfigSerializeWrapper::default(), Vec::new())
    } else if req.version >= version::V3_0_11 {
        let decoded: RegisterBrokerBody = if h.compressed.unwrap_or(false) {
            register_body::decode_compressed(&body, req.version)
        } else {
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        }
        .map_err(|e| format!("Failed to decode RegisterBrokerBody: {e}"))?;
        (
            decoded.topic_config_serialize_wrapper,
            decoded.filter_server_list,
        )
    } else {
        let w: TopicConfigSerializeWrapper =
            serde_json::from_slice(&body).map_err(|e| format!("Failed to decode body: {e}"))?;
        (w, Vec::new())
    };
    let zone = req.ext("__ZONE_NAME").map(String::from);
    let result = s.routes.register_broker(Registration {
        cluster_name: &h.cluster_name,
        broker_addr: &h.broker_addr,
        broker_name: &h.broker_name,
        broker_id: h.broker_id,
        ha_server_addr: &h.ha_server_addr,
        zone_name: zone.as_deref(),
        heartbeat_timeout: h
            .heartbeat_timeout_millis
            .filter(|t| *t > 0)
            .map(|t| Duration::from_millis(t as u64)),
        enable_acting_master: h.enable_acting_master,
        wrapper,
        filter_server_list: filter_servers,
        channel: Some(channel.clone()),
    });
    let Some(result) = result else {
        return Ok(RemotingCommand::response_to(
            req,
            response_code::SYSTEM_ERROR,
            Some("register broker failed".into()),
        ));
    };
    let mut resp = RemotingCommand::success_with_header(
        req,
        &RegisterBrokerResponseHeader {
            ha_server_addr: result.ha_server_addr,
            master_addr: result.master_addr,
        },
    );
    if s.config().props.bool("returnOrderTopicConfigToBroker") {
        if let Some(table) = s.kv.list(NAMESPACE_ORDER_TOPIC_CONFIG) {
            resp = resp.with_body(to_json_bytes(&KvTable { table }));
        }
    }
    Ok(resp)
}

pub fn unregister(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: UnregisterBrokerRequestHeader = header(req)?;
    s.routes
        .unregister_broker(&h.cluster_name, &h.broker_addr, &h.broker_name);
    Ok(success(req))
}

pub fn heartbeat(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: BrokerHeartbeatRequestHeader = header(req)?;
    s.routes.touch(&h.cluster_name, &h.broker_addr);
    Ok(success(req))
}

pub fn query_data_version(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: QueryDataVersionRequestHeader = header(req)?;
    let body = req.body.to_bytes();
    let theirs: Option<DataVersion> = serde_json::from_slice(&body).ok();
    let ours = s.routes.data_version(&h.cluster_name, &h.broker_addr);
    let changed = match (&ours, &theirs) {
        (Some(a), Some(b)) => a != b,
        _ => true,
    };
    s.routes.touch(&h.cluster_name, &h.broker_addr);
    let mut resp =
        RemotingCommand::success_with_header(req, &QueryDataVersionResponseHeader { changed });
    if let Some(v) = ours {
        resp = resp.with_body(to_json_bytes(&v));
    }
    Ok(resp)
}

pub fn member_group(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: GetBrokerMemberGroupRequestHeader = header(req)?;
    let addrs = s.routes.broker_member_addrs(&h.broker_name);
    let body = serde_json::json!({
        "brokerMemberGroup": {
            "brokerAddrs": addrs,
            "brokerName": h.broker_name,
            "cluster": h.cluster_name,
        }
    });
    Ok(success(req).with_body(to_json_bytes(&body)))
}
