//! The CommitLog record (protocol.md §5.1): encode into a caller's buffer, decode into a borrowed
//! view. All integers are big-endian. A record is `TOTALSIZE` bytes long, starts with a v1 or v2
//! magic, and every inner length is checked against `TOTALSIZE` before it is used.
//!
//! ```text
//! 0  TOTALSIZE i32 | 4 MAGIC i32 | 8 BODYCRC i32 | 12 QUEUEID i32 | 16 FLAG i32
//! 20 QUEUEOFFSET i64 | 28 PHYSICALOFFSET i64 | 36 SYSFLAG i32 | 40 BORNTIMESTAMP i64
//! 48 BORNHOST (4|16 ip + i32 port) | STORETIMESTAMP i64 | STOREHOST (4|16 ip + i32 port)
//! RECONSUMETIMES i32 | PREPAREDTRANSACTIONOFFSET i64 | BODYLEN i32 + BODY
//! TOPICLEN (v1: u8, v2: i16) + TOPIC | PROPLEN i16 + PROPERTIES
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::properties::{get_property, keys};
use super::sys_flag;

/// Magic of a v1 record (1-byte topic length).
pub const MESSAGE_MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic of a v2 record (2-byte topic length).
pub const MESSAGE_MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic of the blank record that pads the end of a CommitLog file.
pub const BLANK_MAGIC: i32 = 0xCBD4_3194_u32 as i32;
/// Size of the blank end-of-file marker (TOTALSIZE + MAGIC).
pub const END_FILE_MIN_BLANK_LENGTH: usize = 8;
/// Position of SYSFLAG in a record.
pub const SYSFLAG_POS: usize = 36;
/// Position of BORNHOST in a record.
pub const BORN_HOST_POS: usize = 48;
/// Position of QUEUEOFFSET in a record.
pub const QUEUE_OFFSET_POS: usize = 20;
/// Position of PHYSICALOFFSET in a record.
pub const PHYSICAL_OFFSET_POS: usize = 28;
/// Smallest possible record: IPv4 hosts, v1, empty body, topic and properties.
pub const MIN_RECORD_LEN: usize = 91;

/// Record format version, chosen by the topic length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageVersion {
    /// Topic length stored in one byte.
    V1,
    /// Topic length stored in two bytes.
    V2,
}

impl MessageVersion {
    /// The magic code written for this version.
    pub fn magic(self) -> i32 {
        match self {
            MessageVersion::V1 => MESSAGE_MAGIC_V1,
            MessageVersion::V2 => MESSAGE_MAGIC_V2,
        }
    }

    /// The version a magic code announces.
    pub fn from_magic(magic: i32) -> Option<Self> {
        match magic {
            MESSAGE_MAGIC_V1 => Some(MessageVersion::V1),
            MESSAGE_MAGIC_V2 => Some(MessageVersion::V2),
            _ => None,
        }
    }

    /// Width of the topic length field.
    pub fn topic_len_size(self) -> usize {
        match self {
            MessageVersion::V1 => 1,
            MessageVersion::V2 => 2,
        }
    }

