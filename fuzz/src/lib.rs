//! Shared checks of the remoting fuzz targets. Every check panics on a violated property, so
//! libFuzzer records the input as a crash.

use bytes::{Bytes, BytesMut};
use remoting::codec::{FrameLimits, RemotingCodec};
use remoting::protocol::command::{HeaderLimits, RemotingCommand};
use remoting::protocol::SerializeType;
use tokio_util::codec::Decoder;

/// Builds the bytes after the length prefix: `[type << 24 | header len][header][rest]`.
pub fn frame_body(serialize_type: SerializeType, header: &[u8], rest: &[u8]) -> Bytes {
    let word = ((serialize_type as u32) << 24) | (header.len() as u32 & 0x00FF_FFFF);
    let mut out = BytesMut::with_capacity(4 + header.len() + rest.len());
    out.extend_from_slice(&word.to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(rest);
    out.freeze()
}

/// The body appended after a fuzzed header: none, a short text, or a few binary bytes, chosen
/// by the input length so one input exercises one shape.
pub fn rest_for(data: &[u8]) -> &'static [u8] {
    match data.len() % 3 {
        0 => b"",
        1 => b"body",
        _ => &[0x00, 0xff, 0x01, 0x7f],
    }
}

/// Re-encodes a decoded command and decodes it again: the frame's length prefix must count
/// the rest of the frame, and the second decode must equal the first.
pub fn assert_round_trip(first: &RemotingCommand, limits: &HeaderLimits) {
    let frame = first.encode_frame().freeze();
    assert!(frame.len() >= 8, "encoded frame shorter than its prefix");
    let declared = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    assert_eq!(
        declared,
        frame.len() - 4,
        "length prefix does not match the frame"
    );
    let word = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    assert_eq!(
        (word >> 24) as u8,
        first.serialize_type as u8,
        "serialize type byte changed"
    );
    let second = match RemotingCommand::decode_frame_body(frame.slice(4..), limits) {
        Ok(c) => c,
        Err(e) => panic!(
            "re-encoded command does not decode: {e}\nfirst: {first:?}\nframe: {:02x?}",
            &frame[..]
        ),
    };
    assert_eq!(&second, first, "decode(encode(decode(x))) != decode(x)");
    // The encoding of an equal command is byte-identical (it is a function of the fields).
    assert_eq!(
        second.encode_frame().freeze(),
        frame,
        "encoding is not stable"
    );
}

/// Header decoder target body: decode `header` as serialization `st` with a body after it and,
/// on success, check the round trip.
pub fn check_header(st: SerializeType, header: &[u8]) {
    let limits = HeaderLimits::default();
    let rest = rest_for(header);
    let body = frame_body(st, header, rest);
    if let Ok(cmd) = RemotingCommand::decode_frame_body(body, &limits) {
        assert_eq!(cmd.serialize_type, st);
        assert_eq!(
            cmd.body.to_bytes(),
            Bytes::from_static(rest),
            "body changed"
        );
        assert_round_trip(&cmd, &limits);
    }
    // The same header with a small ext-field limit must fail cleanly or hold at most that many.
    let small = HeaderLimits { max_ext_fields: 2 };
    if let Ok(cmd) = RemotingCommand::decode_frame_body(frame_body(st, header, b""), &small) {
        let n = cmd.ext_fields.as_ref().map_or(0, |e| e.len());
        assert!(n <= 2, "{n} ext fields passed a limit of 2");
    }
}

/// Outcome of decoding a byte stream: the commands in order, and whether it ended in an error.
#[derive(Debug, PartialEq)]
pub struct StreamOutcome {
    pub commands: Vec<RemotingCommand>,
    pub failed: bool,
}

/// Upper bound on what the codec may hold for a buffer of `buffered` bytes: the buffered bytes
/// or one maximal frame (it reserves room for the frame it is waiting for), with slack for
/// `BytesMut`'s growth policy.
fn capacity_bound(buffered: usize, limits: &FrameLimits) -> usize {
    2 * buffered.max(limits.max_frame_length) + 64
}

/// Decodes `data` as one buffer, calling `decode` until it returns `Ok(None)` or `Err`.
pub fn decode_all(data: &[u8], limits: FrameLimits) -> StreamOutcome {
    let mut codec = RemotingCodec::new(limits);
    let mut buf = BytesMut::from(data);
    let mut commands = Vec::new();
    loop {
        let before = buf.len();
        match codec.decode(&mut buf) {
            Ok(Some(cmd)) => {
                assert!(
                    buf.len() < before,
                    "a command was decoded without consuming input"
                );
                commands.push(cmd);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed input");
                assert!(
                    buf.capacity() <= capacity_bound(before, &limits),
                    "capacity {} for {before} buffered bytes",
                    buf.capacity()
                );
                return StreamOutcome {
                    commands,
                    failed: false,
                };
            }
            Err(_) => {
                return StreamOutcome {
                    commands,
                    failed: true,
                }
            }
        }
    }
}

/// Decodes `data` fed in chunks of `chunk` bytes, as a socket would deliver it.
pub fn decode_streamed(data: &[u8], chunk: usize, limits: FrameLimits) -> StreamOutcome {
    let mut codec = RemotingCodec::new(limits);
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(cmd)) => commands.push(cmd),
                Ok(None) => break,
                Err(_) => {
                    return StreamOutcome {
                        commands,
                        failed: true,
                    }
                }
            }
        }
    }
    StreamOutcome {
        commands,
        failed: false,
    }
}
