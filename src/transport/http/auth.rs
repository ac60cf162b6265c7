//! Who may call: `Authorization: Bearer <token>` on every `/mcp` request, checked in constant time.
//!
//! The tokens come from `MSGBATCH_HTTP_TOKEN` (comma-separated, so that a new token can be
//! handed out before the old one is withdrawn). A request without a valid one gets 401 with
//! `WWW-Authenticate: Bearer`, as RFC 6750 says, before its body is read or any work is done.
//! Tokens never reach a log: [`Tokens`]' `Debug` prints how many there are, nothing more, and
//! the request headers are never logged.
//!
//! This is a shared secret per deployment, not OAuth: the README says why.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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

    /// Whether `presented` is one of the tokens. Every token is compared, each in time that
    /// depends only on the lengths, so the answer's timing does not reveal which bytes matched.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let mut found = subtle::Choice::from(0);
        for token in self.0.iter() {
            found |= token.as_slice().ct_eq(presented);
        }
        found.into()
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

/// The bearer token of a request, if it has an `Authorization: Bearer …` header.
fn bearer(request: &Request) -> Option<&[u8]> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// The middleware: passes a request with an accepted token, answers 401 to any other.
pub async fn require_token(State(tokens): State<Tokens>, request: Request, next: Next) -> Response {
    match bearer(&request) {
        Some(t) if tokens.accepts(t) => next.run(request).await,
        presented => {
            super::refusals::unauthorized(presented.is_some());
            unauthorized(presented.is_some())
        }
    }
}

fn unauthorized(token_sent: bool) -> Response {
    // RFC 6750 §3: no error code when no credentials were sent; invalid_token when they were wrong.
    let challenge = if token_sent {
        r#"Bearer realm="msgbatch-mcp", error="invalid_token""#
    } else {
        r#"Bearer realm="msgbatch-mcp""#
    };
    let text = if token_sent {
        "Unauthorized: the bearer token is not one this server accepts. Check the \
         Authorization header your MCP client sends (its token may have been rotated)."
    } else {
        "Unauthorized: this MCP server needs `Authorization: Bearer <token>`, with a token from \
         whoever runs it (claude mcp add --transport http ... --header \"Authorization: Bearer <token>\")."
    };
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        Body::from(text),
    )
        .into_response()
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
    fn reads_the_bearer_scheme_case_insensitively() {
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(bearer(&req("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&req("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer(&req("Basic abc")), None);
        assert_eq!(bearer(&req("Bearer")), None);
    }

    #[test]
    fn the_challenge_says_bearer() {
        for sent in [false, true] {
            let r = unauthorized(sent);
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            let h = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
            assert!(h.starts_with("Bearer "), "{h}");
            assert_eq!(h.contains("invalid_token"), sent);
        }
    }
}
