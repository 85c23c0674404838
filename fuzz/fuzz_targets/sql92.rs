//! SQL92 selector compiler (the broker's `enablePropertyFilter`): compiling arbitrary text
//! never panics and respects the size limits; a compiled selector evaluates against messages
//! with typical and odd properties without panicking, and compiling is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use broker::filter::{PropertySource, SqlExpression, MAX_EXPRESSION_BYTES};

struct Props(&'static [(&'static str, &'static str)]);

impl PropertySource for Props {
    fn property(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

const MESSAGES: &[Props] = &[
    Props(&[]),
    Props(&[("a", "6"), ("b", "x"), ("TAGS", "TagA"), ("c", "3.5")]),
    Props(&[("a", "-2147483649"), ("b", ""), ("c", "NaN"), ("d", "true")]),
    Props(&[("a", "1e400"), ("b", "'"), ("c", "9223372036854775808"), ("TAGS", "")]),
];

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let compiled = SqlExpression::compile(&src);
    if let Ok(expr) = &compiled {
        assert!(src.len() <= MAX_EXPRESSION_BYTES);
        for m in MESSAGES {
            let _ = expr.evaluate(m);
            let _ = expr.matches(m);
        }
    }
    assert_eq!(compiled, SqlExpression::compile(&src));
});
