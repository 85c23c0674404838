//! GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO and the topic listings.

use remoting::protocol::body::to_json_bytes;
use remoting::protocol::header::namesrv::{
    GetRouteInfoRequestHeader, GetTopicsByClusterRequestHeader,
};
use remoting::{request_code as rc, response_code, RemotingCommand};

use super::{header, success, Handled};
use crate::{Namesrv, NAMESPACE_ORDER_TOPIC_CONFIG};

const FAQ_SUFFIX: &str =
    "\nSee https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details.";

pub fn route_by_topic(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: GetRouteInfoRequestHeader = header(req)?;
    let cfg = s.config();
    if cfg.props.bool("needWaitForService") {
        let wait = cfg
            .props
            .number("waitSecondsForService", 45u64)
            .unwrap_or(45);
        if s.started.elapsed().as_secs() < wait {
            return Ok(RemotingCommand::response_to(
                req,
                response_code::SYSTEM_ERROR,
                Some("name server not ready".into()),
            ));
        }
    }
    match s.routes.pickup_topic_route(&h.topic) {
        Some(mut route) => {
            if cfg.props.bool("orderMessageEnable") {
                route.order_topic_conf = s.kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, &h.topic);
            }
            Ok(success(req).with_body(to_json_bytes(&route)))
        }
        None => Ok(RemotingCommand::response_to(
            req,
            response_code::TOPIC_NOT_EXIST,
            Some(format!(
                "No topic route info in name server for the topic: {}{FAQ_SUFFIX}",
                h.topic
            )),
        )),
    }
}

pub fn cluster_info(s: &Namesrv, req: &RemotingCommand) -> Handled {
    Ok(success(req).with_body(to_json_bytes(&s.routes.cluster_info())))
}

fn disabled(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response_code::SYSTEM_ERROR, Some("disable".into()))
}

pub fn all_topics(s: &Namesrv, req: &RemotingCommand) -> Handled {
    if !s.config().props.bool("enableAllTopicList") {
        return Ok(disabled(req));
    }
    Ok(success(req).with_body(to_json_bytes(&s.routes.all_topics())))
}

pub fn topics_by_cluster(s: &Namesrv, req: &RemotingCommand) -> Handled {
    if !s.config().props.bool("enableTopicList") {
        return Ok(disabled(req));
    }
    let h: GetTopicsByClusterRequestHeader = header(req)?;
    Ok(success(req).with_body(to_json_bytes(&s.routes.topics_by_cluster(&h.cluster))))
}

pub fn system_topics(s: &Namesrv, req: &RemotingCommand) -> Handled {
    Ok(success(req).with_body(to_json_bytes(&s.routes.system_topics())))
}

pub fn unit_topics(s: &Namesrv, req: &RemotingCommand) -> Handled {
    if !s.config().props.bool("enableTopicList") {
        return Ok(disabled(req));
    }
    let list = match req.code {
        rc::GET_UNIT_TOPIC_LIST => s.routes.unit_topics(),
        rc::GET_HAS_UNIT_SUB_TOPIC_LIST => s.routes.has_unit_sub_topics(),
        _ => s.routes.has_unit_sub_un_unit_topics(),
    };
    Ok(success(req).with_body(to_json_bytes(&list)))
}
