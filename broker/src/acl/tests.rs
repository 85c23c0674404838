//! The validator against Java's sample accounts file, with requests signed here by a separate
//! implementation of the client algorithm (sorted values, body, HMAC-SHA1, Base64).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use base64::Engine as _;
use hmac::Mac;
use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code as rc, response_code, RemotingCommand};

use super::*;

const SAMPLE: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
"#;

const LOCAL: &str = "127.0.0.1:40000";

fn peer(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn home_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn validator() -> (tempfile::TempDir, AclValidator) {
    let home = home_with(&[("conf/plain_acl.yml", SAMPLE)]);
    let v = AclValidator::load(&home.path().display().to_string(), DEFAULT_PLAIN_FILE).unwrap();
    (home, v)
}

/// Signs as the Java client does, written independently of `signature`.
fn signed(code: i32, fields: &[(&str, &str)], body: &[u8], ak: &str, sk: &str) -> RemotingCommand {
    let mut sorted: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sorted.insert("AccessKey".into(), ak.into());
    let mut data: Vec<u8> = sorted.values().flat_map(|v| v.bytes()).collect();
    data.extend_from_slice(body);
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(&data);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut r = unsigned(code, fields, body);
    let ext = r.ext_fields.as_mut().unwrap();
    ext.insert("AccessKey", ak);
    ext.insert("Signature", sig);
    r
}

fn unsigned(code: i32, fields: &[(&str, &str)], body: &[u8]) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in fields {
        ext.insert(k.to_string(), *v);
    }
    let r = RemotingCommand::request(code, ext);
    if body.is_empty() {
        r
    } else {
        r.with_body(body.to_vec())
    }
}

fn send(topic: &str, ak: &str, sk: &str) -> RemotingCommand {
    signed(
        rc::SEND_MESSAGE_V2,
        &[("a", "pg"), ("b", topic), ("c", "TBW102"), ("d", "4")],
        b"hello",
        ak,
        sk,
    )
}

fn pull(topic: &str, group: &str) -> RemotingCommand {
    signed(
        rc::PULL_MESSAGE,
        &[("consumerGroup", group), ("topic", topic), ("queueId", "0")],
        b"",
        "RocketMQ",
        "12345678",
    )
}

#[test]
fn signed_send_with_pub_passes() {
    let (_h, v) = validator();
    v.validate(peer(LOCAL), &send("topicB", "RocketMQ", "12345678"))
        .unwrap();
}

#[test]
fn wrong_secret_unsigned_and_unknown_keys_are_refused() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    assert_eq!(
        v.validate(p, &send("topicB", "RocketMQ", "87654321")),
        Err(AclError::BadSignature("RocketMQ".into()))
    );
    assert_eq!(
        v.validate(p, &unsigned(rc::SEND_MESSAGE_V2, &[("b", "topicB")], b"x")),
        Err(AclError::NoAccessKey)
    );
    assert_eq!(
        v.validate(
            p,
            &unsigned(
                rc::HEART_BEAT,
                &[],
                br#"{"clientID":"c","consumerDataSet":[],"producerDataSet":[]}"#
            )
        ),
        Err(AclError::NoAccessKey)
    );
    assert_eq!(
        v.validate(p, &send("topicB", "nobody-here", "12345678")),
        Err(AclError::UnknownAccessKey("nobody-here".into()))
    );
    // An access key without a signature.
    let mut r = send("topicB", "RocketMQ", "12345678");
    r.ext_fields.as_mut().unwrap().remove("Signature");
    assert_eq!(
        v.validate(p, &r),
        Err(AclError::BadSignature("RocketMQ".into()))
    );
}

#[test]
fn tampering_after_signing_is_refused() {
    let (_h, v) = validator();
    let mut r = send("topicB", "RocketMQ", "12345678");
    r.body = remoting::protocol::command::Body::Bytes(bytes::Bytes::from_static(b"HELLO"));
    assert!(matches!(
        v.validate(peer(LOCAL), &r),
        Err(AclError::BadSignature(_))
    ));
    let mut r = send("topicB", "RocketMQ", "12345678");
    r.ext_fields.as_mut().unwrap().insert("b", "topicA");
    assert!(matches!(
        v.validate(peer(LOCAL), &r),
        Err(AclError::BadSignature(_))
    ));
}

#[test]
fn topic_permissions_and_defaults() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    assert_eq!(
        v.validate(p, &send("topicA", "RocketMQ", "12345678")),
        Err(AclError::NoPermission("topic:topicA".into()))
    );
    // topicC is SUB only.
    assert_eq!(
        v.validate(p, &send("topicC", "RocketMQ", "12345678")),
        Err(AclError::NoPermission("topic:topicC".into()))
    );
    assert_eq!(
        v.validate(p, &send("other", "RocketMQ", "12345678")),
        Err(AclError::NoDefaultPermission("topic:other".into()))
    );
    // The trace topic needs only a valid signature.
    v.validate(p, &send(TRACE_TOPIC, "RocketMQ", "12345678"))
        .unwrap();
}