    /// Longest topic (in bytes) this version can hold.
    pub fn max_topic_len(self) -> usize {
        match self {
            MessageVersion::V1 => i8::MAX as usize,
            MessageVersion::V2 => i16::MAX as usize,
        }
    }
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than a field or the announced total size needs.
    #[error("record truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// Unknown magic code.
    #[error("bad magic code {0:#010x}")]
    BadMagic(i32),
    /// TOTALSIZE is impossible.
    #[error("bad total size {0}")]
    BadTotalSize(i32),
    /// A length field is negative.
    #[error("negative {0} length")]
    NegativeLength(&'static str),
    /// The fields add up to a different size than TOTALSIZE.
    #[error("total size {total} but fields add up to {computed}")]
    LengthMismatch {
        /// TOTALSIZE.
        total: usize,
        /// Sum of the fields.
        computed: usize,
    },
    /// BODYCRC does not match the body.
    #[error("body CRC {stored} does not match computed {computed}")]
    CrcMismatch {
        /// Stored value.
        stored: i32,
        /// Computed value.
        computed: i32,
    },
    /// The topic is not UTF-8.
    #[error("topic is not UTF-8")]
    TopicNotUtf8,
    /// A field is too long for the format (topic > 127 bytes in v1, properties > 32767 bytes...).
    #[error("{0} too long for the record format")]
    TooLong(&'static str),
    /// The output buffer is not exactly the record length.
    #[error("output buffer is {have} bytes, record needs {need}")]
    BufferSize {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        have: usize,
    },
}

/// A decoded record; variable-length fields borrow from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord<'a> {
    /// TOTALSIZE.
    pub total_size: i32,
    /// Format version (from the magic).
    pub version: MessageVersion,
    /// BODYCRC as stored.
    pub body_crc: i32,
    /// QUEUEID.
    pub queue_id: i32,
    /// User FLAG.
    pub flag: i32,
    /// QUEUEOFFSET: logical offset in the ConsumeQueue.
    pub queue_offset: i64,
    /// PHYSICALOFFSET: CommitLog offset of this record.
    pub physical_offset: i64,
    /// SYSFLAG.
    pub sys_flag: i32,
    /// BORNTIMESTAMP (ms).
    pub born_timestamp: i64,
    /// BORNHOST.
    pub born_host: SocketAddr,
    /// STORETIMESTAMP (ms).
    pub store_timestamp: i64,
    /// STOREHOSTADDRESS.
    pub store_host: SocketAddr,
    /// RECONSUMETIMES.
    pub reconsume_times: i32,
    /// PREPAREDTRANSACTIONOFFSET.
    pub prepared_transaction_offset: i64,
    /// BODY as stored (possibly compressed).
    pub body: &'a [u8],
    /// TOPIC.
    pub topic: &'a str,
    /// PROPERTIES. Should invalid UTF-8 appear, only the valid prefix is exposed here; the raw
    /// bytes stay in the record.
    pub properties: &'a str,
}

impl<'a> MessageRecord<'a> {
    /// Value of property `key`.
    pub fn property(&self, key: &str) -> Option<&'a str> {
        get_property(self.properties, key)
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&'a str> {
        self.property(keys::TAGS)
    }

    /// Tag code as the ConsumeQueue stores it (0 without a tag).
    pub fn tags_code(&self) -> i64 {
        self.tags().map(super::hash::tags_code).unwrap_or(0)
    }

    /// Transaction type bits (`sys_flag::TRANSACTION_*`).
    pub fn transaction_type(&self) -> i32 {
        sys_flag::transaction_type(self.sys_flag)
    }

    /// The offset message id (store host + physical offset).
    pub fn offset_msg_id(&self) -> String {
        super::msg_id::offset_msg_id(self.store_host, self.physical_offset)
    }
}

/// What a position in a CommitLog file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A message record.
    Message(MessageRecord<'a>),
    /// The blank marker that ends a file; `size` is the number of bytes left in the file.
    Blank {
        /// TOTALSIZE of the marker (bytes to the end of the file).
        size: i32,
    },
}

/// Masked CRC32 of a body, as Java stores it in BODYCRC.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// Java treats IPv4-mapped IPv6 addresses as IPv4; so do we.
pub fn canonical_host(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => addr,
        },
        v4 => v4,
    }
}

/// Sets the BORNHOST/STOREHOST IPv6 bits of `sys_flag` from the address families.
pub fn sys_flag_for_hosts(sys_flag: i32, born: SocketAddr, store: SocketAddr) -> i32 {
    let mut f = sys_flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
    if canonical_host(born).is_ipv6() {
        f |= sys_flag::BORNHOST_V6;
    }
    if canonical_host(store).is_ipv6() {
        f |= sys_flag::STOREHOST_V6;
    }
    f
}

fn host_len(v6: bool) -> usize {
    if v6 {
        20
    } else {
        8
    }
}

/// Length of a record with these field sizes.
pub fn record_len(
    version: MessageVersion,
    sys_flag: i32,
    body_len: usize,
    topic_len: usize,
    properties_len: usize,
) -> usize {
    4 + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + host_len(sys_flag & sys_flag::BORNHOST_V6 != 0)
        + 8
        + host_len(sys_flag & sys_flag::STOREHOST_V6 != 0)
        + 4
        + 8
        + 4
        + body_len
        + version.topic_len_size()
        + topic_len
        + 2
        + properties_len
}

