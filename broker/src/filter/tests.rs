//! Grammar and evaluation tests of the SQL92 selector, against the Java broker's behaviour.

use super::*;

type Props<'a> = [(&'a str, &'a str)];

fn compile(s: &str) -> SqlExpression {
    SqlExpression::compile(s).unwrap_or_else(|e| panic!("{s:?} should compile: {e}"))
}

fn refused(s: &str) -> FilterError {
    match SqlExpression::compile(s) {
        Ok(e) => panic!("{s:?} should be refused, compiled to {e}"),
        Err(e) => e,
    }
}

fn eval(s: &str, props: &Props<'_>) -> Result<Option<bool>, EvalError> {
    compile(s).evaluate(props)
}

fn is(s: &str, props: &Props<'_>) -> bool {
    compile(s).matches(props)
}

#[test]
fn comparisons_with_numbers_convert_the_property() {
    let p: &Props<'_> = &[("a", "7"), ("d", "2.5"), ("big", "3000000000")];
    for (e, want) in [
        ("a > 5", true),
        ("a >= 7", true),
        ("a < 7", false),
        ("a <= 7", true),
        ("a = 7", true),
        ("a <> 7", false),
        ("a <> 8", true),
        ("a > 6.5", true),
        ("d > 2", false), // "2.5" is not an int: Java throws, the message is not selected
        ("d > 2.0", true),
        ("d < 2.75", true),
        ("big > 5", false),  // over int range against an int literal: not selected
        ("big > 5L", false), // 5L fits an int, so Java types it as one
        ("big > 2147483648", true),
        ("big > 2999999999", true), // the literal is a long
        ("a = 7.0", true),
        ("-a < 0", false), // negating a string property gives null
        ("a > -1", true),
        ("a > +1", true),
    ] {
        assert_eq!(is(e, p), want, "{e}");
    }
}

#[test]
fn strings_compare_as_strings_and_order_as_numbers() {
    let p: &Props<'_> = &[("b", "x"), ("n", "10"), ("m", "9"), ("s", "abc")];
    assert!(is("b = 'x'", p));
    assert!(!is("b = 'X'", p));
    assert!(is("b <> 'y'", p));
    // Two properties ordered with `<`: both are read as doubles.
    assert!(is("n > m", p));
    assert_eq!(
        eval("s > n", p),
        Err(EvalError::StringOrdering("abc".into(), "10".into()))
    );
    // A property equal to a number literal is parsed as that number type.
    assert!(is("n = 10", p));
    assert!(!is("s = 10", p));
    assert!(matches!(eval("s = 10", p), Err(EvalError::NotANumber(_))));
    // String literals cannot be ordered.
    assert!(matches!(refused("b > 'a'"), FilterError::Semantic(_)));
}

#[test]
fn missing_properties_are_null() {
    let p: &Props<'_> = &[("a", "1")];
    assert_eq!(eval("x = 'v'", p), Ok(None));
    assert_eq!(eval("x > 1", p), Ok(None));
    assert_eq!(eval("x <> 'v'", p), Ok(None));
    assert_eq!(eval("NOT (x = 'v')", p), Ok(None));
    assert_eq!(eval("x IN ('v')", p), Ok(None));
    assert_eq!(eval("x NOT IN ('v')", p), Ok(None));
    assert_eq!(eval("x BETWEEN 1 AND 2", p), Ok(None));
    assert!(!is("x <> 'v'", p));
    // Three-valued AND / OR.
    assert_eq!(eval("x = 'v' AND a = 1", p), Ok(None));
    assert_eq!(eval("x = 'v' AND a = 2", p), Ok(Some(false)));
    assert_eq!(eval("x = 'v' OR a = 1", p), Ok(Some(true)));
    assert_eq!(eval("x = 'v' OR a = 2", p), Ok(None));
    // IS NULL is the way to select on absence.
    assert!(is("x IS NULL", p));
    assert!(!is("a IS NULL", p));
    assert!(is("a IS NOT NULL", p));
    assert!(!is("x IS NOT NULL", p));
    // The text operators answer FALSE (not null) for a missing property.
    assert_eq!(eval("x CONTAINS 'v'", p), Ok(Some(false)));
    assert_eq!(eval("x NOT CONTAINS 'v'", p), Ok(Some(false)));
    assert!(is("NOT (x CONTAINS 'v')", p));
    // A bare property in a boolean place is FALSE (strings are not booleans), or null.
    assert_eq!(eval("a", p), Ok(Some(false)));
    assert_eq!(eval("x", p), Ok(None));
    assert_eq!(eval("NULL", p), Ok(None));
}