#[test]
fn retry_topic_sends_need_the_group() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    v.validate(p, &send("%RETRY%groupC", "RocketMQ", "12345678"))
        .unwrap();
    assert_eq!(
        v.validate(p, &send("%RETRY%groupA", "RocketMQ", "12345678")),
        Err(AclError::NoPermission("group:groupA".into()))
    );
    let back = signed(
        rc::CONSUMER_SEND_MSG_BACK,
        &[("group", "groupA"), ("offset", "0")],
        b"",
        "RocketMQ",
        "12345678",
    );
    assert_eq!(
        v.validate(p, &back),
        Err(AclError::NoPermission("group:groupA".into()))
    );
}

#[test]
fn pulls_need_topic_and_group_sub() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    v.validate(p, &pull("topicC", "groupC")).unwrap();
    // Default group permission is SUB.
    v.validate(p, &pull("topicB", "anyGroup")).unwrap();
    assert_eq!(
        v.validate(p, &pull("topicB", "groupA")),
        Err(AclError::NoPermission("group:groupA".into()))
    );
    assert_eq!(
        v.validate(p, &pull("topicA", "groupC")),
        Err(AclError::NoPermission("topic:topicA".into()))
    );
}

#[test]
fn heartbeats_are_checked_per_subscription() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    let body = |group: &str, topic: &str| {
        format!(
            r#"{{"clientID":"c1","consumerDataSet":[{{"groupName":"{group}","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{{"topic":"{topic}","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1,"expressionType":"TAG","classFilterMode":false}}],"unitMode":false}}],"producerDataSet":[]}}"#
        )
    };
    let hb = |g: &str, t: &str| {
        signed(
            rc::HEART_BEAT,
            &[],
            body(g, t).as_bytes(),
            "RocketMQ",
            "12345678",
        )
    };
    v.validate(p, &hb("groupB", "topicC")).unwrap();
    assert_eq!(
        v.validate(p, &hb("groupB", "topicA")),
        Err(AclError::NoPermission("topic:topicA".into()))
    );
    assert_eq!(
        v.validate(p, &hb("groupA", "topicC")),
        Err(AclError::NoPermission("group:groupA".into()))
    );
    // A heartbeat that is not JSON cannot be checked.
    let bad = signed(rc::HEART_BEAT, &[], b"{not json", "RocketMQ", "12345678");
    assert!(matches!(v.validate(p, &bad), Err(AclError::BadRequest(_))));
}

#[test]
fn group_codes_and_offsets() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    let r = signed(
        rc::GET_CONSUMER_LIST_BY_GROUP,
        &[("consumerGroup", "groupA")],
        b"",
        "RocketMQ",
        "12345678",
    );
    assert_eq!(
        v.validate(p, &r),
        Err(AclError::NoPermission("group:groupA".into()))
    );
    let r = signed(
        rc::UPDATE_CONSUMER_OFFSET,
        &[
            ("consumerGroup", "groupC"),
            ("topic", "topicA"),
            ("queueId", "0"),
            ("commitOffset", "5"),
        ],
        b"",
        "RocketMQ",
        "12345678",
    );
    assert_eq!(
        v.validate(p, &r),
        Err(AclError::NoPermission("topic:topicA".into()))
    );
    // A producer's unregister has no consumer group: only the signature counts.
    let r = signed(
        rc::UNREGISTER_CLIENT,
        &[("clientID", "c1"), ("producerGroup", "pg")],
        b"",
        "RocketMQ",
        "12345678",
    );
    v.validate(p, &r).unwrap();
    let r = signed(
        rc::UPDATE_CONSUMER_OFFSET,
        &[("consumerGroup", "groupC")],
        b"",
        "RocketMQ",
        "12345678",
    );
    assert!(matches!(v.validate(p, &r), Err(AclError::BadRequest(_))));
}

#[test]
fn admin_codes_need_an_admin_account() {
    let (_h, v) = validator();
    let p = peer(LOCAL);
    let create = |ak: &str| {
        signed(
            rc::UPDATE_AND_CREATE_TOPIC,
            &[("topic", "newTopic"), ("readQueueNums", "4")],
            b"",
            ak,
            "12345678",
        )
    };
    assert_eq!(
        v.validate(p, &create("RocketMQ")),
        Err(AclError::NeedAdmin {
            code: rc::UPDATE_AND_CREATE_TOPIC,
            access_key: "RocketMQ".into()
        })
    );
    v.validate(p, &create("rocketmq2")).unwrap();
    // The admin still needs a valid signature from outside its white list.
    let mut r = create("rocketmq2");
    r.ext_fields.as_mut().unwrap().insert("Signature", "AAAA");
    assert!(matches!(v.validate(p, &r), Err(AclError::BadSignature(_))));
}

