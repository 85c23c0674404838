//! A store directory written by the Java reference broker 5.5.0 (compat-tests/fixtures/
//! store-java-5.5.0: CommitLog files of 512 KiB with roll-overs, 64-unit ConsumeQueue files,
//! small IndexFiles, checkpoint, config/*.json), filled by the official Java client 4.9.8 and
//! 5.5.0 with a known set of messages listed in its manifest.json (what was sent: topic, queue,
//! queue offset, message id, keys, tags, Java tag hash code, body SHA-256; and where the
//! harness found each record). `compat-tests/run fixtures/store/java-writes` produces a fresh
//! one and runs this test over it through `STORE_JAVA_FIXTURE_DIR`.
//!
//! A copy is opened with `MessageStore::open` and every message, offset, tag hash code, min/max
//! offset and index lookup is checked against the manifest; then one more message is appended
//! to check that our writer continues Java's files where Java stopped.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;
use store::message::decode_message;
use store::message::record::MessageRecord;
use store::result::MessageFilter;
use store::{MessageStore, StoreConfig};

fn fixture_dir() -> PathBuf {
    match std::env::var_os("STORE_JAVA_FIXTURE_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../compat-tests/fixtures/store-java-5.5.0"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// The store.conf the Java broker ran with, rooted at `root`.
fn config(dir: &Path, root: &Path) -> StoreConfig {
    let text = std::fs::read_to_string(dir.join("store.conf")).unwrap();
    let props: HashMap<String, String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let c = StoreConfig::from_properties(&props).unwrap();
    StoreConfig {
        store_path_root_dir: root.to_path_buf(),
        store_path_commit_log: None,
        clean_resource_interval: 3_600_000,
        // The host's disk usage must not matter.
        disk_max_used_space_ratio: 100,
        disk_space_clean_forcibly_ratio: 100,
        disk_space_warning_level_ratio: 100,
        ..c
    }
}

/// Records the ConsumeQueue tag code of every unit a pull looks at.
#[derive(Default)]
struct TagCodes(Mutex<Vec<i64>>);

impl MessageFilter for TagCodes {
    fn matches_consume_queue(&self, tags_code: i64) -> bool {
        self.0.lock().unwrap().push(tags_code);
        true
    }
}

struct Open {
    _tmp: tempfile::TempDir,
    store: std::sync::Arc<MessageStore>,
    manifest: Value,
}

fn open() -> Open {
    let dir = fixture_dir();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json"))
            .unwrap_or_else(|e| panic!("{}/manifest.json: {e}", dir.display())),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&dir.join("store"), tmp.path());
    let store = MessageStore::open(config(&dir, tmp.path())).unwrap();
    Open {
        _tmp: tmp,
        store,
        manifest,
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("manifest: no string {k} in {v}"))
}

fn i(v: &Value, k: &str) -> i64 {
    v[k].as_i64()
        .unwrap_or_else(|| panic!("manifest: no integer {k} in {v}"))
}

fn messages(m: &Value) -> &Vec<Value> {
    m["messages"].as_array().unwrap()
}

/// Differences between a stored record and its manifest entry.
fn check_record(rec: &MessageRecord<'_>, want: &Value) -> Vec<String> {
    let stored = &want["stored"];
    let mut bad = Vec::new();
    let mut eq = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            bad.push(format!("{what}: ours {ours:?}, manifest {theirs:?}"));
        }
    };
    eq("topic", rec.topic.into(), s(want, "topic").into());
    eq(
        "queue id",
        rec.queue_id.to_string(),
        want["queue_id"].to_string(),
    );
    eq(
        "queue offset",
        rec.queue_offset.to_string(),
        want["queue_offset"].to_string(),
    );
    eq(
        "physical offset",
        rec.physical_offset.to_string(),
        stored["phy_offset"].to_string(),
    );
    eq(
        "size",
        rec.total_size.to_string(),
        stored["size"].to_string(),
    );
    eq(
        "sys flag",
        rec.sys_flag.to_string(),
        stored["sys_flag"].to_string(),
    );
    eq(
        "store timestamp",
        rec.store_timestamp.to_string(),
        stored["store_timestamp"].to_string(),
    );
    eq(
        "offset msg id",
        rec.offset_msg_id(),
        s(want, "offset_msg_id").into(),
    );
    eq(
        "UNIQ_KEY",
        rec.property("UNIQ_KEY").unwrap_or("").into(),
        s(want, "msg_id").into(),
    );
    let keys: Vec<&str> = want["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    eq(
        "KEYS",
        rec.property("KEYS").unwrap_or("").into(),
        keys.join(" "),
    );
    eq(
        "TAGS",
        rec.tags().unwrap_or("").into(),
        want["tags"].as_str().unwrap_or("").into(),
    );
    eq(
        "tag hash code",
        rec.tags_code().to_string(),
        want["tags_code"].to_string(),
    );
    for (k, v) in want["properties"].as_object().unwrap() {
        eq(
            k,
            rec.property(k).unwrap_or("").into(),
            v.as_str().unwrap().into(),
        );
    }
    let compressed = rec.sys_flag & 1 != 0;
    eq(
        "compressed flag",
        compressed.to_string(),
        stored["compressed"].to_string(),
    );
    let digest = sha256_hex(rec.body);
    eq(
        "stored body sha256",
        digest.clone(),
        s(stored, "body_sha256").into(),
    );
    if !compressed {
        eq("body sha256", digest, s(want, "body_sha256").into());
        eq(
            "body length",
            rec.body.len().to_string(),
            want["body_len"].to_string(),
        );
    }
    bad
}

