//! ACL 1.0 (`aclEnable=true`): every request to the broker is checked, before its processor,
//! against the accounts of `plain_acl.yml`, as Java's `PlainAccessValidator` /
//! `PlainPermissionManager` do.
//!
//! Files: `<rocketmqHome>/conf/plain_acl.yml` — or `<rocketmqHome>/<rocketmq.acl.plain.file>`
//! (Java's system property, read here from broker.conf; an absolute path is taken as is) —
//! plus every `*.yml`/`*.yaml` under `<rocketmqHome>/conf/acl/` (except `conf/tools.yml`). An
//! access key defined in two files keeps its first definition. The files are re-read when they
//! change (checked every few seconds); a file that no longer parses leaves the last good
//! accounts in force.
//!
//! Check order (Java's): the request's resources are read first (a request that cannot be read is
//! refused); a peer matching `globalWhiteRemoteAddresses` passes; otherwise the request needs
//! an `AccessKey` of a known account; a peer matching the account's `whiteRemoteAddress` passes;
//! otherwise the signature must verify (`signature`), a PUB of `RMQ_SYS_TRACE_TOPIC` passes,
//! admin accounts pass, admin-only codes are refused, and each resource the request touches
//! needs its permission (the account's entry for it, else its default topic/group permission).
//!
//! Resources per code (Java 5.3.2, the last Java release with ACL 1.0, a superset of 4.9.8):
//! SEND_MESSAGE / V2 / BATCH → the topic PUB (a `%RETRY%` topic SUB); RECALL_MESSAGE → topic
//! PUB; CONSUMER_SEND_MSG_BACK → the group SUB; PULL_MESSAGE (and, beyond Java, LITE_PULL_MESSAGE,
//! which has the same header) → topic SUB and group SUB; QUERY_MESSAGE → topic SUB; HEART_BEAT →
//! every consumer group SUB and each subscribed topic SUB; UNREGISTER_CLIENT and
//! GET_CONSUMER_LIST_BY_GROUP → the group SUB; UPDATE_CONSUMER_OFFSET → group and topic SUB.
//! Groups are checked under their retry topic name, `%RETRY%group`.
//!
//! Refusals: the Java reference our harness runs (5.5.0) no longer has ACL 1.0 (`aclEnable` is
//! read by nothing there since 5.3.3; its ACL 2.0 is configured differently and answers
//! NO_PERMISSION). Every Java release that does serve `aclEnable` — 4.x up to 4.9.8 and 5.0 to
//! 5.3.2 — lets the validator's `AclException` reach the remoting layer, which answers
//! SYSTEM_ERROR (1) with the exception's text; so do we (see `crate::error`), without Java's
//! stack-frame suffix. Each refusal is logged with the peer, the code and the reason.

pub mod address;
pub mod admin;
pub mod config;
pub mod permission;
pub mod signature;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use remoting::protocol::body::HeartbeatData;
use remoting::protocol::header::broker::{
    GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use remoting::server::RequestInterceptor;
use remoting::{request_code as rc, Channel, RemotingCommand};

use address::AddressPattern;
use config::Account;
use permission::{PUB, SUB};

/// `rocketmq.acl.plain.file`: the accounts file, relative to `rocketmqHome`.
pub const PLAIN_FILE_KEY: &str = "rocketmq.acl.plain.file";
/// Java's default of `rocketmq.acl.plain.file`.
pub const DEFAULT_PLAIN_FILE: &str = "conf/plain_acl.yml";
/// The topic message traces are written to; a PUB to it needs only a valid signature.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// How often the files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// Why a request was refused, or the accounts could not be read. The texts are Java's
/// `AclException` messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("No accessKey is configured")]
    NoAccessKey,
    #[error("No acl config for {0}")]
    UnknownAccessKey(String),
    #[error("Check signature failed for accessKey={0}")]
    BadSignature(String),
    #[error("Need admin permission for request code={code}, but accessKey={access_key} is not")]
    NeedAdmin { code: i32, access_key: String },
    #[error("No default permission for {0}")]
    NoDefaultPermission(String),
    #[error("No permission for {0}")]
    NoPermission(String),
    /// The request's resources could not be read (a bad header or heartbeat body).
    #[error("{0}")]
    BadRequest(String),
    /// An accounts file that cannot be read or parsed.
    #[error("ACL file {file}: {reason}")]
    Config { file: String, reason: String },
}

