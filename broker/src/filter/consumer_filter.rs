//! The broker side of SQL92 filtering (Java `ConsumerFilterManager`, `ExpressionMessageFilter`,
//! the SQL92 branches of `PullMessageProcessor` and `ClientManageProcessor.checkClientConfig`):
//! one compiled expression per consumer group and topic, recompiled only when the subscription's
//! expression changes; the pull filter that evaluates it on each stored record's properties; and
//! the CHECK_CLIENT_CONFIG answer that makes a Java consumer with a bad selector fail at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use remoting::protocol::body::SubscriptionData;
use remoting::{response_code, RemotingCommand};
use serde::Deserialize;
use store::message::record::decode_message;
use store::result::MessageFilter;

use super::{is_tag_type, FilterError, SqlExpression, StoredProperties};
use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

/// Most (group, topic) pairs whose compiled expression is kept; past it the cache starts over.
pub const MAX_CACHED_FILTERS: usize = 10_000;

struct Cached {
    expression_type: String,
    expression: String,
    sub_version: i64,
    compiled: Result<Arc<SqlExpression>, FilterError>,
}

/// Compiled SQL92 subscriptions by consumer group and topic (Java `ConsumerFilterManager`
/// without the bloom filter). An expression is compiled once per group, topic and version of
/// the subscription; a failed compilation is remembered too.
#[derive(Default)]
pub struct FilterCache {
    by_group: Mutex<HashMap<String, HashMap<String, Cached>>>,
}

impl FilterCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, Cached>>> {
        self.by_group.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The compiled form of `sub` for `group`, compiling it when the group's subscription to
    /// the topic is new or changed.
    pub fn get_or_compile(
        &self,
        group: &str,
        sub: &SubscriptionData,
    ) -> Result<Arc<SqlExpression>, FilterError> {
        {
            let map = self.lock();
            if let Some(c) = map.get(group).and_then(|t| t.get(&sub.topic)) {
                if c.expression == sub.sub_string
                    && c.expression_type == sub.expression_type
                    && c.sub_version == sub.sub_version
                {
                    return c.compiled.clone();
                }
            }
        }
        let compiled =
            SqlExpression::compile_typed(&sub.expression_type, &sub.sub_string).map(Arc::new);
        if let Err(e) = &compiled {
            tracing::warn!(group, topic = %sub.topic, expression = %sub.sub_string, error = %e,
                "consumer filter expression does not compile");
        }
        let mut map = self.lock();
        let total: usize = map.values().map(HashMap::len).sum();
        if total >= MAX_CACHED_FILTERS {
            map.clear();
        }
        map.entry(group.to_string()).or_default().insert(
            sub.topic.clone(),
            Cached {
                expression_type: sub.expression_type.clone(),
                expression: sub.sub_string.clone(),
                sub_version: sub.sub_version,
                compiled: compiled.clone(),
            },
        );
        compiled
    }

    /// Forgets a group's expressions (the group has no consumer left).
    pub fn remove_group(&self, group: &str) {
        self.lock().remove(group);
    }

    /// Number of (group, topic) entries held.
    pub fn len(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pull filter of an SQL92 subscription: every ConsumeQueue unit passes (no bloom filter), the
/// decision is made on the stored record's properties.
pub struct SqlMessageFilter {
    expr: Arc<SqlExpression>,
}

impl SqlMessageFilter {
    pub fn new(expr: Arc<SqlExpression>) -> Self {
        SqlMessageFilter { expr }
    }
}

impl MessageFilter for SqlMessageFilter {
    fn matches_consume_queue(&self, _tags_code: i64) -> bool {
        true
    }

    fn matches_commit_log(&self, record: &[u8]) -> bool {
        match decode_message(record, false) {
            Ok(m) => self.expr.matches(&StoredProperties(m.properties)),
            Err(_) => false,
        }
    }
}

/// The filter of a pull whose subscription is not a tag expression, with the Java broker's
/// refusals: `from_request` (the pull carries its own expression) refuses an expression that
/// does not compile with SUBSCRIPTION_PARSE_FAILED; a registered (heartbeat) subscription that
/// does not compile is FILTER_DATA_NOT_EXIST; with `enablePropertyFilter=false` the answer is
/// SYSTEM_ERROR "The broker does not support consumer to filter message by SQL92" (checked
/// first for a request's own expression, after the filter data for a registered one, as Java).
pub fn pull_filter(
    broker: &Broker,
    group: &str,
    sub: &SubscriptionData,
    from_request: bool,
) -> BrokerResult<SqlMessageFilter> {
    let enabled = broker.live.enable_property_filter();
    let disabled = || BrokerError::PropertyFilterDisabled(sub.expression_type.clone());
    if from_request && !enabled {
        return Err(disabled());
    }
    let compiled = broker.filters.get_or_compile(group, sub).map_err(|_| {
        if from_request {
            BrokerError::SubscriptionParseFailed
        } else {
            BrokerError::FilterDataNotExist
        }
    })?;
    if !enabled {
        return Err(disabled());
    }
    Ok(SqlMessageFilter::new(compiled))
}

/// Body of CHECK_CLIENT_CONFIG (Java `CheckClientRequestBody`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckClientRequestBody {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    subscription_data: Option<SubscriptionData>,
}

/// CHECK_CLIENT_CONFIG (46): SUCCESS for a tag subscription or a selector that compiles,
/// SUBSCRIPTION_PARSE_FAILED with the compiler's message otherwise, SYSTEM_ERROR when
/// `enablePropertyFilter` is off. The Java consumer sends it at start for every non-tag
/// subscription and fails to start on anything but SUCCESS.
pub fn check_client_config(
    broker: &Broker,
    req: &RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let body = req.body.to_bytes();
    let parsed: CheckClientRequestBody =
        serde_json::from_slice(&body).map_err(|e| BrokerError::Body(e.to_string()))?;
    if let Some(sub) = parsed.subscription_data {
        if !is_tag_type(&sub.expression_type) {
            if !broker.live.enable_property_filter() {
                return Err(BrokerError::PropertyFilterDisabled(sub.expression_type));
            }
            if let Err(e) = SqlExpression::compile_typed(&sub.expression_type, &sub.sub_string) {
                tracing::warn!(
                    client = parsed.client_id.as_deref().unwrap_or(""),
                    group = parsed.group.as_deref().unwrap_or(""),
                    expression = %sub.sub_string,
                    error = %e,
                    "client filter expression does not compile"
                );
                return Err(BrokerError::FilterInvalid(e));
            }
        }
    }
    Ok(Some(RemotingCommand::response_to(
        req,
        response_code::SUCCESS,
        None,
    )))
}
