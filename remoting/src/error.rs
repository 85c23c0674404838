//! Errors of the remoting layer: framing, header decoding, and calls to peers.

use std::time::Duration;

/// Why a frame or a header could not be decoded. Any of these closes the connection it came on.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("frame length {len} exceeds the limit {max}")]
    FrameTooLarge { len: usize, max: usize },
    #[error("frame length {0} is too small to hold a header length")]
    FrameTooSmall(usize),
    #[error("header length {header} exceeds the frame body {frame}")]
    HeaderTooLarge { header: usize, frame: usize },
    #[error("unknown header serialization type {0}")]
    UnknownSerializeType(u8),
    #[error("bad JSON header: {0}")]
    Json(#[from] serde_json::Error),
    #[error("bad binary header: {0}")]
    Binary(&'static str),
    #[error("header exceeds limits: {0}")]
    Limit(&'static str),
}

/// Errors of calls made over a channel (client side, or server-initiated requests).
#[derive(Debug, thiserror::Error)]
pub enum RemotingError {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("decode error: {0}")]
    Decode(#[from] DecodeError),
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connect to {addr} timed out")]
    ConnectTimeout { addr: String },
    #[error("request opaque {opaque} to {addr} timed out after {after:?}")]
    Timeout {
        addr: String,
        opaque: i32,
        after: Duration,
    },
    #[error("connection to {0} is closed")]
    ConnectionClosed(String),
    #[error("too many requests in flight to {0}")]
    TooManyRequests(String),
    #[error("bad header field: {0}")]
    Header(#[from] HeaderError),
}

/// A typed header could not be built from a command's ext fields. The remark Java gives for a
/// missing mandatory field is `the custom field <name> is null`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the custom field <{0}> is null")]
    Missing(&'static str),
    #[error("the custom field <{field}> has an invalid value '{value}'")]
    Invalid { field: &'static str, value: String },
}
