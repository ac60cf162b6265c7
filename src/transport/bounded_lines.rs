//! stdin, one message a line, each within [`CLIENT_MESSAGE`]: the same bound as an HTTP body.
//!
//! rmcp reads a line whole (up to 16 MiB) and parses it into a tree: one 10.5 MB line of small
//! values cost 1.08 GiB. Here each line's bytes, values and depth are counted as they are read
//! ([`Scanner`]), and a line is handed on only once it is whole and within the bound (so at
//! most [`CLIENT_MESSAGE`]'s bytes are held). A line past the bound is skipped to its newline
//! without being kept; if it was a request (it had a top-level `"id"`, found by [`IdFinder`]
//! as the bytes go by), rmcp is handed in its place a request of the same id for a method no
//! server has, named for what happened, which rmcp answers with a JSON-RPC error carrying that
//! name: the client is told, rather than left waiting. A warning on stderr says why too.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

use crate::json_budget::{Budget, CLIENT_MESSAGE, Scanner};

/// Bytes read from the inner reader at a time.
const CHUNK: usize = 8 * 1024;
/// Longest request id kept from a refused line (a JSON-RPC id is a number or a short string).
const MAX_ID_BYTES: usize = 256;

/// A reader that hands out each line only as far as [`CLIENT_MESSAGE`] allows.
#[derive(Debug)]
pub struct BoundedLines<R> {
    inner: R,
    budget: Budget,
    scanner: Scanner,
    ids: IdFinder,
    /// The current line so far, while it is within the bound.
    line: Vec<u8>,
    /// The current line passed the bound: skipping to its end.
    skipping: bool,
    /// Bytes ready to hand out, from `ready_from` on.
    ready: Vec<u8>,
    ready_from: usize,
    raw: Box<[u8; CHUNK]>,
}

impl<R> BoundedLines<R> {
    pub fn new(inner: R) -> Self {
        Self::with_budget(inner, CLIENT_MESSAGE)
    }

    pub fn with_budget(inner: R, budget: Budget) -> Self {
        Self {
            inner,
            budget,
            scanner: Scanner::new(budget),
            ids: IdFinder::default(),
            line: Vec::new(),
            skipping: false,
            ready: Vec::new(),
            ready_from: 0,
            raw: Box::new([0; CHUNK]),
        }
    }

    /// Moves what may be handed out of `bytes` to `ready`.
    fn filter(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let line_end = rest.iter().position(|&b| b == b'\n');
            let (part, next) = match line_end {
                Some(i) => rest.split_at(i + 1),
                None => (rest, &[][..]),
            };
            self.ids.feed(part);
            if !self.skipping {
                match self.scanner.feed(part) {
                    Ok(()) => self.line.extend_from_slice(part),
                    Err(why) => {
                        tracing::warn!(
                            "refused a message from stdin unread: it holds {why} (a message may \
                             hold at most {} bytes and {} JSON values, nested {} deep)",
                            self.budget.bytes,
                            self.budget.values,
                            self.budget.depth
                        );
                        self.line = Vec::new();
                        self.skipping = true;
                    }
                }
            }
            if line_end.is_some() {
                if self.skipping {
                    if let Some(id) = self.ids.id() {
                        self.ready.extend_from_slice(&refusal(id, self.budget));
                    }
                } else {
                    self.ready.append(&mut self.line);
                }
                self.skipping = false;
                self.scanner.reset();
                self.ids = IdFinder::default();
            }
            rest = next;
        }
    }
}

