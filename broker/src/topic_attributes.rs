//! Topic attributes (Java 5.x `TopicAttributes` + `AttributeParser` + `AttributeUtil`): the
//! `+key=value,-key` modification string of updateTopic, checked against the known attributes and
//! applied to a topic's current ones. Errors carry Java's messages (they become the remark).
//! Invariant: a topic's stored attributes only ever hold known keys with verified values.

use std::collections::BTreeMap;

enum Kind {
    /// Allowed values, in the order Java prints its set.
    Enum(&'static [&'static str]),
    /// Inclusive range.
    Long(i64, i64),
}

struct Attribute {
    name: &'static str,
    changeable: bool,
    kind: Kind,
}

/// The attributes of the Java 5.5.0 reference broker.
const ALL: &[Attribute] = &[
    Attribute {
        name: "cleanup.policy",
        changeable: false,
        kind: Kind::Enum(&["DELETE", "COMPACTION"]),
    },
    Attribute {
        name: "message.type",
        changeable: true,
        kind: Kind::Enum(&[
            "UNSPECIFIED",
            "MIXED",
            "TRANSACTION",
            "PRIORITY",
            "FIFO",
            "DELAY",
            "LITE",
            "NORMAL",
        ]),
    },
    Attribute {
        name: "lite.topic.expiration",
        changeable: true,
        kind: Kind::Long(-1, 43_200),
    },
    Attribute {
        name: "queue.type",
        changeable: false,
        kind: Kind::Enum(&["SimpleCQ", "BatchCQ"]),
    },
    Attribute {
        name: "reserve.time",
        changeable: true,
        kind: Kind::Long(-1, i64::MAX),
    },
];

/// Values Java accepts that this broker's store cannot honour: refused instead of ignored.
const UNSUPPORTED: &[(&str, &str)] = &[("queue.type", "BatchCQ"), ("cleanup.policy", "COMPACTION")];