/// The accounts in force.
#[derive(Debug, Default)]
struct Accounts {
    global_white: Vec<AddressPattern>,
    by_key: HashMap<String, Account>,
}

/// What a request asks for: its access key, signature and the resources it touches.
#[derive(Debug, Default)]
struct Access {
    access_key: Option<String>,
    signature: Option<String>,
    /// Topic or `%RETRY%group` -> permission needed, in the order found (a later entry for the
    /// same resource replaces the earlier one, as Java's map does).
    resources: Vec<(String, u8)>,
}

impl Access {
    fn add(&mut self, resource: Option<&str>, perm: u8) {
        let Some(resource) = resource else {
            return;
        };
        match self.resources.iter_mut().find(|(r, _)| r == resource) {
            Some(slot) => slot.1 = perm,
            None => self.resources.push((resource.to_string(), perm)),
        }
    }

    fn add_group(&mut self, group: Option<&str>, perm: u8) {
        if let Some(g) = group {
            self.add(Some(&permission::retry_topic(g)), perm);
        }
    }
}

/// File -> (modified, length), to notice changes.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The ACL 1.0 validator the broker puts in front of its processors.
#[derive(Debug)]
pub struct AclValidator {
    home: Option<PathBuf>,
    default_file: Option<PathBuf>,
    accounts: RwLock<Arc<Accounts>>,
    seen: std::sync::Mutex<Fingerprint>,
    /// Serializes the administration requests' read-modify-write of the files.
    admin_lock: std::sync::Mutex<()>,
}

impl AclValidator {
    /// The validator of a broker, if `aclEnable` is true: the accounts under `rocketmqHome`.
    pub fn from_config(
        config: &crate::config::BrokerConfig,
    ) -> Result<Option<Arc<Self>>, AclError> {
        if !config.props.bool("aclEnable") {
            return Ok(None);
        }
        let home = config.props.string("rocketmqHome");
        let file = config
            .props
            .get(PLAIN_FILE_KEY)
            .filter(|f| !f.trim().is_empty())
            .unwrap_or(DEFAULT_PLAIN_FILE)
            .to_string();
        let v = Self::load(&home, &file)?;
        Ok(Some(Arc::new(v)))
    }

    /// Reads the accounts of `rocketmq_home` (`plain_file` relative to it unless absolute).
    pub fn load(rocketmq_home: &str, plain_file: &str) -> Result<Self, AclError> {
        let home = (!rocketmq_home.trim().is_empty()).then(|| PathBuf::from(rocketmq_home.trim()));
        let default_file = match &home {
            _ if Path::new(plain_file).is_absolute() => Some(PathBuf::from(plain_file)),
            Some(h) => Some(h.join(plain_file)),
            None => None,
        };
        if home.is_none() {
            tracing::warn!("aclEnable=true but rocketmqHome is not set: no accounts; every request without a white-listed address is refused");
        }
        let v = Self {
            home,
            default_file,
            accounts: RwLock::new(Arc::new(Accounts::default())),
            seen: std::sync::Mutex::new(Vec::new()),
            admin_lock: std::sync::Mutex::new(()),
        };
        let (accounts, seen) = v.read_all()?;
        tracing::info!(
            accounts = accounts.by_key.len(),
            white_lists = accounts.global_white.len(),
            files = seen.len(),
            "ACL enabled"
        );
        *v.accounts.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(accounts);
        *v.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
        Ok(v)
    }

