//! What can go wrong talking to the Batches API, and how to read the API's error bodies.
//!
//! Each variant keeps the facts a person needs (HTTP status, the API's error type and message,
//! the `request-id` to quote to support); the MCP layer turns them into advice. No variant ever
//! holds the API key: the key lives only in the request header.

use serde::Deserialize;

use crate::config::ConfigError;

/// A failed call to the Batches API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The settings do not allow any request (bad URL, missing key); nothing was sent.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The API answered with an error status.
    #[error("HTTP {status}{}{}", kind.as_deref().map(|k| format!(" {k}")).unwrap_or_default(),
            message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        status: u16,
        /// The API's `error.type` (e.g. `not_found_error`), from either body shape.
        kind: Option<String>,
        /// The API's `error.message`.
        message: Option<String>,
        /// The `request-id` header or body field.
        request_id: Option<String>,
    },

    /// No connection could be made (refused, DNS, TLS).
    #[error("could not connect to {base_url}: {detail}")]
    Connect { base_url: String, detail: String },

    /// An attempt took longer than the timeout.
    #[error("no answer from {base_url} within {secs} s")]
    Timeout { base_url: String, secs: u64 },

    /// The answer's body was larger than we are willing to read.
    #[error(
        "the answer (HTTP {status}) is larger than {limit} bytes; refused without reading it all"
    )]
    TooLarge { status: u16, limit: usize },

    /// The answer was not the JSON we expected (an HTML proxy page is the common case).
    #[error("the answer (HTTP {status}, content-type {content_type}) is not {expected}: {detail}")]
    Decode {
        status: u16,
        content_type: String,
        expected: &'static str,
        detail: String,
    },

    /// The connection broke mid-answer, or another transport fault.
    #[error("the request to {base_url} failed: {detail}")]
    Transport { base_url: String, detail: String },
}

impl ApiError {
    /// The API's request ID, when there is one, for the person to quote to Anthropic support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Status { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, when the API answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. }
            | Self::TooLarge { status, .. }
            | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds a `Status` error from an error answer's status, `request-id` header and body,
    /// reading either the real envelope or the sandbox's flat shape (or neither).
    pub fn from_answer(status: u16, request_id_header: Option<String>, body: &[u8]) -> Self {
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        let (kind, message, body_request_id) = match parsed {
            Some(ErrorBody {
                error: Some(inner),
                request_id,
                ..
            }) => (inner.kind, inner.message, request_id),
            Some(ErrorBody {
                kind,
                message,
                request_id,
                ..
            }) => (kind.filter(|k| k != "error"), message, request_id),
            None => (None, None, None),
        };
        Self::Status {
            status,
            kind,
            message: message.map(|m| truncate(&m, 500)),
            request_id: request_id_header.or(body_request_id),
        }
    }
}

/// Both error shapes in one: the real `{"type":"error","error":{...},"request_id":..}` and the
/// sandbox's flat `{"type":"not_found_error","message":..}`.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
    error: Option<InnerError>,
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

/// Cuts `s` to at most `max` characters, so a hostile body cannot flood a tool result.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_envelope() {
        let body = br#"{"type":"error","error":{"type":"not_found_error","message":"No such batch"},"request_id":"req_body"}"#;
        let e = ApiError::from_answer(404, None, body);
        assert_eq!(
            e,
            ApiError::Status {
                status: 404,
                kind: Some("not_found_error".into()),
                message: Some("No such batch".into()),
                request_id: Some("req_body".into()),
            }
        );
        assert_eq!(e.to_string(), "HTTP 404 not_found_error: No such batch");
    }

    #[test]
    fn reads_the_flat_sandbox_shape_and_prefers_the_header_id() {
        let body = br#"{"type":"invalid_request_error","message":"bad id"}"#;
        let e = ApiError::from_answer(400, Some("req_hdr".into()), body);
        assert_eq!(e.request_id(), Some("req_hdr"));
        assert!(
            matches!(e, ApiError::Status { kind: Some(ref k), .. } if k == "invalid_request_error")
        );
    }

    #[test]
    fn survives_a_body_that_is_not_json() {
        let e = ApiError::from_answer(502, None, b"<html>Bad gateway</html>");
        assert_eq!(e.to_string(), "HTTP 502");
        assert_eq!(e.status(), Some(502));
    }

    #[test]
    fn truncates_long_messages_on_char_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
