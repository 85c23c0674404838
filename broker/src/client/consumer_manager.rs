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
        // As Java's ConsumerGroupInfo.updateSubscription: a topic's subscription is replaced only by
        // a newer version (a client raises it after each rebalance), and only a topic added or
        // removed counts as a change: a version bump alone does not make the group rebalance again.
        let mut subs_changed = false;
        let mut new_subs: HashMap<String, SubscriptionData> = HashMap::new();
        for sub in r.subscriptions {
            let old = new_subs
                .remove(&sub.topic)
                .or_else(|| info.subscriptions.remove(&sub.topic));
            match old {
                Some(old) if old.sub_version >= sub.sub_version => {
                    new_subs.insert(sub.topic.clone(), old);
                }
                Some(_) => {
                    new_subs.insert(sub.topic.clone(), sub);
                }
                None => {
                    subs_changed = true;
                    new_subs.insert(sub.topic.clone(), sub);
                }
            }
        }
        // What is left was not in this heartbeat: topics no longer subscribed.
        if !info.subscriptions.is_empty() {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use remoting::channel::{ChannelConfig, InboundHandler};
    use remoting::protocol::language::LanguageCode;
    use remoting::RemotingCommand;
    use tokio_util::sync::CancellationToken;

    use super::*;

    struct Ignore;

    impl InboundHandler for Ignore {
        fn on_request(&self, _channel: &Channel, _request: RemotingCommand) {}
    }

    fn channel() -> Channel {
        let (a, _b) = tokio::io::duplex(64);
        Channel::spawn_io(
            a,
            "127.0.0.1:1".parse().unwrap(),
            ChannelConfig::default(),
            Arc::new(Ignore),
            CancellationToken::new(),
        )
    }

    fn sub(topic: &str, expr: &str, version: i64) -> SubscriptionData {
        SubscriptionData {
            topic: topic.into(),
            sub_string: expr.into(),
            sub_version: version,
            ..Default::default()
        }
    }

    fn heartbeat(m: &ConsumerManager, ch: &Channel, subs: Vec<SubscriptionData>) -> bool {
        m.register(ConsumerRegistration {
            group: "G",
            client: ClientChannelInfo {
                channel: ch.clone(),
                client_id: format!("c{}", ch.id()),
                language: LanguageCode::JAVA,
                version: 0,
                last_update: Instant::now(),
            },
            consume_type: "CONSUME_PASSIVELY",
            message_model: "CLUSTERING",
            consume_from_where: "CONSUME_FROM_LAST_OFFSET",
            subscriptions: subs,
        })
    }

    fn stored(m: &ConsumerManager, topic: &str) -> (String, i64) {
        let s = m.subscription("G", topic).unwrap();
        (s.sub_string, s.sub_version)
    }

    #[tokio::test]
    async fn subscriptions_follow_java_versioning() {
        let m = ConsumerManager::default();
        let (c1, c2) = (channel(), channel());
        assert!(heartbeat(&m, &c1, vec![sub("T", "*", 10)]), "new member");
        assert!(
            !heartbeat(&m, &c1, vec![sub("T", "*", 10)]),
            "same heartbeat again"
        );
        // A rebalance raises the version: kept, but no group change (no NOTIFY_CONSUMER_IDS_CHANGED).
        assert!(!heartbeat(&m, &c1, vec![sub("T", "*", 11)]));
        assert_eq!(stored(&m, "T"), ("*".into(), 11));
        // An older version never replaces a newer one, whatever its expression.
        assert!(heartbeat(&m, &c2, vec![sub("T", "TagA", 5)]), "new member");
        assert_eq!(stored(&m, "T"), ("*".into(), 11));
        assert!(!heartbeat(&m, &c2, vec![sub("T", "TagA", 12)]));
        assert_eq!(stored(&m, "T"), ("TagA".into(), 12));
        assert!(!heartbeat(&m, &c1, vec![sub("T", "*", 11)]));
        assert_eq!(stored(&m, "T"), ("TagA".into(), 12));
        // Topics added or removed are changes.
        assert!(heartbeat(
            &m,
            &c1,
            vec![sub("T", "*", 11), sub("U", "*", 1)]
        ));
        assert_eq!(stored(&m, "U"), ("*".into(), 1));
        assert!(heartbeat(&m, &c1, vec![sub("U", "*", 1)]));
        assert!(m.subscription("G", "T").is_none());
    }
}
