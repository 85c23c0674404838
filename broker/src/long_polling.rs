//! Long polling (Java `PullRequestHoldService`): a pull that finds nothing new waits on its
//! queue's notifier until the dispatcher reports a new message there or the hold time ends.
//! A waiter registers before it re-reads the queue, so no arrival between the two is missed.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::Notify;

#[derive(Default)]
pub struct LongPolling {
    queues: DashMap<(String, i32), Arc<Notify>>,
}

impl LongPolling {
    /// The notifier of one queue (created on first use).
    pub fn notifier(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
        if let Some(n) = self.queues.get(&(topic.to_string(), queue_id)) {
            return n.clone();
        }
        self.queues
            .entry((topic.to_string(), queue_id))
            .or_default()
            .clone()
    }

    /// Wakes every pull waiting on the queue (called from the store's dispatcher).
    pub fn notify_arrival(&self, topic: &str, queue_id: i32) {
        if let Some(n) = self.queues.get(&(topic.to_string(), queue_id)) {
            n.notify_waiters();
        }
    }
}
