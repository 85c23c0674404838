//! The client batch body (SEND_BATCH_MESSAGE): repeated
//! `[TOTALSIZE i32][MAGIC i32][BODYCRC i32][FLAG i32][BODYLEN i32][BODY][PROPLEN i16][PROPS]`.
//! Decoding borrows from the body and checks every length against what is left before use;
//! like Java, TOTALSIZE, MAGIC and BODYCRC of the client encoding are not trusted.

/// One message of a batch body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    /// User flag.
    pub flag: i32,
    /// Body bytes.
    pub body: &'a [u8],
    /// Encoded properties (UTF-8 checked).
    pub properties: &'a str,
}

/// Why a batch body cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A field runs past the end of the body.
    #[error("batch message {index} truncated at byte {offset}")]
    Truncated {
        /// Index of the message in the batch.
        index: usize,
        /// Byte offset in the batch body.
        offset: usize,
    },
    /// A negative length.
    #[error("batch message {index} has a negative {field} length")]
    NegativeLength {
        /// Index of the message.
        index: usize,
        /// Field name.
        field: &'static str,
    },
    /// Properties are not UTF-8.
    #[error("batch message {index} properties are not UTF-8")]
    PropertiesNotUtf8 {
        /// Index of the message.
        index: usize,
    },
}

/// Iterator over the entries of a batch body; yields an error once and then stops.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    buf: &'a [u8],
    pos: usize,
    index: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    /// Starts decoding `body`.
    pub fn new(body: &'a [u8]) -> Self {
        BatchIter {
            buf: body,
            pos: 0,
            index: 0,
            failed: false,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BatchError> {
        match self.pos.checked_add(n).filter(|e| *e <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(BatchError::Truncated {
                index: self.index,
                offset: self.pos,
            }),
        }
    }

    fn i32(&mut self) -> Result<i32, BatchError> {
        let s = self.take(4)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn entry(&mut self) -> Result<BatchEntry<'a>, BatchError> {
        let _total = self.i32()?;
        let _magic = self.i32()?;
        let _crc = self.i32()?;
        let flag = self.i32()?;
        let body_len = self.i32()?;
        if body_len < 0 {
            return Err(BatchError::NegativeLength {
                index: self.index,
                field: "body",
            });
        }
        let body = self.take(body_len as usize)?;
        let p = self.take(2)?;
        let props_len = i16::from_be_bytes([p[0], p[1]]);
        if props_len < 0 {
            return Err(BatchError::NegativeLength {
                index: self.index,
                field: "properties",
            });
        }
        let raw = self.take(props_len as usize)?;
        let properties = std::str::from_utf8(raw)
            .map_err(|_| BatchError::PropertiesNotUtf8 { index: self.index })?;
        Ok(BatchEntry {
            flag,
            body,
            properties,
        })
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchEntry<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.entry();
        self.index += 1;
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// Decodes a whole batch body.
pub fn decode_batch(body: &[u8]) -> Result<Vec<BatchEntry<'_>>, BatchError> {
    BatchIter::new(body).collect()
}

/// Encodes messages the way the Java client's `MessageDecoder.encodeMessages` does.
pub fn encode_batch<'a, I>(messages: I) -> Vec<u8>
where
    I: IntoIterator<Item = (i32, &'a [u8], &'a str)>,
{
    let mut out = Vec::new();
    for (flag, body, props) in messages {
        let size = 4 + 4 + 4 + 4 + 4 + body.len() + 2 + props.len();
        out.extend_from_slice(&(size as i32).to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&flag.to_be_bytes());
        out.extend_from_slice(&(body.len() as i32).to_be_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&(props.len() as i16).to_be_bytes());
        out.extend_from_slice(props.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the client encodes decodes back entry by entry.
    #[test]
    fn round_trip() {
        let body = encode_batch([(1, &b"one"[..], "A\u{1}1\u{2}"), (2, &b""[..], "")]);
        let entries = decode_batch(&body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].flag, 1);
        assert_eq!(entries[0].body, b"one");
        assert_eq!(entries[0].properties, "A\u{1}1\u{2}");
        assert_eq!(entries[1].body, b"");
    }

    /// A body length beyond the buffer, a negative length and a cut-off tail are errors, never panics
    /// or huge allocations.
    #[test]
    fn rejects_bad_lengths() {
        let mut body = encode_batch([(1, &b"one"[..], "")]);
        body[16..20].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_batch(&body),
            Err(BatchError::Truncated { index: 0, .. })
        ));
        body[16..20].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(matches!(
            decode_batch(&body),
            Err(BatchError::NegativeLength { .. })
        ));
        let good = encode_batch([(1, &b"one"[..], ""), (1, &b"two"[..], "")]);
        assert!(matches!(
            decode_batch(&good[..good.len() - 1]),
            Err(BatchError::Truncated { index: 1, .. })
        ));
        assert!(decode_batch(&[]).unwrap().is_empty());
    }
}
