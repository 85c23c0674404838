//! Recursive-descent parser of the SQL92 selector with the Java grammar's shape and precedence:
//! OR < AND < (`=`, `<>`, IS [NOT] NULL) < (`>`, `>=`, `<`, `<=`, [NOT] BETWEEN, [NOT] IN,
//! [NOT] CONTAINS / STARTSWITH / ENDSWITH) < unary (`+`, `-`, NOT) < literal, property, `( )`.
//! NOT is a unary operator binding tighter than comparisons, as in Java: `NOT a = 1` is
//! `(NOT a) = 1`. The checks Java makes while building nodes are made here too (no NULL in `=`,
//! only numbers in `<`-like comparisons, IN only on a property, BETWEEN bounds in order, literal
//! ranges). As in Java, parsing stops after one complete expression: what follows is looked at
//! (and must be readable) but otherwise ignored. Input length, nesting and tree size are
//! bounded.

use std::collections::{HashSet, VecDeque};

use super::ast::{CmpOp, Expr, Kind, Literal, TextOp};
use super::eval::{compare, Value};
use super::lexer::{Lexer, Tok, Token};
use super::FilterError;

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 64 * 1024;
/// Deepest nesting of parentheses and unary operators (each level costs a few recursive parser
/// frames: about 5 KiB of stack in a debug build, far less optimised).
pub const MAX_NESTING: usize = 64;
/// Highest expression tree (a chain of N ANDs is N + 2 high); evaluation recurses this deep
/// (about 2 KiB of stack per level in a debug build).
pub const MAX_TREE_DEPTH: usize = 200;
/// Most nodes in one expression.
pub const MAX_NODES: usize = 4096;

/// Parser results: nodes are boxed and errors too, keeping the recursive functions' frames
/// small (the nesting bound is what keeps the recursion short).
type R<T> = Result<T, Box<FilterError>>;

/// Parses `src` into a boolean expression.
pub(crate) fn parse(src: &str) -> Result<Expr, FilterError> {
    if src.len() > MAX_EXPRESSION_BYTES {
        return Err(FilterError::TooLong {
            bytes: src.len(),
            max: MAX_EXPRESSION_BYTES,
        });
    }
    let mut p = Parser {
        lexer: Lexer::new(src),
        ahead: VecDeque::new(),
        nodes: 0,
        nesting: 0,
    };
    let top = p.or_expr().and_then(|e| p.as_boolean(e));
    match top {
        Ok(e) => Ok(*e),
        Err(e) => Err(*e),
    }
}

/// The operators that continue a comparison expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpTok {
    Ordered(CmpOp),
    Text(TextOp),
    Between,
    In,
}

fn cmp_tok(t: &Tok) -> Option<CmpTok> {
    Some(match t {
        Tok::Gt => CmpTok::Ordered(CmpOp::Gt),
        Tok::Ge => CmpTok::Ordered(CmpOp::Ge),
        Tok::Lt => CmpTok::Ordered(CmpOp::Lt),
        Tok::Le => CmpTok::Ordered(CmpOp::Le),
        Tok::Contains => CmpTok::Text(TextOp::Contains),
        Tok::StartsWith => CmpTok::Text(TextOp::StartsWith),
        Tok::EndsWith => CmpTok::Text(TextOp::EndsWith),
        Tok::Between => CmpTok::Between,
        Tok::In => CmpTok::In,
        _ => return None,
    })
}

struct Parser {
    lexer: Lexer,
    /// Tokens read but not consumed; a lexical error stays here once met.
    ahead: VecDeque<Result<Token, FilterError>>,
    nodes: usize,
    nesting: usize,
}

impl Parser {
    /// The token `n` places ahead (0 = next).
    fn peek(&mut self, n: usize) -> R<&Token> {
        while self.ahead.len() <= n && !matches!(self.ahead.back(), Some(Err(_))) {
            let t = self.lexer.next_token();
            self.ahead.push_back(t);
        }
        match self.ahead.get(n).or(self.ahead.back()) {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(Box::new(e.clone())),
            None => Err(Box::new(FilterError::Semantic("no token".into()))),
        }
    }

    fn peek_tok(&mut self, n: usize) -> R<&Tok> {
        Ok(&self.peek(n)?.tok)
    }

