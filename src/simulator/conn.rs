//! How the simulator serves connections: a bounded number at once, each closed when it takes
//! too long to send its headers or stops moving bytes.
//!
//! `axum::serve` has neither knob, and the simulator is reachable by any local process (it is
//! what people point SDK tests at): twenty thousand half-open connections used to take every file
//! descriptor, and a download nobody read was held forever. So connections are served here with
//! hyper directly:
//! - at most [`SimLimits::max_connections`] at once; past it, new ones wait in the kernel's listen
//!   backlog (they cost the process nothing) until one closes;
//! - hyper's header-read timeout ([`SimLimits::header_read_timeout`]), which also bounds how long
//!   a kept-alive connection sits between requests;
//! - [`IdleIo`]: a connection that moves no byte either way for [`SimLimits::idle_timeout`] (a
//!   body that never arrives, a download that is never read) is closed.
//!
//! Every connection task lives in one [`JoinSet`] owned by the serving future, so stopping the
//! simulator (or dropping that future) ends them all.
//!
//! [`SimLimits::max_connections`]: super::SimLimits::max_connections
//! [`SimLimits::header_read_timeout`]: super::SimLimits::header_read_timeout
//! [`SimLimits::idle_timeout`]: super::SimLimits::idle_timeout

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

use super::Simulator;

/// Pause after a failed `accept` (out of file descriptors, most likely) before trying again,
/// so that the loop does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `sim` on `listener` until `shutdown` completes; then stops accepting, lets requests in
/// flight finish (kept-alive idle connections close at once) and returns.
pub(super) async fn serve(
    listener: TcpListener,
    sim: Simulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = sim.config().limits.clone();
    let app = super::router(sim.clone());
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        // Reap finished connection tasks so the set does not grow with every connection served.
        while connections.try_join_next().is_some() {}

        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("simulator: accept failed ({e}); retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        // Small request/answer pairs on kept-alive connections: do not let Nagle delay them.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::trace!("could not set TCP_NODELAY: {e}");
        }
        let io = TokioIo::new(IdleIo::new(stream, limits.idle_timeout));
        let service = TowerToHyperService::new(app.clone());
        let header_timeout = limits.header_read_timeout;
        let mut closing = closing_rx.clone();
        let sim = sim.clone();
        connections.spawn(async move {
            let _slot = slot;
            let _open = OpenConnection::new(&sim);
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                // Only ever sent once, with `true` (or the sender is dropped: stop as well).
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts and clients that hang up land here: routine, not worth a warning.
                tracing::debug!("simulator connection closed: {e}");
            }
        });
    }

    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Counts a connection in [`Simulator::open_connections`] for as long as it lives.
struct OpenConnection(Simulator);

impl OpenConnection {
    fn new(sim: &Simulator) -> Self {
        sim.inner.open_connections.fetch_add(1, Ordering::Relaxed);
        Self(sim.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0
            .inner
            .open_connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that fails with `TimedOut` once no byte has moved either way for `timeout`
/// while hyper waits on it. One deadline for both directions: a client that sends slowly but
/// steadily, or reads a long download steadily, is never cut off.
struct IdleIo {
    inner: TcpStream,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl IdleIo {
    fn new(inner: TcpStream, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn moved(&mut self) {
        let next = Instant::now() + self.timeout;
        self.deadline.as_mut().reset(next);
    }

    /// Called when the stream is not ready: an error if the deadline has passed.
    fn check_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        ready!(self.deadline.as_mut().poll(cx));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "no data moved on the connection for too long",
        ))
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    this.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.check_idle(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.check_idle(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Pending => this.check_idle(cx).map(Err),
            ready => ready,
        }
    }
}
