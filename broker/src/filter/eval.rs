//! Evaluation of a compiled selector against a message's properties, with the Java broker's
//! semantics: properties are strings; a missing property is null and null propagates (a
//! comparison with null is null, AND/OR/NOT are three-valued, only TRUE selects); comparing a
//! property with a number literal converts the property the way Java's `Integer.valueOf`,
//! `Long.valueOf` or `Double.valueOf` would, and a failed conversion aborts the whole evaluation
//! (the message is not selected), as Java's exception does.

use std::cmp::Ordering;
use std::fmt;

use super::ast::{CmpOp, Expr, Kind, Literal, TextOp};

/// Where property values come from.
pub trait PropertySource {
    /// The value of property `name`, if the message has it.
    fn property(&self, name: &str) -> Option<&str>;
}

/// A value during evaluation (Java's runtime classes: Boolean, Integer, Long, Double, String).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

impl<'a> From<&'a Literal> for Value<'a> {
    fn from(l: &'a Literal) -> Self {
        match l {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(i) => Value::Int(*i),
            Literal::Long(l) => Value::Long(*l),
            Literal::Double(d) => Value::Double(*d),
            Literal::Str(s) => Value::Str(s),
        }
    }
}

/// What makes Java's evaluation throw; the message is then not selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A string that is not a number of the type it is compared with.
    NotANumber(String),
    /// A boolean compared with a string (Java: ClassCastException).
    BooleanWithString,
    /// Two strings compared with `<`-like operators, one not a number.
    StringOrdering(String, String),
    /// A non-boolean where a boolean was required.
    NotBoolean,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::NotANumber(s) => write!(f, "For input string: \"{s}\""),
            EvalError::BooleanWithString => {
                f.write_str("a boolean cannot be compared with a string")
            }
            EvalError::StringOrdering(l, r) => write!(
                f,
                "It's illegal to compare string by '>=', '>', '<', '<='. lv={l}, rv={r}"
            ),
            EvalError::NotBoolean => f.write_str("not a boolean value"),
        }
    }
}

/// Whether the expression selects the message: TRUE only (null, FALSE or an evaluation error
/// do not).
pub(crate) fn matches<P: PropertySource + ?Sized>(e: &Expr, props: &P) -> bool {
    matches!(eval(e, props), Ok(Value::Bool(true)))
}

fn as_bool(v: Value<'_>) -> Result<Option<bool>, EvalError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        _ => Err(EvalError::NotBoolean),
    }
}

/// Evaluates `e`. Each operator is its own function so that the recursion's frames stay small
/// (the tree height is bounded by the parser).
pub(crate) fn eval<'a, P: PropertySource + ?Sized>(
    e: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    match &e.kind {
        Kind::Literal(l) => Ok(Value::from(l)),
        Kind::Property(name) => Ok(props.property(name).map_or(Value::Null, Value::Str)),
        Kind::Negate(x) => eval_negate(x, props),
        Kind::Not(x) => eval_not(x, props),
        Kind::BoolCast(x) => eval_cast(x, props),
        Kind::And(l, r) => eval_logic(false, l, r, props),
        Kind::Or(l, r) => eval_logic(true, l, r, props),
        Kind::Compare(CmpOp::Eq, l, r) => eval_equal(l, r, props),
        Kind::Compare(op, l, r) => eval_ordered(*op, l, r, props),
        Kind::In {
            property,
            values,
            negated,
        } => Ok(match props.property(property) {
            None => Value::Null,
            Some(v) => Value::Bool(values.contains(v) ^ negated),
        }),
        Kind::Text {
            op,
            negated,
            operand,
            search,
        } => eval_text(*op, *negated, operand, search, props),
    }
}

#[inline(never)]
fn eval_negate<'a, P: PropertySource + ?Sized>(
    x: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    Ok(match eval(x, props)? {
        Value::Int(i) => Value::Int(i.wrapping_neg()),
        Value::Long(l) => Value::Long(l.wrapping_neg()),
        Value::Double(d) => Value::Double(-d),
        _ => Value::Null,
    })
}

