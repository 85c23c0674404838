//! Arbitrary bytes through `RemotingCodec` (the decoder every connection runs).
//!
//! Properties: no panic; a decoded command re-encodes and decodes to itself; decoding the
//! stream in arbitrary chunks yields the same commands (and the same final error or not) as
//! decoding it in one buffer; the read buffer never grows past one maximal frame; the same
//! holds with tiny limits, which turn most inputs into limit errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remoting::codec::FrameLimits;
use remoting::protocol::command::HeaderLimits;
use remoting_fuzz::{assert_round_trip, decode_all, decode_streamed};

fuzz_target!(|data: &[u8]| {
    let default = FrameLimits::default();
    let whole = decode_all(data, default);
    for cmd in &whole.commands {
        assert_round_trip(cmd, &default.header);
    }
    // Chunk size from the last byte, so the fuzzer can steer it without shifting the frame.
    let chunk = data.last().map_or(1, |b| 1 + (*b as usize % 13));
    let streamed = decode_streamed(data, chunk, default);
    assert_eq!(whole, streamed, "chunked decode (chunk {chunk}) differs");

    let tiny = FrameLimits {
        max_frame_length: 64,
        header: HeaderLimits { max_ext_fields: 1 },
    };
    let small = decode_all(data, tiny);
    for cmd in &small.commands {
        assert!(cmd.ext_fields.as_ref().map_or(0, |e| e.len()) <= 1);
    }
});
