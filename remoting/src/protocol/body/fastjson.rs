//! Reading what fastjson writes: maps with non-string keys come out as bare numbers
//! (`{0:"a",1:"b"}`), which standard JSON parsers refuse. `quote_bare_keys` rewrites such keys
//! as strings (outside string literals only) so serde can read Java-written files and bodies.
//! Maps keyed by an object (a `MessageQueue`) come out as `{{"topic":..}:5}`;
//! `quote_object_keys` turns each such key into a string holding the key's JSON text.

use std::borrow::Cow;

/// Where the scan of a JSON text stands: inside a string literal or not, and whether the next
/// token outside strings is an object key (after `{` or `,` inside an object).
#[derive(Default)]
struct Scanner {
    in_string: bool,
    escaped: bool,
    expect_key: bool,
    stack: Vec<u8>,
}

impl Scanner {
    /// Whether the byte about to be read starts a token in key position.
    fn at_key(&self) -> bool {
        !self.in_string && self.expect_key
    }

    /// Takes byte `b` into the state.
    fn advance(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                self.expect_key = false;
            }
            b'{' => {
                self.stack.push(b'{');
                self.expect_key = true;
            }
            b'[' => {
                self.stack.push(b'[');
                self.expect_key = false;
            }
            b'}' | b']' => {
                self.stack.pop();
                self.expect_key = false;
            }
            b',' => self.expect_key = self.stack.last() == Some(&b'{'),
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => self.expect_key = false,
        }
    }

    /// A key was rewritten by the caller: its value follows.
    fn key_done(&mut self) {
        self.expect_key = false;
    }
}

/// Returns `json` with bare numeric object keys quoted; borrows when there is nothing to fix.
pub fn quote_bare_keys(json: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut scan = Scanner::default();
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        if scan.at_key() && matches!(b, b'-' | b'0'..=b'9') {
            let start = i;
            let mut end = i + 1;
            while end < json.len() && json[end].is_ascii_digit() {
                end += 1;
            }
            let o = out.get_or_insert_with(|| json[..start].to_vec());
            o.push(b'"');
            o.extend_from_slice(&json[start..end]);
            o.push(b'"');
            scan.key_done();
            i = end;
            continue;
        }
        scan.advance(b);
        if let Some(o) = out.as_mut() {
            o.push(b)
        }
        i += 1;
    }
    match out {
        Some(o) => Cow::Owned(o),
        None => Cow::Borrowed(json),
    }
}

/// Returns `json` with every object-valued key (`{{"a":1}:2}`) replaced by a string holding the
/// key's JSON text (`{"{\"a\":1}":2}`); `None` if a key object is not closed.
pub fn quote_object_keys(json: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len() + 64);
    let mut scan = Scanner::default();
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        if scan.at_key() && b == b'{' {
            let end = object_end(json, i)?;
            let text = std::str::from_utf8(&json[i..end]).ok()?;
            out.extend_from_slice(serde_json::to_string(text).ok()?.as_bytes());
            scan.key_done();
            i = end;
            continue;
        }
        scan.advance(b);
        out.push(b);
        i += 1;
    }
    Some(out)
}

/// Index just past the object starting at `start` (strings respected); `None` if unclosed.
fn object_end(json: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in json.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_bare_keys() {
        let src = br#"{"offsetTable":{"T@g":{0:5,1:-3},"x":"{0:1}"},"a":[1,2]}"#;
        let fixed = quote_bare_keys(src);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"{"offsetTable":{"T@g":{"0":5,"1":-3},"x":"{0:1}"},"a":[1,2]}"#
        );
        let ok = br#"{"a":{"0":1}}"#;
        assert!(matches!(quote_bare_keys(ok), Cow::Borrowed(_)));
    }

    #[test]
    fn quotes_object_keys() {
        let src =
            br#"{"t":{{"brokerName":"b","queueId":0,"topic":"T}"}:4, {"queueId":1}:5},"s":"{x"}"#;
        let fixed = quote_object_keys(src).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(
            v["t"][r#"{"brokerName":"b","queueId":0,"topic":"T}"}"#],
            serde_json::json!(4)
        );
        assert_eq!(v["t"][r#"{"queueId":1}"#], serde_json::json!(5));
        assert_eq!(v["s"], serde_json::json!("{x"));
        assert!(quote_object_keys(br#"{"t":{{"a":1"#).is_none());
        assert_eq!(quote_object_keys(b"{}").unwrap(), b"{}");
    }
}
