//! Arbitrary bytes as a ROCKETMQ binary (serialize type 1) header inside a frame body, through
//! `RemotingCommand::decode_frame_body`; a decoded command must survive
//! `encode_frame` -> decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remoting::protocol::SerializeType;

fuzz_target!(|data: &[u8]| {
    remoting_fuzz::check_header(SerializeType::RocketMq, data);
});
