//! Request processing: one module per request family, each a `RequestProcessor` registered for
//! its codes with a concurrency bound (over it: SYSTEM_BUSY). Errors become answers in
//! `crate::error` only.

mod acl_admin;
mod admin;
mod admin_client;
mod admin_lists;
mod admin_query;
mod admin_stats;
mod admin_store;
mod client_manage;
mod consume_queue_query;
mod consumer_manage;
mod consumer_status;
mod end_transaction;
mod lock;
mod msg_context;
mod offset_query;
mod producer_info;
mod pull;
mod query;
mod reply;
mod send;
mod send_back;
mod topic_cleanup;

use std::future::Future;
use std::sync::Arc;

use remoting::processor::{ProcessFuture, ProcessorTable, RequestProcessor};
use remoting::{request_code as rc, Channel, RemotingCommand};

use crate::broker::Broker;
use crate::error::BrokerResult;

/// A processor built from an async handler function over the broker.
struct Handler<F> {
    broker: Arc<Broker>,
    f: F,
}

impl<F, Fut> RequestProcessor for Handler<F>
where
    F: Fn(Arc<Broker>, Channel, RemotingCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BrokerResult<Option<RemotingCommand>>> + Send + 'static,
{
    fn process<'a>(&'a self, channel: &'a Channel, req: RemotingCommand) -> ProcessFuture<'a> {
        // Only the identity is kept for the error answer: a clone of the whole request cost a
        // copy of every header value (13 allocations per send).
        let id = req.identity();
        let fut = (self.f)(self.broker.clone(), channel.clone(), req);
        Box::pin(async move {
            match fut.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(peer = %channel.peer_addr(), code = id.code, error = %e, "request refused");
                    Some(e.into_response(&id))
                }
            }
        })
    }
}

fn handler<F, Fut>(broker: &Arc<Broker>, f: F) -> Arc<dyn RequestProcessor>
where
    F: Fn(Arc<Broker>, Channel, RemotingCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BrokerResult<Option<RemotingCommand>>> + Send + 'static,
{
    Arc::new(Handler {
        broker: broker.clone(),
        f,
    })
}

/// The processor table of the broker's main port, or of its VIP port (no pulls there).
pub fn processor_table(broker: Arc<Broker>, vip: bool) -> ProcessorTable {
    let mut t = ProcessorTable::new();
    t.register(
        &[
            rc::SEND_MESSAGE,
            rc::SEND_MESSAGE_V2,
            rc::SEND_BATCH_MESSAGE,
        ],
        handler(&broker, send::process),
        Some(10_000),
    );
    t.register(reply::CODES, handler(&broker, reply::process), Some(10_000));
    if !vip {
        t.register(
            &[rc::PULL_MESSAGE, rc::LITE_PULL_MESSAGE],
            handler(&broker, pull::process),
            Some(100_000),
        );
    }
    t.register(
        &[
            rc::HEART_BEAT,
            rc::UNREGISTER_CLIENT,
            rc::CHECK_CLIENT_CONFIG,
        ],
        handler(&broker, client_manage::process),
        Some(50_000),
    );
    t.register(
        &[
            rc::GET_CONSUMER_LIST_BY_GROUP,
            rc::UPDATE_CONSUMER_OFFSET,
            rc::QUERY_CONSUMER_OFFSET,
        ],
        handler(&broker, consumer_manage::process),
        Some(50_000),
    );
    t.register(
        &[
            rc::GET_MAX_OFFSET,
            rc::GET_MIN_OFFSET,
            rc::SEARCH_OFFSET_BY_TIMESTAMP,
            rc::GET_EARLIEST_MSG_STORETIME,
        ],
        handler(&broker, offset_query::process),
        Some(50_000),
    );
    t.register(
        &[rc::CONSUMER_SEND_MSG_BACK],
        handler(&broker, send_back::process),
        Some(10_000),
    );
    t.register(
        &[rc::LOCK_BATCH_MQ, rc::UNLOCK_BATCH_MQ],
        handler(&broker, lock::process),
        Some(10_000),
    );
    t.register(
        &[rc::QUERY_MESSAGE, rc::VIEW_MESSAGE_BY_ID],
        handler(&broker, query::process),
        Some(1_000),
    );
    t.register(
        &[rc::END_TRANSACTION],
        handler(&broker, end_transaction::process),
        Some(100_000),
    );
    t.register(admin::CODES, handler(&broker, admin::process), Some(10_000));
    t.register(
        acl_admin::CODES,
        handler(&broker, acl_admin::process),
        Some(1_000),
    );
    t.register(
        admin_stats::CODES,
        handler(&broker, admin_stats::process),
        Some(10_000),
    );
    t.register(
        admin_store::CODES,
        handler(&broker, admin_store::process),
        Some(10_000),
    );
    t.register(
        admin_query::CODES,
        handler(&broker, admin_query::process),
        Some(1_000),
    );
    t.register(
        admin_client::CODES,
        handler(&broker, admin_client::process),
        Some(1_000),
    );
    t.register(
        consume_queue_query::CODES,
        handler(&broker, consume_queue_query::process),
        Some(1_000),
    );
    t.register(
        producer_info::CODES,
        handler(&broker, producer_info::process),
        Some(1_000),
    );
    t.register(
        admin_lists::CODES,
        handler(&broker, admin_lists::process),
        Some(1_000),
    );
    t.register(
        topic_cleanup::CODES,
        handler(&broker, topic_cleanup::process),
        Some(100),
    );
    t.register(
        consumer_status::CODES,
        handler(&broker, consumer_status::process),
        Some(1_000),
    );
    t
}
