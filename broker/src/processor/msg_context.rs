//! The properties the Java 5.x broker adds to every message it accepts from a producer (its
//! `buildMsgContext`, run for each send and reply): the broker's region (`MSG_REGION`) and trace
//! switch (`TRACE_ON`). Consumers' trace hooks read both from the consumed message: without a
//! region the 5.x client drops its consume trace records, and `TRACE_ON=false` turns them off.
//!
//! Invariant: afterwards each of the two names occurs once, with the broker's value.

use store::message::properties::{self as props, keys};

use crate::config::BrokerSettings;

/// `properties` with MSG_REGION and TRACE_ON set to this broker's `regionId` / `traceOn`.
pub(super) fn with_region_and_trace(properties: String, s: &BrokerSettings) -> String {
    let trace_on = if s.trace_on { "true" } else { "false" };
    let mut out = properties;
    for (key, value) in [
        (keys::MSG_REGION, s.region_id.as_str()),
        (keys::TRACE_ON, trace_on),
    ] {
        let present = props::PropertiesIter::new(&out)
            .filter(|(k, _)| *k == key)
            .count();
        if present != 1 || props::get_property(&out, key) != Some(value) {
            out = props::set_property(&out, key, value);
        }
    }
    out
}

/// What a single send stores: `properties` with MSG_REGION, TRACE_ON (as `with_region_and_trace`)
/// and CLUSTER (when missing) in the order of Java's HashMap, built in one pass.
pub(super) fn java_properties(properties: &str, s: &BrokerSettings) -> String {
    let trace_on = if s.trace_on { "true" } else { "false" };
    props::java_hash_map_order_with(
        properties,
        &[
            (keys::MSG_REGION, s.region_id.as_str()),
            (keys::TRACE_ON, trace_on),
        ],
        &[(keys::CLUSTER, s.cluster_name.as_str())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(region: &str, trace_on: bool) -> BrokerSettings {
        let (cfg, _) = crate::config::BrokerConfig::from_properties(
            [
                ("regionId".to_string(), region.to_string()),
                ("traceOn".to_string(), trace_on.to_string()),
            ]
            .into_iter()
            .collect(),
        )
        .unwrap();
        cfg.settings().unwrap()
    }

    #[test]
    fn adds_region_and_switch_keeping_user_properties() {
        let p = with_region_and_trace(
            "TAGS\u{1}T\u{2}a\u{1}1".to_string(),
            &settings("DefaultRegion", true),
        );
        assert_eq!(props::get_property(&p, "TAGS"), Some("T"));
        assert_eq!(props::get_property(&p, "a"), Some("1"));
        assert_eq!(props::get_property(&p, "MSG_REGION"), Some("DefaultRegion"));
        assert_eq!(props::get_property(&p, "TRACE_ON"), Some("true"));
    }

    #[test]
    fn the_broker_values_replace_what_the_client_sent() {
        let p = with_region_and_trace(
            "MSG_REGION\u{1}x\u{2}TRACE_ON\u{1}true\u{2}TRACE_ON\u{1}true\u{2}".to_string(),
            &settings("r1", false),
        );
        assert_eq!(props::get_property(&p, "MSG_REGION"), Some("r1"));
        assert_eq!(props::get_property(&p, "TRACE_ON"), Some("false"));
        assert_eq!(props::PropertiesIter::new(&p).count(), 2);
    }
}
