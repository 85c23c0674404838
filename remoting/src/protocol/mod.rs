//! Wire types: the command carried by every frame, its two header serializations, the code
//! tables, typed request/response headers and the JSON bodies.

pub mod body;
pub mod command;
pub mod ext_fields;
pub mod header;
pub mod json_header;
pub mod language;
pub mod request_code;
pub mod response_code;
pub mod rocketmq_header;
pub mod version;

/// How a command's header is serialized; the top byte of the frame's header-length word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    #[default]
    Json = 0,
    RocketMq = 1,
}

impl SerializeType {
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Json),
            1 => Some(Self::RocketMq),
            _ => None,
        }
    }
}