    /// Whether the next token is `tok` (a keyword or punctuation).
    fn at(&mut self, tok: &Tok) -> R<bool> {
        Ok(self.peek_tok(0)? == tok)
    }

    fn bump(&mut self) -> R<Token> {
        self.peek(0)?;
        match self.ahead.pop_front() {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(Box::new(e)),
            None => Err(Box::new(FilterError::Semantic("no token".into()))),
        }
    }

    #[inline(never)]
    fn unexpected(&mut self, expected: &'static str) -> Box<FilterError> {
        match self.peek(0) {
            Ok(t) => Box::new(FilterError::Syntax {
                line: t.line,
                column: t.column,
                found: t.tok.describe(),
                expected,
            }),
            Err(e) => e,
        }
    }

    fn expect(&mut self, tok: Tok, expected: &'static str) -> R<()> {
        if self.at(&tok)? {
            self.bump()?;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    #[inline(never)]
    fn string_literal(&mut self) -> R<String> {
        if let Tok::Str(_) = self.peek_tok(0)? {
            if let Tok::Str(s) = self.bump()?.tok {
                return Ok(s);
            }
        }
        Err(self.unexpected("a string literal"))
    }

    /// Builds a node, enforcing the size limits.
    #[inline(never)]
    fn node(&mut self, kind: Kind) -> R<Box<Expr>> {
        let mut e = Box::new(Expr { kind, depth: 1 });
        e.depth = 1 + e.children().map(|c| c.depth).max().unwrap_or(0);
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Box::new(FilterError::TooComplex {
                what: "nodes",
                max: MAX_NODES,
            }));
        }
        if e.depth > MAX_TREE_DEPTH {
            return Err(Box::new(FilterError::TooComplex {
                what: "levels of operators",
                max: MAX_TREE_DEPTH,
            }));
        }
        Ok(e)
    }

    /// Java `asBooleanExpression`: booleans pass, a property is cast, anything else is refused.
    #[inline(never)]
    fn as_boolean(&mut self, e: Box<Expr>) -> R<Box<Expr>> {
        if e.is_boolean() {
            Ok(e)
        } else if matches!(e.kind, Kind::Property(_)) {
            self.node(Kind::BoolCast(e))
        } else {
            Err(semantic(format!(
                "Expression will not result in a boolean value: {e}"
            )))
        }
    }

    #[inline(never)]
    fn logic(&mut self, or: bool, left: Box<Expr>, right: Box<Expr>) -> R<Box<Expr>> {
        let (l, r) = (self.as_boolean(left)?, self.as_boolean(right)?);
        self.node(if or { Kind::Or(l, r) } else { Kind::And(l, r) })
    }

