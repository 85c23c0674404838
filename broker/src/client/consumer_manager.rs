//! Consumer groups: which connections belong to each group and what the group subscribes to.
//! Membership changes are reported to the caller, which notifies the group's clients
//! (NOTIFY_CONSUMER_IDS_CHANGED) so they rebalance.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use remoting::protocol::body::SubscriptionData;
use remoting::Channel;

use super::ClientChannelInfo;

#[derive(Debug, Clone)]
pub struct ConsumerGroupInfo {
    pub group: String,
    pub channels: HashMap<u64, ClientChannelInfo>,
    pub subscriptions: HashMap<String, SubscriptionData>,
    pub consume_type: String,
    pub message_model: String,
    pub consume_from_where: String,
}

impl ConsumerGroupInfo {
    pub fn client_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .channels
            .values()
            .map(|c| c.client_id.clone())
            .collect();
        ids.sort();
        ids
    }
}

/// What a consumer registers with: its group's settings and subscriptions.
pub struct ConsumerRegistration<'a> {
    pub group: &'a str,
    pub client: ClientChannelInfo,
    pub consume_type: &'a str,
    pub message_model: &'a str,
    pub consume_from_where: &'a str,
    pub subscriptions: Vec<SubscriptionData>,
}

#[derive(Default)]
pub struct ConsumerManager {
    groups: RwLock<HashMap<String, ConsumerGroupInfo>>,
}

impl ConsumerManager {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ConsumerGroupInfo>> {
        self.groups.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ConsumerGroupInfo>> {
        self.groups.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers or refreshes a consumer; true if the group's members or subscriptions changed.
    pub fn register(&self, r: ConsumerRegistration<'_>) -> bool {
        let mut groups = self.write();
        let info = groups
            .entry(r.group.to_string())
            .or_insert_with(|| ConsumerGroupInfo {
                group: r.group.to_string(),
                channels: HashMap::new(),
                subscriptions: HashMap::new(),
                consume_type: String::new(),
                message_model: String::new(),
                consume_from_where: String::new(),
            });
        info.consume_type = r.consume_type.to_string();
        info.message_model = r.message_model.to_string();
        info.consume_from_where = r.consume_from_where.to_string();
        let id = r.client.channel.id();
        let new_channel = match info.channels.get_mut(&id) {
            Some(existing) => {
                existing.last_update = Instant::now();
                existing.client_id != r.client.client_id && {
                    existing.client_id = r.client.client_id.clone();
                    true
                }
            }
            None => {
                tracing::info!(group = r.group, client = %r.client.client_id, peer = %r.client.channel.peer_addr(), "new consumer connected");
                info.channels.insert(id, r.client);
                true
            }
        };
        let mut subs_changed = false;
        let mut new_subs = HashMap::new();
        for sub in r.subscriptions {
            match info.subscriptions.get(&sub.topic) {
                Some(old)
                    if old.sub_version >= sub.sub_version && old.sub_string == sub.sub_string =>
                {
                    new_subs.insert(sub.topic.clone(), old.clone());
                }
                _ => {
                    subs_changed = true;
                    new_subs.insert(sub.topic.clone(), sub);
                }
            }
        }
        if new_subs.len() != info.subscriptions.len() {
            subs_changed = true;
        }
        info.subscriptions = new_subs;
        new_channel || subs_changed
    }

    /// Removes one connection from a group; true if it was a member.
    pub fn unregister(&self, group: &str, channel: &Channel) -> bool {
        let mut groups = self.write();
        let Some(info) = groups.get_mut(group) else {
            return false;
        };
        let removed = info.channels.remove(&channel.id()).is_some();
        if info.channels.is_empty() {
            groups.remove(group);
        }
        removed
    }

    /// Removes a closed connection from every group; returns the groups it left.
    pub fn on_channel_close(&self, channel: &Channel) -> Vec<String> {
        let mut groups = self.write();
        let mut changed = Vec::new();
        for info in groups.values_mut() {
            if info.channels.remove(&channel.id()).is_some() {
                changed.push(info.group.clone());
            }
        }
        groups.retain(|_, i| !i.channels.is_empty());
        changed
    }

    /// Drops connections silent for longer than `timeout`; returns (group, channel) pairs.
    pub fn scan_expired(&self, timeout: Duration) -> Vec<(String, Channel)> {
        let mut groups = self.write();
        let now = Instant::now();
        let mut out = Vec::new();
        for info in groups.values_mut() {
            info.channels.retain(|_, c| {
                let keep = now.duration_since(c.last_update) <= timeout;
                if !keep {
                    tracing::warn!(group = %info.group, client = %c.client_id, "consumer channel expired");
                    out.push((info.group.clone(), c.channel.clone()));
                }
                keep
            });
        }
        groups.retain(|_, i| !i.channels.is_empty());
        out
    }

    pub fn group(&self, group: &str) -> Option<ConsumerGroupInfo> {
        self.read().get(group).cloned()
    }

    pub fn subscription(&self, group: &str, topic: &str) -> Option<SubscriptionData> {
        self.read()
            .get(group)
            .and_then(|g| g.subscriptions.get(topic).cloned())
    }

    pub fn channels(&self, group: &str) -> Vec<ClientChannelInfo> {
        self.read()
            .get(group)
            .map(|g| g.channels.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn groups(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }
}