#[test]
fn tags_and_system_properties_are_properties() {
    let p: &Props<'_> = &[("TAGS", "TagA"), ("KEYS", "k1"), ("a", "3")];
    assert!(is("TAGS = 'TagA'", p));
    assert!(is("TAGS IN ('TagB', 'TagA') AND a BETWEEN 1 AND 3", p));
    assert!(!is("TAGS = 'taga'", p));
    assert!(is("KEYS = 'k1'", p));
    // Property names are case-sensitive, keywords are not.
    assert_eq!(eval("tags = 'TagA'", p), Ok(None));
    assert!(is("tags is null and TAGS is not NULL", p));
}

#[test]
fn in_between_and_text_operators() {
    let p: &Props<'_> = &[("c", "blue"), ("n", "5"), ("s", "hello world")];
    assert!(is("c IN ('red', 'blue')", p));
    assert!(!is("c IN ('red', 'green', 'a', 'b', 'c', 'd')", p));
    assert!(is("c NOT IN ('red', 'green')", p));
    assert!(!is("c NOT IN ('blue')", p));
    assert!(is("n BETWEEN 5 AND 6", p));
    assert!(is("n BETWEEN 1 AND 5", p));
    assert!(!is("n BETWEEN 6 AND 9", p));
    assert!(is("n NOT BETWEEN 6 AND 9", p));
    assert!(!is("n NOT BETWEEN 5 AND 9", p));
    assert!(is("n BETWEEN 4.5 AND 5.5", p));
    assert!(is("s CONTAINS 'o w'", p));
    assert!(!is("s CONTAINS 'xyz'", p));
    assert!(is("s NOT CONTAINS 'xyz'", p));
    assert!(is("s STARTSWITH 'hell'", p));
    assert!(is("s NOT STARTSWITH 'world'", p));
    assert!(is("s ENDSWITH 'world'", p));
    assert!(!is("s NOT ENDSWITH 'world'", p));
    // An empty search string never matches, negated or not.
    assert!(!is("s CONTAINS ''", p));
    assert!(!is("s NOT CONTAINS ''", p));
    // IN takes string literals only, on a property only.
    assert!(SqlExpression::compile("n IN (5)").is_err());
    assert!(SqlExpression::compile("'a' IN ('a')").is_err());
}

#[test]
fn precedence_follows_java() {
    let p: &Props<'_> = &[("a", "1"), ("b", "2"), ("c", "3")];
    // AND binds tighter than OR.
    assert!(is("a = 1 OR b = 9 AND c = 9", p));
    assert!(!is("(a = 1 OR b = 9) AND c = 9", p));
    assert!(is("a = 9 AND b = 9 OR c = 3", p));
    // NOT binds tighter than comparisons: `NOT a = 1` is `(NOT a) = 1`, never TRUE.
    assert!(!is("NOT a = 1", p));
    assert!(!is("NOT a = 2", p));
    assert!(is("NOT (a = 2)", p));
    assert!(is("NOT (a = 2) AND NOT (b = 1)", p));
    // ... and a NOT before an ordering comparison does not compile.
    assert!(SqlExpression::compile("NOT a > 1").is_err());
    // Comparisons chain left to right; a boolean cannot be ordered.
    assert!(SqlExpression::compile("a > 0 > 1").is_err());
    assert_eq!(eval("a = 1 = TRUE", p), Ok(Some(true)));
    // Keywords in any case.
    assert!(is("a = 1 and b = 2 Or c = 0", p));
    assert!(is("a not between 5 and 6", p));
    assert!(is("a is not null AND b iS NuLl or c = 3", p));
}

