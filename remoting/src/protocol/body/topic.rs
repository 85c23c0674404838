//! `TopicConfig` as brokers register and persist it, and `TopicList` as the nameserver and
//! broker answer topic listings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Permission bits of a topic or a broker (`PermName`).
pub mod perm {
    pub const PRIORITY: i32 = 8;
    pub const READ: i32 = 4;
    pub const WRITE: i32 = 2;
    pub const INHERIT: i32 = 1;

    pub fn is_readable(perm: i32) -> bool {
        perm & READ != 0
    }
    pub fn is_writeable(perm: i32) -> bool {
        perm & WRITE != 0
    }
    pub fn is_inherited(perm: i32) -> bool {
        perm & INHERIT != 0
    }
    /// Java's `PermName.perm2String`: `RWX` style with `-` for a missing bit.
    pub fn to_string(perm: i32) -> String {
        let mut s = String::with_capacity(3);
        s.push(if is_readable(perm) { 'R' } else { '-' });
        s.push(if is_writeable(perm) { 'W' } else { '-' });
        s.push(if is_inherited(perm) { 'X' } else { '-' });
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    /// 5.x topic attributes (e.g. `message.type`); absent in 4.x.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub order: bool,
    #[serde(default = "default_perm")]
    pub perm: i32,
    #[serde(default = "default_queue_nums")]
    pub read_queue_nums: i32,
    #[serde(default = "default_filter_type")]
    pub topic_filter_type: String,
    pub topic_name: String,
    #[serde(default)]
    pub topic_sys_flag: i32,
    #[serde(default = "default_queue_nums")]
    pub write_queue_nums: i32,
}

fn default_perm() -> i32 {
    perm::READ | perm::WRITE
}
fn default_queue_nums() -> i32 {
    16
}
fn default_filter_type() -> String {
    "SINGLE_TAG".to_string()
}

impl TopicConfig {
    /// A topic with Java's defaults for the given queue count (perm RW, SINGLE_TAG).
    pub fn new(name: impl Into<String>, queue_nums: i32) -> Self {
        Self {
            attributes: BTreeMap::new(),
            order: false,
            perm: default_perm(),
            read_queue_nums: queue_nums,
            topic_filter_type: default_filter_type(),
            topic_name: name.into(),
            topic_sys_flag: 0,
            write_queue_nums: queue_nums,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    #[serde(default)]
    pub topic_list: Vec<String>,
}
