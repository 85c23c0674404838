//! The accounts file of ACL 1.0, `plain_acl.yml`, read as Java's `PlainPermissionManager`
//! reads it: `globalWhiteRemoteAddresses` (a list of address patterns) and `accounts`, each with
//! `accessKey`, `secretKey` (both longer than 6 characters), `whiteRemoteAddress`, `admin`,
//! `defaultTopicPerm`, `defaultGroupPerm` (unset = DENY), `topicPerms` and `groupPerms`
//! (`name=PERM` with PERM one of DENY, PUB, SUB, PUB|SUB, SUB|PUB; anything else is DENY).
//! Scalars are taken as text whatever their YAML type (`secretKey: 12345678` is a number in
//! YAML and the string "12345678" to Java). Groups are kept as their retry topic
//! (`%RETRY%group`), as Java does.

use std::collections::HashMap;

use serde_yaml::Value;

use super::address::AddressPattern;
use super::permission::{self, RETRY_PREFIX};

/// One account.
#[derive(Debug, Clone)]
pub struct Account {
    pub access_key: String,
    pub secret_key: String,
    pub white: AddressPattern,
    pub admin: bool,
    pub default_topic_perm: u8,
    pub default_group_perm: u8,
    /// Topic name or `%RETRY%group` -> permission bits.
    pub perms: HashMap<String, u8>,
}

/// What one file holds.
#[derive(Debug, Clone, Default)]
pub struct AclFile {
    pub global_white: Vec<AddressPattern>,
    pub accounts: Vec<Account>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(one) => text(one).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Parses the text of one accounts file. An empty file holds nothing (Java skips it).
pub fn parse(yaml: &str) -> Result<AclFile, String> {
    if yaml.trim().is_empty() {
        return Ok(AclFile::default());
    }
    let doc: Value = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    let map = match doc {
        Value::Mapping(m) => m,
        Value::Null => return Ok(AclFile::default()),
        _ => return Err("the ACL file is not a YAML mapping".to_string()),
    };
    let mut file = AclFile::default();
    for pattern in text_list(map.get("globalWhiteRemoteAddresses")) {
        file.global_white.push(AddressPattern::parse(&pattern)?);
    }
    if let Some(Value::Sequence(accounts)) = map.get("accounts") {
        for a in accounts {
            file.accounts.push(account(a)?);
        }
    }
    Ok(file)
}

fn account(v: &Value) -> Result<Account, String> {
    let Value::Mapping(m) = v else {
        return Err("an entry of accounts is not a mapping".to_string());
    };
    let get = |k: &str| m.get(k).and_then(text);
    let access_key = get("accessKey").unwrap_or_default();
    let secret_key = get("secretKey").unwrap_or_default();
    if access_key.chars().count() <= 6 || secret_key.chars().count() <= 6 {
        // Java's message also prints the secret key; this one does not.
        return Err(format!(
            "The accessKey={access_key} and secretKey cannot be null and length should longer than 6"
        ));
    }
    let white = AddressPattern::parse(&get("whiteRemoteAddress").unwrap_or_default())?;
    let admin = get("admin").is_some_and(|a| a.trim().eq_ignore_ascii_case("true"));
    let mut perms = HashMap::new();
    for (key, is_topic) in [("groupPerms", false), ("topicPerms", true)] {
        for entry in text_list(m.get(key)) {
            let items: Vec<&str> = entry.split('=').filter(|s| !s.is_empty()).collect();
            let [name, perm] = items[..] else {
                return Err(format!(
                    "Parse resource permission failed for {}:{entry}",
                    if is_topic { "topic" } else { "group" }
                ));
            };
            let name = name.trim();
            let resource = if is_topic {
                name.to_string()
            } else {
                format!("{RETRY_PREFIX}{name}")
            };
            perms.insert(resource, permission::parse(Some(perm)));
        }
    }
    Ok(Account {
        access_key,
        secret_key,
        white,
        admin,
        default_topic_perm: permission::parse(get("defaultTopicPerm").as_deref()),
        default_group_perm: permission::parse(get("defaultGroupPerm").as_deref()),
        perms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::permission::{DENY, PUB, SUB};

    /// The sample Java ships as `distribution/conf/plain_acl.yml`.
    pub const JAVA_SAMPLE: &str = r#"
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
      # the group should convert to retry topic
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB

  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    # if it is admin, it could access all resources
    admin: true
"#;

    #[test]
    fn reads_the_java_sample() {
        let f = parse(JAVA_SAMPLE).unwrap();
        assert_eq!(f.global_white.len(), 2);
        assert!(f.global_white[0].matches("10.10.103.9".parse().unwrap()));
        assert_eq!(f.accounts.len(), 2);
        let a = &f.accounts[0];
        assert_eq!(a.access_key, "RocketMQ");
        assert_eq!(a.secret_key, "12345678");
        assert!(!a.admin);
        assert_eq!(a.white, AddressPattern::Nothing);
        assert_eq!(a.default_topic_perm, DENY);
        assert_eq!(a.default_group_perm, SUB);
        assert_eq!(a.perms["topicA"], DENY);
        assert_eq!(a.perms["topicB"], PUB | SUB);
        assert_eq!(a.perms["topicC"], SUB);
        assert_eq!(a.perms["%RETRY%groupA"], DENY);
        assert_eq!(a.perms["%RETRY%groupB"], PUB | SUB);
        let b = &f.accounts[1];
        assert!(b.admin);
        assert!(b.white.matches("192.168.1.7".parse().unwrap()));
        // Unset default permissions are DENY.
        assert_eq!(b.default_topic_perm, DENY);
    }

    #[test]
    fn refuses_short_keys_and_bad_entries() {
        assert!(parse("accounts:\n  - accessKey: short\n    secretKey: 12345678\n").is_err());
        assert!(parse("accounts:\n  - accessKey: longenough\n    secretKey: 123\n").is_err());
        assert!(parse(
            "accounts:\n  - accessKey: longenough\n    secretKey: 12345678\n    topicPerms:\n      - justaname\n"
        )
        .is_err());
        assert!(parse("globalWhiteRemoteAddresses:\n  - 999.1.1.1\n").is_err());
        assert!(parse("accounts: [").is_err());
    }

    #[test]
    fn empty_files_hold_nothing() {
        assert_eq!(parse("").unwrap().accounts.len(), 0);
        assert_eq!(parse("# only a comment\n").unwrap().accounts.len(), 0);
    }
}
