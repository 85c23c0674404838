//! TLS for remoting connections, configured with the Java property names of `TlsSystemConfig`.
//!
//! Server side: `tls.server.mode` is `disabled`, `permissive` (Java's default) or `enforcing`.
//! Every new connection is sniffed on its first byte, as Java's `TlsModeHandler` does: `0x16`
//! (a TLS handshake record) starts a TLS session (permissive/enforcing) or closes the connection
//! (disabled); anything else is plain remoting, refused only when enforcing. One port serves both.
//! The certificate: with `tls.test.mode.enable` (default true, as Java) a self-signed one made
//! at start; otherwise the PEM files `tls.server.certPath` / `tls.server.keyPath` (PKCS#8, PKCS#1
//! or SEC1 keys; encrypted keys, `tls.server.keyPassword`, are not supported). Client
//! certificates are asked for when `tls.server.need.client.auth` is `optional`/`require` and
//! verified against `tls.server.trustCertPath`. The settings come from the system-property-like
//! keys first and then, as Java's `TlsHelper` does, from the file named by `tls.config.file`
//! (default `/etc/rocketmq/tls.properties`), whose values win.
//!
//! Client side: a connector that trusts any server certificate (Java's test mode, Go's
//! `InsecureSkipVerify`), or one that verifies against `tls.client.trustCertPath` when
//! `tls.client.authServer=true` and test mode is off; an optional client certificate.
//!
//! It is not: HAProxy protocol detection (Java 5.x), or reloading certificates while running.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// `tls.server.mode`.
pub const TLS_SERVER_MODE: &str = "tls.server.mode";
/// `tls.enable`: the client side uses TLS.
pub const TLS_ENABLE: &str = "tls.enable";
/// `tls.config.file`: a properties file with the certificate settings.
pub const TLS_CONFIG_FILE: &str = "tls.config.file";
/// `tls.test.mode.enable`: self-signed server certificate, client trusts anything.
pub const TLS_TEST_MODE_ENABLE: &str = "tls.test.mode.enable";
pub const TLS_SERVER_NEED_CLIENT_AUTH: &str = "tls.server.need.client.auth";
pub const TLS_SERVER_KEYPATH: &str = "tls.server.keyPath";
pub const TLS_SERVER_KEYPASSWORD: &str = "tls.server.keyPassword";
pub const TLS_SERVER_CERTPATH: &str = "tls.server.certPath";
pub const TLS_SERVER_AUTHCLIENT: &str = "tls.server.authClient";
pub const TLS_SERVER_TRUSTCERTPATH: &str = "tls.server.trustCertPath";
pub const TLS_CLIENT_KEYPATH: &str = "tls.client.keyPath";
pub const TLS_CLIENT_KEYPASSWORD: &str = "tls.client.keyPassword";
pub const TLS_CLIENT_CERTPATH: &str = "tls.client.certPath";
pub const TLS_CLIENT_AUTHSERVER: &str = "tls.client.authServer";
pub const TLS_CLIENT_TRUSTCERTPATH: &str = "tls.client.trustCertPath";

/// Every key the TLS settings read (all unset by default: Java's defaults apply).
pub const PROPERTY_KEYS: &[&str] = &[
    TLS_SERVER_MODE,
    TLS_ENABLE,
    TLS_CONFIG_FILE,
    TLS_TEST_MODE_ENABLE,
    TLS_SERVER_NEED_CLIENT_AUTH,
    TLS_SERVER_KEYPATH,
    TLS_SERVER_KEYPASSWORD,
    TLS_SERVER_CERTPATH,
    TLS_SERVER_AUTHCLIENT,
    TLS_SERVER_TRUSTCERTPATH,
    TLS_CLIENT_KEYPATH,
    TLS_CLIENT_KEYPASSWORD,
    TLS_CLIENT_CERTPATH,
    TLS_CLIENT_AUTHSERVER,
    TLS_CLIENT_TRUSTCERTPATH,
];

