//! Tokens of the SQL92 message selector, cut the way the Java broker's generated tokenizer
//! (`SelectorParser.jj`) cuts them: longest match, keywords case-insensitive and preferred over
//! identifiers of the same length, `''` inside a string literal for a quote, `--` comments only
//! when a line break ends them, `/* */` comments. Tokens are produced on demand, so — as in Java —
//! an unreadable character after the end of a complete expression is only an error when the
//! parser looks at it.

use super::FilterError;

/// A token kind, with its text where it has one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
    /// `0`, or digits not starting with 0 with an optional `l`/`L`: the image as written.
    Decimal(String),
    /// `5.`, `5.5`, `.5`, `5E10` (optional exponent): the image as written.
    Float(String),
    /// A string literal, quotes removed and `''` decoded.
    Str(String),
    /// A property name.
    Id(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    Comma,
    RParen,
    Plus,
    Minus,
    Eof,
}

impl Tok {
    /// How error messages show the token.
    pub(crate) fn describe(&self) -> String {
        let s = match self {
            Tok::Not => "NOT",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Between => "BETWEEN",
            Tok::In => "IN",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Null => "NULL",
            Tok::Is => "IS",
            Tok::Contains => "CONTAINS",
            Tok::StartsWith => "STARTSWITH",
            Tok::EndsWith => "ENDSWITH",
            Tok::Decimal(s) | Tok::Float(s) | Tok::Id(s) => return s.clone(),
            Tok::Str(s) => return format!("'{}'", s.replace('\'', "''")),
            Tok::Eq => "=",
            Tok::Ne => "<>",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::LParen => "(",
            Tok::Comma => ",",
            Tok::RParen => ")",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Eof => "<EOF>",
        };
        s.to_string()
    }
}

/// A token and where it starts (1-based line and column, counted in characters).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub line: u32,
    pub column: u32,
}

const KEYWORDS: &[(&str, Tok)] = &[
    ("NOT", Tok::Not),
    ("AND", Tok::And),
    ("OR", Tok::Or),
    ("BETWEEN", Tok::Between),
    ("IN", Tok::In),
    ("TRUE", Tok::True),
    ("FALSE", Tok::False),
    ("NULL", Tok::Null),
    ("IS", Tok::Is),
    ("CONTAINS", Tok::Contains),
    ("STARTSWITH", Tok::StartsWith),
    ("ENDSWITH", Tok::EndsWith),
];

/// Cuts an expression into tokens, one call at a time.
pub(crate) struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    column: u32,
}