/// The line handed to rmcp in place of a refused request: the same id, and a method no server
/// has, whose name says what happened (rmcp answers an unknown method with an error whose
/// message is the method's name).
fn refusal(id: &[u8], budget: Budget) -> Vec<u8> {
    let method = format!(
        "message refused unread: over {} bytes, {} JSON values or {} levels deep",
        budget.bytes, budget.values, budget.depth
    );
    let mut line = br#"{"jsonrpc":"2.0","id":"#.to_vec();
    line.extend_from_slice(id);
    line.extend_from_slice(br#","method":"#);
    // Writing a `String` as JSON cannot fail.
    let _ = serde_json::to_writer(&mut line, &method);
    line.extend_from_slice(b"}\n");
    line
}

/// Finds the value of a JSON object's top-level `"id"` as the text goes by, keeping nothing
/// but that value (at most [`MAX_ID_BYTES`]) and the key being read.
#[derive(Debug, Default)]
struct IdFinder {
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The top-level string being read (a key, perhaps), while short.
    string: Option<Vec<u8>>,
    /// The last top-level string read, waiting to see whether a `:` makes it a key.
    last_string: Option<Vec<u8>>,
    /// After `"id":`: the value's text so far.
    value: Option<Vec<u8>>,
    want_value: bool,
    found: Option<Vec<u8>>,
}

impl IdFinder {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(v) = &mut self.value {
            let string_value = v.first() == Some(&b'"');
            let ends = if string_value {
                // The closing quote (not escaped) ends it, and is part of it.
                let closing = b == b'"' && !self.escaped && v.len() > 1;
                self.escaped = !self.escaped && b == b'\\';
                v.push(b);
                closing
            } else if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') {
                v.push(b);
                false
            } else {
                true
            };
            if v.len() > MAX_ID_BYTES {
                self.value = None;
            } else if ends {
                self.found = self.value.take();
                self.escaped = false;
                if !string_value {
                    self.structure(b);
                }
            }
            return;
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.last_string = self.string.take();
                return;
            }
            if let Some(s) = &mut self.string {
                s.push(b);
                if s.len() > 8 {
                    self.string = None;
                }
            }
            return;
        }
        if self.want_value && !b.is_ascii_whitespace() {
            self.want_value = false;
            if self.depth == 1 && (b == b'"' || b.is_ascii_digit() || b == b'-') {
                self.value = Some(vec![b]);
                return;
            }
        }
        self.structure(b);
    }

    fn structure(&mut self, b: u8) {
        match b {
            b'"' => {
                self.in_string = true;
                self.string = (self.depth == 1).then(Vec::new);
            }
            b':' => {
                self.want_value = self.last_string.take().is_some_and(|k| k == b"id");
            }
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ if b.is_ascii_whitespace() => {}
            _ => self.last_string = None,
        }
    }

    /// The id found, if it is a number or a string.
    fn id(&self) -> Option<&[u8]> {
        let id = self.found.as_deref()?;
        match serde_json::from_slice::<serde_json::Value>(id) {
            Ok(serde_json::Value::Number(_) | serde_json::Value::String(_)) => Some(id),
            _ => None,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedLines<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready_from < this.ready.len() {
                let n = (this.ready.len() - this.ready_from).min(buf.remaining());
                buf.put_slice(&this.ready[this.ready_from..this.ready_from + n]);
                this.ready_from += n;
                if this.ready_from == this.ready.len() {
                    this.ready.clear();
                    this.ready_from = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut raw = ReadBuf::new(&mut this.raw[..]);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut raw))?;
            let n = raw.filled().len();
            if n == 0 {
                // End of file: a last line without a newline is handed on as it is.
                if this.skipping || this.line.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                this.ready = std::mem::take(&mut this.line);
                this.ready_from = 0;
                continue;
            }
            let chunk = this.raw[..n].to_vec();
            this.filter(&chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn through(input: &[u8], budget: Budget) -> Vec<u8> {
        let mut out = Vec::new();
        BoundedLines::with_budget(input, budget)
            .read_to_end(&mut out)
            .await
            .unwrap();
        out
    }

    const SMALL: Budget = Budget {
        bytes: 64,
        values: 8,
        depth: 4,
    };

    #[tokio::test]
    async fn lines_within_the_bound_pass_as_they_are() {
        let input = b"{\"a\":[1,2]}\n\n[true]\n{\"partial\":";
        assert_eq!(through(input, SMALL).await, input);
    }

    #[tokio::test]
    async fn a_request_past_the_bound_becomes_a_refusal_with_its_id() {
        let input = concat!(
            r#"{"method":"ping","params":[1,2,3,4,5,6,7,8,9],"jsonrpc":"2.0","id":"a\"b"}"#,
            "\n[1]\n",
            r#"{"jsonrpc":"2.0","id":42,"params":[[[[[]]]]]}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notify","params":[1,2,3,4,5,6,7,8,9]}"#,
            "\n[2]\n"
        );
        let out = through(input.as_bytes(), SMALL).await;
        let lines: Vec<serde_json::Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0]["id"], "a\"b");
        assert!(
            lines[0]["method"]
                .as_str()
                .unwrap()
                .contains("refused unread")
        );
        assert_eq!(lines[1], serde_json::json!([1]));
        assert_eq!(lines[2]["id"], 42);
        // A notification past the bound is dropped: there is no one to answer.
        assert_eq!(lines[3], serde_json::json!([2]));
    }

    #[tokio::test]
    async fn a_long_line_is_skipped_to_its_end_without_being_kept() {
        let mut input = b"{\"id\":7,\"x\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\"}\n[3]\n");
        let out = through(&input, SMALL).await;
        assert!(out.len() < 200, "{}", out.len());
        assert!(out.starts_with(b"{\"jsonrpc\":\"2.0\",\"id\":7,"));
        assert!(out.ends_with(b"}\n[3]\n"));
    }

    #[test]
    fn only_the_top_level_id_is_taken() {
        let mut f = IdFinder::default();
        f.feed(br#"{"params":{"id":1,"x":"id"},"idx":2,"id" : -3 }"#);
        assert_eq!(f.id(), Some(&b"-3"[..]));
        let mut f = IdFinder::default();
        f.feed(br#"{"params":{"id":1}}"#);
        assert_eq!(f.id(), None);
    }
}
