//! The compiled form of a selector: the node kinds the Java broker builds (after its rewrites:
//! `<>` is NOT of `=`, BETWEEN is two comparisons, IS NOT NULL is NOT of IS NULL), each node
//! knowing the depth of the tree below it so that size limits are checked while building.

use std::collections::HashSet;
use std::fmt;

/// A literal as Java types it: integers that fit an `int` are `Int`, other integers `Long`,
/// floating-point literals `Double`; TRUE / FALSE / NULL are the boolean constants.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

/// `>`, `>=`, `<`, `<=` and `=` (the latter with Java's equality rules for nulls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

/// CONTAINS, STARTSWITH, ENDSWITH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    fn symbol(self) -> &'static str {
        match self {
            TextOp::Contains => "CONTAINS",
            TextOp::StartsWith => "STARTSWITH",
            TextOp::EndsWith => "ENDSWITH",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Literal(Literal),
    /// A message property (`TAGS` is the tag).
    Property(String),
    /// Unary minus: numbers negate, anything else is null.
    Negate(Box<Expr>),
    Not(Box<Expr>),
    /// A property used where a boolean is expected: null stays null, any string is FALSE.
    BoolCast(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    In {
        property: String,
        values: HashSet<String>,
        negated: bool,
    },
    Text {
        op: TextOp,
        negated: bool,
        operand: Box<Expr>,
        search: String,
    },
}

/// A node and the height of its subtree (a leaf is 1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: Kind,
    pub depth: usize,
}

impl Expr {
    /// Whether Java builds this as a `BooleanExpression` (TRUE/FALSE/NULL literals included).
    pub(crate) fn is_boolean(&self) -> bool {
        match &self.kind {
            Kind::Literal(l) => matches!(l, Literal::Null | Literal::Bool(_)),
            Kind::Property(_) | Kind::Negate(_) => false,
            Kind::Not(_)
            | Kind::BoolCast(_)
            | Kind::And(..)
            | Kind::Or(..)
            | Kind::Compare(..)
            | Kind::In { .. }
            | Kind::Text { .. } => true,
        }
    }

    /// The literal, when this is one (Java `ConstantExpression`).
    pub(crate) fn literal(&self) -> Option<&Literal> {
        match &self.kind {
            Kind::Literal(l) => Some(l),
            _ => None,
        }
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = &Expr> {
        let (a, b): (Option<&Expr>, Option<&Expr>) = match &self.kind {
            Kind::Literal(_) | Kind::Property(_) | Kind::In { .. } => (None, None),
            Kind::Negate(e) | Kind::Not(e) | Kind::BoolCast(e) => (Some(e), None),
            Kind::Text { operand, .. } => (Some(operand), None),
            Kind::And(l, r) | Kind::Or(l, r) | Kind::Compare(_, l, r) => (Some(l), Some(r)),
        };
        a.into_iter().chain(b)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(true) => f.write_str("TRUE"),
            Literal::Bool(false) => f.write_str("FALSE"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Long(l) => write!(f, "{l}"),
            Literal::Double(d) => write!(f, "{d:?}"),
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Literal(l) => write!(f, "{l}"),
            Kind::Property(p) => f.write_str(p),
            Kind::Negate(e) => write!(f, "(- {e})"),
            Kind::Not(e) => write!(f, "(NOT {e})"),
            Kind::BoolCast(e) => write!(f, "{e}"),
            Kind::And(l, r) => write!(f, "({l} && {r})"),
            Kind::Or(l, r) => write!(f, "({l} || {r})"),
            Kind::Compare(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
            Kind::In {
                property,
                values,
                negated,
            } => {
                let mut v: Vec<_> = values.iter().map(String::as_str).collect();
                v.sort_unstable();
                let not = if *negated { "NOT " } else { "" };
                write!(f, "{property} {not}IN ( {} )", v.join(", "))
            }
            Kind::Text {
                op,
                negated,
                operand,
                search,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(
                    f,
                    "({not}{} {operand} '{}')",
                    op.symbol(),
                    search.replace('\'', "''")
                )
            }
        }
    }
}
