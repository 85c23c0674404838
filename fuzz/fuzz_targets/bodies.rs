//! Arbitrary bytes as JSON bodies: `RegisterBrokerBody`, `TopicRouteData`, `HeartbeatData`, and
//! `fastjson::quote_bare_keys` (the reader of fastjson's bare numeric map keys).
//!
//! Properties: no panic; for valid JSON, `quote_bare_keys` returns it unchanged (so still valid,
//! same value); a valid JSON value written fastjson-style (numeric keys bare) comes back to the
//! same JSON text through `quote_bare_keys`; a body that parses serializes and parses back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remoting::protocol::body::fastjson::quote_bare_keys;
use remoting::protocol::body::{HeartbeatData, RegisterBrokerBody, TopicRouteData};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let quoted = quote_bare_keys(data);
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if let Err(e) = serde_json::from_slice::<Value>(&quoted) {
            panic!(
                "quote_bare_keys broke valid JSON: {e}\nin:  {:?}\nout: {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&quoted)
            );
        }
        // Valid JSON has no bare key to fix, so it must come back byte for byte (same value).
        assert_eq!(&quoted[..], data, "quote_bare_keys rewrote valid JSON");

        // Written fastjson-style, quote_bare_keys must give back exactly what serde_json writes
        // (compared as bytes: reparsing floats is best-effort in serde_json, bytes are exact).
        let mut bare = Vec::new();
        write_fastjson(&value, &mut bare);
        let standard = serde_json::to_vec(&value).expect("a value serializes");
        let fixed = quote_bare_keys(&bare);
        assert_eq!(
            String::from_utf8_lossy(&fixed),
            String::from_utf8_lossy(&standard),
            "bare keys not restored from {:?}",
            String::from_utf8_lossy(&bare)
        );
    }

    for input in [data, &quoted[..]] {
        if let Ok(b) = serde_json::from_slice::<RegisterBrokerBody>(input) {
            let w = &b.topic_config_serialize_wrapper;
            // serde_json's default float parser is best-effort, so float members of the free-form
            // mapping maps may move by one ulp per trip: compare only float-free bodies.
            let floats = [
                &w.topic_queue_mapping_detail_map,
                &w.topic_queue_mapping_info_map,
            ]
            .iter()
            .any(|m| m.as_ref().is_some_and(has_float));
            if !floats {
                round_trip(&b);
            }
        }
        if let Ok(r) = serde_json::from_slice::<TopicRouteData>(input) {
            round_trip(&r);
        }
        if let Ok(h) = serde_json::from_slice::<HeartbeatData>(input) {
            round_trip(&h);
        }
    }
});

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
    let json = serde_json::to_vec(v).expect("a parsed body serializes");
    let back: T = match serde_json::from_slice(&json) {
        Ok(b) => b,
        Err(e) => panic!(
            "serialized body does not parse: {e}\n{:?}",
            String::from_utf8_lossy(&json)
        ),
    };
    assert_eq!(
        &back,
        v,
        "body changed through JSON: {:?}",
        String::from_utf8_lossy(&json)
    );
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

/// Writes `v` compactly as fastjson writes maps keyed by numbers: keys of the form `-?[0-9]+`
/// bare, every other key and string as standard JSON.
fn write_fastjson(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_fastjson(x, out);
            }
            out.push(b']');
        }
        Value::Object(o) => {
            out.push(b'{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let digits = k.strip_prefix('-').unwrap_or(k);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    out.extend_from_slice(k.as_bytes());
                } else {
                    out.extend_from_slice(&serde_json::to_vec(k).expect("a string serializes"));
                }
                out.push(b':');
                write_fastjson(x, out);
            }
            out.push(b'}');
        }
        leaf => out.extend_from_slice(&serde_json::to_vec(leaf).expect("a leaf serializes")),
    }
}
