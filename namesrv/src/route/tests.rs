use super::*;
use remoting::protocol::body::TopicConfig;

fn wrapper(counter: i64, topics: &[(&str, i32)]) -> TopicConfigSerializeWrapper {
    let mut w = TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: 0,
            timestamp: 1,
        },
        ..Default::default()
    };
    for (name, q) in topics {
        w.topic_config_table
            .insert(name.to_string(), TopicConfig::new(*name, *q));
    }
    w
}

fn reg<'a>(
    name: &'a str,
    addr: &'a str,
    id: i64,
    w: TopicConfigSerializeWrapper,
) -> Registration<'a> {
    Registration {
        cluster_name: "DefaultCluster",
        broker_addr: addr,
        broker_name: name,
        broker_id: id,
        ha_server_addr: "127.0.0.1:10912",
        zone_name: None,
        heartbeat_timeout: None,
        enable_acting_master: Some(false),
        wrapper: w,
        filter_server_list: vec![],
        channel: None,
    }
}

#[test]
fn registered_master_topics_are_routed() {
    let m = RouteInfoManager::new();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(1, &[("T", 4), ("U", 8)]),
    ))
    .unwrap();
    let r = m.pickup_topic_route("T").unwrap();
    assert_eq!(r.queue_datas.len(), 1);
    assert_eq!(r.queue_datas[0].write_queue_nums, 4);
    assert_eq!(r.broker_datas[0].broker_addrs[&0], "1.1.1.1:10911");
    assert!(m.pickup_topic_route("nope").is_none());
    let ci = m.cluster_info();
    assert!(ci.cluster_addr_table["DefaultCluster"].contains("a"));
}

#[test]
fn slave_gets_master_addresses_and_does_not_change_queues() {
    let m = RouteInfoManager::new();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(1, &[("T", 4), ("X", 1)]),
    ))
    .unwrap();
    let res = m
        .register_broker(reg(
            "a",
            "1.1.1.2:10911",
            1,
            wrapper(9, &[("T", 2), ("X", 1)]),
        ))
        .unwrap();
    assert_eq!(res.master_addr.as_deref(), Some("1.1.1.1:10911"));
    assert_eq!(res.ha_server_addr.as_deref(), Some("127.0.0.1:10912"));
    assert_eq!(
        m.pickup_topic_route("T").unwrap().queue_datas[0].write_queue_nums,
        4
    );
    assert_eq!(m.broker_member_addrs("a").len(), 2);
}

#[test]
fn unregister_last_address_removes_broker_topics_and_cluster() {
    let m = RouteInfoManager::new();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(1, &[("T", 4), ("X", 1)]),
    ))
    .unwrap();
    m.unregister_broker("DefaultCluster", "1.1.1.1:10911", "a");
    assert!(m.pickup_topic_route("T").is_none());
    assert!(m.cluster_info().cluster_addr_table.is_empty());
    assert!(m.all_topics().topic_list.is_empty());
}

#[test]
fn brokers_expire_after_their_heartbeat_timeout() {
    let m = RouteInfoManager::new();
    let mut r = reg("a", "1.1.1.1:10911", 0, wrapper(1, &[("T", 4), ("X", 1)]));
    r.heartbeat_timeout = Some(Duration::from_millis(30));
    m.register_broker(r).unwrap();
    assert!(m.scan_not_active().is_empty());
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(m.scan_not_active().len(), 1);
    assert!(m.pickup_topic_route("T").is_none());
}

#[test]
fn wipe_and_add_write_perm_count_topics() {
    let m = RouteInfoManager::new();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(1, &[("T", 4), ("U", 4)]),
    ))
    .unwrap();
    assert_eq!(m.wipe_write_perm("a"), 2);
    assert_eq!(
        m.pickup_topic_route("T").unwrap().queue_datas[0].perm,
        perm::READ
    );
    assert_eq!(m.add_write_perm("a"), 2);
    assert_eq!(
        m.pickup_topic_route("T").unwrap().queue_datas[0].perm,
        perm::READ | perm::WRITE
    );
    assert_eq!(m.wipe_write_perm("other"), 0);
}

#[test]
fn delete_topic_by_cluster_only_removes_that_cluster() {
    let m = RouteInfoManager::new();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(1, &[("T", 4), ("X", 1)]),
    ))
    .unwrap();
    let mut other = reg("b", "1.1.1.3:10911", 0, wrapper(1, &[("T", 4), ("X", 1)]));
    other.cluster_name = "C2";
    m.register_broker(other).unwrap();
    m.delete_topic("T", Some("C2"));
    let r = m.pickup_topic_route("T").unwrap();
    assert_eq!(r.queue_datas.len(), 1);
    assert_eq!(r.queue_datas[0].broker_name, "a");
    m.delete_topic("T", None);
    assert!(m.pickup_topic_route("T").is_none());
}

#[test]
fn single_topic_registration_before_first_registration_is_refused() {
    let m = RouteInfoManager::new();
    assert!(m
        .register_broker(reg("a", "1.1.1.1:10911", 0, wrapper(1, &[("T", 4)])))
        .is_none());
}

#[test]
fn new_data_version_updates_queue_counts() {
    let m = RouteInfoManager::new();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(1, &[("T", 4), ("X", 1)]),
    ))
    .unwrap();
    m.register_broker(reg(
        "a",
        "1.1.1.1:10911",
        0,
        wrapper(2, &[("T", 8), ("X", 1)]),
    ))
    .unwrap();
    assert_eq!(
        m.pickup_topic_route("T").unwrap().queue_datas[0].read_queue_nums,
        8
    );
    assert_eq!(
        m.topics_by_cluster("DefaultCluster").topic_list,
        vec!["T", "X"]
    );
    let sys = m.system_topics();
    assert_eq!(sys.topic_list, vec!["DefaultCluster", "a"]);
    assert_eq!(sys.broker_addr.as_deref(), Some("1.1.1.1:10911"));
}
