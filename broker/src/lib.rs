//! The broker: receives messages from producers into the store, serves them to consumers
//! (with long polling), keeps consumer offsets, client and topic/group configuration, and
//! registers itself with the nameservers — answering the Java remoting protocol.
//!
//! Layout: `config` (Java keys), `broker` (runtime, start/stop), `processor` (one module per
//! request family), `topic_config`, `subscription_group`, `consumer_offset` (the persisted
//! JSON configs), `client` (producer/consumer connections), `long_polling`,
//! `namesrv_registration`, `persist`, `error` (the single error -> response code mapping),
//! `schedule` (delay levels), `timer` (timer messages with a deliver time), `transaction` (half messages and their checks) and `filter`
//! (SQL92 property filtering), `acl` (ACL 1.0: plain_acl.yml accounts, request signatures and
//! permissions, checked in front of the processors) and `security` (wiring ACL and TLS into
//! the servers and the nameserver client).

pub mod acl;
pub mod broker;
pub mod client;
pub mod config;
pub mod config_java;
pub mod consumer_offset;
pub mod error;
pub mod filter;
pub mod live_settings;
pub mod long_polling;
pub mod metrics;
pub mod namesrv_registration;
pub mod persist;
pub mod processor;
pub mod rebalance_lock;
pub mod schedule;
pub mod security;
pub mod stats;
pub mod stats_windows;
pub mod store_stats;
pub mod subscription_group;
pub mod timer;
pub mod topic_attributes;
pub mod topic_config;
pub mod transaction;

pub use broker::{start, start_with_fs, Broker, BrokerHandle};
pub use config::BrokerConfig;
