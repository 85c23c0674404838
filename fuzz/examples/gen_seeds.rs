//! Writes the seed corpus: `cargo run --example gen_seeds` (from `fuzz/`) fills
//! `corpus/<target>/seed-*` with valid frames, headers and bodies built by the remoting crate
//! itself plus a few hand-written Go-client and fastjson shapes.

use std::fs;
use std::path::Path;

use remoting::protocol::command::{Body, RemotingCommand, FLAG_RESPONSE};
use remoting::protocol::ext_fields::ExtFields;
use remoting::protocol::language::LanguageCode;
use remoting::protocol::SerializeType;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("create corpus dir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn commands() -> Vec<(&'static str, RemotingCommand)> {
    let mut send = ExtFields::new();
    send.insert("a", "ProducerGroup");
    send.insert("b", "TopicTest");
    send.insert("c", "TBW102");
    send.insert("d", "4");
    send.insert("e", "0");
    send.insert(
        "i",
        "KEYS\u{1}k1\u{2}TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}7F00\u{2}",
    );
    let mut route = ExtFields::new();
    route.insert("topic", "TopicTest");
    let mut escapes = ExtFields::new();
    escapes.insert("q\"uote", "back\\slash\n\t\u{7f}\u{e9}\u{1F600}");
    vec![
        (
            "route",
            RemotingCommand {
                code: 105,
                opaque: 1,
                version: 479,
                ext_fields: Some(route),
                ..RemotingCommand::default()
            },
        ),
        (
            "send-v2",
            RemotingCommand {
                code: 310,
                opaque: 42,
                language: LanguageCode::GO,
                ext_fields: Some(send),
                body: Body::Bytes(bytes::Bytes::from_static(b"hello")),
                ..RemotingCommand::default()
            },
        ),
        (
            "response-remark",
            RemotingCommand {
                code: 17,
                opaque: -7,
                flag: FLAG_RESPONSE,
                remark: Some("No topic route info in name server for the topic: T".into()),
                ext_fields: Some(ExtFields::new()),
                ..RemotingCommand::default()
            },
        ),
        (
            "escapes",
            RemotingCommand {
                code: -1,
                language: LanguageCode(200),
                version: -2,
                opaque: i32::MAX,
                flag: 3,
                remark: Some("r\u{e9}mark\u{0}".into()),
                ext_fields: Some(escapes),
                ..RemotingCommand::default()
            },
        ),
    ]
}

/// CommitLog records (v1 IPv4, v2 IPv6 with properties, a blank marker, two records in a row),
/// batch bodies and SQL92 selectors.
fn store_and_filter_seeds() {
    use store::message::batch::encode_batch;
    use store::message::record::{body_crc, encode_record_to_vec, MessageVersion, RecordHeader};
    let header = |born: &str, store: &str, body: &[u8]| RecordHeader {
        queue_id: 3,
        flag: 0,
        queue_offset: 7,
        physical_offset: 4096,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: born.parse().expect("addr"),
        store_timestamp: 1_700_000_000_123,
        store_host: store.parse().expect("addr"),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body_crc: body_crc(body),
    };
    let v1 = encode_record_to_vec(
        MessageVersion::V1,
        &header("10.1.2.3:40000", "192.168.0.10:10911", b"hello"),
        b"hello",
        "TopicTest",
        b"TAGS\x01TagA\x02KEYS\x01k1\x02UNIQ_KEY\x017F000001\x02",
    )
    .expect("v1 record");
    let v2 = encode_record_to_vec(
        MessageVersion::V2,
        &header("[::1]:40000", "[fe80::1]:10911", b"body v2"),
        b"body v2",
        "%RETRY%GID_long_topic_name",
        b"a\x016\x02b\x01x\x02",
    )
    .expect("v2 record");
    write("record", "v1-ipv4", &v1);
    write("record", "v2-ipv6", &v2);
    let mut two = v1.clone();
    two.extend_from_slice(&v2);
    write("record", "two-records", &two);
    let mut blank = 64i32.to_be_bytes().to_vec();
    blank.extend_from_slice(&(0xcbd43194u32 as i32).to_be_bytes());
    blank.resize(64, 0);
    write("record", "blank", &blank);

    let b = encode_batch([
        (0, &b"m0"[..], "TAGS\u{1}A\u{2}"),
        (1, &b""[..], ""),
        (0, &b"third message"[..], "KEYS\u{1}k\u{2}WAIT\u{1}true\u{2}"),
    ]);
    write("batch", "three", &b);
    write("batch", "cut", &b[..b.len() - 5]);

    for (name, sql) in [
        ("and", "a > 5 AND b = 'x'"),
        ("between", "a BETWEEN 1 AND 10 OR TAGS IN ('TagA', 'TagB')"),
        ("null-like", "b IS NOT NULL AND b LIKE 'x%' ESCAPE '!' AND NOT (c <> 3.5E2)"),
        ("arith", "(a + 2) * -3 / 4 >= 1.5 AND d = TRUE"),
        ("strings", "b NOT IN ('it''s', '') AND a <> 0x1F"),
    ] {
        write("sql92", name, sql.as_bytes());
    }
}

