//! The JSON header serialization (type 0). Written as fastjson writes it: members in
//! alphabetical order, nulls omitted, `serializeTypeCurrentRPC` included. Read leniently: any
//! member order, unknown members, null or missing `remark`/`extFields`, non-string ext values.

use bytes::{BufMut, BytesMut};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::command::{HeaderLimits, RemotingCommand};
use super::ext_fields::ExtFields;
use super::language::LanguageCode;
use crate::error::DecodeError;

/// Hard cap on ext fields in a JSON header, enforced while parsing (the configurable
/// `HeaderLimits::max_ext_fields` may only lower it).
pub const MAX_EXT_FIELDS: usize = 4096;

pub fn encode(cmd: &RemotingCommand) -> BytesMut {
    let mut out = BytesMut::with_capacity(160);
    out.put_slice(b"{\"code\":");
    put_int(&mut out, cmd.code as i64);
    if let Some(ext) = &cmd.ext_fields {
        out.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in ext.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            put_string(&mut out, k);
            out.put_u8(b':');
            put_string(&mut out, v);
        }
        out.put_u8(b'}');
    }
    out.put_slice(b",\"flag\":");
    put_int(&mut out, cmd.flag as i64);
    out.put_slice(b",\"language\":\"");
    out.put_slice(cmd.language.name().as_bytes());
    out.put_slice(b"\",\"opaque\":");
    put_int(&mut out, cmd.opaque as i64);
    if let Some(remark) = &cmd.remark {
        out.put_slice(b",\"remark\":");
        put_string(&mut out, remark);
    }
    out.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(&mut out, cmd.version as i64);
    out.put_u8(b'}');
    out
}

fn put_int(out: &mut BytesMut, v: i64) {
    let mut buf = itoa_buf(v);
    out.put_slice(buf.as_bytes_mut_str());
}

/// Tiny integer formatter that avoids a heap allocation per number.
struct IntBuf {
    bytes: [u8; 20],
    start: usize,
}

impl IntBuf {
    fn as_bytes_mut_str(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

fn itoa_buf(v: i64) -> IntBuf {
    let mut bytes = [0u8; 20];
    let mut pos = bytes.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        bytes[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        pos -= 1;
        bytes[pos] = b'-';
    }
    IntBuf { bytes, start: pos }
}

/// A JSON string literal with fastjson's escapes (`\"`, `\\`, `\b \f \n \r \t`, other control
/// characters as `\u00XX`); everything else, non-ASCII included, is written as UTF-8.
pub(crate) fn put_string(out: &mut BytesMut, s: &str) {
    out.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0C => Some(b"\\f"),
            0..=0x1F => None,
            _ => continue,
        };
        out.put_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.put_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.put_slice(b"\\u00");
                out.put_u8(HEX[(b >> 4) as usize]);
                out.put_u8(HEX[(b & 0xF) as usize]);
            }
        }
        start = i + 1;
    }
    out.put_slice(&bytes[start..]);
    out.put_u8(b'"');
}

#[derive(Deserialize)]
struct JsonHeader {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(rename = "extFields", default, deserialize_with = "lenient_ext")]
    ext_fields: Option<ExtFields>,
}

pub fn decode(header: &[u8], limits: &HeaderLimits) -> Result<RemotingCommand, DecodeError> {
    let h: JsonHeader = serde_json::from_slice(header)?;
    if let Some(ext) = &h.ext_fields {
        if ext.len() > limits.max_ext_fields {
            return Err(DecodeError::Limit("too many ext fields"));
        }
    }
    Ok(RemotingCommand {
        code: h.code,
        language: h
            .language
            .as_deref()
            .map(LanguageCode::from_name)
            .unwrap_or_default(),
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: h.ext_fields,
        ..RemotingCommand::default()
    })
}

