//! The message properties string: `name` 0x01 `value` 0x02, repeated, a 0x02 after every pair.
//! Parsing follows Java `MessageDecoder.string2messageProperties`: segments shorter than 3 chars
//! and pairs with an empty name or value are skipped, and a later duplicate wins.

use std::collections::HashMap;

/// Separates a property name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends every name/value pair.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// Java `MessageConst` property names the store and broker use.
pub mod keys {
    /// Space-separated user keys; each is indexed.
    pub const KEYS: &str = "KEYS";
    /// The tag; its Java hash goes into the ConsumeQueue.
    pub const TAGS: &str = "TAGS";
    /// Client-generated unique message id; indexed.
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    /// "false" means the producer does not wait for the flush (SYNC_FLUSH only).
    pub const WAIT: &str = "WAIT";
    /// Delay level (1-based).
    pub const DELAY: &str = "DELAY";
    /// Original topic of a retried message.
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    /// Original topic of a scheduled / half message.
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    /// Original queue id of a scheduled / half message.
    pub const REAL_QID: &str = "REAL_QID";
    /// "true" on half (prepared) transactional messages.
    pub const TRAN_MSG: &str = "TRAN_MSG";
    /// Producer group.
    pub const PGROUP: &str = "PGROUP";
    /// Original message id of a retry.
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    /// Retry bookkeeping.
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    /// Retry bookkeeping.
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    /// Cluster name, added by the broker on every send.
    pub const CLUSTER: &str = "CLUSTER";
    /// Transaction bookkeeping.
    pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    /// Transaction bookkeeping.
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    /// Transaction bookkeeping.
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    /// Client transaction id.
    pub const TRANSACTION_ID: &str = "__transactionId__";
    /// Region of the message.
    pub const MSG_REGION: &str = "MSG_REGION";
    /// Trace switch.
    pub const TRACE_ON: &str = "TRACE_ON";
}

/// Iterates the valid `(name, value)` pairs of a properties string, in order, without allocating.
#[derive(Debug, Clone)]
pub struct PropertiesIter<'a> {
    rest: &'a str,
}

impl<'a> PropertiesIter<'a> {
    /// Starts iterating `props`.
    pub fn new(props: &'a str) -> Self {
        PropertiesIter { rest: props }
    }
}

impl<'a> Iterator for PropertiesIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (segment, rest) = match self.rest.find(PROPERTY_SEPARATOR) {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, ""),
            };
            self.rest = rest;
            // Java measures UTF-16 length; any segment of >= 3 UTF-16 units that holds a
            // non-empty name and value also has >= 3 bytes, and the name/value checks below decide.
            if let Some(kv) = segment.find(NAME_VALUE_SEPARATOR) {
                let (name, value) = (&segment[..kv], &segment[kv + 1..]);
                if !name.is_empty() && !value.is_empty() {
                    return Some((name, value));
                }
            }
        }
        None
    }
}

/// The value of `key` (the last one if it repeats), borrowed from `props`.
pub fn get_property<'a>(props: &'a str, key: &str) -> Option<&'a str> {
    PropertiesIter::new(props)
        .filter(|(k, _)| *k == key)
        .last()
        .map(|(_, v)| v)
}

/// Java's `String.hashCode` (UTF-16 code units, wrapping arithmetic).
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Re-encodes `props` in the iteration order of a `java.util.HashMap` filled from it, which is
/// how the Java 5.x broker stores a message's properties (`string2messageProperties` into a
/// `HashMap(128)`, then `messageProperties2String`). A key that repeats keeps its first position
/// and last value. Order: bucket index `(h ^ h >>> 16) & (capacity - 1)` at the final capacity
/// (128, doubled while size > 3/4 of it), ties in insertion order (a resize keeps each bucket's
/// relative order). Readers with a default-sized map (4.x clients) then print in their own order
/// from these bytes exactly as from the Java broker's.
pub fn java_hash_map_order(props: &str) -> String {
    hash_map_order(props, 128)
}