impl Lexer {
    pub(crate) fn new(src: &str) -> Self {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            line: 1,
            column: 1,
        }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// Moves `n` characters on, keeping line and column.
    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            let Some(c) = self.at(self.pos) else {
                return;
            };
            self.pos += 1;
            if c == '\n' || (c == '\r' && self.at(self.pos) != Some('\n')) {
                self.line += 1;
                self.column = 1;
            } else if c != '\r' {
                self.column += 1;
            }
        }
    }

    /// Skips blanks and comments.
    fn skip(&mut self) {
        loop {
            match self.at(self.pos) {
                Some(' ' | '\t' | '\n' | '\r' | '\u{c}') => self.advance(1),
                Some('-') if self.at(self.pos + 1) == Some('-') => {
                    // A line comment needs its line break; without one it is two minus signs.
                    let rest = &self.chars[self.pos + 2..];
                    match rest.iter().position(|c| *c == '\n' || *c == '\r') {
                        Some(i) => {
                            let nl = if rest[i] == '\r' && rest.get(i + 1) == Some(&'\n') {
                                2
                            } else {
                                1
                            };
                            self.advance(2 + i + nl);
                        }
                        None => return,
                    }
                }
                Some('/') if self.at(self.pos + 1) == Some('*') => {
                    let rest = &self.chars[self.pos + 2..];
                    match rest.windows(2).position(|w| w == ['*', '/']) {
                        Some(i) => self.advance(2 + i + 2),
                        // Unterminated: `/` is no token, the caller reports it.
                        None => return,
                    }
                }
                _ => return,
            }
        }
    }

    fn digits_from(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        i
    }

    /// The end of an exponent starting at `i`, if one does.
    fn exponent_end(&self, i: usize) -> Option<usize> {
        if !matches!(self.at(i), Some('e' | 'E')) {
            return None;
        }
        let mut j = i + 1;
        if matches!(self.at(j), Some('+' | '-')) {
            j += 1;
        }
        let end = self.digits_from(j);
        (end > j).then_some(end)
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    /// A numeric literal starting at the current position (a digit, or `.` then a digit).
    fn number(&self) -> (Tok, usize) {
        let start = self.pos;
        if self.at(start) == Some('.') {
            let d = self.digits_from(start + 1);
            let end = self.exponent_end(d).unwrap_or(d);
            return (Tok::Float(self.text(start, end)), end);
        }
        let d = self.digits_from(start);
        if self.at(d) == Some('.') {
            let f = self.digits_from(d + 1);
            let end = self.exponent_end(f).unwrap_or(f);
            return (Tok::Float(self.text(start, end)), end);
        }
        if let Some(end) = self.exponent_end(d) {
            return (Tok::Float(self.text(start, end)), end);
        }
        if self.at(start) == Some('0') {
            return (Tok::Decimal("0".to_string()), start + 1);
        }
        let end = if matches!(self.at(d), Some('l' | 'L')) {
            d + 1
        } else {
            d
        };
        (Tok::Decimal(self.text(start, end)), end)
    }

    /// A string literal starting at the current quote: the decoded text and its end.
    fn string(&self) -> Option<(Tok, usize)> {
        let mut i = self.pos + 1;
        let mut out = String::new();
        loop {
            match self.at(i)? {
                '\'' if self.at(i + 1) == Some('\'') => {
                    out.push('\'');
                    i += 2;
                }
                '\'' => return Some((Tok::Str(out), i + 1)),
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// The next token, or the lexical error where one cannot be read.
    pub(crate) fn next_token(&mut self) -> Result<Token, FilterError> {
        self.skip();
        let (line, column) = (self.line, self.column);
        let Some(c) = self.at(self.pos) else {
            return Ok(Token {
                tok: Tok::Eof,
                line,
                column,
            });
        };
        let next = self.at(self.pos + 1);
        let (tok, end) = match c {
            '=' => (Tok::Eq, self.pos + 1),
            '<' if next == Some('>') => (Tok::Ne, self.pos + 2),
            '<' if next == Some('=') => (Tok::Le, self.pos + 2),
            '<' => (Tok::Lt, self.pos + 1),
            '>' if next == Some('=') => (Tok::Ge, self.pos + 2),
            '>' => (Tok::Gt, self.pos + 1),
            '(' => (Tok::LParen, self.pos + 1),
            ')' => (Tok::RParen, self.pos + 1),
            ',' => (Tok::Comma, self.pos + 1),
            '+' => (Tok::Plus, self.pos + 1),
            '-' => (Tok::Minus, self.pos + 1),
            '\'' => match self.string() {
                Some(t) => t,
                None => return Err(FilterError::UnterminatedString { line, column }),
            },
            '0'..='9' => self.number(),
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => self.number(),
            c if c.is_ascii_alphabetic() || c == '_' || c == '$' => {
                let mut end = self.pos + 1;
                while self
                    .at(end)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                {
                    end += 1;
                }
                let word = self.text(self.pos, end);
                let tok = KEYWORDS
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&word))
                    .map(|(_, t)| t.clone())
                    .unwrap_or(Tok::Id(word));
                (tok, end)
            }
            other => {
                return Err(FilterError::Lexical {
                    line,
                    column,
                    found: other,
                })
            }
        };
        let n = end - self.pos;
        self.advance(n);
        Ok(Token { tok, line, column })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut l = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let t = l.next_token().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    fn dec(s: &str) -> Tok {
        Tok::Decimal(s.into())
    }

    fn flt(s: &str) -> Tok {
        Tok::Float(s.into())
    }

    #[test]
    fn numbers_follow_java_longest_match() {
        assert_eq!(toks("10 10L 0"), vec![dec("10"), dec("10L"), dec("0")]);
        assert_eq!(toks("007"), vec![dec("0"), dec("0"), dec("7")]);
        assert_eq!(toks("0L"), vec![dec("0"), Tok::Id("L".into())]);
        assert_eq!(
            toks("5. 5.5 .5 5E10 5.e-3 1e"),
            vec![
                flt("5."),
                flt("5.5"),
                flt(".5"),
                flt("5E10"),
                flt("5.e-3"),
                dec("1"),
                Tok::Id("e".into())
            ]
        );
    }

    #[test]
    fn keywords_ignore_case_and_lose_to_longer_identifiers() {
        assert_eq!(
            toks("not Not nothing and_x IS null"),
            vec![
                Tok::Not,
                Tok::Not,
                Tok::Id("nothing".into()),
                Tok::Id("and_x".into()),
                Tok::Is,
                Tok::Null
            ]
        );
        assert_eq!(
            toks("$a _b9"),
            vec![Tok::Id("$a".into()), Tok::Id("_b9".into())]
        );
    }

    #[test]
    fn strings_operators_and_comments() {
        assert_eq!(
            toks("'it''s' '' <> <= >= < > = ( , ) + -"),
            vec![
                Tok::Str("it's".into()),
                Tok::Str(String::new()),
                Tok::Ne,
                Tok::Le,
                Tok::Ge,
                Tok::Lt,
                Tok::Gt,
                Tok::Eq,
                Tok::LParen,
                Tok::Comma,
                Tok::RParen,
                Tok::Plus,
                Tok::Minus
            ]
        );
        assert_eq!(toks("a -- c\nb /* x * y */ c"), toks("a b c"));
        // A line comment without a line break is two minus signs.
        assert_eq!(
            toks("a --c"),
            vec![
                Tok::Id("a".into()),
                Tok::Minus,
                Tok::Minus,
                Tok::Id("c".into())
            ]
        );
    }

    #[test]
    fn lexical_errors_carry_positions() {
        let mut l = Lexer::new("a\n  #");
        assert!(l.next_token().is_ok());
        assert_eq!(
            l.next_token(),
            Err(FilterError::Lexical {
                line: 2,
                column: 3,
                found: '#'
            })
        );
        assert!(matches!(
            Lexer::new("'abc").next_token(),
            Err(FilterError::UnterminatedString { line: 1, column: 1 })
        ));
        assert!(Lexer::new("/* x").next_token().is_err());
        assert!(Lexer::new("!=").next_token().is_err());
    }
}
