//! Offset message ids (protocol.md §5.5): store host IP + port (i32) + CommitLog offset (i64),
//! upper-case hex: 32 chars for IPv4, 56 for IPv6. Parsers tell the two apart by length.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::record::canonical_host;

/// Why a string is not an offset message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgIdError {
    /// Neither 32 nor 56 characters.
    #[error("message id has length {0}, expected 32 or 56")]
    BadLength(usize),
    /// A character is not a hex digit.
    #[error("message id is not hex")]
    NotHex,
}

/// Appends the offset message id of `(store_host, offset)` to `out`.
pub fn write_offset_msg_id(out: &mut String, store_host: SocketAddr, offset: i64) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut push = |bytes: &[u8]| {
        for b in bytes {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        }
    };
    match canonical_host(store_host) {
        SocketAddr::V4(a) => push(&a.ip().octets()),
        SocketAddr::V6(a) => push(&a.ip().octets()),
    }
    push(&i32::from(store_host.port()).to_be_bytes());
    push(&offset.to_be_bytes());
}

/// The offset message id of `(store_host, offset)`.
pub fn offset_msg_id(store_host: SocketAddr, offset: i64) -> String {
    let mut s = String::with_capacity(56);
    write_offset_msg_id(&mut s, store_host, offset);
    s
}

/// Comma-separated ids for a batch, as Java returns them for a batch send.
pub fn offset_msg_ids(store_host: SocketAddr, offsets: &[i64]) -> String {
    let mut s = String::with_capacity(offsets.len() * 33);
    for (i, off) in offsets.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write_offset_msg_id(&mut s, store_host, *off);
    }
    s
}

fn hex_bytes<const N: usize>(s: &str) -> Result<[u8; N], MsgIdError> {
    let mut out = [0u8; N];
    let b = s.as_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        let hi = (b[2 * i] as char).to_digit(16).ok_or(MsgIdError::NotHex)?;
        let lo = (b[2 * i + 1] as char)
            .to_digit(16)
            .ok_or(MsgIdError::NotHex)?;
        *o = (hi * 16 + lo) as u8;
    }
    Ok(out)
}

/// Parses an offset message id into the store host and CommitLog offset.
pub fn parse_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), MsgIdError> {
    let id = id.trim();
    match id.len() {
        32 => {
            let b: [u8; 16] = hex_bytes(id)?;
            let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            let port = i32::from_be_bytes([b[4], b[5], b[6], b[7]]) as u16;
            let mut off = [0u8; 8];
            off.copy_from_slice(&b[8..16]);
            Ok((
                SocketAddr::V4(SocketAddrV4::new(ip, port)),
                i64::from_be_bytes(off),
            ))
        }
        56 => {
            let b: [u8; 28] = hex_bytes(id)?;
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&b[..16]);
            let port = i32::from_be_bytes([b[16], b[17], b[18], b[19]]) as u16;
            let mut off = [0u8; 8];
            off.copy_from_slice(&b[20..28]);
            Ok((
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0)),
                i64::from_be_bytes(off),
            ))
        }
        n => Err(MsgIdError::BadLength(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 ids are 32 upper-case hex chars laid out ip|port|offset, and parse back.
    #[test]
    fn ipv4_layout_and_round_trip() {
        let host: SocketAddr = "192.168.0.1:10911".parse().unwrap();
        let id = offset_msg_id(host, 0x1234);
        assert_eq!(id, "C0A8000100002A9F0000000000001234");
        assert_eq!(parse_offset_msg_id(&id).unwrap(), (host, 0x1234));
        assert_eq!(
            parse_offset_msg_id(&id.to_lowercase()).unwrap(),
            (host, 0x1234)
        );
    }

    /// IPv6 ids are 56 chars and parse back.
    #[test]
    fn ipv6_round_trip() {
        let host: SocketAddr = "[2001:db8::7]:10911".parse().unwrap();
        let id = offset_msg_id(host, 1 << 40);
        assert_eq!(id.len(), 56);
        assert_eq!(parse_offset_msg_id(&id).unwrap(), (host, 1 << 40));
    }

    /// Batch ids are comma-separated; bad lengths and non-hex are errors.
    #[test]
    fn batch_and_errors() {
        let host: SocketAddr = "1.2.3.4:5".parse().unwrap();
        let ids = offset_msg_ids(host, &[1, 2]);
        assert_eq!(ids.split(',').count(), 2);
        assert_eq!(parse_offset_msg_id("abc"), Err(MsgIdError::BadLength(3)));
        assert_eq!(
            parse_offset_msg_id(&"Z".repeat(32)),
            Err(MsgIdError::NotHex)
        );
    }
}
