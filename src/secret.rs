//! The API key, in a type that cannot leak by accident.
//!
//! `Debug` and `Display` print `[redacted]`, so the key never reaches a log line, an error text
//! or a tool result through formatting; the only way to the bytes is [`ApiKey::expose`], called in
//! exactly one place: where the `x-api-key` header is built (and marked sensitive there).

use std::fmt;

/// An Anthropic API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; surrounding whitespace (a stray newline from a secrets file) is dropped.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into().trim().to_owned())
    }

    /// The key itself. Use only to build the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An empty key counts as no key at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for ApiKey {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_key() {
        let key = ApiKey::new("sk-ant-api03-SECRET\n");
        assert_eq!(key.expose(), "sk-ant-api03-SECRET");
        for shown in [
            format!("{key}"),
            format!("{key:?}"),
            format!("{:?}", Some(&key)),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }
}
