//! Static bearer tokens (`MSGBATCH_HTTP_TOKEN`), checked in constant time.
//!
//! Comma-separated, so that a new token can be handed out before the old one is withdrawn; a
//! caller with one is known by its position in the list ([`Tokens::index_of`]), never by its
//! value. Tokens never reach a log: [`Tokens`]' `Debug` prints how many there are, nothing
//! more, and the request headers are never logged. They work alone or beside OAuth.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use subtle::ConstantTimeEq;

/// The accepted bearer tokens.
#[derive(Clone, Default)]
pub struct Tokens(Arc<Vec<Vec<u8>>>);

impl Tokens {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `presented` is one of the tokens.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        self.index_of(presented).is_some()
    }

    /// Which of the tokens `presented` is (0 is the first). Every token is compared, each in
    /// time that depends only on the lengths, so the answer's timing does not reveal which
    /// bytes matched.
    pub fn index_of(&self, presented: &[u8]) -> Option<usize> {
        let mut found = None;
        for (i, token) in self.0.iter().enumerate() {
            let equal: bool = token.as_slice().ct_eq(presented).into();
            if equal && found.is_none() {
                found = Some(i);
            }
        }
        found
    }
}

impl FromStr for Tokens {
    type Err = String;

    /// Comma-separated; surrounding spaces and empty entries are dropped.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut tokens = Vec::new();
        for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            // What an HTTP client can send after "Bearer " (RFC 6750's b64token, roughly).
            if !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(
                    "a token may hold only visible ASCII characters (no spaces); \
                            tokens are separated by commas"
                        .to_owned(),
                );
            }
            tokens.push(t.as_bytes().to_vec());
        }
        Ok(Self(Arc::new(tokens)))
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens([{} redacted])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comma_separated_tokens_and_accepts_each() {
        let t: Tokens = " old-token , new-token ,, ".parse().unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.accepts(b"old-token"));
        assert!(t.accepts(b"new-token"));
        assert!(!t.accepts(b"new-toke"));
        assert!(!t.accepts(b"new-token2"));
        assert!(!t.accepts(b""));
        assert!(!Tokens::default().accepts(b""));
    }

    #[test]
    fn refuses_tokens_that_cannot_travel_in_a_header() {
        assert!("a b".parse::<Tokens>().is_err());
        assert!("tok\u{e9}n".parse::<Tokens>().is_err());
    }

    #[test]
    fn debug_prints_no_token() {
        let t: Tokens = "very-secret-1,very-secret-2".parse().unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains('2'), "{shown}");
    }

    #[test]
    fn knows_which_token_was_presented() {
        let t: Tokens = "first,second".parse().unwrap();
        assert_eq!(t.index_of(b"second"), Some(1));
        assert_eq!(t.index_of(b"first"), Some(0));
        assert_eq!(t.index_of(b"third"), None);
    }
}