/// The first byte of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("no certificate in {0}")]
    NoCertificate(String),
    #[error("encrypted private keys ({0}) are not supported; give an unencrypted PKCS#8 key")]
    EncryptedKey(&'static str),
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("self-signed certificate: {0}")]
    SelfSigned(#[from] rcgen::Error),
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

/// Java's `TlsMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TLS handshakes are refused (the connection is closed).
    Disabled,
    /// TLS and plain connections are both served.
    #[default]
    Permissive,
    /// Only TLS connections are served.
    Enforcing,
}

impl TlsMode {
    /// Java's `TlsMode.parse`: the name in any case; anything else is permissive.
    pub fn parse(text: &str) -> TlsMode {
        match text.trim().to_ascii_lowercase().as_str() {
            "disabled" => TlsMode::Disabled,
            "enforcing" => TlsMode::Enforcing,
            _ => TlsMode::Permissive,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Permissive => "permissive",
            TlsMode::Enforcing => "enforcing",
        }
    }
}

/// The TLS settings of a process, under Java's `TlsSystemConfig` names and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: TlsMode,
    pub enable: bool,
    pub config_file: String,
    pub test_mode: bool,
    pub server_need_client_auth: String,
    pub server_key_path: Option<String>,
    pub server_key_password: Option<String>,
    pub server_cert_path: Option<String>,
    pub server_auth_client: bool,
    pub server_trust_cert_path: Option<String>,
    pub client_key_path: Option<String>,
    pub client_key_password: Option<String>,
    pub client_cert_path: Option<String>,
    pub client_auth_server: bool,
    pub client_trust_cert_path: Option<String>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

fn parse_bool(v: Option<String>, default: bool) -> bool {
    match v {
        Some(v) => v.trim().eq_ignore_ascii_case("true"),
        None => default,
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

impl TlsSettings {
    /// The settings from system-property-like values (`get(key)`), without the config file.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            mode: TlsMode::parse(&get(TLS_SERVER_MODE).unwrap_or_default()),
            enable: parse_bool(get(TLS_ENABLE), false),
            config_file: get(TLS_CONFIG_FILE)
                .unwrap_or_else(|| "/etc/rocketmq/tls.properties".to_string()),
            test_mode: parse_bool(get(TLS_TEST_MODE_ENABLE), true),
            server_need_client_auth: get(TLS_SERVER_NEED_CLIENT_AUTH)
                .unwrap_or_else(|| "none".to_string()),
            server_key_path: non_empty(get(TLS_SERVER_KEYPATH)),
            server_key_password: non_empty(get(TLS_SERVER_KEYPASSWORD)),
            server_cert_path: non_empty(get(TLS_SERVER_CERTPATH)),
            server_auth_client: parse_bool(get(TLS_SERVER_AUTHCLIENT), false),
            server_trust_cert_path: non_empty(get(TLS_SERVER_TRUSTCERTPATH)),
            client_key_path: non_empty(get(TLS_CLIENT_KEYPATH)),
            client_key_password: non_empty(get(TLS_CLIENT_KEYPASSWORD)),
            client_cert_path: non_empty(get(TLS_CLIENT_CERTPATH)),
            client_auth_server: parse_bool(get(TLS_CLIENT_AUTHSERVER), false),
            client_trust_cert_path: non_empty(get(TLS_CLIENT_TRUSTCERTPATH)),
        }
    }

    /// The settings from `get`, then the values of the `tls.config.file` file over them (as
    /// Java's `TlsHelper.extractTlsConfigFromFile`; the mode and `tls.enable` are not read
    /// from the file). A missing or unreadable file is skipped.
    pub fn load(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut s = Self::from_lookup(get);
        match std::fs::read_to_string(&s.config_file) {
            Ok(text) => {
                s.apply_file(&crate::properties::parse(&text));
                tracing::info!(file = %s.config_file, "read TLS settings file");
            }
            Err(_) => tracing::debug!(file = %s.config_file, "no TLS settings file; skipped"),
        }
        s
    }

    fn apply_file(&mut self, p: &std::collections::BTreeMap<String, String>) {
        let get = |k: &str| p.get(k).cloned();
        if let Some(v) = get(TLS_TEST_MODE_ENABLE) {
            self.test_mode = parse_bool(Some(v), self.test_mode);
        }
        if let Some(v) = get(TLS_SERVER_NEED_CLIENT_AUTH) {
            self.server_need_client_auth = v;
        }
        let over = |slot: &mut Option<String>, key: &str| {
            if let Some(v) = get(key) {
                *slot = non_empty(Some(v));
            }
        };
        over(&mut self.server_key_path, TLS_SERVER_KEYPATH);
        over(&mut self.server_key_password, TLS_SERVER_KEYPASSWORD);
        over(&mut self.server_cert_path, TLS_SERVER_CERTPATH);
        over(&mut self.server_trust_cert_path, TLS_SERVER_TRUSTCERTPATH);
        over(&mut self.client_key_path, TLS_CLIENT_KEYPATH);
        over(&mut self.client_key_password, TLS_CLIENT_KEYPASSWORD);
        over(&mut self.client_cert_path, TLS_CLIENT_CERTPATH);
        over(&mut self.client_trust_cert_path, TLS_CLIENT_TRUSTCERTPATH);
        if let Some(v) = get(TLS_SERVER_AUTHCLIENT) {
            self.server_auth_client = parse_bool(Some(v), self.server_auth_client);
        }
        if let Some(v) = get(TLS_CLIENT_AUTHSERVER) {
            self.client_auth_server = parse_bool(Some(v), self.client_auth_server);
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Read {
            path: path.to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_string()));
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| TlsError::Read {
        path: path.to_string(),
        source,
    })
}

