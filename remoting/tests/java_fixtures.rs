//! Real frames recorded between the official Java client 4.9.8 / 5.5.0 and the Java reference
//! nameserver and broker 5.5.0 (compat-tests/fixtures/wire, recorded by the proxy in
//! compat-tests/harness/capture.py; `compat-tests/run fixtures/wire/capture` records a fresh set
//! and runs this test over it through `JAVA_WIRE_FIXTURES_DIR`).
//!
//! Every `<java-version>-<req|rsp>-<request code>-<n>.bin` holds one whole frame; its `.json`
//! sidecar is Python's independent reading of it. Each frame must decode with `RemotingCodec`
//! to exactly what the sidecar says, re-encode with `encode_frame()` to the very same bytes
//! (the Java JSON headers list members alphabetically, as our writer does, and extFields are
//! kept in arrival order, i.e. Java's HashMap order), and decode again to the same command.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::BytesMut;
use remoting::codec::RemotingCodec;
use remoting::protocol::command::RemotingCommand;
use remoting::protocol::SerializeType;
use serde_json::Value;
use tokio_util::codec::Decoder;

struct Fixture {
    name: String,
    raw: Vec<u8>,
    side: serde_json::Map<String, Value>,
}

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("JAVA_WIRE_FIXTURES_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../compat-tests/fixtures/wire"),
    }
}

fn load() -> Vec<Fixture> {
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|n| n.strip_suffix(".bin").map(String::from))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let raw = std::fs::read(dir.join(format!("{name}.bin"))).unwrap();
            let text = std::fs::read_to_string(dir.join(format!("{name}.json")))
                .unwrap_or_else(|e| panic!("{name}.json: {e}"));
            let side = match serde_json::from_str::<Value>(&text).unwrap() {
                Value::Object(m) => m,
                other => panic!("{name}.json is not an object: {other}"),
            };
            Fixture { name, raw, side }
        })
        .collect()
}

fn decode_one(raw: &[u8]) -> RemotingCommand {
    let mut buf = BytesMut::from(raw);
    let cmd = RemotingCodec::default()
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("decode error: {e}"))
        .expect("a whole frame");
    assert!(buf.is_empty(), "{} bytes left after the frame", buf.len());
    cmd
}

fn int(side: &serde_json::Map<String, Value>, key: &str) -> i64 {
    side.get(key)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("sidecar has no integer {key}"))
}

/// What differs between the sidecar (Python's reading) and our decoded command.
fn semantic_diff(f: &Fixture, cmd: &RemotingCommand) -> Vec<String> {
    let s = &f.side;
    let mut bad = Vec::new();
    let st = match cmd.serialize_type {
        SerializeType::Json => "JSON",
        SerializeType::RocketMq => "ROCKETMQ",
    };
    if s["serialize_type"] != st {
        bad.push(format!(
            "serialize type {st}, sidecar {}",
            s["serialize_type"]
        ));
    }
    for (key, ours) in [
        ("code", cmd.code),
        ("flag", cmd.flag),
        ("opaque", cmd.opaque),
        ("version", cmd.version),
    ] {
        if int(s, key) != i64::from(ours) {
            bad.push(format!("{key} {ours}, sidecar {}", s[key]));
        }
    }
    if s["language"] != cmd.language.name() {
        bad.push(format!(
            "language {}, sidecar {}",
            cmd.language.name(),
            s["language"]
        ));
    }
    let remark = s["remark"].as_str();
    if remark != cmd.remark.as_deref() {
        bad.push(format!("remark {:?}, sidecar {remark:?}", cmd.remark));
    }
    // Ext fields, in wire order. The binary serialization has no way to say "empty map", so an
    // empty section reads as none; JSON distinguishes a missing member from `{}`.
    let want: Option<Vec<(String, String)>> = match &s["ext_fields"] {
        Value::Null => None,
        Value::Object(m) => Some(
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect(),
        ),
        other => panic!("{}: ext_fields {other}", f.name),
    };
    let got: Option<Vec<(String, String)>> = cmd
        .ext_fields
        .as_ref()
        .map(|e| e.iter().map(|(k, v)| (k.into(), v.into())).collect());
    if want != got {
        bad.push(format!("ext fields {got:?}, sidecar {want:?}"));
    }
    let header_len = int(s, "header_len") as usize;
    let body = cmd.body.to_bytes();
    if body.len() as i64 != int(s, "body_len") || body[..] != f.raw[8 + header_len..] {
        bad.push(format!(
            "body of {} bytes, sidecar {}",
            body.len(),
            s["body_len"]
        ));
    }
    if int(s, "frame_len") != f.raw.len() as i64 {
        bad.push("frame length differs from the sidecar".into());
    }
    bad
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let show = |s: &[u8]| {
        String::from_utf8_lossy(&s[i.saturating_sub(24)..(i + 40).min(s.len())]).into_owned()
    };
    format!(
        "lengths {} vs {}; first difference at byte {i}: java …{:?}… ours …{:?}…",
        a.len(),
        b.len(),
        show(a),
        show(b)
    )
}

