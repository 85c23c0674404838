//! Clients connected to this broker: producers and consumers by group, learned from
//! heartbeats, forgotten on unregister, on connection close, or after the channel expiry time.

pub mod consumer_manager;
pub mod producer_manager;

use std::time::Instant;

use remoting::protocol::language::LanguageCode;
use remoting::Channel;

/// One client connection of a group.
#[derive(Debug, Clone)]
pub struct ClientChannelInfo {
    pub channel: Channel,
    pub client_id: String,
    pub language: LanguageCode,
    pub version: i32,
    pub last_update: Instant,
}
