//! How the broker's servers and its nameserver client get ACL and TLS from broker.conf.
//!
//! TLS settings are Java's system properties (`tls.server.mode`, `tls.config.file`, ...),
//! read here from broker.conf, then the `tls.config.file` file over them. The servers run in
//! `tls.server.mode` (default permissive: plaintext and TLS on one port, a self-signed
//! certificate in test mode, as Java). The client to the nameservers uses TLS when
//! `tls.enable=true` or the mode is enforcing, as Java's `BrokerStartup` sets `useTLS`.

use std::sync::Arc;

use remoting::client::ClientConfig;
use remoting::server::RequestInterceptor;
use remoting::tls::{ClientTls, ServerTls, TlsMode, TlsSettings};

use crate::acl::AclValidator;
use crate::config::BrokerConfig;

/// The TLS settings of `config`.
pub fn tls_settings(config: &BrokerConfig) -> TlsSettings {
    TlsSettings::load(|k| config.props.get(k).map(String::from))
}

/// The servers' TLS (always set: even `disabled` sniffs, to close TLS handshakes as Java).
pub fn server_tls(settings: &TlsSettings) -> Option<Arc<ServerTls>> {
    Some(Arc::new(ServerTls::new(settings)))
}

/// The request check of the servers: the ACL validator when `aclEnable=true`.
pub fn interceptor(acl: &Option<Arc<AclValidator>>) -> Option<Arc<dyn RequestInterceptor>> {
    acl.clone().map(|a| a as Arc<dyn RequestInterceptor>)
}

/// The client the broker registers with the nameservers through.
pub fn outbound_client_config(settings: &TlsSettings) -> ClientConfig {
    let use_tls = settings.enable || settings.mode == TlsMode::Enforcing;
    let tls = if use_tls {
        match ClientTls::from_settings(settings) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot set up TLS to the nameservers; connecting without it");
                None
            }
        }
    } else {
        None
    };
    ClientConfig {
        tls,
        ..ClientConfig::default()
    }
}