    /// The files to read: the default file (if it exists) and `conf/acl/**/*.yml|yaml`.
    fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some(home) = &self.home {
            let tools = home.join("conf").join("tools.yml");
            collect_yaml(&home.join("conf").join("acl"), &tools, &mut out, 0);
        }
        if let Some(f) = &self.default_file {
            if f.is_file() && !out.contains(f) {
                out.push(f.clone());
            } else if !f.exists() {
                tracing::warn!(file = %f.display(), "ACL file does not exist");
            }
        }
        out
    }

    fn fingerprint(files: &[PathBuf]) -> Fingerprint {
        files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(f).ok();
                (
                    f.clone(),
                    meta.as_ref().and_then(|m| m.modified().ok()),
                    meta.map(|m| m.len()).unwrap_or(0),
                )
            })
            .collect()
    }

    fn read_all(&self) -> Result<(Accounts, Fingerprint), AclError> {
        let files = self.files();
        let seen = Self::fingerprint(&files);
        let mut accounts = Accounts::default();
        for f in &files {
            let text = std::fs::read_to_string(f).map_err(|e| AclError::Config {
                file: f.display().to_string(),
                reason: e.to_string(),
            })?;
            let parsed = config::parse(&text).map_err(|reason| AclError::Config {
                file: f.display().to_string(),
                reason,
            })?;
            accounts.global_white.extend(parsed.global_white);
            for a in parsed.accounts {
                if accounts.by_key.contains_key(&a.access_key) {
                    tracing::warn!(access_key = %a.access_key, file = %f.display(), "access key defined in more than one ACL file; the first definition is kept");
                    continue;
                }
                accounts.by_key.insert(a.access_key.clone(), a);
            }
        }
        Ok((accounts, seen))
    }

    /// Re-reads the files if any was added, removed or changed since the last read.
    pub fn reload_if_changed(&self) {
        let now = Self::fingerprint(&self.files());
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return;
            }
        }
        self.reload_now();
    }

    /// Re-reads the files now (after an administration request wrote one).
    pub fn reload_now(&self) {
        let now = Self::fingerprint(&self.files());
        match self.read_all() {
            Ok((accounts, seen)) => {
                tracing::info!(
                    accounts = accounts.by_key.len(),
                    "ACL files changed; reloaded"
                );
                *self.accounts.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(accounts);
                *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = seen;
            }
            Err(e) => {
                tracing::error!(error = %e, "ACL files changed but cannot be read; the previous accounts stay in force");
                // Do not report the same broken state every tick.
                *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = now;
            }
        }
    }

    /// Checks the files for changes every few seconds until the task is aborted.
    pub fn spawn_watch(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                let v = self.clone();
                let _ = tokio::task::spawn_blocking(move || v.reload_if_changed()).await;
            }
        })
    }

    /// Whether `req` from `peer` may be served.
    pub fn validate(&self, peer: SocketAddr, req: &RemotingCommand) -> Result<(), AclError> {
        let access = parse_access(req)?;
        let accounts = self
            .accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let ip = address::peer_ip(peer);
        if accounts.global_white.iter().any(|w| w.matches(ip)) {
            return Ok(());
        }
        let Some(ak) = access.access_key.as_deref() else {
            return Err(AclError::NoAccessKey);
        };
        let account = accounts
            .by_key
            .get(ak)
            .ok_or_else(|| AclError::UnknownAccessKey(ak.to_string()))?;
        if account.white.matches(ip) {
            return Ok(());
        }
        let signed = access
            .signature
            .as_deref()
            .is_some_and(|s| signature::verify(req, &account.secret_key, s));
        if !signed {
            return Err(AclError::BadSignature(ak.to_string()));
        }
        if access
            .resources
            .iter()
            .any(|(r, p)| r == TRACE_TOPIC && *p == PUB)
        {
            return Ok(());
        }
        check_permissions(req.code, &access, account)
    }
}