#[test]
fn literals() {
    let p: &Props<'_> = &[("q", "it's"), ("t", "true"), ("f", "no")];
    assert!(is("q = 'it''s'", p));
    assert!(is("t = TRUE", p));
    assert!(is("f = FALSE", p));
    assert!(is("TRUE", p));
    assert!(!is("FALSE", p));
    assert!(is("TRUE OR x = 1", p));
    assert!(is("1 = 1", p));
    assert!(is("1 = 1.0", p));
    assert!(is("2147483648 > 2147483647", p));
    assert!(is("1.5E1 = 15", p));
    assert!(is(".5 < 1", p));
    assert!(is("5. = 5", p));
    assert!(is("-5 < -4", p));
    // Boolean constants compare with booleans only; Java throws comparing one with a string.
    assert!(!is("1 = TRUE", p));
    assert_eq!(eval("(q = 'x') = q", p), Err(EvalError::BooleanWithString));
    // Comments.
    assert!(is("/* c */ q = 'it''s' -- rest\n AND t = TRUE", p));
}

#[test]
fn refusals_follow_java() {
    for bad in [
        "",
        "   ",
        "a >",
        "a = ",
        "(a = 1",
        "a = 'x",
        "a and between 2 and 10", // Java's own invalid example
        " a between 10 and 0",    // Java: illegal between
        "a between NULL and 1",
        "a = NULL",
        "NULL = a",
        "TRUE = 1",
        "a > 'x'",
        "a > TRUE",
        "a < NULL",
        "5",
        "'x'",
        "a IS b",
        "a IS NOT 1",
        "a NOT LIKE 'x'",
        "a != 1",
        "a = 1 AND",
        "OR a = 1",
        "a IN ()",
        "a IN ('x',)",
        "a CONTAINS b",
        "a > 100000000000000000000000", // out of long range
        "a > 0.0",                      // Java refuses doubles below Double.MIN_VALUE
        "a > 1e400",
        "#",
        "a = 1 NOT",
        "NOT 5",
        "- a",
        "/* unterminated",
    ] {
        refused(bad);
    }
}

#[test]
fn parsing_stops_after_one_expression_as_java() {
    // Java's selector rule does not require the end of input: the rest is ignored, but the
    // token right after the expression must be readable.
    let p: &Props<'_> = &[("a", "1"), ("b", "2")];
    assert!(is("a = 1 b = 3", p));
    assert!(is("a = 1)", p));
    assert!(is("a = 1, b = 3", p));
    assert!(is("a = 007", &[("a", "0")]));
    // No arithmetic and no LIKE: what follows the property is ignored, leaving a bare
    // property (FALSE for any value).
    assert_eq!(eval("a + 1", p), Ok(Some(false)));
    assert_eq!(eval("a LIKE 'x%'", p), Ok(Some(false)));
    assert!(SqlExpression::compile("a = 1 #").is_err());
    assert!(SqlExpression::compile("a = 1 b #").is_ok());
}

#[test]
fn error_messages_are_clear() {
    let e = refused("a > 5 AND b =");
    assert_eq!(
        e.to_string(),
        "Encountered \"<EOF>\" at line 1, column 14. Was expecting a literal, a property, (, NOT, + or -"
    );
    let e = refused("a = 1 OR\n  b # 2");
    assert_eq!(
        e.to_string(),
        "Lexical error at line 2, column 5. Encountered: '#'"
    );
    assert_eq!(
        refused("a > 'x'").to_string(),
        "Value ''x'' cannot be compared."
    );
    assert_eq!(
        refused("a = NULL").to_string(),
        "'NULL' cannot be compared."
    );
    assert_eq!(
        refused("a BETWEEN 3 AND 1").to_string(),
        "Illegal values of between, left value(3) must less than or equal to right value(1)"
    );
    assert_eq!(
        SqlExpression::compile_typed("FOO", "a = 1").unwrap_err(),
        FilterError::UnsupportedType("FOO".into())
    );
}

