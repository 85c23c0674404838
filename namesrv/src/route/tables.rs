//! The tables behind `RouteInfoManager` and the register/unregister steps that change them
//! (always called with the manager's write lock held).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use remoting::protocol::body::{BrokerData, DataVersion, QueueData, TopicConfig};
use remoting::Channel;

use super::{Registration, DEFAULT_BROKER_EXPIRED};

/// A broker address within its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AddrKey {
    pub cluster: String,
    pub addr: String,
}

impl AddrKey {
    pub fn new(cluster: &str, addr: &str) -> Self {
        Self {
            cluster: cluster.to_string(),
            addr: addr.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BrokerLiveInfo {
    pub last_update: Instant,
    pub timeout: Duration,
    pub data_version: DataVersion,
    pub channel: Option<Channel>,
    pub ha_server_addr: String,
}

/// For a slave: its master's addresses, when the master is registered and alive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterResult {
    pub ha_server_addr: Option<String>,
    pub master_addr: Option<String>,
}

#[derive(Default)]
pub(crate) struct Tables {
    /// topic -> broker name -> queue data
    pub topic_queues: HashMap<String, BTreeMap<String, QueueData>>,
    /// broker name -> addresses by id
    pub broker_addrs: BTreeMap<String, BrokerData>,
    /// cluster -> broker names
    pub cluster_addrs: BTreeMap<String, BTreeSet<String>>,
    pub live: HashMap<AddrKey, BrokerLiveInfo>,
    pub filter_servers: HashMap<AddrKey, Vec<String>>,
}

impl Tables {
    pub fn broker_name_of(&self, addr: &str) -> Option<String> {
        self.broker_addrs
            .values()
            .find(|b| b.broker_addrs.values().any(|a| a == addr))
            .map(|b| b.broker_name.clone())
    }

    fn broker_config_changed(&self, key: &AddrKey, version: &DataVersion) -> bool {
        self.live
            .get(key)
            .is_none_or(|l| &l.data_version != version)
    }

    pub fn register_broker(&mut self, r: Registration<'_>) -> Option<RegisterResult> {
        let key = AddrKey::new(r.cluster_name, r.broker_addr);
        self.cluster_addrs
            .entry(r.cluster_name.to_string())
            .or_default()
            .insert(r.broker_name.to_string());

        let mut register_first = false;
        let bd = self
            .broker_addrs
            .entry(r.broker_name.to_string())
            .or_insert_with(|| {
                register_first = true;
                BrokerData {
                    broker_addrs: BTreeMap::new(),
                    broker_name: r.broker_name.to_string(),
                    cluster: r.cluster_name.to_string(),
                    enable_acting_master: false,
                    zone_name: None,
                }
            });
        let old_version_broker = r.enable_acting_master.is_none();
        bd.enable_acting_master = r.enable_acting_master.unwrap_or(false);
        bd.zone_name = r.zone_name.map(String::from);
        // The same address may hold only one id (a slave switched to master).
        bd.broker_addrs
            .retain(|id, addr| !(addr == r.broker_addr && *id != r.broker_id));

        if !bd.broker_addrs.contains_key(&r.broker_id) && r.wrapper.topic_config_table.len() == 1 {
            tracing::warn!(
                broker = r.broker_name,
                id = r.broker_id,
                "single-topic registration before the broker registered; refused"
            );
            return None;
        }
        let old = bd
            .broker_addrs
            .insert(r.broker_id, r.broker_addr.to_string());
        register_first = register_first || old.as_deref().is_none_or(str::is_empty);
        let is_master = r.broker_id == 0;
        let is_prime_slave = !old_version_broker
            && !is_master
            && bd.broker_addrs.keys().next() == Some(&r.broker_id);
        let acting = bd.enable_acting_master;

        if is_master || is_prime_slave {
            let changed = self.broker_config_changed(&key, &r.wrapper.data_version);
            for tc in r.wrapper.topic_config_table.values() {
                let topic_changed = changed
                    || self
                        .topic_queues
                        .get(&tc.topic_name)
                        .is_none_or(|q| !q.contains_key(r.broker_name));
                if register_first || topic_changed {
                    let mut tc = tc.clone();
                    if is_prime_slave && acting {
                        tc.perm &= !remoting::protocol::body::perm::WRITE;
                    }
                    self.create_or_update_queue_data(r.broker_name, &tc);
                }
            }
        }

        let prev = self.live.insert(
            key.clone(),
            BrokerLiveInfo {
                last_update: Instant::now(),
                timeout: r.heartbeat_timeout.unwrap_or(DEFAULT_BROKER_EXPIRED),
                data_version: r.wrapper.data_version.clone(),
                channel: r.channel,
                ha_server_addr: r.ha_server_addr.to_string(),
            },
        );
        if prev.is_none() {
            tracing::info!(
                cluster = r.cluster_name,
                broker = r.broker_name,
                addr = r.broker_addr,
                id = r.broker_id,
                "new broker registered"
            );
        }
        if r.filter_server_list.is_empty() {
            self.filter_servers.remove(&key);
        } else {
            self.filter_servers.insert(key, r.filter_server_list);
        }

        let mut result = RegisterResult::default();
        if !is_master {
            let master = self
                .broker_addrs
                .get(r.broker_name)
                .and_then(|b| b.broker_addrs.get(&0))
                .cloned();
            if let Some(master_addr) = master {
                if let Some(ml) = self.live.get(&AddrKey::new(r.cluster_name, &master_addr)) {
                    result.ha_server_addr = Some(ml.ha_server_addr.clone());
                    result.master_addr = Some(master_addr);
                }
            }
        }
        Some(result)
    }

    fn create_or_update_queue_data(&mut self, broker_name: &str, tc: &TopicConfig) {
        let qd = QueueData {
            broker_name: broker_name.to_string(),
            perm: tc.perm,
            read_queue_nums: tc.read_queue_nums,
            topic_sys_flag: tc.topic_sys_flag,
            write_queue_nums: tc.write_queue_nums,
        };
        let queues = self.topic_queues.entry(tc.topic_name.clone()).or_default();
        if queues.get(broker_name) != Some(&qd) {
            if queues.contains_key(broker_name) {
                tracing::info!(topic = %tc.topic_name, broker = broker_name, "topic queue data changed");
            }
            queues.insert(broker_name.to_string(), qd);
        }
    }

    pub fn unregister(&mut self, cluster: &str, broker_addr: &str, broker_name: &str) {
        let key = AddrKey::new(cluster, broker_addr);
        let was_live = self.live.remove(&key).is_some();
        self.filter_servers.remove(&key);
        let mut remove_name = false;
        if let Some(bd) = self.broker_addrs.get_mut(broker_name) {
            bd.broker_addrs.retain(|_, a| a != broker_addr);
            if bd.broker_addrs.is_empty() {
                self.broker_addrs.remove(broker_name);
                remove_name = true;
            }
        }
        tracing::info!(
            cluster,
            broker = broker_name,
            addr = broker_addr,
            was_live,
            "broker unregistered"
        );
        if remove_name {
            if let Some(names) = self.cluster_addrs.get_mut(cluster) {
                names.remove(broker_name);
                if names.is_empty() {
                    self.cluster_addrs.remove(cluster);
                }
            }
            self.topic_queues.retain(|_, queues| {
                queues.remove(broker_name);
                !queues.is_empty()
            });
        }
    }
}
