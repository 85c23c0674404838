//! Java `.properties` text: how broker.conf / namesrv.properties files are written and how
//! UPDATE_*_CONFIG / GET_*_CONFIG bodies travel. Parsing follows `java.util.Properties.load`
//! closely enough for config files: `#`/`!` comments, `=`/`:`/blank separators, backslash line
//! continuation and escapes (`\t \n \r \f \uXXXX`); later keys override earlier ones.

use std::collections::BTreeMap;

/// Parses properties text into key -> value (ordered by key).
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_string();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.insert(unescape(&key), unescape(value.trim_start()));
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (String, &str) {
    let mut key = String::new();
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                key.push('\\');
                if let Some((_, n)) = chars.next() {
                    key.push(n);
                }
            }
            '=' | ':' => return (key, &line[i + 1..]),
            c if c.is_whitespace() => {
                let rest = line[i..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (key, rest);
            }
            c => key.push(c),
        }
    }
    (key, "")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Writes `key=value` lines in the given order, as Java's `MixAll.properties2String` does.
pub fn to_text<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in entries {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_property_forms() {
        let text = "# comment\n! also\nbrokerName = broker-a\nlistenPort:10911\n  storePathRootDir /tmp/a\\\n  /b\nnamesrvAddr=127.0.0.1:9876;127.0.0.1:9877\nempty=\nuni=\\u0041x\n";
        let p = parse(text);
        assert_eq!(p["brokerName"], "broker-a");
        assert_eq!(p["listenPort"], "10911");
        assert_eq!(p["storePathRootDir"], "/tmp/a/b");
        assert_eq!(p["namesrvAddr"], "127.0.0.1:9876;127.0.0.1:9877");
        assert_eq!(p["empty"], "");
        assert_eq!(p["uni"], "Ax");
        assert_eq!(p.len(), 6);
    }

    #[test]
    fn writes_key_value_lines() {
        assert_eq!(to_text([("a", "1"), ("b", "")]), "a=1\nb=\n");
    }
}

/// A value in a config file that does not parse as its key's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value '{value}' for config key '{key}': expected {expected}")]
pub struct InvalidValue {
    pub key: String,
    pub value: String,
    pub expected: &'static str,
}

/// Settings held as Java property names -> text, the way Java's `Configuration` holds them:
/// every known key starts at its default, files and UPDATE_*_CONFIG bodies override, and the
/// whole table prints sorted (GET_*_CONFIG, `-p`). Typed getters parse on read.
#[derive(Debug, Clone, Default)]
pub struct PropertiesConfig {
    values: BTreeMap<String, String>,
    known: std::collections::BTreeSet<String>,
}

impl PropertiesConfig {
    /// A table of known keys with their defaults (`None`: known but unset, as Java's nulls).
    pub fn with_defaults<'a>(
        defaults: impl IntoIterator<Item = (&'a str, Option<String>)>,
    ) -> Self {
        let mut c = Self::default();
        for (k, v) in defaults {
            c.known.insert(k.to_string());
            if let Some(v) = v {
                c.values.insert(k.to_string(), v);
            }
        }
        c
    }

    /// Applies overrides; returns the keys that are not known (kept, as Java keeps them).
    pub fn apply(&mut self, props: BTreeMap<String, String>) -> Vec<String> {
        let mut unknown = Vec::new();
        for (k, v) in props {
            if !self.known.contains(&k) {
                unknown.push(k.clone());
            }
            self.values.insert(k, v);
        }
        unknown
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_string(), value.into());
    }

    pub fn is_known(&self, key: &str) -> bool {
        self.known.contains(key)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value of `key` as a string, empty if unset.
    pub fn string(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().to_string()
    }

    /// Java's `Boolean.parseBoolean` of the value: only "true" (any case) is true.
    pub fn bool(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// The value parsed as a number; an unset key gives `default`.
    pub fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, InvalidValue> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| InvalidValue {
                key: key.to_string(),
                value: v.to_string(),
                expected: std::any::type_name::<T>(),
            }),
        }
    }

    /// Checks that every key whose default is a number or boolean still parses as one.
    pub fn validate_types<'a>(
        &self,
        defaults: impl IntoIterator<Item = (&'a str, Option<String>)>,
    ) -> Result<(), InvalidValue> {
        for (k, d) in defaults {
            let (Some(d), Some(v)) = (d, self.get(k)) else {
                continue;
            };
            let v = v.trim();
            if d.parse::<i64>().is_ok() && v.parse::<i64>().is_err() {
                return Err(InvalidValue {
                    key: k.to_string(),
                    value: v.to_string(),
                    expected: "an integer",
                });
            }
            if (d == "true" || d == "false")
                && !(v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"))
            {
                return Err(InvalidValue {
                    key: k.to_string(),
                    value: v.to_string(),
                    expected: "true or false",
                });
            }
        }
        Ok(())
    }

    /// All settings as sorted `key=value` lines.
    pub fn to_text(&self) -> String {
        to_text(self.values.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
