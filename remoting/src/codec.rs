//! Framing: `[i32 length][i32 serialize type << 24 | header length][header][body]`.
//!
//! The decoder first checks that a whole frame is buffered (an incomplete frame is a state,
//! not an error) and rejects a declared length over the limit before reserving memory for it.
//! The default limit is Java's: 16 MiB including the 4-byte length prefix.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use crate::error::{DecodeError, RemotingError};
use crate::protocol::command::{HeaderLimits, RemotingCommand};

/// Java's `com.rocketmq.remoting.frameMaxLength` default, length prefix included.
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Largest frame accepted, counting the 4-byte length prefix.
    pub max_frame_length: usize,
    pub header: HeaderLimits,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
            header: HeaderLimits::default(),
        }
    }
}

/// Decodes frames into commands; body bytes are shared with the read buffer, not copied.
#[derive(Debug, Clone, Default)]
pub struct RemotingCodec {
    pub limits: FrameLimits,
}

impl RemotingCodec {
    pub fn new(limits: FrameLimits) -> Self {
        Self { limits }
    }
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = RemotingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, RemotingError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let declared = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        let max = self.limits.max_frame_length.saturating_sub(4);
        if declared > max {
            return Err(DecodeError::FrameTooLarge { len: declared, max }.into());
        }
        if declared < 4 {
            return Err(DecodeError::FrameTooSmall(declared).into());
        }
        if src.len() < 4 + declared {
            // Grow with the data that actually arrives (at most 64 KiB ahead), not with the
            // declared length: a peer that announces 16 MiB and sends nothing costs nothing.
            src.reserve((4 + declared - src.len()).min(64 * 1024));
            return Ok(None);
        }
        src.advance(4);
        let frame = src.split_to(declared).freeze();
        Ok(Some(RemotingCommand::decode_frame_body(
            frame,
            &self.limits.header,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ext_fields::ExtFields;
    use crate::protocol::SerializeType;

    fn sample(st: SerializeType) -> RemotingCommand {
        let mut ext = ExtFields::new();
        ext.insert("topic", "TopicTest");
        ext.insert("properties", "KEYS\u{1}k1\u{2}TAGS\u{1}TagA\u{2}");
        RemotingCommand {
            code: 310,
            opaque: 42,
            flag: 0,
            remark: Some("r\u{e9}mark".into()),
            ext_fields: Some(ext),
            body: crate::protocol::command::Body::Bytes(bytes::Bytes::from_static(b"hello")),
            serialize_type: st,
            ..RemotingCommand::default()
        }
    }

    #[test]
    fn round_trips_both_serializations() {
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let cmd = sample(st);
            let mut buf = cmd.encode_frame();
            let mut codec = RemotingCodec::default();
            let back = codec.decode(&mut buf).unwrap().unwrap();
            assert_eq!(back, cmd, "{st:?}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn waits_for_the_whole_frame() {
        let full = sample(SerializeType::Json).encode_frame();
        let mut codec = RemotingCodec::default();
        for cut in [0, 3, 4, 9, full.len() - 1] {
            let mut part = BytesMut::from(&full[..cut]);
            assert!(codec.decode(&mut part).unwrap().is_none(), "cut {cut}");
        }
    }

    #[test]
    fn rejects_oversized_length_before_allocating() {
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(RemotingError::Decode(DecodeError::FrameTooLarge { .. }))
        ));
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn rejects_header_longer_than_frame_and_unknown_type() {
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::from(&[0, 0, 0, 6, 0, 0, 0, 9, b'{', b'}'][..]);
        assert!(codec.decode(&mut buf).is_err());
        let mut buf = BytesMut::from(&[0, 0, 0, 6, 7, 0, 0, 2, b'{', b'}'][..]);
        assert!(codec.decode(&mut buf).is_err());
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 0][..]);
        assert!(codec.decode(&mut buf).is_err());
    }

    #[test]
    fn two_frames_in_one_buffer_decode_in_order() {
        let mut buf = sample(SerializeType::Json).encode_frame();
        let mut second = sample(SerializeType::RocketMq);
        second.opaque = 43;
        buf.extend_from_slice(&second.encode_frame());
        let mut codec = RemotingCodec::default();
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().opaque, 42);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().opaque, 43);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }
}
