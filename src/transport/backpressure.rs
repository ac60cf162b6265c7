//! Backpressure: stop reading stdin while the upstream is saturated.
//!
//! rmcp spawns a task for every request line as soon as it reads it. When an agent writes
//! thousands of calls at once, all but the [`MAX_IN_FLIGHT`](crate::api::client::MAX_IN_FLIGHT) requests the
//! HTTP client allows would sit in memory, each with its parsed request, its context and its
//! handler's future, waiting for a slot: with 2,000 calls written at once that was 31 MiB. Reading
//! them later costs nothing in throughput (the upstream is busy anyway) and bounds memory.
//!
//! So calls waiting for an HTTP slot are counted ([`Backlog::enter`](crate::backlog::Backlog::enter)), and the stdin reader
//! ([`Throttled`]) hands rmcp no more bytes while [`MAX_QUEUED`](crate::backlog::MAX_QUEUED) of them wait. It keeps reading
//! ahead into a small buffer meanwhile, so that a closed stdin is still seen at once and the
//! server still stops promptly (see [`super::shutdown`]). The count itself lives in
//! [`crate::backlog`], below the API client that keeps it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::backlog::Backlog;
#[cfg(test)]
use crate::backlog::MAX_QUEUED;

/// Bytes read ahead while paused, to notice end of file (about 400 calls' worth).
const READ_AHEAD: usize = 64 * 1024;

/// A reader that hands out nothing while the [`Backlog`] is full (but still sees end of file).
#[derive(Debug)]
pub struct Throttled<R> {
    inner: R,
    backlog: Backlog,
    /// Bytes read while paused, handed out first once reading goes on.
    ahead: Vec<u8>,
    /// End of file was seen while reading ahead.
    eof: bool,
    /// Bytes were just handed out: yield once, so that the tasks spawned for them start (and
    /// enter the backlog) before more is read.
    yield_next: bool,
}

impl<R> Throttled<R> {
    pub fn new(inner: R, backlog: Backlog) -> Self {
        Self {
            inner,
            backlog,
            ahead: Vec::new(),
            eof: false,
            yield_next: false,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Throttled<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.yield_next {
            this.yield_next = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            // End of file opens the gate: rmcp gets what is left, then the end, and stops.
            let paused = !this.eof && this.backlog.is_full(cx);
            if !paused && !this.ahead.is_empty() {
                let n = this.ahead.len().min(buf.remaining());
                buf.put_slice(&this.ahead[..n]);
                this.ahead.drain(..n);
                this.yield_next = true;
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if !paused {
                let before = buf.filled().len();
                let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
                if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
                    this.yield_next = true;
                }
                return polled;
            }
            // Paused: read ahead, only to notice end of file.
            if this.ahead.len() >= READ_AHEAD {
                return Poll::Pending;
            }
            let mut chunk = [0u8; 4096];
            let mut side = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut side) {
                Poll::Ready(Ok(())) if side.filled().is_empty() => this.eof = true,
                Poll::Ready(Ok(())) => this.ahead.extend_from_slice(side.filled()),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn pauses_while_full_and_goes_on_when_a_call_leaves() {
        use futures::FutureExt;
        let backlog = Backlog::default();
        let held: Vec<_> = (0..MAX_QUEUED).map(|_| backlog.enter()).collect();
        // A stream that stays open (a slice would end, and end of file opens the gate).
        let (mut tx, rx) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut tx, b"line\n")
            .await
            .unwrap();
        let mut reader = Throttled::new(rx, backlog.clone());
        let mut buf = [0u8; 16];
        // The bytes are there: an unpaused read would complete on its first poll.
        assert!(reader.read(&mut buf).now_or_never().is_none());
        drop(held);
        assert_eq!(reader.read(&mut buf).await.unwrap(), 5);
        assert_eq!(&buf[..5], b"line\n");
    }

    #[tokio::test]
    async fn end_of_file_is_seen_while_paused() {
        let backlog = Backlog::default();
        let _held: Vec<_> = (0..MAX_QUEUED).map(|_| backlog.enter()).collect();
        let mut reader = Throttled::new(&b"a\nb\n"[..], backlog.clone());
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"a\nb\n");
    }
}
