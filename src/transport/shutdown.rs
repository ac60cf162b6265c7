//! Stopping promptly: on stdin EOF, SIGTERM or SIGINT the server exits within a second.
//!
//! MCP clients stop a stdio server by closing its stdin, then SIGTERM, then SIGKILL. rmcp
//! notices EOF itself, but then waits up to 5 s for handlers still running (a `wait_seconds`
//! poll can run for minutes). So we watch for EOF on our side of the transport too, and cancel
//! one process-wide token that every tool call selects on: in-flight work is cut short, its
//! answer is written (or dropped), and the serve loop ends at once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

/// A reader that cancels `token` when it reaches end of file (or fails).
#[derive(Debug)]
pub struct EofSignal<R> {
    inner: R,
    token: CancellationToken,
}

impl<R> EofSignal<R> {
    pub fn new(inner: R, token: CancellationToken) -> Self {
        Self { inner, token }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for EofSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                tracing::debug!("stdin closed");
                self.token.cancel();
            }
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "stdin failed");
                self.token.cancel();
            }
            _ => {}
        }
        polled
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C), or never if the handlers cannot be installed.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn cancels_on_eof_only() {
        let token = CancellationToken::new();
        let mut r = EofSignal::new(&b"abc"[..], token.clone());
        let mut buf = [0u8; 2];
        assert_eq!(r.read(&mut buf).await.unwrap(), 2);
        assert!(!token.is_cancelled());
        assert_eq!(r.read(&mut buf).await.unwrap(), 1);
        assert!(!token.is_cancelled());
        assert_eq!(r.read(&mut buf).await.unwrap(), 0);
        assert!(token.is_cancelled());
    }
}
