//! The nameserver's Prometheus page (off unless `metricsExporterType=PROM`; port
//! `metricsPromExporterPort`, default 5557 — the broker's keys, which Java's nameserver does not
//! have, so they are not listed among its defaults): request latency and connections from
//! remoting, plus registered brokers and topics.

use std::fmt::Write as _;

use crate::Namesrv;

pub fn render(s: &Namesrv, rpc: &remoting::metrics::RpcMetrics) -> String {
    let base = "node_type=\"namesrv\"";
    let mut out = String::with_capacity(4096);
    rpc.render(base, &mut out);
    let info = s.routes.cluster_info();
    let _ = writeln!(
        out,
        "# HELP rocketmq_namesrv_brokers Broker addresses registered, per cluster."
    );
    let _ = writeln!(out, "# TYPE rocketmq_namesrv_brokers gauge");
    for (cluster, names) in &info.cluster_addr_table {
        let n: usize = names
            .iter()
            .filter_map(|n| info.broker_addr_table.get(n))
            .map(|b| b.broker_addrs.len())
            .sum();
        let _ = writeln!(
            out,
            "rocketmq_namesrv_brokers{{{base},cluster=\"{cluster}\"}} {n}"
        );
    }
    let _ = writeln!(out, "# HELP rocketmq_topic_number Topics with a route.");
    let _ = writeln!(out, "# TYPE rocketmq_topic_number gauge");
    let _ = writeln!(
        out,
        "rocketmq_topic_number{{{base}}} {}",
        s.routes.all_topics().topic_list.len()
    );
    out
}
