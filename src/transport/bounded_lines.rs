//! stdin, one message a line, each within [`CLIENT_MESSAGE`]: the same bound as an HTTP body.
//!
//! rmcp reads a line whole (up to 16 MiB) and parses it into a tree: one 10.5 MB line of small
//! values cost 1.08 GiB. Here each line's bytes, values and depth are counted as they are read
//! ([`Scanner`]); from the chunk where a line passes the bound, it is replaced by a NUL (so that
//! what rmcp may already have of it is not JSON, which it drops, as the MCP SDKs drop
//! unparsable input), and the rest of it is skipped up to its newline without being kept. The line gets no
//! answer, as with rmcp's own line cap; a warning on stderr says why.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

use crate::json_budget::{Budget, CLIENT_MESSAGE, Scanner};

/// Bytes read from the inner reader at a time.
const CHUNK: usize = 8 * 1024;

/// A reader that hands out each line only as far as [`CLIENT_MESSAGE`] allows.
#[derive(Debug)]
pub struct BoundedLines<R> {
    inner: R,
    scanner: Scanner,
    /// Skipping the rest of a line that passed the bound.
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
            scanner: Scanner::new(budget),
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
            if self.skipping {
                if line_end.is_some() {
                    self.skipping = false;
                    self.scanner.reset();
                }
            } else {
                match self.scanner.feed(part) {
                    Ok(()) => {
                        self.ready.extend_from_slice(part);
                        if line_end.is_some() {
                            self.scanner.reset();
                        }
                    }
                    Err(why) => {
                        tracing::warn!(
                            "dropped a message from stdin: it holds {why} (a message may hold \
                             at most {} bytes and {} JSON values, nested {} deep); it gets no \
                             answer",
                            CLIENT_MESSAGE.bytes,
                            CLIENT_MESSAGE.values,
                            CLIENT_MESSAGE.depth
                        );
                        // What rmcp has of this line so far is no longer JSON: it drops it.
                        self.ready.extend_from_slice(b"\0\n");
                        self.scanner.reset();
                        self.skipping = line_end.is_none();
                    }
                }
            }
            rest = next;
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
                return Poll::Ready(Ok(()));
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
    async fn a_line_past_the_bound_is_cut_and_the_next_one_passes() {
        let input = b"[1,2,3,4,5,6,7,8,9,10,11]\n[1]\n[[[[[[]]]]]]\n[2]\n";
        let out = through(input, SMALL).await;
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        // Read in one chunk, each refused line is dropped whole: a NUL in its place.
        assert_eq!(lines[0], b"\0");
        assert_eq!(lines[1], b"[1]");
        assert_eq!(lines[2], b"\0");
        assert_eq!(lines[3], b"[2]");
        assert!(serde_json::from_slice::<serde_json::Value>(lines[0]).is_err());
    }

    #[tokio::test]
    async fn a_long_line_is_skipped_to_its_end_without_being_kept() {
        let mut input = vec![b'"'];
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\"\n[3]\n");
        let out = through(&input, SMALL).await;
        assert!(out.len() < 100, "{}", out.len());
        assert!(out.ends_with(b"\0\n[3]\n"));
    }
}
