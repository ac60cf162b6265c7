//! Reading a batch's results file (`GET {results_url}`, JSON Lines) one line at a time.
//!
//! The official Python SDK (`anthropic` 2.16, `Batches.results`) first retrieves the batch,
//! refuses when `results_url` is null ("Has it finished processing?"), and then GETs the
//! `results_url` exactly as the API gave it, with the usual headers and
//! `Accept: application/binary`. So does this, with two differences made for a server that holds
//! someone's key: the URL must be on the same origin (scheme, host, port) as the configured base
//! URL, so that the key never goes to a host the person did not configure; and nothing is ever
//! buffered whole.
//!
//! Memory is bounded whatever the file's size (the API allows 100,000 requests, 256 MB): bytes
//! are read a chunk at a time, cut into lines, and each line is decoded into a
//! [`ResultEntry`] (custom ID, type, stop reason, usage, error) and then dropped. A line may
//! hold up to [`MAX_LINE_BYTES`]; a longer one is skipped as it streams (its bytes are never
//! held) and reported as [`Line::TooLong`]. The message's content is never decoded: serde skips
//! it without allocating.

use std::ops::ControlFlow;

use reqwest::Url;
use serde::Deserialize;

use super::batch_id::BatchId;
use super::client::BatchesClient;
use super::decode::clean;
use super::error::{ApiError, truncate};
use super::retry;

/// The longest line read. A real result line holds one Message: even 128k output tokens are
/// well under 1 MiB of text. A longer line is skipped, never buffered.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// The most lines read from one file: a batch holds at most 100,000 requests, so a stream that
/// goes on past that is not a results file, and reading stops.
pub const MAX_LINES: u64 = 100_000;
/// Longest `custom_id` kept (the API allows 64 characters).
const MAX_ID_CHARS: usize = 64;
/// Longest error message kept per entry.
const MAX_MESSAGE_CHARS: usize = 300;
/// Longest type name or stop reason kept.
const MAX_NAME_CHARS: usize = 64;

/// What a results line's `result.type` says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultType {
    Succeeded,
    Errored,
    Canceled,
    Expired,
    /// A type this server does not know, as the API sent it (cut short).
    Other(String),
}

impl ResultType {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Errored => "errored",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Other(s) => s,
        }
    }

    fn from_wire(s: &str) -> Self {
        match s {
            "succeeded" => Self::Succeeded,
            "errored" => Self::Errored,
            "canceled" => Self::Canceled,
            "expired" => Self::Expired,
            other => Self::Other(shown(other, MAX_NAME_CHARS)),
        }
    }
}

/// Token usage of one succeeded request, as the Message reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

/// One line of the file, read down to what a summary needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultEntry {
    pub custom_id: String,
    pub kind: ResultType,
    /// For a succeeded request: the Message's `stop_reason`.
    pub stop_reason: Option<String>,
    /// For a succeeded request: the Message's `usage`.
    pub usage: Option<Usage>,
    /// For an errored request: the API error's `type` (e.g. `invalid_request_error`).
    pub error_type: Option<String>,
    /// For an errored request: the API error's message, cut short.
    pub error_message: Option<String>,
}

/// One line as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Entry(ResultEntry),
    /// Not JSON, or not a result (`number` counts from 1).
    Unreadable {
        number: u64,
        reason: String,
    },
    /// Longer than [`MAX_LINE_BYTES`]; skipped.
    TooLong {
        number: u64,
    },
}

/// How reading the file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The whole file was read.
    Complete,
    /// The stream broke (or stalled) after this many lines.
    Cut { detail: String },
    /// The file had more than [`MAX_LINES`] lines; reading stopped there.
    TooManyLines,
}

/// Why the file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultsError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The `results_url` is not on the configured API's origin: the key is not sent there.
    #[error(
        "the results_url {url} is not on the configured API ({base}); the API key is not sent there"
    )]
    Foreign { url: String, base: String },
    /// The `results_url` does not parse as an http(s) URL.
    #[error("the results_url {url} is not a usable URL")]
    BadUrl { url: String },
}

#[derive(Deserialize)]
struct RawLine {
    custom_id: String,
    result: RawResult,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<RawMessage>,
    #[serde(default)]
    error: Option<RawError>,
}

/// Only what is kept: every other field of the Message (its content above all) is skipped.
#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

/// The real API's errored result holds the error envelope (`{"type":"error","error":{…}}`);
/// the sandbox spec's looser shape holds `{type, message}` directly. Both read here.
#[derive(Deserialize)]
struct RawError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<Box<RawError>>,
}

/// A string from a result line as it may be shown: unsafe characters (controls, separators,
/// bidi) replaced, as in every other string read from the upstream ([`super::decode`]), then
/// cut to `max` characters.
fn shown(s: &str, max: usize) -> String {
    truncate(&clean(s), max)
}

