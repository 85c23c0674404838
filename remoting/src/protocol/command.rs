//! `RemotingCommand`: one request or response, the unit every frame carries.
//!
//! Flag bit 0 marks a response, bit 1 a oneway request. A response copies its request's
//! `opaque` and, as 4.9.x servers do, its header serialization (falling back to JSON when the
//! code does not fit the binary header's 16 bits).

use bytes::{Bytes, BytesMut};

use super::ext_fields::ExtFields;
use super::header::CommandHeader;
use super::language::LanguageCode;
use super::version::CURRENT_VERSION;
use super::{json_header, rocketmq_header, SerializeType};
use crate::error::{DecodeError, HeaderError};

pub const FLAG_RESPONSE: i32 = 1;
pub const FLAG_ONEWAY: i32 = 2;

/// A command's body: nothing, one buffer, or several buffers written back to back (so a pull
/// answer can be sent straight from mapped-file slices without joining them first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Body {
    #[default]
    None,
    Bytes(Bytes),
    Parts(Vec<Bytes>),
}

impl Body {
    pub fn len(&self) -> usize {
        match self {
            Body::None => 0,
            Body::Bytes(b) => b.len(),
            Body::Parts(p) => p.iter().map(Bytes::len).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body as one buffer; joins parts (a copy) only for a multi-part body.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Body::None => Bytes::new(),
            Body::Bytes(b) => b.clone(),
            Body::Parts(p) if p.len() == 1 => p[0].clone(),
            Body::Parts(p) => {
                let mut out = BytesMut::with_capacity(self.len());
                for part in p {
                    out.extend_from_slice(part);
                }
                out.freeze()
            }
        }
    }

    /// The buffers to write, in order.
    pub fn parts(&self) -> &[Bytes] {
        match self {
            Body::None => &[],
            Body::Bytes(b) => std::slice::from_ref(b),
            Body::Parts(p) => p,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    pub code: i32,
    pub language: LanguageCode,
    pub version: i32,
    pub opaque: i32,
    pub flag: i32,
    pub remark: Option<String>,
    /// `None` omits `extFields` from a JSON header; `Some(empty)` writes `{}`.
    pub ext_fields: Option<ExtFields>,
    pub body: Body,
    pub serialize_type: SerializeType,
}

impl Default for RemotingCommand {
    fn default() -> Self {
        Self {
            code: 0,
            language: LanguageCode::JAVA,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: None,
            body: Body::None,
            serialize_type: SerializeType::Json,
        }
    }
}

impl RemotingCommand {
    /// A request with the given code and custom header fields; the opaque is set when sent.
    pub fn request(code: i32, ext_fields: ExtFields) -> Self {
        Self {
            code,
            ext_fields: Some(ext_fields),
            ..Self::default()
        }
    }

    /// A request built from a typed header.
    pub fn request_with_header(code: i32, header: &impl CommandHeader) -> Self {
        Self::request(code, header.to_ext_fields())
    }

    /// A response to `request` with the given code and remark, no custom header.
    /// The request's identity without its payload (no remark, header fields or body): enough to
    /// log it and answer it with [`Self::response_to`], and copied without allocating.
    pub fn identity(&self) -> RemotingCommand {
        Self {
            code: self.code,
            language: self.language,
            version: self.version,
            opaque: self.opaque,
            flag: self.flag,
            remark: None,
            ext_fields: None,
            body: Body::None,
            serialize_type: self.serialize_type,
        }
    }

    pub fn response_to(request: &RemotingCommand, code: i32, remark: Option<String>) -> Self {
        let serialize_type =
            if request.serialize_type == SerializeType::RocketMq && i16::try_from(code).is_ok() {
                SerializeType::RocketMq
            } else {
                SerializeType::Json
            };
        Self {
            code,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark,
            serialize_type,
            ..Self::default()
        }
    }

    /// A SUCCESS response to `request` carrying `header` as its ext fields.
    pub fn success_with_header(request: &RemotingCommand, header: &impl CommandHeader) -> Self {
        let mut r = Self::response_to(request, super::response_code::SUCCESS, None);
        r.ext_fields = Some(header.to_ext_fields());
        r
    }

    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    pub fn with_ext_fields(mut self, ext: ExtFields) -> Self {
        self.ext_fields = Some(ext);
        self
    }

    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// An ext field by name, or `None` when absent.
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.as_ref().and_then(|e| e.get(key))
    }

    /// The typed header carried by this command's ext fields.
    pub fn decode_header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        static EMPTY: ExtFields = ExtFields::new();
        H::from_ext_fields(self.ext_fields.as_ref().unwrap_or(&EMPTY))
    }