/// An `extFields` key: the interned static string when it is a well-known one (no allocation, as
/// long as the JSON text needed no unescaping), else an owned copy.
struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'static, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'static, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(crate::protocol::ext_fields::key_of(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(match crate::protocol::ext_fields::intern(&v) {
            Some(k) => std::borrow::Cow::Borrowed(k),
            None => std::borrow::Cow::Owned(v),
        })
    }
}

/// Reads `extFields` as an object of strings; numbers and booleans are kept as their text and
/// null members are dropped, as Java's reader would leave them unset.
fn lenient_ext<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ExtFields>, D::Error> {
    struct ExtVisitor;
    impl<'de> Visitor<'de> for ExtVisitor {
        type Value = Option<ExtFields>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of strings or null")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(ExtVisitor)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut ext = ExtFields::with_capacity(map.size_hint().unwrap_or(8).min(64));
            while let Some(key) = map.next_key_seed(KeySeed)? {
                // Checked per key: the duplicate check makes each insert linear, so an
                // unbounded flood of keys would cost quadratic time before any limit applied.
                if ext.len() >= MAX_EXT_FIELDS {
                    return Err(serde::de::Error::custom("too many ext fields"));
                }
                let value: serde_json::Value = map.next_value()?;
                let text = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                ext.insert(key, text);
            }
            Ok(Some(ext))
        }
    }
    d.deserialize_option(ExtVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_fastjson_in_alphabetical_order() {
        let mut ext = ExtFields::new();
        ext.insert("topic", "TopicTest");
        let cmd = RemotingCommand {
            code: 105,
            opaque: 1,
            version: 479,
            ext_fields: Some(ext),
            ..RemotingCommand::default()
        };
        let s = encode(&cmd);
        assert_eq!(
            std::str::from_utf8(&s).unwrap(),
            r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}"#
        );
        assert_eq!(s.len(), 131, "protocol.md worked example is 131 bytes");
    }

    #[test]
    fn escapes_control_characters_of_property_strings() {
        let mut out = BytesMut::new();
        put_string(&mut out, "a\u{1}b\u{2}\"\\\n");
        assert_eq!(&out[..], br#""a\u0001b\u0002\"\\\n""#);
    }

    #[test]
    fn decodes_go_style_header_with_empty_remark_and_odd_values() {
        let raw = br#"{"code":10,"language":"GO","version":317,"opaque":5,"flag":0,"remark":"","extFields":{"a":"1","n":2,"b":true,"z":null}}"#;
        let cmd = decode(raw, &HeaderLimits::default()).unwrap();
        assert_eq!(cmd.code, 10);
        assert_eq!(cmd.language, LanguageCode::GO);
        assert_eq!(cmd.remark.as_deref(), Some(""));
        let ext = cmd.ext_fields.unwrap();
        assert_eq!(ext.get("n"), Some("2"));
        assert_eq!(ext.get("b"), Some("true"));
        assert_eq!(ext.get("z"), None);
    }

    #[test]
    fn tolerates_null_and_missing_members() {
        let cmd = decode(
            br#"{"code":1,"extFields":null,"remark":null,"unknown":[1]}"#,
            &HeaderLimits::default(),
        )
        .unwrap();
        assert!(cmd.ext_fields.is_none());
        assert!(cmd.remark.is_none());
    }

    #[test]
    fn a_flood_of_ext_keys_is_refused_quickly() {
        let mut raw = String::from(r#"{"code":1,"extFields":{"#);
        for i in 0..100_000 {
            if i > 0 {
                raw.push(',');
            }
            raw.push_str(&format!(r#""k{i}":"""#));
        }
        raw.push_str("}}");
        let started = std::time::Instant::now();
        assert!(decode(raw.as_bytes(), &HeaderLimits::default()).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn negative_and_extreme_ints_format() {
        let mut out = BytesMut::new();
        put_int(&mut out, i64::MIN);
        put_int(&mut out, -5);
        put_int(&mut out, 0);
        assert_eq!(&out[..], b"-9223372036854775808-50");
    }
}