#[test]
fn white_lists_skip_the_signature() {
    let (_h, v) = validator();
    // Global white list: nothing needed at all.
    v.validate(
        peer("10.10.103.5:1234"),
        &unsigned(rc::SEND_MESSAGE_V2, &[("b", "topicA")], b"x"),
    )
    .unwrap();
    // The account's white list: the access key, no signature.
    let mut r = unsigned(rc::UPDATE_AND_CREATE_TOPIC, &[("topic", "t")], b"");
    r.ext_fields
        .as_mut()
        .unwrap()
        .insert("AccessKey", "rocketmq2");
    v.validate(peer("192.168.1.3:1234"), &r).unwrap();
    assert!(v.validate(peer(LOCAL), &r).is_err());
}

#[test]
fn refusals_answer_system_error_with_the_exception_text() {
    let (_h, v) = validator();
    let e = v
        .validate(peer(LOCAL), &send("topicB", "RocketMQ", "bad-secret"))
        .unwrap_err();
    let req = send("topicB", "RocketMQ", "bad-secret");
    let resp = crate::error::BrokerError::from(e).into_response(&req);
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some("org.apache.rocketmq.acl.common.AclException: Check signature failed for accessKey=RocketMQ")
    );
}

#[test]
fn acl_dir_files_custom_path_and_first_definition_wins() {
    let home = home_with(&[
        (
            "conf/acl/a.yml",
            "accounts:\n  - accessKey: fromDirKey\n    secretKey: dirsecret1\n    defaultTopicPerm: PUB\n",
        ),
        (
            "conf/acl/nested/b.yaml",
            "accounts:\n  - accessKey: RocketMQ\n    secretKey: otherSecret\n    defaultTopicPerm: PUB\n",
        ),
        ("conf/tools.yml", "accessKey: RocketMQ\nsecretKey: 12345678\n"),
        ("custom/acl.yml", SAMPLE),
    ]);
    let v = AclValidator::load(&home.path().display().to_string(), "custom/acl.yml").unwrap();
    let p = peer(LOCAL);
    v.validate(p, &send("anything", "fromDirKey", "dirsecret1"))
        .unwrap();
    // RocketMQ is defined first in conf/acl/nested/b.yaml (directory files come first).
    v.validate(p, &send("anything", "RocketMQ", "otherSecret"))
        .unwrap();
    assert!(v
        .validate(p, &send("topicB", "RocketMQ", "12345678"))
        .is_err());
}

#[test]
fn bad_files_fail_the_load() {
    let home = home_with(&[(
        "conf/plain_acl.yml",
        "accounts:\n  - accessKey: short\n    secretKey: 12345678\n",
    )]);
    assert!(matches!(
        AclValidator::load(&home.path().display().to_string(), DEFAULT_PLAIN_FILE),
        Err(AclError::Config { .. })
    ));
}

#[test]
fn changed_files_are_reloaded_and_broken_ones_ignored() {
    let (home, v) = validator();
    let p = peer(LOCAL);
    assert!(v
        .validate(p, &send("other", "RocketMQ", "12345678"))
        .is_err());
    let file = home.path().join("conf/plain_acl.yml");
    std::fs::write(
        &file,
        SAMPLE.replace("defaultTopicPerm: DENY", "defaultTopicPerm: PUB|SUB  "),
    )
    .unwrap();
    v.reload_if_changed();
    v.validate(p, &send("other", "RocketMQ", "12345678"))
        .unwrap();
    std::fs::write(&file, "accounts: [ broken").unwrap();
    v.reload_if_changed();
    // The last good accounts stay.
    v.validate(p, &send("other", "RocketMQ", "12345678"))
        .unwrap();
}

#[test]
fn query_message_with_unique_key_flag_follows_the_version_rule() {
    let (_h, v) = validator();
    let fields = [
        ("topic", "topicC"),
        ("key", "k1"),
        ("maxNum", "32"),
        ("beginTimestamp", "0"),
        ("endTimestamp", "1"),
        ("_UNIQUE_KEY_QUERY", "true"),
    ];
    // A 4.9.4+ client signs the flag (the default version here is 5.x).
    let r = signed(rc::QUERY_MESSAGE, &fields, b"", "RocketMQ", "12345678");
    v.validate(peer(LOCAL), &r).unwrap();
    // A 4.9.3 client signed without it.
    let mut old = signed(rc::QUERY_MESSAGE, &fields[..5], b"", "RocketMQ", "12345678");
    old.version = remoting::protocol::version::V4_9_3;
    old.ext_fields
        .as_mut()
        .unwrap()
        .insert("_UNIQUE_KEY_QUERY", "true");
    v.validate(peer(LOCAL), &old).unwrap();
}
