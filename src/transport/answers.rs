//! Answers go to stdout through a task of their own, as bytes.
//!
//! rmcp writes each answer from a task of its own that first locks the transport's writer:
//! when the client reads more slowly than calls finish (2,000 calls written at once, a busy
//! machine), every finished answer waited in memory as a JSON value tree behind that lock, about
//! 2.2 KiB each beyond its 1.3 KiB of text, and peak RSS rose with the client's delay. The
//! waiting cannot be bounded by reading stdin more slowly: a client that writes all its calls
//! before reading any answer would then deadlock with us. So answers are accepted at once, as
//! bytes, into one buffer that a drain task writes to stdout, as much at a time as the pipe
//! takes: the value tree is freed as soon as it is serialized, and a backlog is written with a
//! few large writes instead of one per answer.
//!
//! A write is "flushed" once it is in the buffer. [`Answers::drained`] completes when everything
//! written has reached stdout (or stdout failed): serving awaits it before the process exits.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// A buffer kept between bursts is cut back to this capacity.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The writer half handed to rmcp.
#[derive(Debug)]
pub struct Answers {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the drain task: bytes were added, or the writer was closed.
    more: Notify,
}

#[derive(Debug, Default)]
struct State {
    pending: Vec<u8>,
    closed: bool,
    /// Set once stdout failed: every later write answers with it.
    failed: Option<io::ErrorKind>,
}

/// Completes once every answer written has reached stdout, or stdout failed.
#[derive(Debug)]
pub struct Drained(JoinHandle<()>);

impl Drained {
    pub async fn wait(self) {
        let _ = self.0.await;
    }
}

impl Answers {
    /// Starts the drain task writing to `out`. Must be called within a Tokio runtime.
    pub fn new<W: AsyncWrite + Unpin + Send + 'static>(out: W) -> (Self, Drained) {
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(drain(shared.clone(), out));
        (Self { shared }, Drained(task))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared)
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

async fn drain<W: AsyncWrite + Unpin>(shared: Arc<Shared>, mut out: W) {
    let mut chunk = Vec::new();
    loop {
        let closed = {
            let mut state = lock(&shared);
            std::mem::swap(&mut chunk, &mut state.pending);
            state.closed
        };
        if chunk.is_empty() {
            if closed {
                let _ = out.shutdown().await;
                return;
            }
            shared.more.notified().await;
            continue;
        }
        if let Err(e) = out.write_all(&chunk).await {
            tracing::debug!(error = %e, "stdout failed");
            let mut state = lock(&shared);
            state.failed = Some(e.kind());
            state.pending = Vec::new();
            return;
        }
        chunk.clear();
        chunk.shrink_to(KEEP_CAPACITY);
    }
}

impl AsyncWrite for Answers {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.state();
        if let Some(kind) = state.failed {
            return Poll::Ready(Err(io::Error::new(kind, "stdout failed")));
        }
        if state.closed {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        }
        state.pending.extend_from_slice(buf);
        drop(state);
        self.shared.more.notify_one();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.state().failed {
            Some(kind) => Poll::Ready(Err(io::Error::new(kind, "stdout failed"))),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.state().closed = true;
        self.shared.more.notify_one();
        Poll::Ready(Ok(()))
    }
}

impl Drop for Answers {
    /// rmcp drops its writer when the session ends: what was written is still drained.
    fn drop(&mut self) {
        self.state().closed = true;
        self.shared.more.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn everything_written_arrives_in_order_then_the_end() {
        let (out, mut read) = tokio::io::duplex(64);
        let (mut answers, drained) = Answers::new(out);
        let mut expected = Vec::new();
        for i in 0..500 {
            let line = format!("{{\"id\":{i}}}\n");
            answers.write_all(line.as_bytes()).await.unwrap();
            answers.flush().await.unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        drop(answers);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            read.read_to_end(&mut got).await.unwrap();
            got
        });
        drained.wait().await;
        assert_eq!(reader.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_failed_stdout_fails_later_writes_and_drains() {
        let (out, read) = tokio::io::duplex(64);
        drop(read);
        let (mut answers, drained) = Answers::new(out);
        answers.write_all(b"lost\n").await.unwrap();
        drained.wait().await;
        assert!(answers.write_all(b"more\n").await.is_err());
    }
}