/// A self-signed certificate for `localhost` and the loopback addresses, and its key.
pub fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let key = PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    Ok((vec![certified.cert.der().clone()], key))
}

/// The server's TLS setup: its mode and, unless disabled, the session factory.
#[derive(Clone)]
pub struct ServerTls {
    mode: TlsMode,
    acceptor: Option<TlsAcceptor>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServerTls({}, {})",
            self.mode.name(),
            if self.acceptor.is_some() {
                "certificate loaded"
            } else {
                "no certificate"
            }
        )
    }
}

impl ServerTls {
    /// Builds the server side from `settings`. As Java, a certificate that cannot be loaded is
    /// logged and TLS connections are then closed; plain ones are served as the mode says.
    pub fn new(settings: &TlsSettings) -> Self {
        let acceptor = if settings.mode == TlsMode::Disabled {
            None
        } else {
            match server_config(settings) {
                Ok(c) => Some(TlsAcceptor::from(Arc::new(c))),
                Err(e) => {
                    tracing::error!(error = %e, "failed to set up TLS for the server; TLS connections will be closed");
                    None
                }
            }
        };
        tracing::info!(mode = settings.mode.name(), "server TLS mode");
        Self {
            mode: settings.mode,
            acceptor,
            handshake_timeout: Duration::from_secs(10),
        }
    }

    /// Like `new`, but a certificate that cannot be loaded is an error.
    pub fn try_new(settings: &TlsSettings) -> Result<Self, TlsError> {
        let acceptor = if settings.mode == TlsMode::Disabled {
            None
        } else {
            Some(TlsAcceptor::from(Arc::new(server_config(settings)?)))
        };
        Ok(Self {
            mode: settings.mode,
            acceptor,
            handshake_timeout: Duration::from_secs(10),
        })
    }

