//! The broker's Prometheus page (enabled with Java's `metricsExporterType=PROM`, served on
//! `metricsPromExporterHost:metricsPromExporterPort`, default port 5557). Names follow the Java
//! broker's OpenTelemetry metrics: messages and bytes in per topic, out per topic and group,
//! consumer lag per group/topic/queue, connections, topic and group counts, store sizes and
//! flush/dispatch lag, the disk watermark, and the request latency histogram from remoting.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::broker::Broker;

/// Renders every broker metric.
pub fn render(b: &Broker, rpc: &remoting::metrics::RpcMetrics) -> String {
    let s = &b.settings;
    let base = format!(
        "cluster=\"{}\",node_type=\"broker\",node_id=\"{}\"",
        s.cluster_name, s.broker_name
    );
    let mut out = String::with_capacity(16 * 1024);
    rpc.render(&base, &mut out);

    let counter = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    };
    let gauge = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };

    let topics = b.topics.topic_names();
    counter(
        &mut out,
        "rocketmq_messages_in_total",
        "Messages stored, per topic.",
    );
    for t in &topics {
        let n = b.stats.topic_put_nums(t);
        if n > 0 {
            let _ = writeln!(
                out,
                "rocketmq_messages_in_total{{{base},topic=\"{t}\"}} {n}"
            );
        }
    }
    counter(
        &mut out,
        "rocketmq_throughput_in_total",
        "Bytes stored, per topic.",
    );
    for t in &topics {
        let n = b.stats.topic_put_size(t);
        if n > 0 {
            let _ = writeln!(
                out,
                "rocketmq_throughput_in_total{{{base},topic=\"{t}\"}} {n}"
            );
        }
    }
    counter(
        &mut out,
        "rocketmq_messages_out_total",
        "Messages delivered by pulls, per topic and consumer group.",
    );
    for (group, topic, nums, _) in b.stats.group_gets() {
        let _ = writeln!(
            out,
            "rocketmq_messages_out_total{{{base},topic=\"{topic}\",consumer_group=\"{group}\"}} {nums}"
        );
    }
    counter(
        &mut out,
        "rocketmq_throughput_out_total",
        "Bytes delivered by pulls, per topic and consumer group.",
    );
    for (group, topic, _, size) in b.stats.group_gets() {
        let _ = writeln!(
            out,
            "rocketmq_throughput_out_total{{{base},topic=\"{topic}\",consumer_group=\"{group}\"}} {size}"
        );
    }

    gauge(
        &mut out,
        "rocketmq_consumer_lag_messages",
        "Messages not yet consumed, per consumer group, topic and queue.",
    );
    for (key, queues) in b.offsets.snapshot() {
        let Some((topic, group)) = key.split_once('@') else {
            continue;
        };
        for (q, committed) in queues {
            let max = b.store.max_offset_in_queue(topic, q);
            let lag = (max - committed).max(0);
            let _ = writeln!(
                out,
                "rocketmq_consumer_lag_messages{{{base},topic=\"{topic}\",consumer_group=\"{group}\",queue_id=\"{q}\"}} {lag}"
            );
        }
    }

    gauge(
        &mut out,
        "rocketmq_consumer_connections",
        "Consumer connections, per consumer group.",
    );
    let groups = b.consumers.groups();
    for g in &groups {
        let n = b.consumers.channels(g).len();
        let _ = writeln!(
            out,
            "rocketmq_consumer_connections{{{base},consumer_group=\"{g}\"}} {n}"
        );
    }
    gauge(&mut out, "rocketmq_topic_number", "Topics on this broker.");
    let _ = writeln!(out, "rocketmq_topic_number{{{base}}} {}", topics.len());
    gauge(
        &mut out,
        "rocketmq_consumer_group_number",
        "Consumer groups online.",
    );
    let _ = writeln!(
        out,
        "rocketmq_consumer_group_number{{{base}}} {}",
        groups.len()
    );
    gauge(
        &mut out,
        "rocketmq_broker_permission",
        "Broker permission bits (6 = read and write).",
    );
    let _ = writeln!(
        out,
        "rocketmq_broker_permission{{{base}}} {}",
        b.permission()
    );

    let store = &b.store;
    let size = (store.max_phy_offset() - store.min_phy_offset()).max(0);
    gauge(
        &mut out,
        "rocketmq_storage_size",
        "Bytes of CommitLog data retained.",
    );
    let _ = writeln!(out, "rocketmq_storage_size{{{base}}} {size}");
    gauge(
        &mut out,
        "rocketmq_storage_flush_behind_bytes",
        "CommitLog bytes written but not yet flushed.",
    );
    let _ = writeln!(
        out,
        "rocketmq_storage_flush_behind_bytes{{{base}}} {}",
        (store.max_phy_offset() - store.flushed_phy_offset()).max(0)
    );
    gauge(
        &mut out,
        "rocketmq_storage_dispatch_behind_bytes",
        "CommitLog bytes not yet dispatched to consume queues.",
    );
    let _ = writeln!(
        out,
        "rocketmq_storage_dispatch_behind_bytes{{{base}}} {}",
        store.dispatch_behind_bytes()
    );
    counter(
        &mut out,
        "rocketmq_storage_flush_total",
        "CommitLog flushes (fsync/msync) performed.",
    );
    let _ = writeln!(
        out,
        "rocketmq_storage_flush_total{{{base}}} {}",
        store.commit_log_flush_count()
    );
    gauge(
        &mut out,
        "rocketmq_storage_disk_used_ratio",
        "Used fraction of the store's disk.",
    );
    let ratio = store::disk_used_percent(&s.store_root)
        .map(|p| p / 100.0)
        .unwrap_or(0.0);
    let _ = writeln!(out, "rocketmq_storage_disk_used_ratio{{{base}}} {ratio:.4}");
    gauge(
        &mut out,
        "rocketmq_storage_disk_full",
        "1 when writes are refused because the disk is over its watermark.",
    );
    let _ = writeln!(
        out,
        "rocketmq_storage_disk_full{{{base}}} {}",
        u8::from(store.is_disk_full())
    );
    counter(
        &mut out,
        "rocketmq_broker_messages_in_total",
        "Messages stored by this broker.",
    );
    let _ = writeln!(
        out,
        "rocketmq_broker_messages_in_total{{{base}}} {}",
        b.stats.broker_put.nums.load(Ordering::Relaxed)
    );
    out
}
