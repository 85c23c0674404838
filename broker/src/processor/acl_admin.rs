//! ACL 1.0 administration requests of Java 4.9.8's AdminBrokerProcessor (mqadmin updateAclConfig,
//! deleteAccessConfig, updateGlobalWhiteAddr, clusterAclConfigVersion). The changes are made by
//! [`crate::acl::AclValidator`] in the YAML files; with `aclEnable=false` there is no validator
//! and every change is answered with its FAILED code.

use std::sync::Arc;

use remoting::protocol::ext_fields::ExtFields;
use remoting::{request_code as rc, response_code, Channel, RemotingCommand};

use crate::acl::admin::{AccountUpdate, DataVersion};
use crate::broker::Broker;
use crate::error::{BrokerError, BrokerResult};

pub const CODES: &[i32] = &[
    rc::UPDATE_AND_CREATE_ACL_CONFIG,
    rc::DELETE_ACL_CONFIG,
    rc::GET_BROKER_CLUSTER_ACL_INFO,
    rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
];

/// Java's `UtilAll.split(text, ",")`: trimmed non-empty parts; `None` for an unset field.
fn split(text: Option<&str>) -> Option<Vec<String>> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

fn version_json(v: &DataVersion) -> String {
    serde_json::json!({ "counter": v.counter, "timestamp": v.timestamp }).to_string()
}

pub async fn process(
    broker: Arc<Broker>,
    channel: Channel,
    req: RemotingCommand,
) -> BrokerResult<Option<RemotingCommand>> {
    let ok = || RemotingCommand::response_to(&req, response_code::SUCCESS, None);
    let ext = |k: &str| req.ext(k).map(str::to_string);
    let acl = broker.acl.clone();
    let peer = channel.peer_addr();
    match req.code {
        rc::UPDATE_AND_CREATE_ACL_CONFIG => {
            let u = AccountUpdate {
                access_key: ext("accessKey").unwrap_or_default(),
                secret_key: ext("secretKey"),
                white_remote_address: ext("whiteRemoteAddress"),
                admin: ext("admin").is_some_and(|a| a.trim() == "true"),
                default_topic_perm: ext("defaultTopicPerm"),
                default_group_perm: ext("defaultGroupPerm"),
                topic_perms: split(req.ext("topicPerms")),
                group_perms: split(req.ext("groupPerms")),
            };
            tracing::info!(%peer, access_key = %u.access_key, "updateAndCreateAccessConfig");
            let done = match acl {
                Some(acl) => tokio::task::spawn_blocking(move || acl.update_account(&u))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r),
                None => Err("ACL is not enabled on this broker (aclEnable=false)".to_string()),
            };
            done.map_err(|remark| {
                BrokerError::refused(response_code::UPDATE_AND_CREATE_ACL_CONFIG_FAILED, remark)
            })?;
            Ok(Some(ok()))
        }
        rc::DELETE_ACL_CONFIG => {
            let key = ext("accessKey").unwrap_or_default();
            tracing::info!(%peer, access_key = %key, "deleteAccessConfig");
            let failed = format!(
                "The accesskey[{key}] corresponding to accessConfig has been deleted failed."
            );
            let done = match acl {
                Some(acl) => {
                    let k = key.clone();
                    tokio::task::spawn_blocking(move || acl.delete_account(&k))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r)
                }
                None => Err("ACL is not enabled on this broker (aclEnable=false)".to_string()),
            };
            match done {
                Ok(true) => Ok(Some(ok())),
                Ok(false) => Err(BrokerError::refused(
                    response_code::DELETE_ACL_CONFIG_FAILED,
                    failed,
                )),
                Err(remark) => Err(BrokerError::refused(
                    response_code::DELETE_ACL_CONFIG_FAILED,
                    remark,
                )),
            }
        }
        rc::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG => {
            let addrs = split(req.ext("globalWhiteAddrs")).unwrap_or_default();
            let file = ext("aclFileFullPath");
            tracing::info!(%peer, ?addrs, "updateGlobalWhiteAddrsConfig");
            let done = match acl {
                Some(acl) => tokio::task::spawn_blocking(move || {
                    acl.update_global_white(addrs, file.as_deref())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r),
                None => Err("ACL is not enabled on this broker (aclEnable=false)".to_string()),
            };
            done.map_err(|remark| {
                BrokerError::refused(
                    response_code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED,
                    remark,
                )
            })?;
            Ok(Some(ok()))
        }
        rc::GET_BROKER_CLUSTER_ACL_INFO => {
            let Some(acl) = acl else {
                return Err(BrokerError::refused(
                    response_code::SYSTEM_ERROR,
                    "ACL is not enabled on this broker (aclEnable=false)",
                ));
            };
            let (default, all) = tokio::task::spawn_blocking(move || acl.versions())
                .await
                .map_err(|e| BrokerError::refused(response_code::SYSTEM_ERROR, e.to_string()))?;
            let mut all_json = serde_json::Map::new();
            for (file, v) in &all {
                all_json.insert(
                    file.clone(),
                    serde_json::json!({ "counter": v.counter, "timestamp": v.timestamp }),
                );
            }
            let mut h = ExtFields::new();
            h.insert("version", version_json(&default));
            h.insert(
                "allAclFileVersion",
                serde_json::Value::Object(all_json).to_string(),
            );
            h.insert("brokerName", broker.settings.broker_name.clone());
            h.insert("brokerAddr", broker.settings.broker_addr());
            h.insert("clusterName", broker.settings.cluster_name.clone());
            let mut resp = ok();
            resp.ext_fields = Some(h);
            Ok(Some(resp))
        }
        _ => Ok(None),
    }
}
