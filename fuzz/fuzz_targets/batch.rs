//! Batch body decoder (SEND_BATCH_MESSAGE): `decode_batch` over arbitrary bytes never panics;
//! every entry lies inside the input, and a decoded batch encodes (as the Java client does) and
//! decodes back to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use store::message::batch::{decode_batch, encode_batch, BatchIter};

fuzz_target!(|data: &[u8]| {
    let mut seen = 0usize;
    for e in BatchIter::new(data) {
        match e {
            Ok(e) => {
                seen += e.body.len() + e.properties.len();
                assert!(seen <= data.len());
            }
            Err(_) => break,
        }
    }
    if let Ok(entries) = decode_batch(data) {
        let again = encode_batch(entries.iter().map(|e| (e.flag, e.body, e.properties)));
        let back = decode_batch(&again).expect("an encoded batch decodes");
        assert_eq!(entries.len(), back.len());
        for (a, b) in entries.iter().zip(&back) {
            assert_eq!((a.flag, a.body, a.properties), (b.flag, b.body, b.properties));
        }
    }
});