impl Attribute {
    fn verify(&self, value: &str) -> Result<(), String> {
        match self.kind {
            Kind::Enum(set) => {
                if set.contains(&value) {
                    Ok(())
                } else {
                    Err(format!("value is not in set: [{}]", set.join(", ")))
                }
            }
            Kind::Long(min, max) => {
                let v: i64 = value
                    .parse()
                    .map_err(|_| format!("For input string: \"{value}\""))?;
                if v < min || v > max {
                    Err(format!("value is not in range({min}, {max})"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Parses `+k1=v1,+k2=v2,-k3` (Java `AttributeParser.parseToMap`): keys keep their sign.
pub fn parse(modification: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    if modification.is_empty() {
        return Ok(out);
    }
    for kv in modification.split(',') {
        let (key, value) = if kv.contains('=') {
            // Java's String.split("="): trailing empty parts dropped, the second part is the value.
            let mut parts = kv.split('=').collect::<Vec<_>>();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            let (Some(k), Some(v)) = (parts.first(), parts.get(1)) else {
                return Err(format!("Index 1 out of bounds for length {}", parts.len()));
            };
            if !k.contains('+') {
                return Err(format!("add/alter attribute format is wrong: {k}"));
            }
            (k.to_string(), v.to_string())
        } else {
            if !kv.contains('-') {
                return Err(format!("delete attribute format is wrong: {kv}"));
            }
            (kv.to_string(), String::new())
        };
        if out.iter().any(|(k, _)| *k == key) {
            return Err(format!("key duplication: {key}"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Whether a parsed modification sets `message.type` to MIXED (refused unless
/// `enableMixedMessageType`).
pub fn sets_mixed(modification: &[(String, String)]) -> bool {
    modification
        .iter()
        .any(|(k, v)| k == "+message.type" && v == "MIXED")
}

/// The attributes after applying `modification` to `current` (Java
/// `AttributeUtil.alterCurrentAttributes`); `create` when the topic does not exist yet.
pub fn alter(
    create: bool,
    current: &BTreeMap<String, String>,
    modification: &[(String, String)],
) -> Result<BTreeMap<String, String>, String> {
    let mut seen: Vec<&str> = Vec::new();
    // (key, value, init, delete)
    let mut changes: Vec<(&str, &str, bool, bool)> = Vec::new();
    for (key, value) in modification {
        let real = key.get(1..).unwrap_or("");
        if real.is_empty() || real.contains('+') || real.contains('-') {
            return Err("kv string format wrong.".to_string());
        }
        if seen.contains(&real) {
            return Err(format!("alter duplication key. key: {real}"));
        }
        seen.push(real);
        if create {
            if !key.starts_with('+') {
                return Err(format!(
                    "only add attribute is supported while creating topic. key: {real}"
                ));
            }
            changes.push((real, value, true, false));
        } else if key.starts_with('+') {
            changes.push((real, value, false, false));
        } else if key.starts_with('-') {
            if !current.contains_key(real) {
                return Err(format!("attempt to delete a nonexistent key: {real}"));
            }
            changes.push((real, value, false, true));
        } else {
            return Err(format!("wrong format key: {real}"));
        }
    }
    for &(key, value, init, delete) in &changes {
        let Some(attr) = ALL.iter().find(|a| a.name == key) else {
            return Err(format!("unsupported key: {key}"));
        };
        if !init && !attr.changeable {
            return Err(format!(
                "attempt to update an unchangeable attribute. key: {key}"
            ));
        }
        if !delete {
            attr.verify(value)?;
            if UNSUPPORTED.contains(&(key, value)) {
                return Err(format!("{key}={value} is not supported by this broker"));
            }
        }
    }
    let mut out = current.clone();
    for (key, value, _, delete) in changes {
        if delete {
            out.remove(key);
        } else {
            out.insert(key.to_string(), value.to_string());
        }
    }
    Ok(out)
}

/// The request's modification applied to `tc`: `tc.attributes` becomes the topic's attributes
/// after the change (the current ones of `existing`, if the topic exists). Errors as Java answers
/// them: MIXED refused with INVALID_PARAMETER unless allowed, anything else SYSTEM_ERROR.
pub fn resolve(
    tc: &mut remoting::protocol::body::TopicConfig,
    existing: Option<&remoting::protocol::body::TopicConfig>,
    modification: &[(String, String)],
    allow_mixed: bool,
) -> Result<(), (i32, String)> {
    use remoting::response_code;
    if !allow_mixed && sets_mixed(modification) {
        return Err((
            response_code::INVALID_PARAMETER,
            "MIXED message type is not supported.".to_string(),
        ));
    }
    let empty = BTreeMap::new();
    let current = existing.map(|t| &t.attributes).unwrap_or(&empty);
    tc.attributes = alter(existing.is_none(), current, modification)
        .map_err(|e| (response_code::SYSTEM_ERROR, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parse_keeps_signs_and_refuses_what_java_refuses() {
        assert_eq!(
            parse("+message.type=FIFO,-reserve.time").unwrap(),
            vec![
                ("+message.type".to_string(), "FIFO".to_string()),
                ("-reserve.time".to_string(), String::new())
            ]
        );
        assert!(parse("").unwrap().is_empty());
        assert_eq!(
            parse("message.type=FIFO").unwrap_err(),
            "add/alter attribute format is wrong: message.type"
        );
        assert_eq!(
            parse("message.type").unwrap_err(),
            "delete attribute format is wrong: message.type"
        );
        assert_eq!(parse("+a=1,+a=2").unwrap_err(), "key duplication: +a");
        assert_eq!(
            parse("+a=").unwrap_err(),
            "Index 1 out of bounds for length 1"
        );
    }

    #[test]
    fn alter_creates_updates_and_deletes_as_java() {
        let created = alter(
            true,
            &BTreeMap::new(),
            &parse("+message.type=FIFO").unwrap(),
        )
        .unwrap();
        assert_eq!(created, map(&[("message.type", "FIFO")]));
        let updated = alter(false, &created, &parse("+message.type=NORMAL").unwrap()).unwrap();
        assert_eq!(updated, map(&[("message.type", "NORMAL")]));
        let deleted = alter(false, &updated, &parse("-message.type").unwrap()).unwrap();
        assert!(deleted.is_empty());
        // No modification keeps what is there.
        assert_eq!(alter(false, &updated, &[]).unwrap(), updated);
    }

    #[test]
    fn alter_refuses_with_javas_messages() {
        let none = BTreeMap::new();
        let e = |create, cur: &BTreeMap<String, String>, m: &str| {
            alter(create, cur, &parse(m).unwrap()).unwrap_err()
        };
        assert_eq!(
            e(true, &none, "-message.type"),
            "only add attribute is supported while creating topic. key: message.type"
        );
        assert_eq!(e(true, &none, "+foo.bar=x"), "unsupported key: foo.bar");
        assert_eq!(
            e(
                false,
                &map(&[("queue.type", "SimpleCQ")]),
                "+queue.type=SimpleCQ"
            ),
            "attempt to update an unchangeable attribute. key: queue.type"
        );
        assert_eq!(
            e(false, &none, "-message.type"),
            "attempt to delete a nonexistent key: message.type"
        );
        assert_eq!(
            e(true, &none, "+message.type=bogus"),
            "value is not in set: [UNSPECIFIED, MIXED, TRANSACTION, PRIORITY, FIFO, DELAY, LITE, NORMAL]"
        );
        assert_eq!(
            e(true, &none, "+lite.topic.expiration=-5"),
            "value is not in range(-1, 43200)"
        );
        assert_eq!(e(true, &none, "+reserve.time=x"), "For input string: \"x\"");
        assert_eq!(
            e(true, &none, "+queue.type=BatchCQ"),
            "queue.type=BatchCQ is not supported by this broker"
        );
        assert!(sets_mixed(&parse("+message.type=MIXED").unwrap()));
    }
}
