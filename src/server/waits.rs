//! A bound on the calls waiting for a batch to end (`wait_seconds`), shared by every session.
//!
//! A call that waits holds its task, its future and a timer for up to ten minutes, while stdin
//! is read on (the stdin backlog counts only calls waiting for an HTTP slot, not calls sleeping
//! between polls): 20,000 cancels with `wait_seconds: 600` sent in one write grew the server to
//! 297 MB and on. So at most [`MAX_WAITING`] calls wait at once; past that a cancel is still
//! sent, and answered at once with where the batch is, saying that it did not wait. Answering
//! (rather than pausing reading) works the same for every transport and never holds back calls
//! that do not wait. Clones of a [`Waits`] share one bound: the server is cloned per session,
//! so one bound serves the whole process.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Calls that may wait for `ended` at once: far more than one person's agent follows, few
/// enough that their memory stays small (each is a few KiB).
pub const MAX_WAITING: usize = 256;

/// The slots for waiting calls.
#[derive(Debug, Clone)]
pub struct Waits {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl Default for Waits {
    fn default() -> Self {
        Self::new(MAX_WAITING)
    }
}

impl Waits {
    /// At most `limit` calls waiting at once.
    pub fn new(limit: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// A slot to wait in, held until dropped; `None` when all are taken.
    pub fn try_begin(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What a call that could not wait says, before the batch's own note.
    pub fn busy_note(&self) -> String {
        format!(
            "This call did not wait for `ended` (wait_seconds was not honoured): {} other calls \
             are already waiting, the most this server follows at once. The cancel itself was \
             sent; call get_message_batch later to see when the batch has ended.",
            self.limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_shared_by_clones_and_given_back() {
        let waits = Waits::new(2);
        let other = waits.clone();
        let a = waits.try_begin().unwrap();
        let _b = other.try_begin().unwrap();
        assert!(waits.try_begin().is_none());
        assert!(other.try_begin().is_none());
        drop(a);
        assert!(other.try_begin().is_some());
        assert!(waits.busy_note().contains("2 other calls"));
    }
}
