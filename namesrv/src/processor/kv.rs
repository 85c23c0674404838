//! PUT/GET/DELETE_KV_CONFIG and GET_KVLIST_BY_NAMESPACE.

use remoting::protocol::body::{to_json_bytes, KvTable};
use remoting::protocol::header::namesrv::{
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, KvConfigKeyRequestHeader,
    PutKvConfigRequestHeader,
};
use remoting::{response_code, RemotingCommand};

use super::{header, success, Handled};
use crate::Namesrv;

pub fn put(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: PutKvConfigRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(_) if req.ext("namespace").is_none() || req.ext("key").is_none() => {
            return Ok(RemotingCommand::response_to(
                req,
                response_code::SYSTEM_ERROR,
                Some("namespace or key is null".into()),
            ))
        }
        Err(e) => return Err(e.to_string()),
    };
    s.kv.put(&h.namespace, &h.key, &h.value);
    Ok(success(req))
}

pub fn get(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: KvConfigKeyRequestHeader = header(req)?;
    match s.kv.get(&h.namespace, &h.key) {
        Some(value) => Ok(RemotingCommand::success_with_header(
            req,
            &GetKvConfigResponseHeader { value: Some(value) },
        )),
        None => {
            let mut r = RemotingCommand::response_to(
                req,
                response_code::QUERY_NOT_FOUND,
                Some(format!(
                    "No config item, Namespace: {} Key: {}",
                    h.namespace, h.key
                )),
            );
            r.ext_fields = Some(Default::default());
            Ok(r)
        }
    }
}

pub fn delete(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: KvConfigKeyRequestHeader = header(req)?;
    s.kv.delete(&h.namespace, &h.key);
    Ok(success(req))
}

pub fn list(s: &Namesrv, req: &RemotingCommand) -> Handled {
    let h: GetKvListByNamespaceRequestHeader = header(req)?;
    match s.kv.list(&h.namespace) {
        Some(table) => Ok(success(req).with_body(to_json_bytes(&KvTable { table }))),
        None => Ok(RemotingCommand::response_to(
            req,
            response_code::QUERY_NOT_FOUND,
            Some(format!("No config item, Namespace: {}", h.namespace)),
        )),
    }
}
