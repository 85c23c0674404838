//! Long polling (Java `PullRequestHoldService`): a pull that finds nothing new waits on its
//! queue's notifier until the dispatcher reports a new message there or the hold time ends.
//! A waiter registers before it re-reads the queue, so no arrival between the two is missed.

use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::Notify;

/// Notifiers by topic, then queue id: looked up with a borrowed topic, so neither a pull nor an
/// arrival allocates (only a queue's first waiter does).
#[derive(Default)]
pub struct LongPolling {
    queues: DashMap<String, HashMap<i32, Arc<Notify>>>,
}

impl LongPolling {
    /// The notifier of one queue (created on first use).
    pub fn notifier(&self, topic: &str, queue_id: i32) -> Arc<Notify> {
        if let Some(n) = self
            .queues
            .get(topic)
            .and_then(|q| q.get(&queue_id).cloned())
        {
            return n;
        }
        self.queues
            .entry(topic.to_string())
            .or_default()
            .entry(queue_id)
            .or_default()
            .clone()
    }

    /// Wakes every pull waiting on the queue (called from the store's dispatcher).
    pub fn notify_arrival(&self, topic: &str, queue_id: i32) {
        if let Some(queues) = self.queues.get(topic) {
            if let Some(n) = queues.get(&queue_id) {
                n.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A waiter registered on one queue is woken by an arrival there, not by one on another
    /// queue of the same topic or on the same queue id of another topic.
    #[tokio::test]
    async fn wakes_only_its_queue() {
        let lp = LongPolling::default();
        let n = lp.notifier("T", 1);
        let woken = n.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        lp.notify_arrival("T", 2);
        lp.notify_arrival("U", 1);
        lp.notify_arrival("absent", 1);
        assert!(futures_now(woken.as_mut()).is_none());
        lp.notify_arrival("T", 1);
        assert!(futures_now(woken.as_mut()).is_some());
        assert!(Arc::ptr_eq(&n, &lp.notifier("T", 1)));
    }

    fn futures_now<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = f;
        match std::pin::Pin::new(&mut f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