#[test]
fn every_java_frame_decodes_and_reencodes_byte_for_byte() {
    let fixtures = load();
    let mut problems = Vec::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in &fixtures {
        let cmd = decode_one(&f.raw);
        for d in semantic_diff(f, &cmd) {
            problems.push(format!("{}: {d}", f.name));
        }
        let again = cmd.encode_frame();
        if again[..] != f.raw[..] {
            problems.push(format!(
                "{}: re-encoded frame differs: {}",
                f.name,
                first_difference(&f.raw, &again)
            ));
        }
        assert_eq!(
            decode_one(&again),
            cmd,
            "{}: our own encoding decodes differently",
            f.name
        );
        let version = f.side["java_version"].as_str().unwrap().to_string();
        let st = f.side["serialize_type"].as_str().unwrap();
        *kinds.entry(format!("{version} {st}")).or_default() += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The set must really cover both clients and both serializations (an empty or partial
    // directory must not pass).
    for k in [
        "4.9.8 JSON",
        "4.9.8 ROCKETMQ",
        "5.5.0 JSON",
        "5.5.0 ROCKETMQ",
    ] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) >= 8,
            "too few {k} frames: {kinds:?}"
        );
    }
}

fn find(fixtures: &[Fixture], pred: impl Fn(&Fixture) -> bool) -> Vec<&Fixture> {
    fixtures.iter().filter(|f| pred(f)).collect()
}

fn is(f: &Fixture, version: &str, dir: &str, code: i64, st: &str) -> bool {
    f.side["java_version"] == version
        && f.side["direction"] == dir
        && int(&f.side, "request_code") == code
        && f.side["serialize_type"] == st
}

/// The typed meaning of the captured SEND_MESSAGE_V2 and pull frames: the short header names of
/// V2, properties with \u0001/\u0002 separators and JSON escapes, a pull response whose body is
/// a run of whole CommitLog-format records.
#[test]
fn send_v2_and_pull_frames_carry_what_the_client_sent() {
    let fixtures = load();
    for version in ["4.9.8", "5.5.0"] {
        for st in ["JSON", "ROCKETMQ"] {
            let sends = find(&fixtures, |f| is(f, version, "request", 310, st));
            assert!(!sends.is_empty(), "no {version} {st} SEND_MESSAGE_V2");
            for f in sends {
                let cmd = decode_one(&f.raw);
                let props = cmd.ext("i").expect("properties (i)");
                let pairs: BTreeMap<&str, &str> = props
                    .split('\u{2}')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.split_once('\u{1}').expect("name\\u0001value"))
                    .collect();
                assert_eq!(
                    pairs.get("fx-quote").copied(),
                    Some("say \"hi\" \\ back/slash \u{e9} \u{2713} \t tab"),
                    "{}",
                    f.name
                );
                assert_eq!(
                    pairs.get("fx-unicode").copied(),
                    Some("\u{4e2d}\u{6587} \u{1f600}")
                );
                assert_eq!(pairs.get("TAGS").copied(), Some("TagA"));
                assert_eq!(pairs.get("KEYS").copied(), Some("wire-key-1 wire-key-2"));
                assert_eq!(cmd.body.to_bytes().as_ref(), b"wire body one", "{}", f.name);
            }
        }
        let found = find(&fixtures, |f| {
            is(f, version, "response", 11, "JSON") && int(&f.side, "code") == 0
        });
        assert!(!found.is_empty(), "no {version} pull response FOUND");
        for f in found {
            let cmd = decode_one(&f.raw);
            assert_eq!(cmd.remark.as_deref(), Some("FOUND"));
            assert_eq!(cmd.ext("nextBeginOffset"), Some("5"), "{}", f.name);
            // Five records back to back: TOTALSIZE of each, summing to the body length.
            let body = cmd.body.to_bytes();
            let mut pos = 0;
            let mut n = 0;
            while pos < body.len() {
                let size = i32::from_be_bytes(body[pos..pos + 4].try_into().unwrap()) as usize;
                assert!(
                    size >= 91 && pos + size <= body.len(),
                    "{}: record size {size}",
                    f.name
                );
                pos += size;
                n += 1;
            }
            assert_eq!((pos, n), (body.len(), 5), "{}", f.name);
        }
    }
}

/// Reference behaviour pinned by the capture: the Java 5.5.0 servers answer a request sent in the
/// ROCKETMQ binary serialization with a JSON response (their responses always use the server's
/// configured type; the 4.9.x servers copied the request's type instead).
#[test]
fn java_5_servers_answer_binary_requests_in_json() {
    let fixtures = load();
    let mut checked = 0;
    for req in find(&fixtures, |f| {
        f.side["direction"] == "request" && f.side["serialize_type"] == "ROCKETMQ"
    }) {
        // The response on the same link of the same session with the same opaque.
        let Some(rsp) = fixtures.iter().find(|f| {
            f.side["direction"] == "response"
                && f.side["session"] == req.side["session"]
                && f.side["link"] == req.side["link"]
                && f.side["opaque"] == req.side["opaque"]
        }) else {
            continue;
        };
        assert_eq!(
            int(&rsp.side, "request_code"),
            int(&req.side, "code"),
            "{}",
            rsp.name
        );
        assert_eq!(
            rsp.side["serialize_type"], "JSON",
            "{} answers {}",
            rsp.name, req.name
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} binary request/response pairs"
    );
}
