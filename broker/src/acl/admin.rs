//! ACL 1.0 administration (Java 4.9.8 `PlainPermissionManager` through `AdminBrokerProcessor`):
//! create or update an account, delete one, replace a file's global white list, and the files'
//! data versions. Changes are written to the YAML file that holds the account (a new one goes to
//! the default `plain_acl.yml`, created if missing), with the file's `dataVersion` advanced, and
//! the accounts in force are re-read at once. A change that would not parse is refused before
//! anything is written; writes are serialized and atomic (temporary file, then rename).

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::{config, AclValidator};

/// An account as UPDATE_AND_CREATE_ACL_CONFIG carries it; unset fields keep their old value
/// when the account exists (Java's `createAclAccessConfigMap`).
#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    pub access_key: String,
    pub secret_key: Option<String>,
    pub white_remote_address: Option<String>,
    pub admin: bool,
    pub default_topic_perm: Option<String>,
    pub default_group_perm: Option<String>,
    /// `name=PERM` entries (the header's comma-separated list).
    pub topic_perms: Option<Vec<String>>,
    pub group_perms: Option<Vec<String>>,
}

/// A file's data version, Java's `DataVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DataVersion {
    pub timestamp: i64,
    pub counter: i64,
}

fn key(k: &str) -> Value {
    Value::String(k.to_string())
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads a YAML file as a mapping (missing or empty: an empty mapping).
fn read_doc(path: &Path) -> Result<Mapping, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Mapping::new());
    }
    match serde_yaml::from_str::<Value>(&text).map_err(|e| format!("{}: {e}", path.display()))? {
        Value::Mapping(m) => Ok(m),
        Value::Null => Ok(Mapping::new()),
        _ => Err(format!("{}: not a YAML mapping", path.display())),
    }
}

/// The `dataVersion` of a document (Java keeps a one-element list).
fn data_version(doc: &Mapping) -> DataVersion {
    let first = match doc.get("dataVersion") {
        Some(Value::Sequence(s)) => s.first(),
        _ => None,
    };
    let field = |k: &str| {
        first
            .and_then(|v| v.get(k))
            .and_then(text)
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    };
    DataVersion {
        timestamp: field("timestamp"),
        counter: field("counter"),
    }
}

fn account_key(v: &Value) -> Option<String> {
    v.get("accessKey").and_then(text)
}

impl AclValidator {
    /// The file defining `access_key` first, in reading order.
    fn file_of(&self, access_key: &str) -> Option<PathBuf> {
        self.files().into_iter().find(|f| {
            read_doc(f)
                .ok()
                .is_some_and(|doc| match doc.get("accounts") {
                    Some(Value::Sequence(accounts)) => accounts
                        .iter()
                        .any(|a| account_key(a).as_deref() == Some(access_key)),
                    _ => false,
                })
        })
    }