/// `*.yml` / `*.yaml` files under `dir`, depth-first (bounded depth), skipping `tools`.
fn collect_yaml(dir: &Path, tools: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p == tools {
            continue;
        }
        if p.is_dir() {
            collect_yaml(&p, tools, out, depth + 1);
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
}

/// Java's `PlainPermissionChecker.check`.
fn check_permissions(code: i32, access: &Access, account: &Account) -> Result<(), AclError> {
    if account.admin {
        return Ok(());
    }
    if permission::needs_admin(code) {
        return Err(AclError::NeedAdmin {
            code,
            access_key: account.access_key.clone(),
        });
    }
    for (resource, needed) in &access.resources {
        let is_group = permission::is_retry_topic(resource);
        match account.perms.get(resource) {
            None => {
                let owned = if is_group {
                    account.default_group_perm
                } else {
                    account.default_topic_perm
                };
                if !permission::check(*needed, owned) {
                    return Err(AclError::NoDefaultPermission(permission::describe(
                        resource,
                    )));
                }
            }
            Some(owned) => {
                if !permission::check(*needed, *owned) {
                    return Err(AclError::NoPermission(permission::describe(resource)));
                }
            }
        }
    }
    Ok(())
}

/// Reads what `req` asks for (Java's `PlainAccessResource.parse`).
fn parse_access(req: &RemotingCommand) -> Result<Access, AclError> {
    let mut access = Access::default();
    let Some(ext) = &req.ext_fields else {
        return Ok(access);
    };
    access.access_key = ext.get(signature::ACCESS_KEY).map(String::from);
    access.signature = ext.get(signature::SIGNATURE).map(String::from);
    let bad = |e: remoting::error::HeaderError| AclError::BadRequest(e.to_string());
    match req.code {
        rc::SEND_MESSAGE => send_topic(&mut access, ext.get("topic")),
        rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => send_topic(&mut access, ext.get("b")),
        rc::RECALL_MESSAGE => access.add(ext.get("topic"), PUB),
        rc::CONSUMER_SEND_MSG_BACK => access.add_group(ext.get("group"), SUB),
        rc::PULL_MESSAGE | rc::LITE_PULL_MESSAGE => {
            access.add(ext.get("topic"), SUB);
            access.add_group(ext.get("consumerGroup"), SUB);
        }
        rc::QUERY_MESSAGE => access.add(ext.get("topic"), SUB),
        rc::HEART_BEAT => {
            let body = req.body.to_bytes();
            let data: HeartbeatData = serde_json::from_slice(&body)
                .map_err(|e| AclError::BadRequest(format!("decode heartbeat body failed: {e}")))?;
            for consumer in &data.consumer_data_set {
                access.add_group(Some(&consumer.group_name), SUB);
                for sub in &consumer.subscription_data_set {
                    access.add(Some(&sub.topic), SUB);
                }
            }
        }
        rc::UNREGISTER_CLIENT => {
            let h: UnregisterClientRequestHeader = req.decode_header().map_err(bad)?;
            access.add_group(h.consumer_group.as_deref(), SUB);
        }
        rc::GET_CONSUMER_LIST_BY_GROUP => {
            let h: GetConsumerListByGroupRequestHeader = req.decode_header().map_err(bad)?;
            access.add_group(Some(&h.consumer_group), SUB);
        }
        rc::UPDATE_CONSUMER_OFFSET => {
            let h: UpdateConsumerOffsetRequestHeader = req.decode_header().map_err(bad)?;
            access.add_group(Some(&h.consumer_group), SUB);
            access.add(Some(&h.topic), SUB);
        }
        _ => {}
    }
    Ok(access)
}

fn send_topic(access: &mut Access, topic: Option<&str>) {
    let perm = match topic {
        Some(t) if permission::is_retry_topic(t) => SUB,
        _ => PUB,
    };
    access.add(topic, perm);
}

impl RequestInterceptor for AclValidator {
    fn before(&self, channel: &Channel, request: &RemotingCommand) -> Option<RemotingCommand> {
        let peer = channel.peer_addr();
        match self.validate(peer, request) {
            Ok(()) => None,
            Err(e) => {
                let ak = request.ext(signature::ACCESS_KEY).unwrap_or("");
                tracing::warn!(%peer, code = request.code, access_key = ak, reason = %e, "request refused by ACL");
                Some(crate::error::BrokerError::from(e).into_response(request))
            }
        }
    }
}

#[cfg(test)]
mod tests;
