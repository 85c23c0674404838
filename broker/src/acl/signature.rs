//! The request signature of ACL 1.0, as Java's `AclClientRPCHook` makes it and the Go client's
//! `ACLInterceptor` too: every ext field except `Signature` sorted by key (Java `String` order,
//! i.e. UTF-16 code units), their values concatenated with nothing between, the body appended,
//! HMAC-SHA1 keyed with the account's secret key, Base64 (standard, padded).
//! `_UNIQUE_KEY_QUERY` is left out for requests from clients up to 4.9.3 (version <= 399),
//! which did not sign it; later clients do (Java 5.x's rule).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use remoting::protocol::version::V4_9_3;
use remoting::RemotingCommand;
use sha1::Sha1;

pub const ACCESS_KEY: &str = "AccessKey";
pub const SIGNATURE: &str = "Signature";
pub const SECURITY_TOKEN: &str = "SecurityToken";
pub const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

type HmacSha1 = Hmac<Sha1>;

/// Java's `String.compareTo`: by UTF-16 code units.
fn java_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The keyed MAC over `req`'s signed content.
fn mac_of(req: &RemotingCommand, secret_key: &str) -> HmacSha1 {
    let mut mac = match HmacSha1::new_from_slice(secret_key.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => <HmacSha1 as Mac>::new(&Default::default()),
    };
    if let Some(ext) = &req.ext_fields {
        let skip_unique = req.version <= V4_9_3;
        let mut fields: Vec<(&str, &str)> = ext
            .iter()
            .filter(|(k, _)| *k != SIGNATURE && !(skip_unique && *k == UNIQUE_KEY_QUERY))
            .collect();
        fields.sort_by(|a, b| java_order(a.0, b.0));
        for (_, v) in fields {
            mac.update(v.as_bytes());
        }
    }
    for part in req.body.parts() {
        mac.update(part);
    }
    mac
}

/// The signature `req` should carry when signed with `secret_key`.
pub fn sign(req: &RemotingCommand, secret_key: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac_of(req, secret_key).finalize().into_bytes())
}

/// Whether `signature` is `req`'s signature under `secret_key` (compared in constant time).
pub fn verify(req: &RemotingCommand, secret_key: &str, signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim_end()) else {
        return false;
    };
    mac_of(req, secret_key).verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use remoting::protocol::ext_fields::ExtFields;

    fn req(fields: &[(&str, &str)], body: &[u8]) -> RemotingCommand {
        let mut ext = ExtFields::new();
        for (k, v) in fields {
            ext.insert(k.to_string(), *v);
        }
        let mut r = RemotingCommand::request(10, ext);
        if !body.is_empty() {
            r = r.with_body(body.to_vec());
        }
        r
    }

    /// RFC 2202 test case 2 (key "Jefe", data "what do ya want for nothing?"), with the data
    /// split over two ext fields whose keys sort `AccessKey` < `topic`.
    #[test]
    fn rfc2202_vector_through_the_field_order() {
        let r = req(
            &[("topic", "want for nothing?"), ("AccessKey", "what do ya ")],
            b"",
        );
        // HMAC-SHA1 = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        assert_eq!(sign(&r, "Jefe"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
        assert!(verify(&r, "Jefe", "7/zfauXrL6LSdBbV8YTfnCWafHk="));
        assert!(!verify(&r, "Jeff", "7/zfauXrL6LSdBbV8YTfnCWafHk="));
    }

    /// Vectors computed independently (Python's hmac/hashlib/base64 over the values in sorted
    /// key order followed by the body).
    #[test]
    fn java_client_shaped_request() {
        // sorted: AccessKey, a, b, c -> "RocketMQ" + "pg" + "TopicTest" + "TBW102", then body.
        let r = req(
            &[
                ("a", "pg"),
                ("b", "TopicTest"),
                ("c", "TBW102"),
                ("AccessKey", "RocketMQ"),
                ("Signature", "ignored"),
            ],
            b"Hello",
        );
        assert_eq!(sign(&r, "12345678"), "KzW1AztD2NeA40UiNW444ecGqZA=");
    }

    #[test]
    fn unique_key_query_is_signed_only_from_4_9_4_on() {
        let mut r = req(
            &[
                ("AccessKey", "RocketMQ"),
                ("topic", "T"),
                (UNIQUE_KEY_QUERY, "true"),
            ],
            b"",
        );
        r.version = V4_9_3 + 2;
        let with = sign(&r, "12345678");
        r.version = V4_9_3;
        let without = sign(&r, "12345678");
        assert_ne!(with, without);
        let plain = req(&[("AccessKey", "RocketMQ"), ("topic", "T")], b"");
        assert_eq!(without, sign(&plain, "12345678"));
        // Python: b64(hmac_sha1("12345678", "RocketMQtrueT")): `_` sorts between `A` and `t`.
        assert_eq!(with, "X+UD8KPuhJst+uxbtYViNlIFkOA=");
    }

    #[test]
    fn java_string_order_is_utf16() {
        // U+FF61 sorts before U+10000 by UTF-8 bytes but after it in Java (surrogates are 0xD800..).
        assert_eq!(
            java_order("\u{FF61}", "\u{10000}"),
            std::cmp::Ordering::Greater
        );
        assert_eq!(java_order("AccessKey", "a"), std::cmp::Ordering::Less);
    }

    #[test]
    fn garbage_signatures_do_not_verify() {
        let r = req(&[("AccessKey", "RocketMQ")], b"");
        assert!(!verify(&r, "12345678", "not base64!"));
        assert!(!verify(&r, "12345678", ""));
    }
}
