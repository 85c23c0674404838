//! UPDATE_NAMESRV_CONFIG and GET_NAMESRV_CONFIG: the settings as properties text.

use remoting::{properties, response_code, Channel, RemotingCommand};

use super::{success, Handled};
use crate::Namesrv;

pub fn update(s: &Namesrv, channel: &Channel, req: &RemotingCommand) -> Handled {
    tracing::info!(client = %channel.peer_addr(), "updateConfig called");
    let body = req.body.to_bytes();
    if body.is_empty() {
        return Ok(success(req));
    }
    let text = String::from_utf8_lossy(&body);
    let props = properties::parse(&text);
    let black = s.config().black_list();
    if props.keys().any(|k| black.contains(k)) {
        return Ok(RemotingCommand::response_to(
            req,
            response_code::NO_PERMISSION,
            Some("Can not update config in black list.".into()),
        ));
    }
    s.update_config(props);
    Ok(success(req))
}

pub fn get(s: &Namesrv, req: &RemotingCommand) -> Handled {
    Ok(success(req).with_body(s.config().props.to_text().into_bytes()))
}