fn main() {
    store_and_filter_seeds();
    let cmds = commands();
    let mut stream = Vec::new();
    for (name, cmd) in &cmds {
        for st in [SerializeType::Json, SerializeType::RocketMq] {
            let mut cmd = cmd.clone();
            cmd.serialize_type = st;
            let frame = cmd.encode_frame();
            let header = cmd.encode_header();
            let (kind, target) = match st {
                SerializeType::Json => ("json", "json_header"),
                SerializeType::RocketMq => ("bin", "rocketmq_header"),
            };
            write("frame", &format!("{kind}-{name}"), &frame);
            write(target, name, &header);
            stream.extend_from_slice(&frame);
        }
    }
    write("frame", "stream-of-eight", &stream);
    // A frame cut short (waits for more) and a declared length over the limit.
    write("frame", "partial", &stream[..stream.len() / 3]);
    write(
        "frame",
        "oversized",
        &[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'{', b'}'],
    );

    // JSON headers as the Go client and older Java servers write them.
    write(
        "json_header",
        "go-client",
        br#"{"code":10,"language":"GO","version":317,"opaque":5,"flag":0,"remark":"","extFields":{"a":"1","n":2,"b":true,"z":null,"o":{"x":[1.5]}}}"#,
    );
    write(
        "json_header",
        "nulls-unknown",
        br#"{"code":1,"extFields":null,"remark":null,"unknown":[1],"serializeTypeCurrentRPC":"JSON"}"#,
    );

    // Bodies: 5.x and 4.x register bodies, a route with quoted and bare broker ids, heartbeats.
    write(
        "bodies",
        "register-5x",
        br#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"attributes":{"+message.type":"NORMAL"},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}},"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}"#,
    );
    write(
        "bodies",
        "register-4x",
        br#"{"filterServerList":["127.0.0.1:1"],"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":1},"topicConfigTable":{"T":{"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8}}}}"#,
    );
    write(
        "bodies",
        "route-quoted",
        br#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#,
    );
    write(
        "bodies",
        "route-fastjson-bare",
        b"{\"brokerDatas\":[{\"brokerAddrs\":{0:\"127.0.0.1:10911\",-1:\"x\"},\"brokerName\":\"b\",\"cluster\":\"c\",\"zoneName\":\"z\"}],\n \"orderTopicConf\":\"b:4\",\"queueDatas\":[]}",
    );
    write(
        "bodies",
        "heartbeat-go",
        br#"{"clientID":"10.0.0.1@1","producerDataSet":[{"groupName":"p"}],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","unitMode":false,"subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"A || B","tagsSet":["A","B"],"codeSet":["65",66," 67 "],"subVersion":1700000000000000000,"expressionType":"TAG"}]}]}"#,
    );
    write(
        "bodies",
        "offsets-fastjson",
        br#"{"offsetTable":{"T@g":{0:5,1:-3},"x":"{0:1}"},"a":[1,2,{"k":"\"{1:2}\\"}]}"#,
    );
}
