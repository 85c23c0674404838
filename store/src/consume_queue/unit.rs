//! The 20-byte ConsumeQueue unit: CommitLog offset (i64), record size (i32), tag code (i64),
//! big-endian. Logical offset n lives at byte n * 20 of the queue's stream. A filler unit
//! `(0, i32::MAX, 0)` pads the head of a queue whose first file starts mid-way.

/// Bytes per unit.
pub const CQ_UNIT_SIZE: u32 = 20;

/// One ConsumeQueue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqUnit {
    /// CommitLog offset of the record.
    pub phy_offset: i64,
    /// Record size.
    pub size: i32,
    /// Tag code (for `SCHEDULE_TOPIC_XXXX`: the delivery timestamp).
    pub tags_code: i64,
}

impl CqUnit {
    /// The padding unit.
    pub const FILLER: CqUnit = CqUnit {
        phy_offset: 0,
        size: i32::MAX,
        tags_code: 0,
    };

    /// Encodes into 20 bytes.
    pub fn encode(&self) -> [u8; CQ_UNIT_SIZE as usize] {
        let mut b = [0u8; CQ_UNIT_SIZE as usize];
        b[0..8].copy_from_slice(&self.phy_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    /// Decodes the first 20 bytes of `b` (`None` if shorter).
    pub fn decode(b: &[u8]) -> Option<CqUnit> {
        let b = b.get(..CQ_UNIT_SIZE as usize)?;
        let mut o = [0u8; 8];
        o.copy_from_slice(&b[0..8]);
        let mut s = [0u8; 4];
        s.copy_from_slice(&b[8..12]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[12..20]);
        Some(CqUnit {
            phy_offset: i64::from_be_bytes(o),
            size: i32::from_be_bytes(s),
            tags_code: i64::from_be_bytes(t),
        })
    }

    /// Whether recovery counts this unit as written (Java: offset >= 0 and size > 0).
    pub fn is_valid(&self) -> bool {
        self.phy_offset >= 0 && self.size > 0
    }

    /// Whether this is the padding unit.
    pub fn is_filler(&self) -> bool {
        *self == CqUnit::FILLER
    }
}

/// Iterates the units of a byte slice taken from a ConsumeQueue file.
pub fn units(buf: &[u8]) -> impl Iterator<Item = CqUnit> + '_ {
    buf.chunks_exact(CQ_UNIT_SIZE as usize)
        .filter_map(CqUnit::decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit is 20 big-endian bytes and decodes back; the filler is recognised.
    #[test]
    fn round_trip() {
        let u = CqUnit {
            phy_offset: 0x0102030405060708,
            size: 300,
            tags_code: -5,
        };
        let b = u.encode();
        assert_eq!(b[0], 1);
        assert_eq!(&b[8..12], &300i32.to_be_bytes());
        assert_eq!(CqUnit::decode(&b), Some(u));
        assert!(CqUnit::FILLER.is_filler() && CqUnit::FILLER.is_valid());
        assert!(!CqUnit::decode(&[0u8; 20]).unwrap().is_valid());
        assert_eq!(units(&[b, b].concat()).count(), 2);
    }
}
