//! The compressed form of REGISTER_BROKER's body (4.x `compressedRegister=true`): one zlib
//! stream of `[i32 len][DataVersion JSON]`, `[i32 topic count]`, per topic `[i32 len][text
//! "name readQ writeQ perm filterType [attributes JSON]"]`, `[i32 len][filter server list JSON]`
//! and, from V5_0_0 brokers, a mapping section (ignored). Every length is bounds-checked.

use std::io::Read;

use remoting::protocol::body::{DataVersion, RegisterBrokerBody, TopicConfig};
use remoting::protocol::version;

/// At most this many bytes are inflated from one body (a broker's topic table).
const MAX_INFLATED: u64 = 256 * 1024 * 1024;

pub fn decode_compressed(body: &[u8], broker_version: i32) -> Result<RegisterBrokerBody, String> {
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(body)
        .take(MAX_INFLATED)
        .read_to_end(&mut raw)
        .map_err(|e| format!("inflate: {e}"))?;
    let mut cur = Cursor { buf: &raw };
    let dv: DataVersion = serde_json::from_slice(cur.chunk()?).map_err(|e| e.to_string())?;
    let count = cur.i32()?;
    if count < 0 {
        return Err("negative topic count".into());
    }
    let mut out = RegisterBrokerBody::default();
    out.topic_config_serialize_wrapper.data_version = dv;
    for _ in 0..count {
        let text = std::str::from_utf8(cur.chunk()?).map_err(|e| e.to_string())?;
        let tc = parse_topic_text(text)?;
        out.topic_config_serialize_wrapper
            .topic_config_table
            .insert(tc.topic_name.clone(), tc);
    }
    let filters = cur.chunk()?;
    if !filters.is_empty() {
        out.filter_server_list = serde_json::from_slice(filters).unwrap_or_default();
    }
    let _ = broker_version >= version::V5_0_0; // mapping section, not used by routes
    Ok(out)
}

fn parse_topic_text(text: &str) -> Result<TopicConfig, String> {
    let mut parts = text.splitn(6, ' ');
    let mut next = |what: &str| {
        parts
            .next()
            .ok_or_else(|| format!("topic config lacks {what}"))
    };
    let name = next("name")?.to_string();
    let read: i32 = next("readQueueNums")?
        .parse()
        .map_err(|_| "bad readQueueNums")?;
    let write: i32 = next("writeQueueNums")?
        .parse()
        .map_err(|_| "bad writeQueueNums")?;
    let perm: i32 = next("perm")?.parse().map_err(|_| "bad perm")?;
    let filter = next("topicFilterType")?.to_string();
    let mut tc = TopicConfig::new(name, read);
    tc.write_queue_nums = write;
    tc.perm = perm;
    tc.topic_filter_type = filter;
    if let Ok(attrs) = next("attributes") {
        tc.attributes = serde_json::from_str(attrs).unwrap_or_default();
    }
    Ok(tc)
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn i32(&mut self) -> Result<i32, String> {
        if self.buf.len() < 4 {
            return Err("truncated".into());
        }
        let (h, t) = self.buf.split_at(4);
        self.buf = t;
        Ok(i32::from_be_bytes([h[0], h[1], h[2], h[3]]))
    }
    fn chunk(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.i32()?).map_err(|_| "negative length")?;
        if len > self.buf.len() {
            return Err("length past the end".into());
        }
        let (h, t) = self.buf.split_at(len);
        self.buf = t;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodes_a_compressed_body() {
        let mut raw = Vec::new();
        let chunk = |raw: &mut Vec<u8>, b: &[u8]| {
            raw.extend_from_slice(&(b.len() as i32).to_be_bytes());
            raw.extend_from_slice(b);
        };
        chunk(&mut raw, br#"{"counter":2,"timestamp":5}"#);
        raw.extend_from_slice(&1i32.to_be_bytes());
        chunk(&mut raw, b"TopicA 4 4 6 SINGLE_TAG");
        chunk(&mut raw, b"[]");
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        let body = enc.finish().unwrap();
        let b = decode_compressed(&body, 409).unwrap();
        let w = b.topic_config_serialize_wrapper;
        assert_eq!(w.data_version.counter, 2);
        assert_eq!(w.topic_config_table["TopicA"].perm, 6);
        assert!(decode_compressed(&body[..body.len() / 2], 409).is_err());
    }
}
