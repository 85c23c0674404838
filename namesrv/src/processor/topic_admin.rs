//! WIPE/ADD_WRITE_PERM_OF_BROKER, DELETE_TOPIC_IN_NAMESRV, REGISTER_TOPIC_IN_NAMESRV.

use remoting::protocol::body::TopicRouteData;
use remoting::protocol::header::namesrv::{
    AddWritePermResponseHeader, BrokerNameRequestHeader, DeleteTopicFromNamesrvRequestHeader,
    RegisterTopicRequestHeader, WipeWritePermResponseHeader,
};
use remoting::{request_code as rc, Channel, RemotingCommand};

use super::{header, success, Handled};
use crate::Namesrv;

pub fn write_perm(s: &Namesrv, channel: &Channel, req: &RemotingCommand) -> Handled {
    let h: BrokerNameRequestHeader = header(req)?;
    if req.code == rc::WIPE_WRITE_PERM_OF_BROKER {
        let n = s.routes.wipe_write_perm(&h.broker_name);
        tracing::info!(broker = %h.broker_name, client = %channel.peer_addr(), topics = n, "wipe write perm of broker");
        Ok(RemotingCommand::success_with_header(
            req,
            &WipeWritePermResponseHeader {
                wipe_topic_count: n,
            },
        ))
    } else {
        let n = s.routes.add_write_perm(&h.broker_name);
        tracing::info!(broker = %h.broker_name, client = %channel.peer_addr(), topics = n, "add write perm of broker");
        Ok(RemotingCommand::success_with_header(
            req,
            &AddWritePermResponseHeader { add_topic_count: n },
        ))
    }
}

pub fn delete_topic(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: DeleteTopicFromNamesrvRequestHeader = header(req)?;
    s.routes.delete_topic(&h.topic, h.cluster_name.as_deref());
    Ok(success(req))
}

pub fn register_topic(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: RegisterTopicRequestHeader = header(req)?;
    let body = req.body.to_bytes();
    if let Ok(route) = serde_json::from_slice::<TopicRouteData>(&body) {
        s.routes.register_topic(&h.topic, route.queue_datas);
    }
    Ok(success(req))
}
