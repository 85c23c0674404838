//! The RocketMQ remoting protocol as the Java and Go clients speak it.
//!
//! Layout: `protocol` holds the wire types (the frame's `RemotingCommand`, both header
//! serializations, request/response codes, typed headers and JSON bodies); `codec` turns bytes
//! into commands with every length checked before allocation; `channel` runs one connection
//! (requests both ways, responses matched by opaque); `server` accepts connections and dispatches
//! requests to processors by code; `client` opens and reuses connections to peers; `tls`
//! sets up TLS sessions on both sides (Java's `tls.*` settings).
//! It is not: broker or nameserver logic, or storage — those crates build on this one.

pub mod channel;
pub mod client;
pub mod codec;
pub mod error;
pub mod metrics;
pub mod processor;
pub mod properties;
pub mod protocol;
pub mod server;
pub mod tls;

pub use channel::Channel;
pub use error::RemotingError;
pub use protocol::command::RemotingCommand;
pub use protocol::{request_code, response_code};