    /// A server in `mode` with a ready rustls configuration.
    pub fn with_config(mode: TlsMode, config: Arc<rustls::ServerConfig>) -> Self {
        Self {
            mode,
            acceptor: (mode != TlsMode::Disabled).then(|| TlsAcceptor::from(config)),
            handshake_timeout: Duration::from_secs(10),
        }
    }

    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// Sniffs the first byte of a new connection and sets it up as its mode says: `None` when
    /// the connection is refused, closed or silent for `first_byte_timeout`.
    pub(crate) async fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        first_byte_timeout: Duration,
    ) -> Option<Accepted> {
        let mut first = [0u8; 1];
        let n = match tokio::time::timeout(first_byte_timeout, stream.peek(&mut first)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "connection failed before its first byte");
                return None;
            }
            Err(_) => {
                tracing::info!(%peer, "closing connection: nothing received");
                return None;
            }
        };
        if n == 0 {
            return None;
        }
        if first[0] != HANDSHAKE_RECORD {
            if self.mode == TlsMode::Enforcing {
                tracing::warn!(%peer, "closing plaintext connection: the server runs in TLS enforcing mode");
                return None;
            }
            return Some(Accepted::Plain(stream));
        }
        let acceptor = match (self.mode, &self.acceptor) {
            (TlsMode::Disabled, _) => {
                tracing::warn!(%peer, "closing TLS connection: the server runs in TLS disabled mode");
                return None;
            }
            (_, None) => {
                tracing::error!(%peer, "closing TLS connection: no server certificate is set up");
                return None;
            }
            (_, Some(a)) => a.clone(),
        };
        match tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(Accepted::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                tracing::warn!(%peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::warn!(%peer, "TLS handshake timed out");
                None
            }
        }
    }
}

/// A connection after sniffing.
pub(crate) enum Accepted {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

fn server_config(settings: &TlsSettings) -> Result<rustls::ServerConfig, TlsError> {
    let (certs, key) = if settings.test_mode {
        self_signed()?
    } else {
        if settings.server_key_password.is_some() {
            return Err(TlsError::EncryptedKey(TLS_SERVER_KEYPASSWORD));
        }
        let cert = settings
            .server_cert_path
            .as_deref()
            .ok_or(TlsError::Missing(TLS_SERVER_CERTPATH))?;
        let key = settings
            .server_key_path
            .as_deref()
            .ok_or(TlsError::Missing(TLS_SERVER_KEYPATH))?;
        (read_certs(cert)?, read_key(key)?)
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let auth = settings.server_need_client_auth.trim().to_ascii_lowercase();
    let builder = match (
        auth.as_str(),
        settings.test_mode,
        &settings.server_trust_cert_path,
    ) {
        ("optional" | "require", false, Some(trust)) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(trust)? {
                roots.add(c)?;
            }
            let vb = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            );
            let vb = if auth == "optional" {
                vb.allow_unauthenticated()
            } else {
                vb
            };
            let verifier = vb.build().map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        ("optional" | "require", false, None) => {
            tracing::warn!(
                "{TLS_SERVER_NEED_CLIENT_AUTH}={auth} without {TLS_SERVER_TRUSTCERTPATH}: client certificates are not asked for"
            );
            builder.with_no_client_auth()
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(builder.with_single_cert(certs, key)?)
}

/// The client side: how our remoting client opens TLS sessions.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientTls")
    }
}

impl ClientTls {
    /// Trusts any server certificate (Java's test mode, Go's `InsecureSkipVerify`): the
    /// connection is encrypted but the server is not authenticated.
    pub fn trust_all() -> Result<Self, TlsError> {
        let provider = provider();
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAll(provider)))
            .with_no_client_auth();
        Ok(Self::with_config(Arc::new(config)))
    }

    /// From Java's client settings: trust-all unless `tls.client.authServer` is set outside
    /// test mode (then `tls.client.trustCertPath` is the trust anchor); with a client
    /// certificate when `tls.client.certPath`/`keyPath` are given.
    pub fn from_settings(settings: &TlsSettings) -> Result<Self, TlsError> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if !settings.test_mode && settings.client_auth_server {
            let trust = settings
                .client_trust_cert_path
                .as_deref()
                .ok_or(TlsError::Missing(TLS_CLIENT_TRUSTCERTPATH))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(trust)? {
                roots.add(c)?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TrustAll(provider)))
        };
        let config = match (
            settings.test_mode,
            &settings.client_cert_path,
            &settings.client_key_path,
        ) {
            (false, Some(cert), Some(key)) => {
                if settings.client_key_password.is_some() {
                    return Err(TlsError::EncryptedKey(TLS_CLIENT_KEYPASSWORD));
                }
                builder.with_client_auth_cert(read_certs(cert)?, read_key(key)?)?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Self::with_config(Arc::new(config)))
    }

    pub fn with_config(config: Arc<rustls::ClientConfig>) -> Self {
        Self {
            connector: TlsConnector::from(config),
        }
    }

    /// Runs the TLS handshake over `stream` to `addr` ("host:port").
    pub async fn connect(
        &self,
        addr: &str,
        stream: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let host = match addr.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
            None => addr,
        };
        let name = ServerName::try_from(host.to_string())
            .or_else(|_| ServerName::try_from("localhost".to_string()))
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        self.connector.connect(name, stream).await
    }
}

