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
        /// The API's `error.message`; or, when the body is not an API error at all (an HTML
        /// page from a proxy, say), what it was instead.
        message: Option<String>,
        /// The `request-id` header or body field.
        request_id: Option<String>,
        /// Attempts made, this one included (the advice must not claim retries never made).
        attempts: u32,
    },

    /// No connection could be made (refused, DNS, TLS): this attempt sent nothing.
    #[error("could not connect to {base_url}: {detail}")]
    Connect {
        base_url: String,
        detail: String,
        /// Whether an earlier attempt of the same call may have reached the API (it timed out
        /// or broke after sending). If none did, a cancel was never sent.
        sent_before: bool,
    },

    /// An attempt took longer than the timeout.
    #[error("no answer from {base_url} within {secs} s")]
    Timeout {
        base_url: String,
        secs: u64,
        /// Attempts made, this one included.
        attempts: u32,
    },

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

    /// The API answered (HTTP 200) with a batch other than the one asked for. A mock with
    /// canned answers does this (the sandbox mock and Prism or Microcks serving the spec's
    /// examples answer every ID with their one example batch), so the answer says nothing about
    /// the batch asked for; taking it for that batch's status would tell a person their batch is
    /// canceling while it keeps running.
    #[error("{base_url} answered for batch {answered}, not for the batch asked for, {requested}")]
    OtherBatch {
        base_url: String,
        requested: String,
        answered: String,
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

    /// Attempts made, for the errors that say it (an error status, a timeout).
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Self::Status { attempts, .. } | Self::Timeout { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }

    /// The same error, saying that `n` attempts were made.
    pub fn after_attempts(mut self, n: u32) -> Self {
        if let Self::Status { attempts, .. } | Self::Timeout { attempts, .. } = &mut self {
            *attempts = n;
        }
        self
    }

    /// Builds a `Status` error from an error answer's status, `request-id` header, content type
    /// and body, reading either the real envelope or the sandbox's flat shape. A body that is
    /// neither (a proxy's HTML page, a gateway's plain text) is described instead, so that the
    /// person can tell the API from something standing in its way.
    pub fn from_answer(
        status: u16,
        request_id_header: Option<String>,
        content_type: &str,
        body: &[u8],
    ) -> Self {
        // Strings are capped as they are decoded (see [`super::decode`]), then cut further here.
        let parsed = super::decode::from_upstream::<ErrorBody>(body)
            .ok()
            .filter(|b| b.error.is_some() || b.message.is_some() || b.kind.is_some());
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
            None => (None, describe_foreign_body(content_type, body), None),
        };
        Self::Status {
            status,
            kind: kind.map(|k| truncate(&k, 100)),
            message: message.map(|m| truncate(&m, 500)),
            request_id: request_id_header.or(body_request_id.map(|r| truncate(&r, 200))),
            attempts: 1,
        }
    }
}

/// Says what a body that is not the API's JSON looks like, for a person: `None` when empty.
pub(crate) fn describe_foreign_body(content_type: &str, body: &[u8]) -> Option<String> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &body[i..])?;
    let content_type = truncate(content_type, 100);
    Some(if start.first() == Some(&b'<') {
        format!(
            "the body is an HTML page (content-type {content_type}), often a proxy or gateway \
             error page rather than the API"
        )
    } else {
        let shown: String = String::from_utf8_lossy(&start[..start.len().min(400)])
            .chars()
            .map(|c| if super::decode::is_unsafe(c) { ' ' } else { c })
            .collect();
        format!(
            "the body is not an API error (content-type {content_type}): {}",
            truncate(shown.trim(), 200)
        )
    })
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
        let e = ApiError::from_answer(404, None, "application/json", body);
        assert_eq!(
            e,
            ApiError::Status {
                status: 404,
                kind: Some("not_found_error".into()),
                message: Some("No such batch".into()),
                request_id: Some("req_body".into()),
                attempts: 1,
            }
        );
        assert_eq!(e.to_string(), "HTTP 404 not_found_error: No such batch");
    }

    #[test]
    fn reads_the_flat_sandbox_shape_and_prefers_the_header_id() {
        let body = br#"{"type":"invalid_request_error","message":"bad id"}"#;
        let e = ApiError::from_answer(400, Some("req_hdr".into()), "application/json", body);
        assert_eq!(e.request_id(), Some("req_hdr"));
        assert!(
            matches!(e, ApiError::Status { kind: Some(ref k), .. } if k == "invalid_request_error")
        );
    }

    #[test]
    fn describes_a_body_that_is_not_an_api_error() {
        let e = ApiError::from_answer(502, None, "text/html", b"\n <html>Bad gateway</html>");
        assert_eq!(
            e.to_string(),
            "HTTP 502: the body is an HTML page (content-type text/html), often a proxy or \
             gateway error page rather than the API"
        );
        assert_eq!(e.status(), Some(502));
        let e = ApiError::from_answer(503, None, "text/plain", b"upstream connect error\r\n");
        assert_eq!(
            e.to_string(),
            "HTTP 503: the body is not an API error (content-type text/plain): upstream connect error"
        );
        let e = ApiError::from_answer(500, None, "none", b"");
        assert_eq!(e.to_string(), "HTTP 500");
        // JSON, but not an error shape: described, not taken for an API error.
        let e = ApiError::from_answer(500, None, "application/json", br#"{"ok":false}"#);
        assert!(e.to_string().contains("not an API error"), "{e}");
    }

    #[test]
    fn attempts_are_recorded_where_they_are_told() {
        let e = ApiError::from_answer(429, None, "none", b"").after_attempts(3);
        assert_eq!(e.attempts(), Some(3));
        let e = ApiError::Connect {
            base_url: "x".into(),
            detail: "y".into(),
            sent_before: false,
        };
        assert_eq!(e.after_attempts(3).attempts(), None);
    }

    #[test]
    fn truncates_long_messages_on_char_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
