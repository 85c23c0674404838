//! `LanguageCode`: the sender's implementation language, a name in JSON headers and a byte in
//! binary headers. Unknown values are kept as they came so a header re-encodes unchanged.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LanguageCode(pub u8);

const NAMES: [&str; 14] = [
    "JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP",
    "OMS", "RUST", "NODE_JS",
];

impl LanguageCode {
    pub const JAVA: Self = Self(0);
    pub const OTHER: Self = Self(7);
    pub const GO: Self = Self(9);
    pub const RUST: Self = Self(12);

    /// The Java enum name; codes beyond the table are written as `OTHER`.
    pub fn name(self) -> &'static str {
        NAMES.get(self.0 as usize).copied().unwrap_or("OTHER")
    }

    /// Parses a Java enum name; unknown names map to `OTHER` (lenient, as the clients are).
    pub fn from_name(name: &str) -> Self {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map(|p| Self(p as u8))
            .unwrap_or(Self::OTHER)
    }
}