/// Decodes one line (without its newline).
pub fn decode_line(number: u64, bytes: &[u8]) -> Line {
    let raw: RawLine = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            let reason = if e.is_data() {
                format!("not a result line ({e})")
            } else {
                format!("not JSON ({e})")
            };
            return Line::Unreadable {
                number,
                reason: truncate(&reason, 200),
            };
        }
    };
    let kind = ResultType::from_wire(&raw.result.kind);
    let (stop_reason, usage) = match (&kind, raw.result.message) {
        (ResultType::Succeeded, Some(m)) => {
            (m.stop_reason.map(|s| shown(&s, MAX_NAME_CHARS)), m.usage)
        }
        _ => (None, None),
    };
    let (error_type, error_message) = match (&kind, raw.result.error) {
        (ResultType::Errored, Some(e)) => {
            let inner = match e.error {
                Some(inner) => *inner,
                None => e,
            };
            (
                Some(shown(
                    inner.kind.as_deref().unwrap_or("unknown"),
                    MAX_NAME_CHARS,
                )),
                inner.message.map(|m| shown(&m, MAX_MESSAGE_CHARS)),
            )
        }
        (ResultType::Errored, None) => (Some("unknown".to_owned()), None),
        _ => (None, None),
    };
    Line::Entry(ResultEntry {
        custom_id: shown(&raw.custom_id, MAX_ID_CHARS),
        kind,
        stop_reason,
        usage,
        error_type,
        error_message,
    })
}

/// Cuts a byte stream into lines of at most [`MAX_LINE_BYTES`], holding at most one line.
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
    /// The current line passed the cap: its bytes are dropped until its newline.
    skipping: bool,
    /// Lines finished so far.
    pub count: u64,
}

