//! Registration with every nameserver (Java `BrokerOuterAPI.registerBrokerAll`): the broker's
//! topic table as a RegisterBrokerBody, with the body's CRC, sent at start, every
//! `registerNameServerPeriod` and whenever topics change; unregistration at shutdown.

use std::sync::Arc;
use std::time::Duration;

use remoting::protocol::body::{to_json_bytes, RegisterBrokerBody};
use remoting::protocol::header::namesrv::{
    RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader,
};
use remoting::{request_code, response_code, RemotingCommand};

use crate::broker::Broker;

/// Registers with every configured nameserver; failures are logged, not fatal.
pub async fn register_all(broker: &Arc<Broker>) {
    let s = &broker.settings;
    let body = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: wrapper_with_broker_permission(broker),
    };
    let body = to_json_bytes(&body);
    let crc = (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32;
    let header = RegisterBrokerRequestHeader {
        broker_name: s.broker_name.clone(),
        broker_addr: s.broker_addr(),
        cluster_name: s.cluster_name.clone(),
        ha_server_addr: s.ha_server_addr(),
        broker_id: s.broker_id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(crc),
    };
    let timeout = Duration::from_millis(s.register_timeout_ms);
    for addr in &s.namesrv_addrs {
        let req = RemotingCommand::request_with_header(request_code::REGISTER_BROKER, &header)
            .with_body(body.clone());
        match broker.outbound.invoke(addr, req, timeout).await {
            Ok(r) if r.code == response_code::SUCCESS => {
                tracing::debug!(namesrv = %addr, "registered broker");
            }
            Ok(r) => {
                tracing::warn!(namesrv = %addr, code = r.code, remark = ?r.remark, "register broker refused")
            }
            Err(e) => tracing::warn!(namesrv = %addr, error = %e, "register broker failed"),
        }
    }
}

/// The topic table as registered: a broker that may not be read or written registers its
/// topics with the broker's permission masked in (Java `registerBrokerAll`).
fn wrapper_with_broker_permission(
    broker: &Broker,
) -> remoting::protocol::body::TopicConfigSerializeWrapper {
    use remoting::protocol::body::perm;
    let mut w = broker.topics.wrapper();
    let p = broker.permission();
    if !perm::is_writeable(p) || !perm::is_readable(p) {
        for tc in w.topic_config_table.values_mut() {
            tc.perm &= p;
        }
    }
    w
}

pub async fn unregister_all(broker: &Arc<Broker>) {
    let s = &broker.settings;
    let header = UnregisterBrokerRequestHeader {
        broker_name: s.broker_name.clone(),
        broker_addr: s.broker_addr(),
        cluster_name: s.cluster_name.clone(),
        broker_id: s.broker_id,
    };
    for addr in &s.namesrv_addrs {
        let req = RemotingCommand::request_with_header(request_code::UNREGISTER_BROKER, &header);
        if let Err(e) = broker
            .outbound
            .invoke(addr, req, Duration::from_secs(3))
            .await
        {
            tracing::warn!(namesrv = %addr, error = %e, "unregister broker failed");
        }
    }
}

/// Registers now and then every period, or sooner when `broker.register_now` is poked.
pub async fn run(broker: Arc<Broker>) {
    let period = Duration::from_millis(broker.settings.register_period_ms);
    loop {
        // Every request made before this round starts is covered once it finishes.
        let covered = broker
            .register_requests
            .load(std::sync::atomic::Ordering::SeqCst);
        register_all(&broker).await;
        broker.registered.send_replace(covered);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = broker.register_now.notified() => {}
        }
    }
}
