//! A broker with `aclEnable=true` over real sockets: signed requests of a permitted account are
//! served, a wrong secret, an unsigned request, a denied topic and a non-admin topic creation
//! are answered SYSTEM_ERROR with Java's AclException text; and the broker's default TLS mode
//! (permissive, self-signed test certificate) serves a TLS and a plaintext client on one port.
//! The ACL administration codes (50-53, mqadmin's updateAclConfig etc.) change plain_acl.yml and
//! the accounts in force at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hmac::Mac;
use remoting::client::{ClientConfig, RemotingClient};
use remoting::protocol::ext_fields::ExtFields;
use remoting::tls::ClientTls;
use remoting::{request_code, response_code, RemotingCommand};

const T: Duration = Duration::from_secs(5);

const ACL: &str = r#"
globalWhiteRemoteAddresses:
accounts:
  - accessKey: producerAk
    secretKey: producerSecret
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - TopicAcl=PUB|SUB
      - TopicDenied=DENY
  - accessKey: adminAk01
    secretKey: adminSecret
    admin: true
"#;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    drop(l);
    p
}

async fn start_broker(
    root: &std::path::Path,
    port: u16,
    extra: &[(&str, String)],
) -> broker::BrokerHandle {
    let mut props = BTreeMap::new();
    for (k, v) in [
        ("brokerName", "broker-sec".to_string()),
        ("listenPort", port.to_string()),
        ("namesrvAddr", "127.0.0.1:1".to_string()),
        ("storePathRootDir", root.join("store").display().to_string()),
        ("mappedFileSizeCommitLog", "1048576".to_string()),
        ("brokerIP1", "127.0.0.1".to_string()),
    ] {
        props.insert(k.to_string(), v);
    }
    for (k, v) in extra {
        props.insert(k.to_string(), v.clone());
    }
    let (cfg, unknown) = broker::BrokerConfig::from_properties(props).unwrap();
    assert!(unknown.is_empty(), "unknown keys {unknown:?}");
    broker::start(cfg).await.unwrap()
}

/// The Java client's signature, computed here on its own: values sorted by key, then the body.
fn sign(mut req: RemotingCommand, ak: &str, sk: &str) -> RemotingCommand {
    let ext = req.ext_fields.get_or_insert_with(ExtFields::new);
    ext.insert("AccessKey", ak);
    let sorted: BTreeMap<&str, &str> = ext.iter().collect();
    let mut data: Vec<u8> = sorted.values().flat_map(|v| v.bytes()).collect();
    data.extend_from_slice(&req.body.to_bytes());
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(sk.as_bytes()).unwrap();
    mac.update(&data);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    req.ext_fields.as_mut().unwrap().insert("Signature", sig);
    req
}

fn send(topic: &str, body: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("a", "pg"),
        ("b", topic),
        ("c", "TBW102"),
        ("d", "4"),
        ("e", "0"),
        ("f", "0"),
        ("g", "1700000000000"),
        ("h", "0"),
        ("i", "WAIT\u{1}true\u{2}"),
        ("j", "0"),
        ("k", "false"),
        ("m", "false"),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::SEND_MESSAGE_V2, ext).with_body(body.as_bytes().to_vec())
}

fn create_topic(topic: &str) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in [
        ("topic", topic),
        ("defaultTopic", "TBW102"),
        ("readQueueNums", "4"),
        ("writeQueueNums", "4"),
        ("perm", "6"),
        ("topicFilterType", "SINGLE_TAG"),
    ] {
        ext.insert(k, v);
    }
    RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC, ext)
}

