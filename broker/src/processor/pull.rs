//! PULL_MESSAGE and LITE_PULL_MESSAGE: checks as Java's PullMessageProcessor (group, topic,
//! queue, subscription), tag filtering by hash code or SQL92 filtering (`crate::filter`), the
//! store status mapped to
//! SUCCESS / PULL_NOT_FOUND / PULL_RETRY_IMMEDIATELY / PULL_OFFSET_MOVED, long polling on
//! PULL_NOT_FOUND, and the consumer's commit offset taken from the request. The answer's body
//! is the stored records themselves, sent from the mapped files.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use remoting::protocol::body::{perm, SubscriptionData};
use remoting::protocol::command::Body;
use remoting::protocol::header::broker::{PullMessageRequestHeader, PullMessageResponseHeader};
use remoting::{response_code, Channel, RemotingCommand};
use store::result::{GetMessageResult, GetMessageStatus, MessageFilter};

use super::client_manage::normalize_subscription;
use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult, FAQ_SUFFIX};

const FLAG_COMMIT_OFFSET: i32 = 1;
const FLAG_SUSPEND: i32 = 2;
const FLAG_SUBSCRIPTION: i32 = 4;

/// Tag filter: everything for `*`, otherwise the subscription's tag hash codes.
struct TagFilter {
    all: bool,
    codes: HashSet<i32>,
}

impl TagFilter {
    fn new(sub: &SubscriptionData) -> Self {
        let all = sub.sub_string.trim().is_empty() || sub.sub_string.trim() == "*";
        Self {
            all,
            codes: sub.code_set.iter().copied().collect(),
        }
    }
}

impl MessageFilter for TagFilter {
    fn matches_consume_queue(&self, tags_code: i64) -> bool {
        self.all || self.codes.contains(&(tags_code as i32))
    }
}

/// Builds a subscription from a pull's own expression (Java `FilterAPI.build`).
fn subscription_from_expression(
    topic: &str,
    expr: &str,
    expression_type: Option<&str>,
) -> SubscriptionData {
    let expr = expr.trim();
    let mut sub = SubscriptionData {
        topic: topic.to_string(),
        sub_string: if expr.is_empty() {
            "*".to_string()
        } else {
            expr.to_string()
        },
        expression_type: expression_type.unwrap_or("TAG").to_string(),
        ..Default::default()
    };
    if sub.sub_string != "*" {
        sub.tags_set = sub
            .sub_string
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect();
    }
    normalize_subscription(sub)
}

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let h: PullMessageRequestHeader = req.decode_header()?;
    let s = &broker.settings;
    if !perm::is_readable(broker.permission()) {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("the broker[{}] pulling message is forbidden", s.broker_ip1),
        ));
    }
    let Some(group_cfg) = broker.groups.find_or_create(&h.consumer_group) else {
        return Err(BrokerError::refused(
            response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!(
                "subscription group [{}] does not exist, {FAQ_SUFFIX}",
                h.consumer_group
            ),
        ));
    };
    if !group_cfg.consume_enable {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        ));
    }
    let Some(tc) = broker.topics.select(&h.topic) else {
        return Err(BrokerError::refused(
            response_code::TOPIC_NOT_EXIST,
            format!(
                "topic[{}] not exist, apply first please!{FAQ_SUFFIX}",
                h.topic
            ),
        ));
    };
    if !perm::is_readable(tc.perm) {
        return Err(BrokerError::refused(
            response_code::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= tc.read_queue_nums {
        return Err(BrokerError::refused(
            response_code::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id,
                h.topic,
                tc.read_queue_nums,
                channel.peer_addr()
            ),
        ));
    }
    let sub = if h.sys_flag & FLAG_SUBSCRIPTION != 0 {
        subscription_from_expression(
            &h.topic,
            h.subscription.as_deref().unwrap_or("*"),
            h.expression_type.as_deref(),
        )
    } else {
        let Some(group) = broker.consumers.group(&h.consumer_group) else {
            return Err(BrokerError::refused(
                response_code::SUBSCRIPTION_NOT_EXIST,
                format!("the consumer's group info not exist{FAQ_SUFFIX}"),
            ));
        };
        if !group_cfg.consume_broadcast_enable && group.message_model == "BROADCASTING" {
            return Err(BrokerError::refused(
                response_code::NO_PERMISSION,
                format!(
                    "the consumer group[{}] can not consume by broadcast way",
                    h.consumer_group
                ),
            ));
        }
        let Some(sub) = group.subscriptions.get(&h.topic).cloned() else {
            return Err(BrokerError::refused(
                response_code::SUBSCRIPTION_NOT_EXIST,
                format!("the consumer's subscription not exist{FAQ_SUFFIX}"),
            ));
        };
        if sub.sub_version < h.sub_version {
            return Err(BrokerError::refused(
                response_code::SUBSCRIPTION_NOT_LATEST,
                "the consumer's subscription not latest",
            ));
        }
        sub
    };
    // SQL92 subscriptions: see `crate::filter::pull_filter` for Java's refusals.
    let filter: Box<dyn MessageFilter> = if crate::filter::is_tag_type(&sub.expression_type) {
        Box::new(TagFilter::new(&sub))
    } else {
        let from_request = h.sys_flag & FLAG_SUBSCRIPTION != 0;
        Box::new(crate::filter::pull_filter(
            &broker,
            &h.consumer_group,
            &sub,
            from_request,
        )?)
    };

    if let Some(reset) = broker
        .offsets
        .take_reset(&h.consumer_group, &h.topic, h.queue_id)
    {
        let result = GetMessageResult {
            status: GetMessageStatus::OffsetTooSmall,
            next_begin_offset: reset,
            min_offset: broker.store.min_offset_in_queue(&h.topic, h.queue_id),
            max_offset: broker.store.max_offset_in_queue(&h.topic, h.queue_id),
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            buffer_total_size: 0,
            suggest_pulling_from_slave: false,
        };
        let mut r = answer(&req, result, response_code::PULL_OFFSET_MOVED);
        r.remark = Some("OFFSET_RESET".into());
        return Ok(Some(r));
    }
    if h.sys_flag & FLAG_COMMIT_OFFSET != 0 {
        broker
            .offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }

    let max_nums = h
        .max_msg_nums
        .clamp(1, broker.live.max_transfer_count().max(1));
    let max_bytes = h
        .max_msg_bytes
        .filter(|b| *b > 0)
        .unwrap_or(broker.live.max_transfer_bytes())
        .min(broker.live.max_transfer_bytes().max(1));
    let can_suspend = h.sys_flag & FLAG_SUSPEND != 0;
    let hold = if broker.live.long_polling_enable() {
        Duration::from_millis(h.suspend_timeout_millis.max(0) as u64)
    } else {
        Duration::from_millis(broker.live.short_polling_time_ms())
    };
    let deadline = tokio::time::Instant::now() + hold;
    let notify = broker.long_polling.notifier(&h.topic, h.queue_id);
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let read_started = std::time::Instant::now();
        let result = broker.store.get_message(
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            h.queue_offset,
            max_nums,
            max_bytes,
            Some(filter.as_ref()),
        );
        let code = status_code(result.status, h.queue_offset);
        broker
            .stats
            .store
            .record_get(!result.queue_offsets.is_empty(), read_started.elapsed());
        if code != response_code::PULL_NOT_FOUND
            || !can_suspend
            || tokio::time::Instant::now() >= deadline
        {
            if code == response_code::SUCCESS {
                broker.stats.record_get(
                    &h.consumer_group,
                    &h.topic,
                    result.queue_offsets.len() as u64,
                    result.buffer_total_size as u64,
                );
            }
            return Ok(Some(answer(&req, result, code)));
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = channel.closed() => return Ok(None),
        }
    }
}

