//! Request processing of the nameserver: one processor, dispatching by code to the module of
//! each request family. Header decode failures answer SYSTEM_ERROR with the reason, as Java's
//! generic exception path does.

mod broker_registration;
mod config_admin;
mod kv;
mod route_query;
mod topic_admin;

use std::sync::Arc;

use remoting::processor::{ProcessFuture, ProcessorTable, RequestProcessor};
use remoting::protocol::header::CommandHeader;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::Namesrv;

/// Every code the nameserver answers.
pub const CODES: &[i32] = &[
    rc::PUT_KV_CONFIG,
    rc::GET_KV_CONFIG,
    rc::DELETE_KV_CONFIG,
    rc::GET_KVLIST_BY_NAMESPACE,
    rc::QUERY_DATA_VERSION,
    rc::REGISTER_BROKER,
    rc::UNREGISTER_BROKER,
    rc::BROKER_HEARTBEAT,
    rc::GET_BROKER_MEMBER_GROUP,
    rc::GET_ROUTEINFO_BY_TOPIC,
    rc::GET_BROKER_CLUSTER_INFO,
    rc::WIPE_WRITE_PERM_OF_BROKER,
    rc::ADD_WRITE_PERM_OF_BROKER,
    rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
    rc::DELETE_TOPIC_IN_NAMESRV,
    rc::REGISTER_TOPIC_IN_NAMESRV,
    rc::GET_TOPICS_BY_CLUSTER,
    rc::GET_SYSTEM_TOPIC_LIST_FROM_NS,
    rc::GET_UNIT_TOPIC_LIST,
    rc::GET_HAS_UNIT_SUB_TOPIC_LIST,
    rc::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST,
    rc::UPDATE_NAMESRV_CONFIG,
    rc::GET_NAMESRV_CONFIG,
];

pub struct NamesrvProcessor {
    state: Arc<Namesrv>,
}

/// The processor table of a nameserver over `state`.
pub fn processor_table(state: Arc<Namesrv>) -> ProcessorTable {
    let mut table = ProcessorTable::new();
    table.register(CODES, Arc::new(NamesrvProcessor { state }), Some(50_000));
    table
}

impl RequestProcessor for NamesrvProcessor {
    fn process<'a>(&'a self, channel: &'a Channel, req: RemotingCommand) -> ProcessFuture<'a> {
        Box::pin(async move { Some(self.handle(channel, &req)) })
    }
}

impl NamesrvProcessor {
    fn handle(&self, channel: &Channel, req: &RemotingCommand) -> RemotingCommand {
        let s = &*self.state;
        let result = match req.code {
            rc::PUT_KV_CONFIG => kv::put(s, req),
            rc::GET_KV_CONFIG => kv::get(s, req),
            rc::DELETE_KV_CONFIG => kv::delete(s, req),
            rc::GET_KVLIST_BY_NAMESPACE => kv::list(s, req),
            rc::QUERY_DATA_VERSION => broker_registration::query_data_version(s, req),
            rc::REGISTER_BROKER => broker_registration::register(s, channel, req),
            rc::UNREGISTER_BROKER => broker_registration::unregister(s, req),
            rc::BROKER_HEARTBEAT => broker_registration::heartbeat(s, req),
            rc::GET_BROKER_MEMBER_GROUP => broker_registration::member_group(s, req),
            rc::GET_ROUTEINFO_BY_TOPIC => route_query::route_by_topic(s, req),
            rc::GET_BROKER_CLUSTER_INFO => route_query::cluster_info(s, req),
            rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => route_query::all_topics(s, req),
            rc::GET_TOPICS_BY_CLUSTER => route_query::topics_by_cluster(s, req),
            rc::GET_SYSTEM_TOPIC_LIST_FROM_NS => route_query::system_topics(s, req),
            rc::GET_UNIT_TOPIC_LIST
            | rc::GET_HAS_UNIT_SUB_TOPIC_LIST
            | rc::GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST => route_query::unit_topics(s, req),
            rc::WIPE_WRITE_PERM_OF_BROKER | rc::ADD_WRITE_PERM_OF_BROKER => {
                topic_admin::write_perm(s, channel, req)
            }
            rc::DELETE_TOPIC_IN_NAMESRV => topic_admin::delete_topic(s, req),
            rc::REGISTER_TOPIC_IN_NAMESRV => topic_admin::register_topic(s, req),
            rc::UPDATE_NAMESRV_CONFIG => config_admin::update(s, channel, req),
            rc::GET_NAMESRV_CONFIG => config_admin::get(s, req),
            other => Ok(RemotingCommand::response_to(
                req,
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                Some(format!(" request type {other} not supported")),
            )),
        };
        result.unwrap_or_else(|remark| {
            tracing::warn!(peer = %channel.peer_addr(), code = req.code, %remark, "request rejected");
            RemotingCommand::response_to(req, response_code::SYSTEM_ERROR, Some(remark))
        })
    }
}

/// A processor step's outcome: the response, or a SYSTEM_ERROR remark.
pub(crate) type Handled = Result<RemotingCommand, String>;

/// Decodes a typed header, turning a missing or bad field into the error remark.
pub(crate) fn header<H: CommandHeader>(req: &RemotingCommand) -> Result<H, String> {
    req.decode_header::<H>().map_err(|e| {
        format!("org.apache.rocketmq.remoting.exception.RemotingCommandException: {e}")
    })
}

pub(crate) fn success(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, response_code::SUCCESS, None)
}
