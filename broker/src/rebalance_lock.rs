//! Queue locks for orderly consumption (Java `RebalanceLockManager`): within a consumer group a
//! message queue is owned by at most one client at a time; a lock lasts
//! `rocketmq.broker.rebalance.lockMaxLiveTime` (60 s) unless renewed by the same client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use remoting::protocol::body::MessageQueue;

pub const LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(60);

struct LockEntry {
    client_id: String,
    last_update: Instant,
}

#[derive(Default)]
pub struct RebalanceLockManager {
    groups: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
}

impl RebalanceLockManager {
    /// Locks every queue of `mqs` that is free, expired or already `client_id`'s; returns those.
    pub fn try_lock_batch(
        &self,
        group: &str,
        mqs: &[MessageQueue],
        client_id: &str,
    ) -> Vec<MessageQueue> {
        let now = Instant::now();
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let table = groups.entry(group.to_string()).or_default();
        let mut locked = Vec::new();
        for mq in mqs {
            match table.get_mut(mq) {
                Some(e) if e.client_id == client_id => {
                    e.last_update = now;
                    locked.push(mq.clone());
                }
                Some(e) if now.duration_since(e.last_update) > LOCK_MAX_LIVE_TIME => {
                    tracing::warn!(group, queue = ?mq, old = %e.client_id, new = client_id, "queue lock expired; taken over");
                    e.client_id = client_id.to_string();
                    e.last_update = now;
                    locked.push(mq.clone());
                }
                Some(_) => {}
                None => {
                    table.insert(
                        mq.clone(),
                        LockEntry {
                            client_id: client_id.to_string(),
                            last_update: now,
                        },
                    );
                    locked.push(mq.clone());
                }
            }
        }
        locked
    }

    /// Releases the queues of `mqs` that `client_id` holds.
    pub fn unlock_batch(&self, group: &str, mqs: &[MessageQueue], client_id: &str) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(table) = groups.get_mut(group) {
            for mq in mqs {
                if table.get(mq).is_some_and(|e| e.client_id == client_id) {
                    table.remove(mq);
                }
            }
        }
    }

    /// Whether every lock of the group has expired (no client consumes it orderly right now).
    pub fn is_lock_all_expired(&self, group: &str) -> bool {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups.get(group).is_none_or(|t| {
            t.values()
                .all(|e| e.last_update.elapsed() > LOCK_MAX_LIVE_TIME)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".into(),
            queue_id: q,
            topic: "T".into(),
        }
    }

    #[test]
    fn a_queue_has_one_owner_per_group() {
        let m = RebalanceLockManager::default();
        assert_eq!(m.try_lock_batch("g", &[mq(0), mq(1)], "c1").len(), 2);
        assert_eq!(m.try_lock_batch("g", &[mq(0), mq(2)], "c2"), vec![mq(2)]);
        assert_eq!(
            m.try_lock_batch("other", &[mq(0)], "c2").len(),
            1,
            "groups are independent"
        );
        m.unlock_batch("g", &[mq(0)], "c2");
        assert!(
            m.try_lock_batch("g", &[mq(0)], "c2").is_empty(),
            "c2 cannot unlock c1's queue"
        );
        m.unlock_batch("g", &[mq(0)], "c1");
        assert_eq!(m.try_lock_batch("g", &[mq(0)], "c2"), vec![mq(0)]);
        assert!(!m.is_lock_all_expired("g"));
    }
}