    fn or_expr(&mut self) -> R<Box<Expr>> {
        let mut left = self.and_expr()?;
        while self.at(&Tok::Or)? {
            self.bump()?;
            let right = self.and_expr()?;
            left = self.logic(true, left, right)?;
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> R<Box<Expr>> {
        let mut left = self.equality_expr()?;
        while self.at(&Tok::And)? {
            self.bump()?;
            let right = self.equality_expr()?;
            left = self.logic(false, left, right)?;
        }
        Ok(left)
    }

    fn equality_expr(&mut self) -> R<Box<Expr>> {
        let mut left = self.comparison_expr()?;
        loop {
            let negated = match self.peek_tok(0)? {
                Tok::Eq => false,
                Tok::Ne => true,
                Tok::Is => {
                    left = self.is_null(left)?;
                    continue;
                }
                _ => return Ok(left),
            };
            self.bump()?;
            let right = self.comparison_expr()?;
            left = self.equal(left, right, negated)?;
        }
    }

    /// `IS NULL` / `IS NOT NULL` after `left` (the IS not consumed yet).
    #[inline(never)]
    fn is_null(&mut self, left: Box<Expr>) -> R<Box<Expr>> {
        self.bump()?;
        let negated = self.at(&Tok::Not)?;
        if negated {
            self.bump()?;
        }
        self.expect(Tok::Null, if negated { "NULL" } else { "NULL or NOT" })?;
        let null = self.node(Kind::Literal(Literal::Null))?;
        let eq = self.node(Kind::Compare(CmpOp::Eq, left, null))?;
        if negated {
            self.node(Kind::Not(eq))
        } else {
            Ok(eq)
        }
    }

    fn comparison_expr(&mut self) -> R<Box<Expr>> {
        let mut left = self.unary_expr()?;
        loop {
            let (op, negated) = match self.comparison_op()? {
                Some(x) => x,
                None => return Ok(left),
            };
            left = match op {
                CmpTok::Ordered(op) => {
                    let right = self.unary_expr()?;
                    self.ordered(op, left, right)?
                }
                CmpTok::Between => {
                    let low = self.unary_expr()?;
                    self.expect(Tok::And, "AND")?;
                    let high = self.unary_expr()?;
                    self.between(left, low, high, negated)?
                }
                CmpTok::Text(op) => self.text(op, negated, left)?,
                CmpTok::In => self.in_list(left, negated)?,
            };
        }
    }

    /// The comparison operator that follows, consumed (with its NOT), if any.
    #[inline(never)]
    fn comparison_op(&mut self) -> R<Option<(CmpTok, bool)>> {
        if self.at(&Tok::Not)? {
            let op = cmp_tok(self.peek_tok(1)?).filter(|o| !matches!(o, CmpTok::Ordered(_)));
            self.bump()?;
            let Some(op) = op else {
                return Err(self.unexpected("CONTAINS, STARTSWITH, ENDSWITH, BETWEEN or IN"));
            };
            self.bump()?;
            return Ok(Some((op, true)));
        }
        let op = cmp_tok(self.peek_tok(0)?);
        if op.is_some() {
            self.bump()?;
        }
        Ok(op.map(|o| (o, false)))
    }

    #[inline(never)]
    fn text(&mut self, op: TextOp, negated: bool, operand: Box<Expr>) -> R<Box<Expr>> {
        let search = self.string_literal()?;
        self.node(Kind::Text {
            op,
            negated,
            operand,
            search,
        })
    }

    /// `IN ( 'a', 'b' ... )` after `left` (the IN consumed); Java wants a property on the left.
    #[inline(never)]
    fn in_list(&mut self, left: Box<Expr>, negated: bool) -> R<Box<Expr>> {
        self.expect(Tok::LParen, "(")?;
        let mut values = HashSet::new();
        values.insert(self.string_literal()?);
        while self.at(&Tok::Comma)? {
            self.bump()?;
            values.insert(self.string_literal()?);
        }
        self.expect(Tok::RParen, ", or )")?;
        let Kind::Property(property) = left.kind else {
            return Err(semantic(format!(
                "Expected a property for In expression, got: {left}"
            )));
        };
        self.node(Kind::In {
            property,
            values,
            negated,
        })
    }

    fn unary_expr(&mut self) -> R<Box<Expr>> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(Box::new(FilterError::TooComplex {
                what: "levels of nesting",
                max: MAX_NESTING,
            }));
        }
        let r = self.unary_inner();
        self.nesting -= 1;
        r
    }

    fn unary_inner(&mut self) -> R<Box<Expr>> {
        let op = match self.peek_tok(0)? {
            Tok::Plus => 0,
            Tok::Minus => 1,
            Tok::Not => 2,
            Tok::LParen => {
                self.bump()?;
                let e = self.or_expr()?;
                self.expect(Tok::RParen, ")")?;
                return Ok(e);
            }
            _ => return self.primary(),
        };
        self.bump()?;
        let e = self.unary_expr()?;
        self.unary_node(op, e)
    }

    #[inline(never)]
    fn unary_node(&mut self, op: u8, e: Box<Expr>) -> R<Box<Expr>> {
        match op {
            0 => Ok(e),
            1 => self.node(Kind::Negate(e)),
            _ => {
                let e = self.as_boolean(e)?;
                self.node(Kind::Not(e))
            }
        }
    }

    /// A literal or a property.
    #[inline(never)]
    fn primary(&mut self) -> R<Box<Expr>> {
        let lit = match self.peek_tok(0)? {
            Tok::Id(_) => {
                let Tok::Id(name) = self.bump()?.tok else {
                    return Err(semantic("identifier expected".into()));
                };
                return self.node(Kind::Property(name));
            }
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Decimal(s) => decimal_literal(s).map_err(Box::new)?,
            Tok::Float(s) => float_literal(s).map_err(Box::new)?,
            Tok::True => Literal::Bool(true),
            Tok::False => Literal::Bool(false),
            Tok::Null => Literal::Null,
            _ => return Err(self.unexpected("a literal, a property, (, NOT, + or -")),
        };
        self.bump()?;
        self.node(Kind::Literal(lit))
    }