fn assert_acl_refusal(r: &RemotingCommand, reason: &str) {
    assert_eq!(r.code, response_code::SYSTEM_ERROR, "{:?}", r.remark);
    assert_eq!(
        r.remark.as_deref(),
        Some(format!("org.apache.rocketmq.acl.common.AclException: {reason}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_enabled_broker_checks_signatures_and_permissions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    std::fs::write(dir.path().join("conf/plain_acl.yml"), ACL).unwrap();
    let port = free_port();
    let b = start_broker(
        dir.path(),
        port,
        &[
            ("aclEnable", "true".into()),
            ("rocketmqHome", dir.path().display().to_string()),
        ],
    )
    .await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());

    let r = c
        .invoke(
            &addr,
            sign(send("TopicAcl", "hi"), "producerAk", "producerSecret"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    let r = c
        .invoke(
            &addr,
            sign(send("TopicAcl", "hi"), "producerAk", "wrongSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(&r, "Check signature failed for accessKey=producerAk");

    let r = c.invoke(&addr, send("TopicAcl", "hi"), T).await.unwrap();
    assert_acl_refusal(&r, "No accessKey is configured");

    let r = c
        .invoke(
            &addr,
            sign(send("TopicDenied", "hi"), "producerAk", "producerSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(&r, "No permission for topic:TopicDenied");

    let r = c
        .invoke(
            &addr,
            sign(send("Elsewhere", "hi"), "producerAk", "producerSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(&r, "No default permission for topic:Elsewhere");

    let r = c
        .invoke(
            &addr,
            sign(create_topic("NewTopic"), "producerAk", "producerSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(
        &r,
        "Need admin permission for request code=17, but accessKey=producerAk is not",
    );
    let r = c
        .invoke(
            &addr,
            sign(create_topic("NewTopic"), "adminAk01", "adminSecret"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    // Unknown codes are still answered as such (the check runs only in front of processors).
    let r = c
        .invoke(&addr, RemotingCommand::request(9999, ExtFields::new()), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_tls_mode_serves_tls_and_plaintext_on_the_broker_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[]).await;
    let addr = format!("127.0.0.1:{port}");
    let plain = RemotingClient::new(ClientConfig::default());
    let tls = RemotingClient::new(ClientConfig {
        tls: Some(ClientTls::trust_all().unwrap()),
        ..ClientConfig::default()
    });
    for c in [&tls, &plain, &tls] {
        let r = c
            .invoke(&addr, send("TopicTls", "over tls"), T)
            .await
            .unwrap();
        assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    }
    b.shutdown().await;

    // Enforcing: plaintext is closed, TLS served.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start_broker(dir.path(), port, &[("tls.server.mode", "enforcing".into())]).await;
    let addr = format!("127.0.0.1:{port}");
    let plain = RemotingClient::new(ClientConfig::default());
    assert!(plain
        .invoke(&addr, send("TopicTls", "plain"), Duration::from_secs(2))
        .await
        .is_err());
    let r = tls.invoke(&addr, send("TopicTls", "tls"), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    b.shutdown().await;
}

fn acl_request(code: i32, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut ext = ExtFields::new();
    for (k, v) in fields {
        ext.insert(k.to_string(), *v);
    }
    RemotingCommand::request(code, ext)
}

/// UPDATE_AND_CREATE_ACL_CONFIG adds an account to plain_acl.yml (dataVersion advanced) that can
/// send at once; an update changes its permissions; GET_BROKER_CLUSTER_ACL_INFO reports the
/// versions; DELETE_ACL_CONFIG removes it (its sends are refused, deleting it again fails with
/// DELETE_ACL_CONFIG_FAILED); UPDATE_GLOBAL_WHITE_ADDRS_CONFIG replaces the global white list;
/// only admin accounts may do any of it, and a bad account is refused without touching the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_admin_codes_change_the_accounts_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    let file = dir.path().join("conf/plain_acl.yml");
    std::fs::write(&file, ACL).unwrap();
    let port = free_port();
    let b = start_broker(
        dir.path(),
        port,
        &[
            ("aclEnable", "true".into()),
            ("rocketmqHome", dir.path().display().to_string()),
        ],
    )
    .await;
    let addr = format!("127.0.0.1:{port}");
    let c = RemotingClient::new(ClientConfig::default());
    let admin = |req| sign(req, "adminAk01", "adminSecret");

    // Unknown account first.
    let r = c
        .invoke(
            &addr,
            sign(send("TopicAcl", "x"), "newUserAk", "newUserSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(&r, "No acl config for newUserAk");

    let create = acl_request(
        request_code::UPDATE_AND_CREATE_ACL_CONFIG,
        &[
            ("accessKey", "newUserAk"),
            ("secretKey", "newUserSecret"),
            ("admin", "false"),
            ("defaultTopicPerm", "DENY"),
            ("defaultGroupPerm", "SUB"),
            ("topicPerms", "TopicAcl=PUB,TopicOther=SUB"),
        ],
    );
    // A non-admin account may not.
    let r = c
        .invoke(
            &addr,
            sign(create.clone(), "producerAk", "producerSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(
        &r,
        "Need admin permission for request code=50, but accessKey=producerAk is not",
    );
    let r = c.invoke(&addr, admin(create), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("newUserAk") && text.contains("TopicOther=SUB"),
        "{text}"
    );
    assert!(text.contains("dataVersion"), "{text}");
    let r = c
        .invoke(
            &addr,
            sign(send("TopicAcl", "x"), "newUserAk", "newUserSecret"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(
            &addr,
            sign(send("TopicOther", "x"), "newUserAk", "newUserSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(&r, "No permission for topic:TopicOther");

    // Update: only the fields sent change (the secret stays).
    let r = c
        .invoke(
            &addr,
            admin(acl_request(
                request_code::UPDATE_AND_CREATE_ACL_CONFIG,
                &[
                    ("accessKey", "newUserAk"),
                    ("topicPerms", "TopicOther=PUB|SUB"),
                ],
            )),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(
            &addr,
            sign(send("TopicOther", "x"), "newUserAk", "newUserSecret"),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);

    // A bad account is refused and the file is left alone.
    let before = std::fs::read_to_string(&file).unwrap();
    for fields in [
        &[("accessKey", "short"), ("secretKey", "longEnough1")][..],
        &[("accessKey", "anotherAk"), ("secretKey", "tiny")][..],
        &[
            ("accessKey", "anotherAk"),
            ("secretKey", "longEnough1"),
            ("topicPerms", "noperm"),
        ][..],
    ] {
        let r = c
            .invoke(
                &addr,
                admin(acl_request(
                    request_code::UPDATE_AND_CREATE_ACL_CONFIG,
                    fields,
                )),
                T,
            )
            .await
            .unwrap();
        assert_eq!(
            r.code,
            response_code::UPDATE_AND_CREATE_ACL_CONFIG_FAILED,
            "{fields:?}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    // Versions: the default file's counter counts the two writes.
    let r = c
        .invoke(
            &addr,
            admin(acl_request(request_code::GET_BROKER_CLUSTER_ACL_INFO, &[])),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let version: serde_json::Value = serde_json::from_str(r.ext("version").unwrap()).unwrap();
    assert_eq!(version["counter"], 2);
    let all: serde_json::Value = serde_json::from_str(r.ext("allAclFileVersion").unwrap()).unwrap();
    assert_eq!(all[file.display().to_string()]["counter"], 2);
    assert_eq!(r.ext("brokerName"), Some("broker-sec"));
    assert_eq!(
        r.ext("brokerAddr"),
        Some(format!("127.0.0.1:{port}").as_str())
    );

    // Delete: refused afterwards; a second delete fails.
    let delete = acl_request(
        request_code::DELETE_ACL_CONFIG,
        &[("accessKey", "newUserAk")],
    );
    let r = c.invoke(&addr, admin(delete.clone()), T).await.unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert!(!std::fs::read_to_string(&file)
        .unwrap()
        .contains("newUserAk"));
    let r = c
        .invoke(
            &addr,
            sign(send("TopicAcl", "x"), "newUserAk", "newUserSecret"),
            T,
        )
        .await
        .unwrap();
    assert_acl_refusal(&r, "No acl config for newUserAk");
    let r = c.invoke(&addr, admin(delete), T).await.unwrap();
    assert_eq!(r.code, response_code::DELETE_ACL_CONFIG_FAILED);
    assert_eq!(
        r.remark.as_deref(),
        Some("The accesskey[newUserAk] corresponding to accessConfig has been deleted failed.")
    );

    // Global white list: 127.0.0.1 passes unsigned.
    let r = c
        .invoke(
            &addr,
            admin(acl_request(
                request_code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
                &[("globalWhiteAddrs", "10.0.0.*,127.0.0.1")],
            )),
            T,
        )
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    let r = c
        .invoke(&addr, send("TopicAcl", "unsigned"), T)
        .await
        .unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    // Outside rocketmqHome: refused.
    let r = c
        .invoke(
            &addr,
            acl_request(
                request_code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
                &[("globalWhiteAddrs", "*"), ("aclFileFullPath", "/etc/hosts")],
            ),
            T,
        )
        .await
        .unwrap();
    assert_eq!(
        r.code,
        response_code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED
    );
    b.shutdown().await;
}