/// `java_hash_map_order` of `props` after what the broker's send context does to it, in one pass
/// and one new string: each `replace` pair is set (kept in place when it is there exactly once
/// with that value, else every occurrence removed and the pair appended, as `set_property`), then
/// each `add_if_absent` pair appended when its key is missing.
pub fn java_hash_map_order_with(
    props: &str,
    replace: &[(&str, &str)],
    add_if_absent: &[(&str, &str)],
) -> String {
    let mut raw: Vec<(&str, &str)> = PropertiesIter::new(props).collect();
    for &(key, value) in replace {
        let mut found = raw.iter().filter(|(k, _)| *k == key);
        let keep = matches!((found.next(), found.next()), (Some((_, v)), None) if *v == value);
        if !keep {
            raw.retain(|(k, _)| *k != key);
            raw.push((key, value));
        }
    }
    for &(key, value) in add_if_absent {
        if !raw.iter().any(|(k, _)| *k == key) {
            raw.push((key, value));
        }
    }
    order_pairs(raw, 128)
}

fn hash_map_order(props: &str, initial_capacity: usize) -> String {
    order_pairs(PropertiesIter::new(props).collect(), initial_capacity)
}

/// Deduplicates `raw` (first position, last value) and orders it as a Java HashMap of
/// `initial_capacity` iterates.
fn order_pairs<'a>(raw: Vec<(&'a str, &'a str)>, initial_capacity: usize) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(raw.len());
    for (k, v) in raw {
        match pairs.iter_mut().find(|(known, _)| *known == k) {
            Some(slot) => slot.1 = v,
            None => pairs.push((k, v)),
        }
    }
    let mut capacity = initial_capacity.max(1).next_power_of_two();
    while pairs.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    // sort_by_key is stable: insertion order within a bucket.
    pairs.sort_by_key(|(k, _)| bucket(k));
    let len = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(len);
    for (k, v) in pairs {
        append_property(&mut out, k, v);
    }
    out
}

/// Parses a properties string into a map.
pub fn parse_properties(props: &str) -> HashMap<String, String> {
    PropertiesIter::new(props)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Appends one `name\x01value\x02` pair. Java 4.9.x clients send the string without the
/// final separator, so one is added first when the string does not end with it.
pub fn append_property(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() && !out.ends_with(PROPERTY_SEPARATOR) {
        out.push(PROPERTY_SEPARATOR);
    }
    out.push_str(name);
    out.push(NAME_VALUE_SEPARATOR);
    out.push_str(value);
    out.push(PROPERTY_SEPARATOR);
}

/// Encodes pairs the way Java's `messageProperties2String` does.
pub fn encode_properties<'a, I>(pairs: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::new();
    for (k, v) in pairs {
        append_property(&mut out, k, v);
    }
    out
}

/// Returns `props` without any pair named `key` (re-encoded; other pairs keep their order).
pub fn remove_property(props: &str, key: &str) -> String {
    encode_properties(PropertiesIter::new(props).filter(|(k, _)| *k != key))
}

