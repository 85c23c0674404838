//! Java `String.hashCode()` over UTF-16 code units, computed straight from UTF-8 text without
//! allocating. Used for tag codes in the ConsumeQueue and for IndexFile key hashes.

/// Folds the UTF-16 code units of `s` into a running Java hash `h` (`h = 31*h + unit`, wrapping).
pub fn java_hash_continue(mut h: i32, s: &str) -> i32 {
    for c in s.chars() {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            h = h.wrapping_mul(31).wrapping_add(i32::from(*u));
        }
    }
    h
}

/// Java `String.hashCode()` of `s`.
pub fn java_string_hash(s: &str) -> i32 {
    java_hash_continue(0, s)
}

/// The ConsumeQueue tag code of a `TAGS` value: its Java hash, sign-extended to 64 bits.
/// An empty tag has code 0.
pub fn tags_code(tags: &str) -> i64 {
    i64::from(java_string_hash(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matches Java's `String.hashCode` for ASCII, BMP and supplementary characters.
    #[test]
    fn matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // "é" is U+00E9 = 233.
        assert_eq!(java_string_hash("é"), 233);
        // U+1F600 is the surrogate pair D83D DE00: 31*0xD83D + 0xDE00.
        assert_eq!(java_string_hash("\u{1F600}"), 31 * 0xD83D + 0xDE00);
        // Overflow wraps like Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }

    /// Hashing in two steps equals hashing the concatenation (used for `topic#key`).
    #[test]
    fn continues() {
        let h = java_hash_continue(java_hash_continue(java_string_hash("T"), "#"), "k1");
        assert_eq!(h, java_string_hash("T#k1"));
    }
}
