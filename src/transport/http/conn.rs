//! How `serve --http` holds its connections before any request is authenticated: a bounded
//! number, each with a small read buffer, and a short time to send a request's head.
//!
//! A second review sent 1,000 connections each with an unfinished ~400 KiB head (never the blank
//! line): nothing checks a token before the head is complete, hyper's read buffer grows to
//! ~400 KiB a connection, and the server reached 558 MiB (1,900 connections: 930 MiB). So:
//! - at most [`max_connections`] connections at once, below the file-descriptor limit (past it
//!   new ones wait in the kernel's listen backlog, costing nothing, and the upstream client
//!   still has descriptors for its own connections); the soft `RLIMIT_NOFILE` is raised to the
//!   hard one at start ([`raise_fd_limit`]), so that `ulimit -n 1024` is not the cap by mistake;
//! - hyper's buffer at most [`MAX_BUF`]: requests here are small, and a head that does not fit
//!   is answered 431;
//! - [`HeadTimed`]: once a request's first byte arrives, its head must be complete within the
//!   read timeout, much shorter than the idle timeout a kept-alive connection may sit silent
//!   between requests (hyper has one timer for both).
//!
//! [`Peer`] travels with each request, for the per-client share of call slots
//! ([`super::limits`]).

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// hyper's read buffer per connection (its minimum is 8 KiB). A request head must fit in it.
pub const MAX_BUF: usize = 16 * 1024;
/// Most connections by default, whatever the descriptor limit allows.
pub const MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept for everything but client connections: the upstream client's
/// connections, the listener, stdio, logs.
const RESERVED_FDS: u64 = 256;

/// The peer a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(pub IpAddr);

/// Raises the soft limit on open files to the hard one; returns the soft limit now in force
/// (`None` where it cannot be read).
#[cfg(unix)]
pub fn raise_fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given; RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above; asking for the hard limit as the soft one is always allowed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    // rlim_t is u64 on Linux, not on every unix.
    #[allow(clippy::unnecessary_cast)]
    Some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<u64> {
    None
}

/// The connection cap: `asked` (or [`MAX_CONNECTIONS`]), never closer to the descriptor limit
/// `fds` than [`RESERVED_FDS`], and at least 16.
pub fn max_connections(asked: Option<usize>, fds: Option<u64>) -> usize {
    let room = fds.map_or(usize::MAX, |n| {
        usize::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX)
    });
    asked.unwrap_or(MAX_CONNECTIONS).min(room).max(16)
}

/// What a connection's reader and its service share: how many heads were received, and whether
/// a request is being answered.
#[derive(Debug, Default)]
pub struct HeadState {
    heads: AtomicU64,
    busy: AtomicBool,
}

impl HeadState {
    /// A head was received: the service has been called.
    pub fn begin(&self) {
        self.heads.fetch_add(1, Ordering::SeqCst);
        self.busy.store(true, Ordering::SeqCst);
    }

    /// The answer's head went out: what comes next is a new request.
    pub fn end(&self) {
        self.busy.store(false, Ordering::SeqCst);
    }
}

/// A connection whose request heads must arrive within `limit` of their first byte.
pub struct HeadTimed<IO> {
    io: IO,
    state: Arc<HeadState>,
    limit: Duration,
    /// Armed when a new request's first bytes arrived: (deadline, heads seen then).
    deadline: Option<(Pin<Box<Sleep>>, u64)>,
}

impl<IO> HeadTimed<IO> {
    pub fn new(io: IO, state: Arc<HeadState>, limit: Duration) -> Self {
        Self {
            io,
            state,
            limit,
            deadline: None,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for HeadTimed<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some((sleep, heads)) = &mut this.deadline {
            if this.state.heads.load(Ordering::SeqCst) != *heads {
                // The head arrived in time.
                this.deadline = None;
            } else if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "a request head did not arrive in time",
                )));
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if buf.filled().len() > before
            && this.deadline.is_none()
            && !this.state.busy.load(Ordering::SeqCst)
            // A head that came whole in the read that began it is in time: no timer. This is
            // nearly every request, and a timer per request costs an entry in the timer wheel
            // and, being the earliest, a wake-up of the runtime's driver (an `eventfd` write).
            && !holds_whole_head(&buf.filled()[before..])
        {
            let mut sleep = Box::pin(tokio::time::sleep(this.limit));
            // Registers the waker, so that a head that stops coming is noticed.
            let _ = sleep.as_mut().poll(cx);
            this.deadline = Some((sleep, this.state.heads.load(Ordering::SeqCst)));
        }
        Poll::Ready(Ok(()))
    }
}

/// Whether `bytes`, the start of a request, hold its whole head (up to the blank line).
fn holds_whole_head(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n")
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeadTimed<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(max_connections(None, None), MAX_CONNECTIONS);
        assert_eq!(max_connections(None, Some(1024)), 768);
        assert_eq!(max_connections(Some(100), Some(1024)), 100);
        assert_eq!(max_connections(Some(5000), Some(1024)), 768);
        assert_eq!(max_connections(None, Some(1 << 20)), MAX_CONNECTIONS);
        assert_eq!(max_connections(Some(1), Some(100)), 16);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
        let soft = raise_fd_limit().expect("readable");
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_fd_limit.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        #[allow(clippy::unnecessary_cast)]
        let now = limit.rlim_cur as u64;
        assert_eq!(soft, now);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
