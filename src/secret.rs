//! Secrets in types that cannot leak by accident: the API key, and the credentials a base URL
//! may carry.
//!
//! [`ApiKey`]: `Debug` and `Display` print `[redacted]`, so the key never reaches a log line, an
//! error text or a tool result through formatting; the only way to the bytes is
//! [`ApiKey::expose`], called in exactly one place: where the `x-api-key` header is built (and
//! marked sensitive there).
//!
//! [`RawSecret`]: a secret as the command line or the environment gave it, before it is
//! checked. Its parse never fails, so clap (whose error quotes the value it could not parse)
//! never has a reason to print it; the checks run afterwards, in code whose errors name the
//! problem and never the value.
//!
//! [`BaseUrl`]: a gateway is often reached as `https://user:password@gateway/v1`. `Debug` and
//! `Display` show it with the user and password replaced ([`redact_url`]), computed once, so
//! every message, log line and tool result that names the URL shows it without them; the URL as
//! written is only for sending requests ([`BaseUrl::expose`]).

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

/// The keys from `MSGBATCH_REQUEST_STATE_KEY`. `Debug` and `Display` never show them, and clap
/// cannot echo them in an error: parsing never fails here (`server::sealed` checks them).
#[derive(Clone, PartialEq, Eq)]
pub struct StateKeys(Vec<String>);

impl StateKeys {
    /// The keys as given, first the one that seals. Empty entries (a trailing comma) are
    /// dropped.
    pub fn new(raw: &str) -> Self {
        Self(
            raw.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The keys themselves. Use only to build the sealing codec.
    pub fn expose(&self) -> &[String] {
        &self.0
    }

    /// Whether nothing usable was given (unset, empty, or an unexpanded `${...}`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .all(|k| k.starts_with("${") && k.ends_with('}'))
    }
}

impl fmt::Debug for StateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateKeys([{} redacted])", self.0.len())
    }
}

impl std::str::FromStr for StateKeys {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// A secret setting (bearer tokens, a key) as given, not yet checked. `Debug` prints none of it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawSecret(String);

impl RawSecret {
    /// The value as given. Use only to check and parse it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RawSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawSecret([redacted])")
    }
}

impl std::str::FromStr for RawSecret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The API's base URL as configured, which may carry credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    raw: String,
    shown: String,
}

impl BaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        let raw = url.into();
        let shown = redact_url(&raw);
        Self { raw, shown }
    }

    /// The URL as written, credentials included. Use only to send requests.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with any user and password replaced by `[redacted]`: the only form to show.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.raw
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("https:"))
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({:?})", self.shown)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PartialEq<&str> for BaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.raw == *other
    }
}

/// `url` with the user and password of its authority replaced by `[redacted]`
/// (`https://u:p@host/v1` -> `https://[redacted]@host/v1`), anything else unchanged.
///
/// Works on the text, not on a parsed URL, so that a URL too broken to parse (which ends up in
/// an error message) is redacted too. The authority is what follows `://` (or the start, when
/// there is no scheme) up to the first `/`, `\`, `?` or `#`, and the user information is all of
/// it before its last `@`, as URL parsers read it.
pub fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority_len = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_show_without_user_or_password() {
        for (url, shown) in [
            (
                "https://gwuser:GATEWAY-TOKEN-123@gateway/v1",
                "https://[redacted]@gateway/v1",
            ),
            (
                "http://user@127.0.0.1:9/v1",
                "http://[redacted]@127.0.0.1:9/v1",
            ),
            ("https://a:b@c@host:1?x#y", "https://[redacted]@host:1?x#y"),
            ("https://u:p@host\\v1", "https://[redacted]@host\\v1"),
            ("u:p@host/v1", "[redacted]@host/v1"),
            ("https://u:p w@host/v1", "https://[redacted]@host/v1"),
            (
                "https://api.anthropic.com/v1",
                "https://api.anthropic.com/v1",
            ),
            ("https://host/v1/a@b", "https://host/v1/a@b"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
        let url = BaseUrl::new("https://gwuser:GATEWAY-TOKEN-123@gateway/v1");
        for shown in [format!("{url}"), format!("{url:?}"), url.shown().to_owned()] {
            assert!(
                !shown.contains("gwuser") && !shown.contains("GATEWAY-TOKEN-123"),
                "{shown}"
            );
        }
        assert!(url.is_https());
        assert_eq!(url.expose(), "https://gwuser:GATEWAY-TOKEN-123@gateway/v1");
    }

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