#[test]
fn hostile_input_is_bounded() {
    // Deep parentheses and unary chains are refused, not a stack overflow.
    for n in [MAX_NESTING + 1, 10_000, 30_000] {
        let deep = format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
        assert!(matches!(
            refused(&deep),
            FilterError::TooComplex { .. } | FilterError::TooLong { .. }
        ));
        let nots = format!("{}(a = 1)", "NOT ".repeat(n));
        assert!(matches!(
            refused(&nots),
            FilterError::TooComplex { .. } | FilterError::TooLong { .. }
        ));
        let minus = format!("a > {}1", "-".repeat(n));
        assert!(matches!(
            refused(&minus),
            FilterError::TooComplex { .. } | FilterError::TooLong { .. }
        ));
    }
    // Moderate nesting is fine.
    let ok = format!("{}a = 1{}", "(".repeat(50), ")".repeat(50));
    assert!(is(&ok, &[("a", "1")]));
    // Long AND chains build a deep tree: bounded too.
    let chain = vec!["a = 1"; 2_000].join(" AND ");
    assert!(matches!(refused(&chain), FilterError::TooComplex { .. }));
    let fine = vec!["a = 1"; 100].join(" AND ");
    assert!(is(&fine, &[("a", "1")]));
    // Too long.
    let long = format!("a IN ({})", vec!["'xxxxxxxx'"; 10_000].join(","));
    assert!(matches!(refused(&long), FilterError::TooLong { .. }));
    // A big but acceptable IN list.
    let list = format!(
        "a IN ({})",
        (0..2000)
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(is(&list, &[("a", "1999")]));
}

#[test]
fn java_double_parsing() {
    use super::eval::java_parse_double as d;
    assert_eq!(d("1.5"), Some(1.5));
    assert_eq!(d(" 2 "), Some(2.0));
    assert_eq!(d("-3e2"), Some(-300.0));
    assert_eq!(d("+.5"), Some(0.5));
    assert_eq!(d("5."), Some(5.0));
    assert_eq!(d("1f"), Some(1.0));
    assert_eq!(d("Infinity"), Some(f64::INFINITY));
    assert!(d("NaN").is_some_and(f64::is_nan));
    assert_eq!(d("inf"), None);
    assert_eq!(d("1e"), None);
    assert_eq!(d("."), None);
    assert_eq!(d(""), None);
    assert_eq!(d("1,5"), None);
}

#[test]
fn stored_properties_source() {
    let props =
        store::message::properties::encode_properties([("TAGS", "T"), ("a", "6"), ("b", "x")]);
    let e = compile("a > 5 AND b = 'x' AND TAGS = 'T'");
    assert!(e.matches(&StoredProperties(&props)));
    assert!(!compile("a > 6").matches(&StoredProperties(&props)));
}

#[test]
fn deepest_accepted_expressions_fit_in_one_mib_of_stack() {
    let parens = format!(
        "{}a = 1{}",
        "(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    let nots = format!("{}(a = 1)", "NOT ".repeat(MAX_NESTING - 2));
    let chain = vec!["a = 1"; MAX_TREE_DEPTH - 1].join(" OR ");
    let t = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let props: &Props<'_> = &[("a", "1")];
            assert!(compile(&parens).matches(props));
            assert_eq!(compile(&nots).matches(props), MAX_NESTING.is_multiple_of(2));
            let deepest = compile(&chain);
            assert!(deepest.matches(props));
            assert!(!deepest.matches(&[("a", "2")][..]));
            refused(&format!("{chain} OR a = 1"));
        })
        .unwrap();
    t.join().unwrap();
}