/// The fixed-size fields of a record to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// QUEUEID.
    pub queue_id: i32,
    /// FLAG.
    pub flag: i32,
    /// QUEUEOFFSET.
    pub queue_offset: i64,
    /// PHYSICALOFFSET.
    pub physical_offset: i64,
    /// SYSFLAG; the IPv6 host bits are recomputed from the addresses.
    pub sys_flag: i32,
    /// BORNTIMESTAMP.
    pub born_timestamp: i64,
    /// BORNHOST.
    pub born_host: SocketAddr,
    /// STORETIMESTAMP.
    pub store_timestamp: i64,
    /// STOREHOSTADDRESS.
    pub store_host: SocketAddr,
    /// RECONSUMETIMES.
    pub reconsume_times: i32,
    /// PREPAREDTRANSACTIONOFFSET.
    pub prepared_transaction_offset: i64,
    /// BODYCRC (see [`body_crc`]).
    pub body_crc: i32,
}

/// The version Java would write for a topic of `topic_len` bytes.
pub fn version_for_topic(topic_len: usize, auto_v2: bool) -> MessageVersion {
    if auto_v2 && topic_len > i8::MAX as usize {
        MessageVersion::V2
    } else {
        MessageVersion::V1
    }
}

/// Checks the variable-length fields fit the format and returns the record length.
pub fn checked_record_len(
    version: MessageVersion,
    sys_flag: i32,
    body_len: usize,
    topic_len: usize,
    properties_len: usize,
) -> Result<usize, RecordError> {
    if topic_len > version.max_topic_len() {
        return Err(RecordError::TooLong("topic"));
    }
    if properties_len > i16::MAX as usize {
        return Err(RecordError::TooLong("properties"));
    }
    let len = record_len(version, sys_flag, body_len, topic_len, properties_len);
    if len > i32::MAX as usize {
        return Err(RecordError::TooLong("body"));
    }
    Ok(len)
}

struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn i32(&mut self, v: i32) {
        self.bytes(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_be_bytes());
    }
    fn host(&mut self, addr: SocketAddr) {
        match canonical_host(addr) {
            SocketAddr::V4(a) => self.bytes(&a.ip().octets()),
            SocketAddr::V6(a) => self.bytes(&a.ip().octets()),
        }
        self.i32(i32::from(addr.port()));
    }
}

/// Encodes a record into `out`, which must be exactly the record length
/// ([`checked_record_len`] with the flag from [`sys_flag_for_hosts`]). Returns that length.
pub fn encode_record(
    out: &mut [u8],
    version: MessageVersion,
    header: &RecordHeader,
    body: &[u8],
    topic: &str,
    properties: &[u8],
) -> Result<usize, RecordError> {
    let sys_flag = sys_flag_for_hosts(header.sys_flag, header.born_host, header.store_host);
    let len = checked_record_len(version, sys_flag, body.len(), topic.len(), properties.len())?;
    if out.len() != len {
        return Err(RecordError::BufferSize {
            need: len,
            have: out.len(),
        });
    }
    let mut w = Writer { buf: out, pos: 0 };
    w.i32(len as i32);
    w.i32(version.magic());
    w.i32(header.body_crc);
    w.i32(header.queue_id);
    w.i32(header.flag);
    w.i64(header.queue_offset);
    w.i64(header.physical_offset);
    w.i32(sys_flag);
    w.i64(header.born_timestamp);
    w.host(header.born_host);
    w.i64(header.store_timestamp);
    w.host(header.store_host);
    w.i32(header.reconsume_times);
    w.i64(header.prepared_transaction_offset);
    w.i32(body.len() as i32);
    w.bytes(body);
    match version {
        MessageVersion::V1 => w.bytes(&[topic.len() as u8]),
        MessageVersion::V2 => w.bytes(&(topic.len() as i16).to_be_bytes()),
    }
    w.bytes(topic.as_bytes());
    w.bytes(&(properties.len() as i16).to_be_bytes());
    w.bytes(properties);
    Ok(len)
}

/// Encodes a record into a new vector (tests, tools and the broker's own re-encoding).
pub fn encode_record_to_vec(
    version: MessageVersion,
    header: &RecordHeader,
    body: &[u8],
    topic: &str,
    properties: &[u8],
) -> Result<Vec<u8>, RecordError> {
    let sys_flag = sys_flag_for_hosts(header.sys_flag, header.born_host, header.store_host);
    let len = checked_record_len(version, sys_flag, body.len(), topic.len(), properties.len())?;
    let mut out = vec![0u8; len];
    encode_record(&mut out, version, header, body, topic, properties)?;
    Ok(out)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(RecordError::Truncated {
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn i16(&mut self) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, RecordError> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))
        };
        let port = self.i32()? as u16;
        Ok(match ip {
            IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, port)),
            IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
        })
    }
}