impl Lines {
    /// Feeds one chunk; `each` gets every line it completes. Stops early when `each` breaks.
    pub fn feed(
        &mut self,
        mut chunk: &[u8],
        each: &mut impl FnMut(Line) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        while !chunk.is_empty() {
            let (part, rest, complete) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if !self.skipping {
                if self.buf.len() + part.len() > MAX_LINE_BYTES {
                    self.skipping = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            if complete {
                self.finish(each)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// The end of the stream: a last line without a newline is still a line.
    pub fn end(&mut self, each: &mut impl FnMut(Line) -> ControlFlow<()>) -> ControlFlow<()> {
        if self.skipping || !self.buf.is_empty() {
            self.finish(each)?;
        }
        ControlFlow::Continue(())
    }

    fn finish(&mut self, each: &mut impl FnMut(Line) -> ControlFlow<()>) -> ControlFlow<()> {
        let skipped = std::mem::take(&mut self.skipping);
        let blank = self.buf.iter().all(u8::is_ascii_whitespace);
        if blank && !skipped {
            self.buf.clear();
            return ControlFlow::Continue(());
        }
        self.count += 1;
        let line = if skipped {
            Line::TooLong { number: self.count }
        } else {
            decode_line(self.count, &self.buf)
        };
        // Keep a modest buffer for the next line, not the largest one seen.
        if self.buf.capacity() > 256 * 1024 {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        each(line)
    }
}

impl BatchesClient {
    /// Streams the results file at `results_url` (batch `id`'s, as the API gave it), handing
    /// each line to `each`. Answers how reading ended; an error only when nothing could be read
    /// (bad URL, refused, no connection). A failing status or connection before the first byte
    /// is retried as any other call; a stream cut midway is not (the lines already handed on
    /// cannot be taken back): it ends as [`End::Cut`].
    pub async fn stream_results(
        &self,
        id: &BatchId,
        results_url: &str,
        mut each: impl FnMut(Line) -> ControlFlow<()>,
    ) -> Result<End, ResultsError> {
        let url = self.results_url(results_url)?;
        tracing::debug!(id = %id, "reading results");
        let mut retry = 0u32;
        let mut response = loop {
            let (error, headers) = match self.get_streamed(url.clone(), "application/binary").await
            {
                Ok(r) if r.status().is_success() => break r,
                Ok(r) => {
                    let headers = r.headers().clone();
                    let retryable = retry::should_retry_status(r.status().as_u16(), &headers);
                    let error = self.error_answer(r).await.after_attempts(retry + 1);
                    if !retryable {
                        return Err(error.into());
                    }
                    (error, Some(headers))
                }
                Err(e @ ApiError::Config(_)) => return Err(e.into()),
                Err(e) => (e.after_attempts(retry + 1), None),
            };
            if retry >= self.max_retries() {
                return Err(error.into());
            }
            tokio::time::sleep(retry::delay(retry, headers.as_ref())).await;
            retry += 1;
        };
        let mut lines = Lines::default();
        let mut seen = 0u64;
        let mut each = |line| {
            seen += 1;
            if seen > MAX_LINES {
                return ControlFlow::Break(());
            }
            each(line)
        };
        loop {
            let chunk = match tokio::time::timeout(self.timeout(), response.chunk()).await {
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    return Ok(End::Cut {
                        detail: truncate(&self.transport(&e).to_string(), 300),
                    });
                }
                Err(_) => {
                    return Ok(End::Cut {
                        detail: format!("no data for {} s", self.timeout().as_secs()),
                    });
                }
            };
            if lines.feed(&chunk, &mut each).is_break() {
                return Ok(End::TooManyLines);
            }
        }
        let _ = lines.end(&mut each);
        Ok(End::Complete)
    }

    /// `raw` parsed, if it is an http(s) URL on the base URL's origin.
    fn results_url(&self, raw: &str) -> Result<Url, ResultsError> {
        let shown = truncate(raw, 200);
        let url = Url::parse(raw).map_err(|_| ResultsError::BadUrl { url: shown.clone() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ResultsError::BadUrl { url: shown });
        }
        let Some(base) = self.base() else {
            return Err(ResultsError::BadUrl { url: shown });
        };
        if url.origin() != base.origin() || !url.username().is_empty() || url.password().is_some() {
            return Err(ResultsError::Foreign {
                url: shown,
                base: self.base_url().to_owned(),
            });
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Vec<Line> {
        let mut out = Vec::new();
        let mut lines = Lines::default();
        let mut each = |l| {
            out.push(l);
            ControlFlow::Continue(())
        };
        for c in chunks {
            let _ = lines.feed(c, &mut each);
        }
        let _ = lines.end(&mut each);
        out
    }

    const OK: &str = r#"{"custom_id":"a","result":{"type":"succeeded","message":{"id":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":null}}}}"#;

    #[test]
    fn lines_split_across_chunks_and_blank_lines_are_skipped() {
        let (a, b) = OK.split_at(40);
        let lines = collect(&[a.as_bytes(), b.as_bytes(), b"\n\n", OK.as_bytes()]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let Line::Entry(e) = &lines[0] else {
            panic!("{lines:?}")
        };
        assert_eq!(e.custom_id, "a");
        assert_eq!(e.kind, ResultType::Succeeded);
        assert_eq!(e.stop_reason.as_deref(), Some("end_turn"));
        assert_eq!(
            e.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((3, 4))
        );
    }

    #[test]
    fn errors_read_in_both_shapes() {
        let real = br#"{"custom_id":"e1","result":{"type":"errored","error":{"type":"error","error":{"type":"overloaded_error","message":"busy"}}}}"#;
        let loose = br#"{"custom_id":"e2","result":{"type":"errored","error":{"type":"invalid_request_error","message":"bad"}}}"#;
        for (bytes, t, m) in [
            (&real[..], "overloaded_error", "busy"),
            (&loose[..], "invalid_request_error", "bad"),
        ] {
            let Line::Entry(e) = decode_line(1, bytes) else {
                panic!()
            };
            assert_eq!(e.kind, ResultType::Errored);
            assert_eq!(e.error_type.as_deref(), Some(t));
            assert_eq!(e.error_message.as_deref(), Some(m));
        }
    }

    #[test]
    fn control_and_bidi_characters_in_a_line_reach_no_text() {
        // ESC (a terminal escape), a newline (a forged log line), U+202E (text that reads
        // backwards) in the custom_id, the error's type and its message.
        let line = br#"{"custom_id":"a\u001b[31m\nb\u202e","result":{"type":"errored","error":{"type":"error","error":{"type":"x\u0007","message":"m\r\nINFO forged\u2028"}}}}"#;
        let Line::Entry(e) = decode_line(1, line) else {
            panic!()
        };
        let shown = [
            e.custom_id.as_str(),
            e.error_type.as_deref().unwrap_or(""),
            e.error_message.as_deref().unwrap_or(""),
        ];
        for s in shown {
            assert!(!s.chars().any(super::super::decode::is_unsafe), "{s:?}");
        }
        assert_eq!(e.custom_id, "a\u{FFFD}[31m\u{FFFD}b\u{FFFD}");
        assert_eq!(
            e.error_message.as_deref(),
            Some("m\u{FFFD}\u{FFFD}INFO forged\u{FFFD}")
        );
    }

    #[test]
    fn a_line_past_the_cap_is_skipped_without_holding_it() {
        let long = vec![b'x'; MAX_LINE_BYTES / 4];
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        let mut each = |l| {
            seen.push(l);
            ControlFlow::Continue(())
        };
        for _ in 0..10 {
            let _ = lines.feed(&long, &mut each);
            assert!(lines.buf.len() <= MAX_LINE_BYTES);
        }
        let _ = lines.feed(format!("\n{OK}\nnot json\n").as_bytes(), &mut each);
        assert!(matches!(seen[0], Line::TooLong { number: 1 }), "{seen:?}");
        assert!(matches!(seen[1], Line::Entry(_)));
        assert!(
            matches!(&seen[2], Line::Unreadable { number: 3, reason } if reason.starts_with("not JSON"))
        );
    }
}