/// Accepts any server certificate, still checking the handshake signatures made with it.
#[derive(Debug)]
struct TrustAll(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for TrustAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes_as_java() {
        assert_eq!(TlsMode::parse("DISABLED"), TlsMode::Disabled);
        assert_eq!(TlsMode::parse("enforcing"), TlsMode::Enforcing);
        assert_eq!(TlsMode::parse("permissive"), TlsMode::Permissive);
        assert_eq!(TlsMode::parse(""), TlsMode::Permissive);
        assert_eq!(TlsMode::parse("whatever"), TlsMode::Permissive);
    }

    #[test]
    fn defaults_are_javas() {
        let s = TlsSettings::default();
        assert_eq!(s.mode, TlsMode::Permissive);
        assert!(!s.enable);
        assert!(s.test_mode);
        assert_eq!(s.config_file, "/etc/rocketmq/tls.properties");
        assert_eq!(s.server_need_client_auth, "none");
        assert_eq!(s.server_cert_path, None);
    }

    #[test]
    fn file_values_win_over_properties_but_not_for_the_mode() {
        let dir = std::env::temp_dir().join(format!("tls-settings-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("tls.properties");
        std::fs::write(
            &file,
            "tls.test.mode.enable=false\ntls.server.certPath=/from/file.pem\ntls.server.mode=disabled\n",
        )
        .unwrap();
        let file_s = file.display().to_string();
        let s = TlsSettings::load(|k| match k {
            TLS_CONFIG_FILE => Some(file_s.clone()),
            TLS_SERVER_CERTPATH => Some("/from/props.pem".into()),
            TLS_SERVER_KEYPATH => Some("/from/props.key".into()),
            TLS_SERVER_MODE => Some("enforcing".into()),
            _ => None,
        });
        assert!(!s.test_mode);
        assert_eq!(s.server_cert_path.as_deref(), Some("/from/file.pem"));
        assert_eq!(s.server_key_path.as_deref(), Some("/from/props.key"));
        assert_eq!(s.mode, TlsMode::Enforcing);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn builds_a_self_signed_server_and_a_trust_all_client() {
        let server = ServerTls::try_new(&TlsSettings::default()).unwrap();
        assert_eq!(server.mode(), TlsMode::Permissive);
        assert!(server.acceptor.is_some());
        ClientTls::trust_all().unwrap();
    }

    #[test]
    fn missing_certificate_files_are_reported() {
        let s = TlsSettings::from_lookup(|k| match k {
            TLS_TEST_MODE_ENABLE => Some("false".into()),
            _ => None,
        });
        assert!(matches!(
            ServerTls::try_new(&s),
            Err(TlsError::Missing(TLS_SERVER_CERTPATH))
        ));
        // `new` logs and serves without a certificate.
        assert!(ServerTls::new(&s).acceptor.is_none());
    }
}