/// Reads TOTALSIZE and MAGIC at the start of `buf`.
pub fn peek_header(buf: &[u8]) -> Option<(i32, i32)> {
    let size = i32::from_be_bytes(buf.get(0..4)?.try_into().ok()?);
    let magic = i32::from_be_bytes(buf.get(4..8)?.try_into().ok()?);
    Some((size, magic))
}

/// Reads STORETIMESTAMP of the record at the start of `buf` without decoding the rest.
pub fn peek_store_timestamp(buf: &[u8]) -> Option<i64> {
    let sys_flag = i32::from_be_bytes(buf.get(SYSFLAG_POS..SYSFLAG_POS + 4)?.try_into().ok()?);
    let pos = BORN_HOST_POS + host_len(sys_flag & sys_flag::BORNHOST_V6 != 0);
    Some(i64::from_be_bytes(buf.get(pos..pos + 8)?.try_into().ok()?))
}

/// Decodes the record or blank marker at the start of `buf` (which may extend past it).
/// With `check_crc`, a non-empty body must match BODYCRC.
pub fn decode_record(buf: &[u8], check_crc: bool) -> Result<Decoded<'_>, RecordError> {
    let (total, magic) = peek_header(buf).ok_or(RecordError::Truncated {
        need: 8,
        have: buf.len(),
    })?;
    if magic == BLANK_MAGIC {
        return Ok(Decoded::Blank { size: total });
    }
    let version = MessageVersion::from_magic(magic).ok_or(RecordError::BadMagic(magic))?;
    if total < MIN_RECORD_LEN as i32 {
        return Err(RecordError::BadTotalSize(total));
    }
    let total_len = total as usize;
    if total_len > buf.len() {
        return Err(RecordError::Truncated {
            need: total_len,
            have: buf.len(),
        });
    }
    let mut r = Reader {
        buf: &buf[..total_len],
        pos: 8,
    };
    let body_crc_stored = r.i32()?;
    let queue_id = r.i32()?;
    let flag = r.i32()?;
    let queue_offset = r.i64()?;
    let physical_offset = r.i64()?;
    let sys_flag = r.i32()?;
    let born_timestamp = r.i64()?;
    let born_host = r.host(sys_flag & sys_flag::BORNHOST_V6 != 0)?;
    let store_timestamp = r.i64()?;
    let store_host = r.host(sys_flag & sys_flag::STOREHOST_V6 != 0)?;
    let reconsume_times = r.i32()?;
    let prepared_transaction_offset = r.i64()?;
    let body_len = r.i32()?;
    if body_len < 0 {
        return Err(RecordError::NegativeLength("body"));
    }
    let body = r.take(body_len as usize)?;
    let topic_len = match version {
        MessageVersion::V1 => r.take(1)?[0] as i8 as i32,
        MessageVersion::V2 => i32::from(r.i16()?),
    };
    if topic_len < 0 {
        return Err(RecordError::NegativeLength("topic"));
    }
    let topic =
        std::str::from_utf8(r.take(topic_len as usize)?).map_err(|_| RecordError::TopicNotUtf8)?;
    let props_len = r.i16()?;
    if props_len < 0 {
        return Err(RecordError::NegativeLength("properties"));
    }
    let props_raw = r.take(props_len as usize)?;
    let properties = match std::str::from_utf8(props_raw) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&props_raw[..e.valid_up_to()]).unwrap_or_default(),
    };
    let computed = record_len(version, sys_flag, body.len(), topic.len(), props_raw.len());
    if computed != total_len {
        return Err(RecordError::LengthMismatch {
            total: total_len,
            computed,
        });
    }
    if check_crc && !body.is_empty() {
        let computed = body_crc(body);
        if computed != body_crc_stored {
            return Err(RecordError::CrcMismatch {
                stored: body_crc_stored,
                computed,
            });
        }
    }
    Ok(Decoded::Message(MessageRecord {
        total_size: total,
        version,
        body_crc: body_crc_stored,
        queue_id,
        flag,
        queue_offset,
        physical_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    }))
}

