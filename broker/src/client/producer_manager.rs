//! Producer groups: the connections of each producer group, for transaction checks, the
//! producer connection listings and replies pushed to a requester by client id.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use remoting::Channel;

use super::ClientChannelInfo;

#[derive(Default)]
pub struct ProducerManager {
    groups: RwLock<HashMap<String, HashMap<u64, ClientChannelInfo>>>,
}

impl ProducerManager {
    fn write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, HashMap<u64, ClientChannelInfo>>> {
        self.groups.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(&self, group: &str, client: ClientChannelInfo) {
        let mut g = self.write();
        let members = g.entry(group.to_string()).or_default();
        match members.get_mut(&client.channel.id()) {
            Some(existing) => existing.last_update = Instant::now(),
            None => {
                tracing::info!(group, client = %client.client_id, peer = %client.channel.peer_addr(), "new producer connected");
                members.insert(client.channel.id(), client);
            }
        }
    }

    pub fn unregister(&self, group: &str, channel: &Channel) {
        let mut g = self.write();
        if let Some(m) = g.get_mut(group) {
            m.remove(&channel.id());
            if m.is_empty() {
                g.remove(group);
            }
        }
    }

    pub fn on_channel_close(&self, channel: &Channel) {
        let mut g = self.write();
        for m in g.values_mut() {
            m.remove(&channel.id());
        }
        g.retain(|_, m| !m.is_empty());
    }

    pub fn scan_expired(&self, timeout: Duration) {
        let now = Instant::now();
        let mut g = self.write();
        for m in g.values_mut() {
            m.retain(|_, c| now.duration_since(c.last_update) <= timeout);
        }
        g.retain(|_, m| !m.is_empty());
    }

    /// The connection of the producer client `client_id` in any group (Java `findChannel`):
    /// the most recently heard of when it has several open.
    pub fn find_channel(&self, client_id: &str) -> Option<Channel> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flat_map(|m| m.values())
            .filter(|c| c.client_id == client_id && !c.channel.is_closed())
            .max_by_key(|c| c.last_update)
            .map(|c| c.channel.clone())
    }

    /// Every group with its connections (Java `getProducerTable`).
    pub fn table(&self) -> Vec<(String, Vec<ClientChannelInfo>)> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(g, m)| (g.clone(), m.values().cloned().collect()))
            .collect()
    }

    pub fn channels(&self, group: &str) -> Vec<ClientChannelInfo> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(group)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}
