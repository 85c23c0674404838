//! SQL92 property filtering (`enablePropertyFilter`), as the Java broker does it: a selector
//! such as `a > 5 AND b = 'x'` over a message's properties (`TAGS` is the tag) chooses which
//! messages a consumer pulls.
//!
//! Layout: `lexer` and `parser` compile an expression (Java grammar `SelectorParser.jj`, with
//! its checks and precedence), `ast` is the compiled form, `eval` evaluates it with Java's null
//! and conversion rules, `consumer_filter` wires it into the broker (the per group/topic cache
//! of compiled subscriptions, the pull filter and CHECK_CLIENT_CONFIG).

mod ast;
pub mod consumer_filter;
mod eval;
mod lexer;
mod parser;

pub use consumer_filter::{check_client_config, pull_filter, FilterCache, SqlMessageFilter};
pub use eval::{EvalError, PropertySource};
pub use parser::{MAX_EXPRESSION_BYTES, MAX_NESTING, MAX_NODES, MAX_TREE_DEPTH};

/// The expression type of SQL92 subscriptions (Java `ExpressionType.SQL92`).
pub const SQL92: &str = "SQL92";

/// Whether a subscription's expression type is a tag expression (empty means TAG).
pub fn is_tag_type(expression_type: &str) -> bool {
    expression_type.is_empty() || expression_type.eq_ignore_ascii_case("TAG")
}

/// Why an expression does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A character no token starts with.
    #[error("Lexical error at line {line}, column {column}. Encountered: '{found}'")]
    Lexical { line: u32, column: u32, found: char },
    /// A string literal without its closing quote.
    #[error("Lexical error at line {line}, column {column}: unterminated string literal")]
    UnterminatedString { line: u32, column: u32 },
    /// A token where the grammar wants something else.
    #[error("Encountered \"{found}\" at line {line}, column {column}. Was expecting {expected}")]
    Syntax {
        line: u32,
        column: u32,
        found: String,
        expected: &'static str,
    },
    /// Well-formed but refused when building the expression (the Java broker's checks).
    #[error("{0}")]
    Semantic(String),
    /// Longer than the broker accepts.
    #[error("expression of {bytes} bytes is longer than the limit of {max} bytes")]
    TooLong { bytes: usize, max: usize },
    /// Nested deeper or bigger than the broker accepts.
    #[error("expression too complex: more than {max} {what}")]
    TooComplex { what: &'static str, max: usize },
    /// An expression type other than TAG and SQL92.
    #[error("expression type {0} is not supported")]
    UnsupportedType(String),
}

/// A compiled SQL92 selector.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlExpression {
    expr: ast::Expr,
}

impl SqlExpression {
    /// Compiles `src`.
    pub fn compile(src: &str) -> Result<Self, FilterError> {
        parser::parse(src).map(|expr| SqlExpression { expr })
    }

    /// Compiles `src` as an expression of type `expression_type` (only SQL92 is known, spelled
    /// as Java spells it).
    pub fn compile_typed(expression_type: &str, src: &str) -> Result<Self, FilterError> {
        if expression_type != SQL92 {
            return Err(FilterError::UnsupportedType(expression_type.to_string()));
        }
        Self::compile(src)
    }

    /// Whether a message with these properties is selected (TRUE only; null, FALSE or an
    /// evaluation error mean no).
    pub fn matches<P: PropertySource + ?Sized>(&self, props: &P) -> bool {
        eval::matches(&self.expr, props)
    }

    /// The evaluation outcome: `Ok(None)` for null, `Err` where Java would throw.
    pub fn evaluate<P: PropertySource + ?Sized>(
        &self,
        props: &P,
    ) -> Result<Option<bool>, EvalError> {
        match eval::eval(&self.expr, props)? {
            eval::Value::Null => Ok(None),
            eval::Value::Bool(b) => Ok(Some(b)),
            _ => Err(EvalError::NotBoolean),
        }
    }
}

impl std::fmt::Display for SqlExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.expr.fmt(f)
    }
}

/// Properties from a list of pairs (the last pair of a name wins); for tests and tools.
impl PropertySource for [(&str, &str)] {
    fn property(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

/// Properties from the stored properties string (`name\x01value\x02`...).
pub struct StoredProperties<'a>(pub &'a str);

impl PropertySource for StoredProperties<'_> {
    fn property(&self, name: &str) -> Option<&str> {
        store::message::properties::get_property(self.0, name)
    }
}

#[cfg(test)]
mod tests;