    /// Checks `doc`, advances its data version, writes it atomically and reloads the accounts.
    fn write_doc(&self, path: &Path, mut doc: Mapping) -> Result<(), String> {
        let mut version = data_version(&doc);
        version.counter += 1;
        version.timestamp = now_ms();
        let mut entry = Mapping::new();
        entry.insert(key("counter"), Value::from(version.counter));
        entry.insert(key("timestamp"), Value::from(version.timestamp));
        doc.insert(
            key("dataVersion"),
            Value::Sequence(vec![Value::Mapping(entry)]),
        );
        let text = serde_yaml::to_string(&Value::Mapping(doc)).map_err(|e| e.to_string())?;
        config::parse(&text)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("yml.tmp");
        std::fs::write(&tmp, text.as_bytes()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.reload_now();
        Ok(())
    }

    /// UPDATE_AND_CREATE_ACL_CONFIG: updates the account where it is defined, or adds it to the
    /// default file. The error is the remark of UPDATE_AND_CREATE_ACL_CONFIG_FAILED.
    pub fn update_account(&self, u: &AccountUpdate) -> Result<(), String> {
        let _guard = self.admin_lock.lock().unwrap_or_else(|p| p.into_inner());
        if u.access_key.chars().count() <= 6 {
            return Err(format!(
                "The accessKey={} cannot be null and length should longer than 6",
                u.access_key
            ));
        }
        if let Some(sk) = u.secret_key.as_deref().filter(|s| !s.is_empty()) {
            if sk.chars().count() <= 6 {
                return Err("The secretKey value length should longer than 6".to_string());
            }
        }
        let path = match self.file_of(&u.access_key) {
            Some(p) => p,
            None => self
                .default_file
                .clone()
                .ok_or("no ACL file to write to: rocketmqHome is not set")?,
        };
        let mut doc = read_doc(&path)?;
        let mut accounts = match doc.remove("accounts") {
            Some(Value::Sequence(s)) => s,
            _ => Vec::new(),
        };
        let at = accounts
            .iter()
            .position(|a| account_key(a).as_deref() == Some(u.access_key.as_str()));
        let mut account = match at {
            Some(i) => match accounts.remove(i) {
                Value::Mapping(m) => m,
                _ => Mapping::new(),
            },
            None => Mapping::new(),
        };
        account.insert(key("accessKey"), key(&u.access_key));
        if let Some(sk) = u.secret_key.as_deref().filter(|s| !s.is_empty()) {
            account.insert(key("secretKey"), key(sk));
        }
        if let Some(w) = &u.white_remote_address {
            account.insert(key("whiteRemoteAddress"), key(w));
        }
        account.insert(key("admin"), Value::Bool(u.admin));
        for (k, v) in [
            ("defaultTopicPerm", &u.default_topic_perm),
            ("defaultGroupPerm", &u.default_group_perm),
        ] {
            if let Some(v) = v.as_deref().filter(|s| !s.is_empty()) {
                account.insert(key(k), key(v));
            }
        }
        for (k, v) in [
            ("topicPerms", &u.topic_perms),
            ("groupPerms", &u.group_perms),
        ] {
            if let Some(list) = v {
                account.insert(
                    key(k),
                    Value::Sequence(list.iter().map(|s| key(s)).collect()),
                );
            }
        }
        // Java removes the old entry and appends the updated one.
        accounts.push(Value::Mapping(account));
        doc.insert(key("accounts"), Value::Sequence(accounts));
        tracing::info!(access_key = %u.access_key, file = %path.display(), "ACL account updated");
        self.write_doc(&path, doc)
    }

    /// DELETE_ACL_CONFIG: removes the account from the file defining it. `Ok(false)` when no
    /// file defines it (Java answers DELETE_ACL_CONFIG_FAILED).
    pub fn delete_account(&self, access_key: &str) -> Result<bool, String> {
        let _guard = self.admin_lock.lock().unwrap_or_else(|p| p.into_inner());
        if access_key.is_empty() {
            return Ok(false);
        }
        let Some(path) = self.file_of(access_key) else {
            return Ok(false);
        };
        let mut doc = read_doc(&path)?;
        if let Some(Value::Sequence(accounts)) = doc.get_mut("accounts") {
            accounts.retain(|a| account_key(a).as_deref() != Some(access_key));
        }
        tracing::info!(access_key, file = %path.display(), "ACL account deleted");
        self.write_doc(&path, doc)?;
        Ok(true)
    }

    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: replaces `globalWhiteRemoteAddresses` of `file` (the
    /// default file when unset), which must exist under `rocketmqHome` and be a `.yml`/`.yaml`.
    pub fn update_global_white(
        &self,
        addrs: Vec<String>,
        file: Option<&str>,
    ) -> Result<(), String> {
        let _guard = self.admin_lock.lock().unwrap_or_else(|p| p.into_inner());
        let path = match file.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => PathBuf::from(f),
            None => self
                .default_file
                .clone()
                .ok_or("no ACL file to write to: rocketmqHome is not set")?,
        };
        if !path.is_file() {
            return Err(format!(
                "{} does not exist or is a directory",
                path.display()
            ));
        }
        if let Some(home) = &self.home {
            if !path.starts_with(home) {
                return Err(format!(
                    "{} is not in the directory rocketmq.home.dir {}",
                    path.display(),
                    home.display()
                ));
            }
        }
        if !path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            return Err(format!(
                "{} is not an ACL configuration file",
                path.display()
            ));
        }
        let mut doc = read_doc(&path)?;
        doc.insert(
            key("globalWhiteRemoteAddresses"),
            Value::Sequence(addrs.iter().map(|a| key(a)).collect()),
        );
        tracing::info!(file = %path.display(), ?addrs, "ACL global white list updated");
        self.write_doc(&path, doc)
    }

    /// The default file's data version and every file's (Java's `getAclConfigVersion` and
    /// `getAllAclConfigVersion`).
    pub fn versions(&self) -> (DataVersion, Vec<(String, DataVersion)>) {
        let all: Vec<(String, DataVersion)> = self
            .files()
            .iter()
            .map(|f| {
                let v = read_doc(f).map(|d| data_version(&d)).unwrap_or_default();
                (f.display().to_string(), v)
            })
            .collect();
        let default = self
            .default_file
            .as_ref()
            .and_then(|d| {
                let d = d.display().to_string();
                all.iter().find(|(f, _)| *f == d).map(|(_, v)| *v)
            })
            .unwrap_or_default();
        (default, all)
    }
}
