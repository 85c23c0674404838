//! The route table (Java `RouteInfoManager`): which broker names serve which topics, the
//! addresses of each broker name, the broker names of each cluster, and the liveness of each
//! registered broker address. One lock guards all tables so every answer is consistent.
//!
//! Invariants: queue data of a topic come from a broker name's master (id 0) only; a broker name
//! with no address left has no queue data; a topic with no queue data left has no route.

mod tables;

pub use tables::{BrokerLiveInfo, RegisterResult};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use remoting::protocol::body::{
    perm, BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfigSerializeWrapper, TopicList,
    TopicRouteData,
};
use remoting::Channel;
use tables::{AddrKey, Tables};

/// Java's `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`.
pub const DEFAULT_BROKER_EXPIRED: Duration = Duration::from_secs(120);

const TOPIC_SYS_FLAG_UNIT: i32 = 1;
const TOPIC_SYS_FLAG_UNIT_SUB: i32 = 2;

/// What a broker sends when it registers.
pub struct Registration<'a> {
    pub cluster_name: &'a str,
    pub broker_addr: &'a str,
    pub broker_name: &'a str,
    pub broker_id: i64,
    pub ha_server_addr: &'a str,
    pub zone_name: Option<&'a str>,
    pub heartbeat_timeout: Option<Duration>,
    pub enable_acting_master: Option<bool>,
    pub wrapper: TopicConfigSerializeWrapper,
    pub filter_server_list: Vec<String>,
    pub channel: Option<Channel>,
}

#[derive(Default)]
pub struct RouteInfoManager {
    tables: RwLock<Tables>,
}

impl RouteInfoManager {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers (or refreshes) a broker address and, from a master, its topics.
    /// `None` mirrors Java's refusal of a single-topic registration before the first full one.
    pub fn register_broker(&self, r: Registration<'_>) -> Option<RegisterResult> {
        let mut t = self.write();
        t.register_broker(r)
    }

    pub fn unregister_broker(&self, cluster: &str, broker_addr: &str, broker_name: &str) {
        let mut t = self.write();
        t.unregister(cluster, broker_addr, broker_name);
    }

    /// Refreshes the liveness of a registered broker address.
    pub fn touch(&self, cluster: &str, broker_addr: &str) {
        let mut t = self.write();
        if let Some(live) = t.live.get_mut(&AddrKey::new(cluster, broker_addr)) {
            live.last_update = Instant::now();
        }
    }

    /// The data version the broker address last registered with.
    pub fn data_version(&self, cluster: &str, broker_addr: &str) -> Option<DataVersion> {
        self.read()
            .live
            .get(&AddrKey::new(cluster, broker_addr))
            .map(|l| l.data_version.clone())
    }

    /// Removes every broker address whose heartbeat is older than its timeout; returns them.
    pub fn scan_not_active(&self) -> Vec<(String, String)> {
        let now = Instant::now();
        let mut t = self.write();
        let expired: Vec<(AddrKey, String, Option<Channel>)> = t
            .live
            .iter()
            .filter(|(_, l)| now.duration_since(l.last_update) > l.timeout)
            .map(|(k, _)| {
                let name = t.broker_name_of(&k.addr).unwrap_or_default();
                (k.clone(), name, None)
            })
            .collect();
        let mut out = Vec::new();
        for (key, name, _) in expired {
            if let Some(live) = t.live.get(&key) {
                if let Some(ch) = &live.channel {
                    ch.close();
                }
            }
            tracing::warn!(cluster = %key.cluster, addr = %key.addr, "broker expired: no heartbeat within its timeout");
            t.unregister(&key.cluster, &key.addr, &name);
            out.push((key.cluster, key.addr));
        }
        out
    }