/// Java's mapping of a store status to the pull response code.
fn status_code(status: GetMessageStatus, requested: i64) -> i32 {
    match status {
        GetMessageStatus::Found => response_code::SUCCESS,
        GetMessageStatus::MessageWasRemoving | GetMessageStatus::NoMatchedMessage => {
            response_code::PULL_RETRY_IMMEDIATELY
        }
        GetMessageStatus::NoMatchedLogicQueue | GetMessageStatus::NoMessageInQueue => {
            if requested != 0 {
                response_code::PULL_OFFSET_MOVED
            } else {
                response_code::PULL_NOT_FOUND
            }
        }
        GetMessageStatus::OffsetFoundNull | GetMessageStatus::OffsetOverflowOne => {
            response_code::PULL_NOT_FOUND
        }
        GetMessageStatus::OffsetOverflowBadly | GetMessageStatus::OffsetTooSmall => {
            response_code::PULL_OFFSET_MOVED
        }
    }
}

fn answer(req: &RemotingCommand, result: GetMessageResult, code: i32) -> RemotingCommand {
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: result.next_begin_offset,
        min_offset: result.min_offset,
        max_offset: result.max_offset,
        topic_sys_flag: None,
        group_sys_flag: None,
    };
    let mut resp = RemotingCommand::success_with_header(req, &header);
    resp.code = code;
    resp.remark = Some(result.status.as_str().to_string());
    if code == response_code::SUCCESS {
        resp.body = Body::Parts(result.messages);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expression_builds_java_tag_codes() {
        let sub = subscription_from_expression("T", "TagA || TagB", None);
        assert_eq!(sub.tags_set, vec!["TagA", "TagB"]);
        assert!(sub.code_set.contains(&2598919));
        let f = TagFilter::new(&sub);
        assert!(f.matches_consume_queue(2598919));
        assert!(!f.matches_consume_queue(1));
        assert!(
            TagFilter::new(&subscription_from_expression("T", "*", None)).matches_consume_queue(5)
        );
    }

    #[test]
    fn status_mapping_follows_java() {
        assert_eq!(
            status_code(GetMessageStatus::NoMessageInQueue, 0),
            response_code::PULL_NOT_FOUND
        );
        assert_eq!(
            status_code(GetMessageStatus::NoMessageInQueue, 3),
            response_code::PULL_OFFSET_MOVED
        );
        assert_eq!(
            status_code(GetMessageStatus::OffsetOverflowOne, 3),
            response_code::PULL_NOT_FOUND
        );
        assert_eq!(
            status_code(GetMessageStatus::NoMatchedMessage, 3),
            response_code::PULL_RETRY_IMMEDIATELY
        );
        assert_eq!(
            status_code(GetMessageStatus::OffsetTooSmall, 3),
            response_code::PULL_OFFSET_MOVED
        );
    }
}
