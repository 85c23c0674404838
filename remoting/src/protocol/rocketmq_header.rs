//! The ROCKETMQ binary header serialization (type 1): code i16, language u8, version i16,
//! opaque i32, flag i32, remark (i32 length + UTF-8), ext section (i32 total length, then
//! entries of i16 key length + key, i32 value length + value). A 21-byte fixed part.
//! Every length is checked against what is left before anything is allocated.

use bytes::{BufMut, BytesMut};

use super::command::{HeaderLimits, RemotingCommand};
use super::ext_fields::ExtFields;
use super::language::LanguageCode;
use crate::error::DecodeError;

pub fn encode(cmd: &RemotingCommand) -> BytesMut {
    let remark = cmd.remark.as_deref().unwrap_or("");
    let ext_len: usize = cmd
        .ext_fields
        .as_ref()
        .map(|e| e.iter().map(|(k, v)| 2 + k.len() + 4 + v.len()).sum())
        .unwrap_or(0);
    let mut out = BytesMut::with_capacity(21 + remark.len() + ext_len);
    out.put_i16(cmd.code as i16);
    out.put_u8(cmd.language.0);
    out.put_i16(cmd.version as i16);
    out.put_i32(cmd.opaque);
    out.put_i32(cmd.flag);
    out.put_i32(remark.len() as i32);
    out.put_slice(remark.as_bytes());
    out.put_i32(ext_len as i32);
    if let Some(ext) = &cmd.ext_fields {
        for (k, v) in ext.iter() {
            out.put_i16(k.len() as i16);
            out.put_slice(k.as_bytes());
            out.put_i32(v.len() as i32);
            out.put_slice(v.as_bytes());
        }
    }
    out
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Binary("length runs past the header"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, DecodeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn string(&mut self, len: i64) -> Result<String, DecodeError> {
        self.str(len).map(str::to_string)
    }

    fn str(&mut self, len: i64) -> Result<&'a str, DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::Binary("negative length"))?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::Binary("invalid UTF-8"))
    }
}

pub fn decode(header: &[u8], limits: &HeaderLimits) -> Result<RemotingCommand, DecodeError> {
    let mut r = Reader { buf: header };
    let code = r.i16()? as i32;
    let language = LanguageCode(r.u8()?);
    let version = r.i16()? as i32;
    let opaque = r.i32()?;
    let flag = r.i32()?;
    let remark_len = r.i32()?;
    let remark = if remark_len > 0 {
        Some(r.string(remark_len as i64)?)
    } else {
        None
    };
    let ext_len = r.i32()?;
    let ext_fields = if ext_len > 0 {
        let section = r.take(ext_len as usize)?;
        let mut er = Reader { buf: section };
        let mut ext = ExtFields::new();
        while !er.buf.is_empty() {
            if ext.len() >= limits.max_ext_fields {
                return Err(DecodeError::Limit("too many ext fields"));
            }
            let klen = er.i16()?;
            let key = crate::protocol::ext_fields::key_of(er.str(klen as i64)?);
            let vlen = er.i32()?;
            let value = er.string(vlen as i64)?;
            ext.insert(key, value);
        }
        Some(ext)
    } else {
        None
    };
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        ..RemotingCommand::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of protocol.md §1.3: GET_ROUTEINFO_BY_TOPIC, opaque 1, version 479.
    #[test]
    fn encodes_the_reference_example() {
        let mut ext = ExtFields::new();
        ext.insert("topic", "TopicTest");
        let cmd = RemotingCommand {
            code: 105,
            version: 479,
            opaque: 1,
            ext_fields: Some(ext),
            ..RemotingCommand::default()
        };
        let h = encode(&cmd);
        let mut expect = vec![
            0x00, 0x69, 0x00, 0x01, 0xdf, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0x00,
            0x05,
        ];
        expect.extend_from_slice(b"topic");
        expect.extend_from_slice(&[0, 0, 0, 9]);
        expect.extend_from_slice(b"TopicTest");
        assert_eq!(&h[..], &expect[..]);
        assert_eq!(h.len(), 41);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let mut h = BytesMut::new();
        h.put_i16(10);
        h.put_u8(0);
        h.put_i16(1);
        h.put_i32(7);
        h.put_i32(0);
        h.put_i32(0);
        let entry = |k: &str, v: &str, b: &mut BytesMut| {
            b.put_i16(k.len() as i16);
            b.put_slice(k.as_bytes());
            b.put_i32(v.len() as i32);
            b.put_slice(v.as_bytes());
        };
        let mut ext = BytesMut::new();
        entry("a", "1", &mut ext);
        entry("a", "2", &mut ext);
        h.put_i32(ext.len() as i32);
        h.put_slice(&ext);
        let cmd = decode(&h, &HeaderLimits::default()).unwrap();
        assert_eq!(cmd.ext("a"), Some("2"));
        assert_eq!(cmd.opaque, 7);
    }

    #[test]
    fn rejects_lengths_past_the_end() {
        let mut h = BytesMut::new();
        h.put_i16(10);
        h.put_u8(0);
        h.put_i16(1);
        h.put_i32(7);
        h.put_i32(0);
        h.put_i32(1_000_000);
        assert!(decode(&h, &HeaderLimits::default()).is_err());
        let mut h2 = h.clone();
        h2.truncate(13);
        h2.put_i32(-5);
        h2.put_i32(-1);
        // negative remark length reads as no remark; negative ext length as no ext section
        assert!(decode(&h2, &HeaderLimits::default()).is_ok());
    }
}