#[inline(never)]
fn eval_not<'a, P: PropertySource + ?Sized>(
    x: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    Ok(match as_bool(eval(x, props)?)? {
        None => Value::Null,
        Some(b) => Value::Bool(!b),
    })
}

#[inline(never)]
fn eval_cast<'a, P: PropertySource + ?Sized>(
    x: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    Ok(match eval(x, props)? {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(b),
        _ => Value::Bool(false),
    })
}

/// AND (`or` false) / OR (`or` true), three-valued, the right side skipped when the left
/// decides.
#[inline(never)]
fn eval_logic<'a, P: PropertySource + ?Sized>(
    or: bool,
    l: &'a Expr,
    r: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    let lv = as_bool(eval(l, props)?)?;
    if lv == Some(or) {
        return Ok(Value::Bool(or));
    }
    let rv = as_bool(eval(r, props)?)?;
    if rv == Some(or) {
        return Ok(Value::Bool(or));
    }
    if lv.is_none() || rv.is_none() {
        Ok(Value::Null)
    } else {
        Ok(Value::Bool(!or))
    }
}

/// `=`: null = null is TRUE, null on the left only is null, on the right only FALSE.
#[inline(never)]
fn eval_equal<'a, P: PropertySource + ?Sized>(
    l: &'a Expr,
    r: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    let lv = eval(l, props)?;
    let rv = eval(r, props)?;
    Ok(match (lv, rv) {
        (Value::Null, Value::Null) => Value::Bool(true),
        (Value::Null, _) => Value::Null,
        (_, Value::Null) => Value::Bool(false),
        _ => Value::Bool(compare(&lv, &rv)? == 0),
    })
}

/// `>`, `>=`, `<`, `<=`: null if either side is; two strings are both read as doubles.
#[inline(never)]
fn eval_ordered<'a, P: PropertySource + ?Sized>(
    op: CmpOp,
    l: &'a Expr,
    r: &'a Expr,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    let lv = eval(l, props)?;
    if lv == Value::Null {
        return Ok(Value::Null);
    }
    let rv = eval(r, props)?;
    if rv == Value::Null {
        return Ok(Value::Null);
    }
    let order = match (lv, rv) {
        (Value::Str(a), Value::Str(b)) => match (java_parse_double(a), java_parse_double(b)) {
            (Some(x), Some(y)) => java_double_compare(x, y),
            _ => return Err(EvalError::StringOrdering(a.into(), b.into())),
        },
        _ => compare(&lv, &rv)?,
    };
    Ok(Value::Bool(match op {
        CmpOp::Gt => order > 0,
        CmpOp::Ge => order >= 0,
        CmpOp::Lt => order < 0,
        CmpOp::Le | CmpOp::Eq => order <= 0,
    }))
}

/// CONTAINS / STARTSWITH / ENDSWITH: FALSE (not null) for an empty search, a null or a
/// non-string operand, negated forms included.
#[inline(never)]
fn eval_text<'a, P: PropertySource + ?Sized>(
    op: TextOp,
    negated: bool,
    operand: &'a Expr,
    search: &str,
    props: &'a P,
) -> Result<Value<'a>, EvalError> {
    if search.is_empty() {
        return Ok(Value::Bool(false));
    }
    Ok(match eval(operand, props)? {
        Value::Str(s) => {
            let hit = match op {
                TextOp::Contains => s.contains(search),
                TextOp::StartsWith => s.starts_with(search),
                TextOp::EndsWith => s.ends_with(search),
            };
            Value::Bool(hit ^ negated)
        }
        _ => Value::Bool(false),
    })
}