/// Returns `props` with `key` set to `value` (any earlier pair of that name removed, the new pair
/// appended).
pub fn set_property(props: &str, key: &str, value: &str) -> String {
    let mut out = remove_property(props, key);
    append_property(&mut out, key, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass form equals the step-by-step one (set, set, append if absent, order) on
    /// strings with the keys absent, present once with the same or another value, or repeated.
    #[test]
    fn one_pass_send_context_equals_the_steps() {
        let cases = [
            "TAGS\u{1}T\u{2}KEYS\u{1}k\u{2}",
            "TAGS\u{1}T\u{2}MSG_REGION\u{1}DefaultRegion\u{2}TRACE_ON\u{1}true\u{2}",
            "MSG_REGION\u{1}Other\u{2}TAGS\u{1}T\u{2}CLUSTER\u{1}c0\u{2}",
            "TRACE_ON\u{1}true\u{2}a\u{1}1\u{2}TRACE_ON\u{1}true\u{2}",
            "a\u{1}1\u{2}b\u{1}2",
            "",
        ];
        let replace = [("MSG_REGION", "DefaultRegion"), ("TRACE_ON", "true")];
        for c in cases {
            let mut steps = c.to_string();
            for (k, v) in replace {
                let n = PropertiesIter::new(&steps).filter(|(x, _)| *x == k).count();
                if n != 1 || get_property(&steps, k) != Some(v) {
                    steps = set_property(&steps, k, v);
                }
            }
            if get_property(&steps, "CLUSTER").is_none() {
                append_property(&mut steps, "CLUSTER", "DefaultCluster");
            }
            assert_eq!(
                java_hash_map_order_with(c, &replace, &[("CLUSTER", "DefaultCluster")]),
                java_hash_map_order(&steps),
                "{c:?}"
            );
        }
    }

    #[test]
    fn java_hash_map_order_matches_what_the_java_broker_stores() {
        // mqadmin 4.9.8 (a HashMap of default size) printed this order for a message the Java 5.5.0
        // broker stored.
        let sent =
            "compatIndex\u{1}0\u{2}KEYS\u{1}key_0\u{2}UNIQ_KEY\u{1}FD01\u{2}WAIT\u{1}true\u{2}\
                    TAGS\u{1}TagA\u{2}MSG_REGION\u{1}DefaultRegion\u{2}TRACE_ON\u{1}true\u{2}\
                    CLUSTER\u{1}DefaultCluster\u{2}";
        let printed = hash_map_order(&java_hash_map_order(sent), 16);
        let keys: Vec<String> = PropertiesIter::new(&printed)
            .map(|(k, _)| k.to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "TRACE_ON",
                "compatIndex",
                "MSG_REGION",
                "KEYS",
                "UNIQ_KEY",
                "CLUSTER",
                "WAIT",
                "TAGS"
            ]
        );
    }

    #[test]
    fn java_hash_map_order_keeps_one_pair_per_key_with_the_last_value() {
        let out = java_hash_map_order("A\u{1}1\u{2}B\u{1}2\u{2}A\u{1}3\u{2}");
        assert_eq!(get_property(&out, "A"), Some("3"));
        assert_eq!(PropertiesIter::new(&out).count(), 2);
    }

    #[test]
    fn append_after_a_4x_string_without_trailing_separator_keeps_pairs_apart() {
        let mut p = "TAGS\u{1}Tag0".to_string();
        append_property(&mut p, "CLUSTER", "DefaultCluster");
        assert_eq!(get_property(&p, "TAGS"), Some("Tag0"));
        assert_eq!(get_property(&p, "CLUSTER"), Some("DefaultCluster"));
    }

    /// Encode then parse gives back the same pairs; a trailing 0x02 follows every pair.
    #[test]
    fn round_trip() {
        let s = encode_properties([("TAGS", "TagA"), ("KEYS", "k1 k2"), ("UNIQ_KEY", "ABC")]);
        assert_eq!(
            s,
            "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}UNIQ_KEY\u{1}ABC\u{2}"
        );
        let m = parse_properties(&s);
        assert_eq!(m.len(), 3);
        assert_eq!(m["KEYS"], "k1 k2");
        assert_eq!(get_property(&s, "TAGS"), Some("TagA"));
        assert_eq!(get_property(&s, "NOPE"), None);
    }

    /// Java skips empty names/values and short segments, tolerates a missing final 0x02, and a
    /// later duplicate overrides an earlier one.
    #[test]
    fn java_parse_rules() {
        let s = "\u{1}v\u{2}k\u{1}\u{2}ab\u{2}A\u{1}1\u{2}A\u{1}2\u{2}B\u{1}x";
        let pairs: Vec<_> = PropertiesIter::new(s).collect();
        assert_eq!(pairs, vec![("A", "1"), ("A", "2"), ("B", "x")]);
        assert_eq!(get_property(s, "A"), Some("2"));
        assert_eq!(parse_properties(s)["A"], "2");
    }

    /// Removing a key keeps the others in order.
    #[test]
    fn remove() {
        let s = encode_properties([("A", "1"), ("B", "2"), ("C", "3")]);
        assert_eq!(
            remove_property(&s, "B"),
            encode_properties([("A", "1"), ("C", "3")])
        );
    }
}