    /// Java `createEqual` (and `createNotEqual` = NOT of it): no NULL literal on either side, no
    /// TRUE/FALSE literal compared with a non-boolean literal.
    #[inline(never)]
    fn equal(&mut self, left: Box<Expr>, right: Box<Expr>, negated: bool) -> R<Box<Expr>> {
        for e in [&left, &right] {
            if e.literal() == Some(&Literal::Null) {
                return Err(semantic(format!("'{e}' cannot be compared.")));
            }
        }
        if let (Some(l), Some(_)) = (left.literal(), right.literal()) {
            if matches!(l, Literal::Bool(_)) && !right.is_boolean() {
                return Err(semantic(format!(
                    "'{left}' cannot be compared with '{right}'"
                )));
            }
        }
        let eq = self.node(Kind::Compare(CmpOp::Eq, left, right))?;
        if negated {
            self.node(Kind::Not(eq))
        } else {
            Ok(eq)
        }
    }

    /// Java `createGreaterThan` and friends: only numbers among literals, no boolean
    /// expressions.
    #[inline(never)]
    fn ordered(&mut self, op: CmpOp, left: Box<Expr>, right: Box<Expr>) -> R<Box<Expr>> {
        for e in [&left, &right] {
            let comparable = match e.literal() {
                Some(l) => matches!(l, Literal::Int(_) | Literal::Long(_) | Literal::Double(_)),
                None => !e.is_boolean(),
            };
            if !comparable {
                return Err(semantic(format!("Value '{e}' cannot be compared.")));
            }
        }
        self.node(Kind::Compare(op, left, right))
    }

    /// Java `createBetween`: literal bounds must not be NULL and must be in order; then
    /// `value >= low AND value <= high`. `createNotBetween`: `value < low OR value > high`.
    #[inline(never)]
    fn between(
        &mut self,
        value: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    ) -> R<Box<Expr>> {
        if negated {
            let lt = self.ordered(CmpOp::Lt, value.clone(), low)?;
            let gt = self.ordered(CmpOp::Gt, value, high)?;
            return self.node(Kind::Or(lt, gt));
        }
        if let (Some(lv), Some(hv)) = (low.literal(), high.literal()) {
            if *lv == Literal::Null || *hv == Literal::Null {
                return Err(semantic(
                    "Illegal values of between, values can not be null!".into(),
                ));
            }
            let order =
                compare(&Value::from(hv), &Value::from(lv)).map_err(|e| semantic(e.to_string()))?;
            if order < 0 {
                return Err(semantic(format!(
                    "Illegal values of between, left value({lv}) must less than or equal to right value({hv})"
                )));
            }
        }
        let ge = self.ordered(CmpOp::Ge, value.clone(), low)?;
        let le = self.ordered(CmpOp::Le, value, high)?;
        self.node(Kind::And(ge, le))
    }
}

fn semantic(msg: String) -> Box<FilterError> {
    Box::new(FilterError::Semantic(msg))
}

/// Java `createFromDecimal`: a `long` (suffix `l`/`L` dropped), an `int` when it fits.
fn decimal_literal(image: &str) -> Result<Literal, FilterError> {
    let digits = image.trim_end_matches(['l', 'L']);
    let v: i64 = digits.parse().map_err(|_| {
        FilterError::Semantic(format!(
            "number {image} is out of range (-9223372036854775808 ~ 9223372036854775807)"
        ))
    })?;
    Ok(match i32::try_from(v) {
        Ok(i) => Literal::Int(i),
        Err(_) => Literal::Long(v),
    })
}

/// Java `createFloat`: a `double`, refused when infinite or below the smallest positive
/// double (so a literal `0.0` is refused, as in Java).
fn float_literal(image: &str) -> Result<Literal, FilterError> {
    let v: f64 = image
        .parse()
        .map_err(|_| FilterError::Semantic(format!("{image} is not a number")))?;
    if v > f64::MAX {
        return Err(FilterError::Semantic(format!(
            "{image} is greater than 1.7976931348623157E308"
        )));
    }
    if v < 4.9e-324 {
        return Err(FilterError::Semantic(format!(
            "{image} is less than 4.9E-324"
        )));
    }
    Ok(Literal::Double(v))
}
