//! The count of calls waiting for an upstream request slot, and a waker for whoever paces input.
//!
//! The API client ([`crate::api`]) counts each call while it waits for one of its request
//! permits; a transport that can pause its input (stdio: [`crate::transport::backpressure`]) reads
//! the count and is woken when it drops below [`MAX_QUEUED`]. It lives here, below both, so that
//! the client does not import anything from a transport.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

/// Calls that may wait for an HTTP slot before stdin is paused: enough that a free slot
/// always finds a call ready, few enough that the waiting calls stay small in memory (each
/// holds about 9 KiB: rmcp's task and our handler's future).
pub const MAX_QUEUED: usize = 32;

/// The count of calls waiting for an HTTP slot, shared by the client and the stdin reader.
#[derive(Debug, Clone, Default)]
pub struct Backlog {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queued: AtomicUsize,
    /// The reader's task, to wake when the backlog drops below the limit.
    reader: Mutex<Option<Waker>>,
}

impl Backlog {
    /// Counts one call as waiting until the returned guard is dropped.
    pub fn enter(&self) -> Queued {
        self.inner.queued.fetch_add(1, Ordering::Relaxed);
        Queued {
            inner: self.inner.clone(),
        }
    }

    /// Calls waiting now.
    pub fn queued(&self) -> usize {
        self.inner.queued.load(Ordering::Relaxed)
    }

    /// Whether the reader should pause; if so, `cx` is woken when it may go on.
    pub fn is_full(&self, cx: &Context<'_>) -> bool {
        if self.queued() < MAX_QUEUED {
            return false;
        }
        let mut reader = self.inner.reader.lock().unwrap_or_else(|e| e.into_inner());
        *reader = Some(cx.waker().clone());
        // A guard may have been dropped between the check and the registration.
        self.queued() >= MAX_QUEUED
    }
}

/// One call counted in a [`Backlog`].
#[derive(Debug)]
pub struct Queued {
    inner: Arc<Shared>,
}

impl Drop for Queued {
    fn drop(&mut self) {
        let before = self.inner.queued.fetch_sub(1, Ordering::Relaxed);
        if before == MAX_QUEUED {
            let waker = self
                .inner
                .reader
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}