    /// Removes every broker address registered over `channel` (its connection closed).
    pub fn on_channel_destroy(&self, channel: &Channel) {
        let mut t = self.write();
        let gone: Vec<AddrKey> = t
            .live
            .iter()
            .filter(|(_, l)| l.channel.as_ref() == Some(channel))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            let name = t.broker_name_of(&key.addr).unwrap_or_default();
            tracing::info!(cluster = %key.cluster, addr = %key.addr, "broker channel closed; unregistering");
            t.unregister(&key.cluster, &key.addr, &name);
        }
    }

    /// The route of `topic`, or `None` if no live broker serves it.
    pub fn pickup_topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let t = self.read();
        let queues = t.topic_queues.get(topic)?;
        let mut route = TopicRouteData {
            queue_datas: queues.values().cloned().collect(),
            ..Default::default()
        };
        for broker_name in queues.keys() {
            let Some(bd) = t.broker_addrs.get(broker_name) else {
                continue;
            };
            if !t.filter_servers.is_empty() {
                for addr in bd.broker_addrs.values() {
                    let key = AddrKey::new(&bd.cluster, addr);
                    if let Some(list) = t.filter_servers.get(&key) {
                        route.filter_server_table.insert(addr.clone(), list.clone());
                    }
                }
            }
            route.broker_datas.push(bd.clone());
        }
        if route.broker_datas.is_empty() || route.queue_datas.is_empty() {
            return None;
        }
        Some(route)
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        let t = self.read();
        ClusterInfo {
            broker_addr_table: t.broker_addrs.clone(),
            cluster_addr_table: t.cluster_addrs.clone(),
        }
    }

    pub fn broker_member_addrs(&self, broker_name: &str) -> BTreeMap<i64, String> {
        self.read()
            .broker_addrs
            .get(broker_name)
            .map(|b| b.broker_addrs.clone())
            .unwrap_or_default()
    }

    /// Clears PERM_WRITE on every topic of `broker_name`; returns how many topics it touched.
    pub fn wipe_write_perm(&self, broker_name: &str) -> i32 {
        self.operate_write_perm(broker_name, |p| p & !perm::WRITE)
    }

    /// Sets the perm of every topic of `broker_name` to read+write, as Java does.
    pub fn add_write_perm(&self, broker_name: &str) -> i32 {
        self.operate_write_perm(broker_name, |_| perm::READ | perm::WRITE)
    }

    fn operate_write_perm(&self, broker_name: &str, f: impl Fn(i32) -> i32) -> i32 {
        let mut t = self.write();
        let mut n = 0;
        for queues in t.topic_queues.values_mut() {
            if let Some(qd) = queues.get_mut(broker_name) {
                qd.perm = f(qd.perm);
                n += 1;
            }
        }
        n
    }

    pub fn all_topics(&self) -> TopicList {
        TopicList {
            broker_addr: None,
            topic_list: self.read().topic_queues.keys().cloned().collect(),
        }
    }

    /// Deletes a topic's route everywhere, or only for the broker names of `cluster`.
    pub fn delete_topic(&self, topic: &str, cluster: Option<&str>) {
        let mut t = self.write();
        match cluster.filter(|c| !c.is_empty()) {
            None => {
                t.topic_queues.remove(topic);
            }
            Some(cluster) => {
                let Some(names) = t.cluster_addrs.get(cluster).cloned() else {
                    return;
                };
                if let Some(queues) = t.topic_queues.get_mut(topic) {
                    for name in &names {
                        queues.remove(name);
                    }
                    if queues.is_empty() {
                        t.topic_queues.remove(topic);
                    }
                }
            }
        }
        tracing::info!(topic, ?cluster, "deleteTopic");
    }

    /// Adds queue data of known broker names to a topic (REGISTER_TOPIC_IN_NAMESRV).
    pub fn register_topic(&self, topic: &str, queue_datas: Vec<QueueData>) {
        if queue_datas.is_empty() {
            return;
        }
        let mut t = self.write();
        if queue_datas
            .iter()
            .any(|q| !t.broker_addrs.contains_key(&q.broker_name))
        {
            return;
        }
        let entry = t.topic_queues.entry(topic.to_string()).or_default();
        for qd in queue_datas {
            entry.insert(qd.broker_name.clone(), qd);
        }
    }

    /// Cluster names, broker names, and one broker address (GET_SYSTEM_TOPIC_LIST_FROM_NS).
    pub fn system_topics(&self) -> TopicList {
        let t = self.read();
        let mut list = BTreeSet::new();
        for (cluster, names) in &t.cluster_addrs {
            list.insert(cluster.clone());
            list.extend(names.iter().cloned());
        }
        let broker_addr = t
            .broker_addrs
            .values()
            .find_map(|b| b.broker_addrs.values().next().cloned());
        TopicList {
            broker_addr,
            topic_list: list.into_iter().collect(),
        }
    }

    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let t = self.read();
        let mut list = BTreeSet::new();
        if let Some(names) = t.cluster_addrs.get(cluster) {
            for (topic, queues) in &t.topic_queues {
                if names.iter().any(|n| queues.contains_key(n)) {
                    list.insert(topic.clone());
                }
            }
        }
        TopicList {
            broker_addr: None,
            topic_list: list.into_iter().collect(),
        }
    }

    /// Topics whose first queue data's sys flag passes `pred` (the unit-topic listings).
    pub fn topics_by_sys_flag(&self, pred: impl Fn(i32) -> bool) -> TopicList {
        let t = self.read();
        TopicList {
            broker_addr: None,
            topic_list: t
                .topic_queues
                .iter()
                .filter(|(_, q)| q.values().next().is_some_and(|qd| pred(qd.topic_sys_flag)))
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }

    pub fn unit_topics(&self) -> TopicList {
        self.topics_by_sys_flag(|f| f & TOPIC_SYS_FLAG_UNIT != 0)
    }

    pub fn has_unit_sub_topics(&self) -> TopicList {
        self.topics_by_sys_flag(|f| f & TOPIC_SYS_FLAG_UNIT_SUB != 0)
    }

    pub fn has_unit_sub_un_unit_topics(&self) -> TopicList {
        self.topics_by_sys_flag(|f| {
            f & TOPIC_SYS_FLAG_UNIT == 0 && f & TOPIC_SYS_FLAG_UNIT_SUB != 0
        })
    }

    /// The broker data of a broker name, if registered.
    pub fn broker_data(&self, broker_name: &str) -> Option<BrokerData> {
        self.read().broker_addrs.get(broker_name).cloned()
    }
}

#[cfg(test)]
mod tests;
