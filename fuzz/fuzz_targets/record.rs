//! CommitLog record decoder: `decode_record` (with and without CRC) and `decode_messages` over
//! arbitrary bytes never panic; a decoded record lies inside the input, and re-encoding it
//! decodes back to the same record (properties that are not UTF-8 decode cut at the first bad
//! byte, so such a record re-encodes shorter).
#![no_main]

use libfuzzer_sys::fuzz_target;
use store::message::record::{
    decode_messages, decode_record, encode_record_to_vec, Decoded, RecordHeader,
};

fuzz_target!(|data: &[u8]| {
    for crc in [false, true] {
        if let Ok(Decoded::Message(m)) = decode_record(data, crc) {
            assert!(m.total_size > 0 && m.total_size as usize <= data.len());
            let header = RecordHeader {
                queue_id: m.queue_id,
                flag: m.flag,
                queue_offset: m.queue_offset,
                physical_offset: m.physical_offset,
                sys_flag: m.sys_flag,
                born_timestamp: m.born_timestamp,
                born_host: m.born_host,
                store_timestamp: m.store_timestamp,
                store_host: m.store_host,
                reconsume_times: m.reconsume_times,
                prepared_transaction_offset: m.prepared_transaction_offset,
                body_crc: m.body_crc,
            };
            let again = encode_record_to_vec(
                m.version,
                &header,
                m.body,
                m.topic,
                m.properties.as_bytes(),
            )
            .expect("a decoded record encodes");
            match decode_record(&again, crc) {
                // Properties that are not UTF-8 decode cut at the first bad byte (the raw
                // record is what the broker serves), so only the lengths may differ then.
                Ok(Decoded::Message(m2)) if again.len() != m.total_size as usize => {
                    assert!(again.len() < m.total_size as usize);
                    assert_eq!(m.properties, m2.properties);
                    assert_eq!((m.body, m.topic), (m2.body, m2.topic));
                }
                Ok(Decoded::Message(m2)) => assert_eq!(m, m2),
                other => panic!("re-encoded record decodes to {other:?}"),
            }
        }
    }
    let mut total = 0usize;
    for r in decode_messages(data, true) {
        match r {
            Ok(m) => {
                total += m.total_size as usize;
                assert!(total <= data.len());
            }
            Err(_) => break,
        }
    }
});