    /// Encodes the header in this command's serialization.
    pub fn encode_header(&self) -> BytesMut {
        match self.serialize_type {
            SerializeType::Json => json_header::encode(self),
            SerializeType::RocketMq => rocketmq_header::encode(self),
        }
    }

    /// Encodes the whole frame into one buffer (the length prefix included).
    pub fn encode_frame(&self) -> BytesMut {
        let header = self.encode_header();
        let body_len = self.body.len();
        let mut out = BytesMut::with_capacity(8 + header.len() + body_len);
        write_frame_prefix(&mut out, self.serialize_type, header.len(), body_len);
        out.extend_from_slice(&header);
        for part in self.body.parts() {
            out.extend_from_slice(part);
        }
        out
    }

    /// Decodes a command from the bytes after the 4-byte length prefix: the serialization /
    /// header-length word, the header, the body.
    pub fn decode_frame_body(mut frame: Bytes, limits: &HeaderLimits) -> Result<Self, DecodeError> {
        if frame.len() < 4 {
            return Err(DecodeError::FrameTooSmall(frame.len()));
        }
        let word = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let kind = (word >> 24) as u8;
        let header_len = (word & 0x00FF_FFFF) as usize;
        if header_len > frame.len() - 4 {
            return Err(DecodeError::HeaderTooLarge {
                header: header_len,
                frame: frame.len() - 4,
            });
        }
        let serialize_type =
            SerializeType::from_byte(kind).ok_or(DecodeError::UnknownSerializeType(kind))?;
        let _ = frame.split_to(4);
        let header = frame.split_to(header_len);
        let mut cmd = match serialize_type {
            SerializeType::Json => json_header::decode(&header, limits)?,
            SerializeType::RocketMq => rocketmq_header::decode(&header, limits)?,
        };
        cmd.serialize_type = serialize_type;
        cmd.body = if frame.is_empty() {
            Body::None
        } else {
            Body::Bytes(frame)
        };
        Ok(cmd)
    }
}

/// Writes `[total length][serialize type << 24 | header length]`.
pub fn write_frame_prefix(
    out: &mut BytesMut,
    serialize_type: SerializeType,
    header_len: usize,
    body_len: usize,
) {
    let total = 4 + header_len + body_len;
    out.extend_from_slice(&(total as u32).to_be_bytes());
    let word = ((serialize_type as u32) << 24) | (header_len as u32 & 0x00FF_FFFF);
    out.extend_from_slice(&word.to_be_bytes());
}

/// Bounds on what a header may hold, checked while decoding and before allocating.
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimits {
    /// Most ext fields one header may carry.
    pub max_ext_fields: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        Self {
            max_ext_fields: 4096,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity answers like the request itself (same opaque and serialization) and carries
    /// none of its payload.
    #[test]
    fn identity_answers_like_the_request() {
        let mut ext = ExtFields::new();
        ext.insert("topic", "T");
        let mut req = RemotingCommand::request(310, ext).with_body(vec![1, 2, 3]);
        req.opaque = 42;
        req.version = 479;
        req.remark = Some("r".into());
        req.serialize_type = SerializeType::RocketMq;
        let id = req.identity();
        assert_eq!((id.code, id.opaque, id.version), (310, 42, 479));
        assert!(id.ext_fields.is_none() && id.remark.is_none() && id.body == Body::None);
        let a = RemotingCommand::response_to(&id, 1, Some("no".into()));
        let b = RemotingCommand::response_to(&req, 1, Some("no".into()));
        assert_eq!(a, b);
    }
}