#[test]
fn java_store_opens_with_every_message_offset_and_tag_code() {
    // `_tmp` stays bound: dropping it deletes the store directory under the running store.
    let Open {
        _tmp,
        store,
        manifest,
    } = open();
    let msgs = messages(&manifest);
    assert!(
        msgs.len() >= 500,
        "only {} messages in the manifest",
        msgs.len()
    );
    let files = manifest["commitlog"]["files"].as_array().unwrap();
    assert!(
        files.len() >= 3,
        "the fixture should span several CommitLog files"
    );
    assert_eq!(
        store.min_phy_offset(),
        i(&manifest["commitlog"], "min_offset")
    );
    assert_eq!(
        store.max_phy_offset(),
        i(&manifest["commitlog"], "max_offset")
    );

    let mut by_queue: BTreeMap<(String, i32), BTreeMap<i64, &Value>> = BTreeMap::new();
    for m in msgs {
        by_queue
            .entry((s(m, "topic").to_string(), i(m, "queue_id") as i32))
            .or_default()
            .insert(i(m, "queue_offset"), m);
    }
    let mut problems = Vec::new();
    let mut seen = 0usize;
    for (topic, queues) in manifest["queues"].as_object().unwrap() {
        for (qid, q) in queues.as_object().unwrap() {
            let qid: i32 = qid.parse().unwrap();
            let (min, max) = (i(q, "min"), i(q, "max"));
            assert_eq!(
                store.min_offset_in_queue(topic, qid),
                min,
                "{topic}/{qid} min"
            );
            assert_eq!(
                store.max_offset_in_queue(topic, qid),
                max,
                "{topic}/{qid} max"
            );
            let want = &by_queue[&(topic.clone(), qid)];
            let mut offset = min;
            while offset < max {
                let codes = TagCodes::default();
                let r = store.get_message("fixture", topic, qid, offset, 64, 1 << 24, Some(&codes));
                assert!(
                    !r.messages.is_empty(),
                    "{topic}/{qid} at {offset}: {:?}",
                    r.status
                );
                let codes = codes.0.into_inner().unwrap();
                assert_eq!(
                    codes.len(),
                    r.messages.len(),
                    "{topic}/{qid}: one tag code per unit"
                );
                for ((raw, qoff), code) in r.messages.iter().zip(&r.queue_offsets).zip(codes) {
                    let where_ = format!("{topic}/{qid}/{qoff}");
                    let Some(w) = want.get(qoff) else {
                        problems.push(format!("{where_}: not in the manifest"));
                        continue;
                    };
                    let rec = match decode_message(raw, true) {
                        Ok(rec) => rec,
                        Err(e) => {
                            problems.push(format!("{where_}: {e}"));
                            continue;
                        }
                    };
                    for d in check_record(&rec, w) {
                        problems.push(format!("{where_}: {d}"));
                    }
                    if code != i(w, "tags_code") {
                        problems.push(format!(
                            "{where_}: ConsumeQueue tag code {code}, manifest {}",
                            w["tags_code"]
                        ));
                    }
                    let phy = i(&w["stored"], "phy_offset");
                    if store.commit_log_offset_in_queue(topic, qid, *qoff) != phy {
                        problems.push(format!("{where_}: ConsumeQueue points elsewhere"));
                    }
                    if store.message_store_timestamp(topic, qid, *qoff)
                        != i(&w["stored"], "store_timestamp")
                    {
                        problems.push(format!("{where_}: store timestamp by queue offset"));
                    }
                    match store.look_message_by_offset(phy) {
                        Some(b) if b == *raw => {}
                        _ => problems.push(format!("{where_}: lookup by physical offset")),
                    }
                    seen += 1;
                }
                offset = r.next_begin_offset;
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(seen, msgs.len(), "messages read through the ConsumeQueues");
}

#[test]
fn java_index_files_answer_key_and_unique_key_queries() {
    // `_tmp` stays bound: dropping it deletes the store directory under the running store.
    let Open {
        _tmp,
        store,
        manifest,
    } = open();
    let msgs = messages(&manifest);
    let index_files = std::fs::read_dir(fixture_dir().join("store/index"))
        .unwrap()
        .count();
    assert!(
        index_files >= 2,
        "the fixture should span several IndexFiles"
    );
    // topic -> key -> physical offsets of the messages carrying that key.
    let mut by_key: BTreeMap<(&str, &str), BTreeSet<i64>> = BTreeMap::new();
    for m in msgs {
        let phy = i(&m["stored"], "phy_offset");
        for k in m["keys"].as_array().unwrap() {
            by_key
                .entry((s(m, "topic"), k.as_str().unwrap()))
                .or_default()
                .insert(phy);
        }
    }
    let mut problems = Vec::new();
    for ((topic, key), want) in &by_key {
        let r = store.query_message(topic, key, 64, 0, i64::MAX);
        // Hash collisions come back too (Java's clients re-check the keys): keep real matches.
        let got: BTreeSet<i64> = r
            .messages
            .iter()
            .map(|b| decode_message(b, false).unwrap())
            .filter(|rec| {
                rec.topic == *topic
                    && rec
                        .property("KEYS")
                        .is_some_and(|ks| ks.split(' ').any(|k| k == *key))
            })
            .map(|rec| rec.physical_offset)
            .collect();
        if &got != want {
            problems.push(format!("{topic} key {key}: got {got:?}, want {want:?}"));
        }
    }
    for m in msgs {
        let (topic, id) = (s(m, "topic"), s(m, "msg_id"));
        let phy = i(&m["stored"], "phy_offset");
        let r = store.query_message(topic, id, 64, 0, i64::MAX);
        let hits: Vec<i64> = r
            .messages
            .iter()
            .map(|b| decode_message(b, false).unwrap())
            .filter(|rec| rec.property("UNIQ_KEY") == Some(id))
            .map(|rec| rec.physical_offset)
            .collect();
        if hits != [phy] {
            problems.push(format!("{topic} UNIQ_KEY {id}: got {hits:?}, want [{phy}]"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(by_key.len() > 500, "only {} distinct keys", by_key.len());
}

#[tokio::test]
async fn appends_continue_after_javas_last_record() {
    // `_tmp` stays bound: dropping it deletes the store directory under the running store.
    let Open {
        _tmp,
        store,
        manifest,
    } = open();
    let end = i(&manifest["commitlog"], "max_offset");
    let max = i(&manifest["queues"]["FixTopicA"]["0"], "max");
    let msg = common::message(
        "FixTopicA",
        0,
        b"after java",
        "TagZ",
        "after-java",
        "AFTERJAVA0001",
    );
    let r = store.put_message(msg).await;
    assert!(r.is_ok(), "{r:?}");
    let appended = r.append.as_ref().unwrap();
    assert_eq!(appended.wrote_offset, end, "appended where Java stopped");
    assert_eq!(appended.logics_offset, max, "next queue offset");
    common::wait_dispatched(&store);
    assert_eq!(store.max_offset_in_queue("FixTopicA", 0), max + 1);
    let r = store.get_message("fixture", "FixTopicA", 0, max, 1, 1 << 20, None);
    let rec = decode_message(&r.messages[0], true).unwrap();
    assert_eq!(rec.body, b"after java");
    assert_eq!(rec.queue_offset, max);
    let r = store.query_message("FixTopicA", "after-java", 8, 0, i64::MAX);
    assert_eq!(r.messages.len(), 1);
}

/// SHA-256 (FIPS 180-4), so that body digests from the manifest can be checked without a crate.
fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (t, word) in chunk.chunks(4).enumerate() {
            w[t] = u32::from_be_bytes(word.try_into().unwrap());
        }
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16]
                .wrapping_add(s0)
                .wrapping_add(w[t - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for t in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[t])
                .wrapping_add(w[t]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_matches_known_digests() {
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