/// Decodes a buffer that must hold exactly one message record (a pulled or looked-up message).
pub fn decode_message(buf: &[u8], check_crc: bool) -> Result<MessageRecord<'_>, RecordError> {
    match decode_record(buf, check_crc)? {
        Decoded::Message(m) => Ok(m),
        Decoded::Blank { .. } => Err(RecordError::BadMagic(BLANK_MAGIC)),
    }
}

/// Iterates the records of a buffer holding concatenated messages (a pull body).
pub fn decode_messages(
    buf: &[u8],
    check_crc: bool,
) -> impl Iterator<Item = Result<MessageRecord<'_>, RecordError>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match decode_message(rest, check_crc) {
            Ok(m) => {
                rest = &rest[m.total_size as usize..];
                Some(Ok(m))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::properties::encode_properties;

    fn header(born: &str, store: &str) -> RecordHeader {
        RecordHeader {
            queue_id: 3,
            flag: 7,
            queue_offset: 42,
            physical_offset: 4096,
            sys_flag: sys_flag::TRANSACTION_COMMIT,
            born_timestamp: 1_700_000_000_000,
            born_host: born.parse().unwrap(),
            store_timestamp: 1_700_000_000_123,
            store_host: store.parse().unwrap(),
            reconsume_times: 2,
            prepared_transaction_offset: 777,
            body_crc: body_crc(b"hello"),
        }
    }

    fn round_trip(version: MessageVersion, topic: &str, born: &str, store: &str) {
        let h = header(born, store);
        let props = encode_properties([("TAGS", "TagA"), ("KEYS", "a b")]);
        let bytes = encode_record_to_vec(version, &h, b"hello", topic, props.as_bytes()).unwrap();
        let m = decode_message(&bytes, true).unwrap();
        assert_eq!(m.total_size as usize, bytes.len());
        assert_eq!(m.version, version);
        assert_eq!(m.queue_id, 3);
        assert_eq!(m.flag, 7);
        assert_eq!(m.queue_offset, 42);
        assert_eq!(m.physical_offset, 4096);
        assert_eq!(m.born_host, h.born_host);
        assert_eq!(m.store_host, h.store_host);
        assert_eq!(m.born_timestamp, h.born_timestamp);
        assert_eq!(m.store_timestamp, h.store_timestamp);
        assert_eq!(m.reconsume_times, 2);
        assert_eq!(m.prepared_transaction_offset, 777);
        assert_eq!(m.body, b"hello");
        assert_eq!(m.topic, topic);
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.tags_code(), 2_598_919);
        assert_eq!(m.transaction_type(), sys_flag::TRANSACTION_COMMIT);
        assert_eq!(peek_store_timestamp(&bytes), Some(h.store_timestamp));
        let v6_bits = m.sys_flag & (sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
        let expect = (if h.born_host.is_ipv6() {
            sys_flag::BORNHOST_V6
        } else {
            0
        }) | (if h.store_host.is_ipv6() {
            sys_flag::STOREHOST_V6
        } else {
            0
        });
        assert_eq!(v6_bits, expect);
    }

    /// v1 and v2 records with IPv4 and IPv6 hosts encode and decode to the same fields, and the
    /// IPv6 sysflag bits follow the address families.
    #[test]
    fn round_trips_all_variants() {
        round_trip(
            MessageVersion::V1,
            "TopicTest",
            "10.0.0.1:5000",
            "10.0.0.2:10911",
        );
        round_trip(
            MessageVersion::V2,
            "TopicTest",
            "10.0.0.1:5000",
            "10.0.0.2:10911",
        );
        round_trip(MessageVersion::V1, "T", "[fe80::1]:5000", "10.0.0.2:10911");
        round_trip(
            MessageVersion::V2,
            &"x".repeat(200),
            "10.0.0.1:5000",
            "[2001:db8::2]:10911",
        );
        round_trip(MessageVersion::V1, "T", "[::1]:1", "[::2]:2");
    }

    /// The size of a v1 IPv4 record is 91 + body + topic + properties (protocol.md §5.1).
    #[test]
    fn v1_ipv4_size_formula() {
        let h = header("1.2.3.4:1", "5.6.7.8:2");
        let bytes =
            encode_record_to_vec(MessageVersion::V1, &h, b"hello", "abc", b"k\x01v\x02").unwrap();
        assert_eq!(bytes.len(), 91 + 5 + 3 + 4);
        assert_eq!(&bytes[4..8], &MESSAGE_MAGIC_V1.to_be_bytes());
        assert_eq!(&bytes[4..8], &[0xDA, 0xA3, 0x20, 0xA7]);
    }

    /// IPv4-mapped IPv6 hosts are written as IPv4, as Java does.
    #[test]
    fn mapped_ipv6_is_ipv4() {
        let h = header("[::ffff:1.2.3.4]:9", "5.6.7.8:2");
        let bytes = encode_record_to_vec(MessageVersion::V1, &h, b"x", "t", b"").unwrap();
        let m = decode_message(&bytes, false).unwrap();
        assert_eq!(m.born_host, "1.2.3.4:9".parse::<SocketAddr>().unwrap());
        assert_eq!(m.sys_flag & sys_flag::BORNHOST_V6, 0);
    }

    /// A flipped body byte fails the CRC check only when checking is on.
    #[test]
    fn crc_is_checked() {
        let h = header("1.2.3.4:1", "5.6.7.8:2");
        let mut bytes = encode_record_to_vec(MessageVersion::V1, &h, b"hello", "t", b"").unwrap();
        let body_pos = 4 * 5 + 8 * 2 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4;
        bytes[body_pos] ^= 0xFF;
        assert!(matches!(
            decode_record(&bytes, true),
            Err(RecordError::CrcMismatch { .. })
        ));
        assert!(decode_record(&bytes, false).is_ok());
    }

    /// Truncated input, bad magic, lengths that overrun TOTALSIZE and a blank marker are told apart.
    #[test]
    fn rejects_malformed() {
        let h = header("1.2.3.4:1", "5.6.7.8:2");
        let bytes = encode_record_to_vec(MessageVersion::V1, &h, b"hello", "t", b"").unwrap();
        assert!(matches!(
            decode_record(&bytes[..50], true),
            Err(RecordError::Truncated { .. })
        ));
        assert!(matches!(
            decode_record(&bytes[..3], true),
            Err(RecordError::Truncated { .. })
        ));
        let mut bad = bytes.clone();
        bad[4] = 0;
        assert!(matches!(
            decode_record(&bad, true),
            Err(RecordError::BadMagic(_))
        ));
        let mut long_body = bytes.clone();
        let body_len_pos = bytes.len() - 5 - 4 - 1 - 1 - 2;
        long_body[body_len_pos..body_len_pos + 4].copy_from_slice(&1_000_000i32.to_be_bytes());
        assert!(decode_record(&long_body, true).is_err());
        let mut neg = bytes.clone();
        neg[body_len_pos..body_len_pos + 4].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            decode_record(&neg, true),
            Err(RecordError::NegativeLength("body"))
        );
        let mut blank = vec![0u8; 16];
        blank[0..4].copy_from_slice(&16i32.to_be_bytes());
        blank[4..8].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
        assert_eq!(decode_record(&blank, true), Ok(Decoded::Blank { size: 16 }));
    }

    /// A v1 topic longer than 127 bytes and properties over 32767 bytes are refused.
    #[test]
    fn format_limits() {
        let h = header("1.2.3.4:1", "5.6.7.8:2");
        let long = "t".repeat(128);
        assert_eq!(
            encode_record_to_vec(MessageVersion::V1, &h, b"", &long, b""),
            Err(RecordError::TooLong("topic"))
        );
        let props = vec![b'a'; 32768];
        assert_eq!(
            encode_record_to_vec(MessageVersion::V1, &h, b"", "t", &props),
            Err(RecordError::TooLong("properties"))
        );
        assert_eq!(version_for_topic(127, true), MessageVersion::V1);
        assert_eq!(version_for_topic(128, true), MessageVersion::V2);
    }

    /// A pull body of concatenated records decodes record by record.
    #[test]
    fn decodes_concatenation() {
        let h = header("1.2.3.4:1", "5.6.7.8:2");
        let mut buf = encode_record_to_vec(MessageVersion::V1, &h, b"a", "t", b"").unwrap();
        buf.extend(encode_record_to_vec(MessageVersion::V2, &h, b"bb", "t", b"").unwrap());
        let bodies: Vec<_> = decode_messages(&buf, false)
            .map(|m| m.unwrap().body.to_vec())
            .collect();
        assert_eq!(bodies, vec![b"a".to_vec(), b"bb".to_vec()]);
    }
}
