//! Permission bits and checks of ACL 1.0 (Java's `Permission`): DENY, ANY, PUB, SUB; the
//! request codes only an admin account may send.

use remoting::request_code as rc;

pub const DENY: u8 = 1;
pub const ANY: u8 = 1 << 1;
pub const PUB: u8 = 1 << 2;
pub const SUB: u8 = 1 << 3;

/// The prefix of a group's retry topic, the name groups are checked under.
pub const RETRY_PREFIX: &str = "%RETRY%";

/// Codes that need `admin: true`: Java 5.3.2's set (the last Java release with ACL 1.0, a
/// superset of 4.9.8's) plus the 5.x list variants of topic and group creation.
pub const ADMIN_CODES: &[i32] = &[
    rc::UPDATE_AND_CREATE_TOPIC,
    rc::UPDATE_AND_CREATE_TOPIC_LIST,
    rc::UPDATE_BROKER_CONFIG,
    rc::DELETE_TOPIC_IN_BROKER,
    rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST,
    rc::DELETE_SUBSCRIPTIONGROUP,
    rc::UPDATE_AND_CREATE_STATIC_TOPIC,
    rc::UPDATE_AND_CREATE_ACL_CONFIG,
    rc::DELETE_ACL_CONFIG,
    rc::GET_BROKER_CLUSTER_ACL_INFO,
];

pub fn needs_admin(code: i32) -> bool {
    ADMIN_CODES.contains(&code)
}

/// Java's `Permission.parsePermFromString`: unset or unknown is DENY.
pub fn parse(text: Option<&str>) -> u8 {
    match text.map(str::trim) {
        Some("PUB") => PUB,
        Some("SUB") => SUB,
        Some("PUB|SUB") | Some("SUB|PUB") => PUB | SUB,
        _ => DENY,
    }
}

/// Java's `Permission.checkPermission`.
pub fn check(needed: u8, owned: u8) -> bool {
    if owned & DENY != 0 {
        return false;
    }
    if needed & ANY != 0 {
        return owned & (PUB | SUB) != 0;
    }
    needed & owned != 0
}

pub fn is_retry_topic(resource: &str) -> bool {
    resource.starts_with(RETRY_PREFIX)
}

pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_PREFIX}{group}")
}

/// How refusals name a resource: `topic:T` or `group:G`.
pub fn describe(resource: &str) -> String {
    match resource.strip_prefix(RETRY_PREFIX) {
        Some(group) => format!("group:{group}"),
        None => format!("topic:{resource}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_as_java() {
        assert_eq!(parse(Some("PUB")), PUB);
        assert_eq!(parse(Some(" SUB|PUB ")), PUB | SUB);
        assert_eq!(parse(Some("pub")), DENY);
        assert_eq!(parse(None), DENY);
        assert!(check(PUB, PUB | SUB));
        assert!(!check(SUB, PUB));
        assert!(!check(PUB, DENY | PUB));
        assert!(check(ANY, SUB));
        assert!(!check(ANY, DENY));
        assert_eq!(describe("%RETRY%g"), "group:g");
        assert_eq!(describe("t"), "topic:t");
        assert!(needs_admin(rc::UPDATE_AND_CREATE_TOPIC));
        assert!(!needs_admin(rc::SEND_MESSAGE));
    }
}