fn ord(o: Ordering) -> i32 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// Java `Double.compare`: a total order with -0.0 < 0.0 and NaN above everything.
fn java_double_compare(a: f64, b: f64) -> i32 {
    if a < b {
        return -1;
    }
    if a > b {
        return 1;
    }
    let bits = |x: f64| -> i64 {
        if x.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            x.to_bits() as i64
        }
    };
    ord(bits(a).cmp(&bits(b)))
}

/// Java `String.compareTo`: UTF-16 code units, lexicographically.
fn java_string_compare(a: &str, b: &str) -> i32 {
    ord(a.encode_utf16().cmp(b.encode_utf16()))
}

fn parse_int(s: &str) -> Result<i32, EvalError> {
    s.parse().map_err(|_| EvalError::NotANumber(s.into()))
}

fn parse_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| EvalError::NotANumber(s.into()))
}

fn parse_double(s: &str) -> Result<f64, EvalError> {
    java_parse_double(s).ok_or_else(|| EvalError::NotANumber(s.into()))
}

/// Java `Double.valueOf(String)` for decimal forms: surrounding control characters and spaces
/// trimmed, an optional sign, `NaN`, `Infinity`, or digits with an optional point and exponent
/// and an optional `f`/`F`/`d`/`D` suffix. (Hexadecimal floating literals are not accepted.)
pub(crate) fn java_parse_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = match body {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        _ => {
            let body = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
            let b = body.as_bytes();
            let mut i = 0;
            let int_digits = count_digits(&b[i..]);
            i += int_digits;
            let mut frac_digits = 0;
            if b.get(i) == Some(&b'.') {
                i += 1;
                frac_digits = count_digits(&b[i..]);
                i += frac_digits;
            }
            if int_digits + frac_digits == 0 {
                return None;
            }
            if matches!(b.get(i), Some(b'e' | b'E')) {
                i += 1;
                if matches!(b.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                let e = count_digits(&b[i..]);
                if e == 0 {
                    return None;
                }
                i += e;
            }
            if i != b.len() {
                return None;
            }
            body.parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Java `ComparisonExpression.__compare` with string conversion on: values of different types
/// are brought to one type (the number type of the other side for a string, the wider number
/// type for two numbers), unrelated types compare as "less" (-1).
pub(crate) fn compare(lv: &Value<'_>, rv: &Value<'_>) -> Result<i32, EvalError> {
    use Value::*;
    Ok(match (*lv, *rv) {
        (Bool(a), Bool(b)) => ord(a.cmp(&b)),
        (Int(a), Int(b)) => ord(a.cmp(&b)),
        (Long(a), Long(b)) => ord(a.cmp(&b)),
        (Double(a), Double(b)) => java_double_compare(a, b),
        (Str(a), Str(b)) => java_string_compare(a, b),
        // Java casts the Boolean to String here and fails.
        (Bool(_), Str(_)) => return Err(EvalError::BooleanWithString),
        (Int(a), Long(b)) => ord(i64::from(a).cmp(&b)),
        (Int(a), Double(b)) => java_double_compare(f64::from(a), b),
        (Int(a), Str(b)) => ord(a.cmp(&parse_int(b)?)),
        (Long(a), Int(b)) => ord(a.cmp(&i64::from(b))),
        (Long(a), Double(b)) => java_double_compare(a as f64, b),
        (Long(a), Str(b)) => ord(a.cmp(&parse_long(b)?)),
        (Double(a), Int(b)) => java_double_compare(a, f64::from(b)),
        (Double(a), Long(b)) => java_double_compare(a, b as f64),
        (Double(a), Str(b)) => java_double_compare(a, parse_double(b)?),
        (Str(a), Bool(b)) => ord(a.eq_ignore_ascii_case("true").cmp(&b)),
        (Str(a), Int(b)) => ord(parse_int(a)?.cmp(&b)),
        (Str(a), Long(b)) => ord(parse_long(a)?.cmp(&b)),
        (Str(a), Double(b)) => java_double_compare(parse_double(a)?, b),
        _ => -1,
    })
}
