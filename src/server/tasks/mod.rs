//! Stateless tasks (SEP-2663, `io.modelcontextprotocol/tasks`): a cancel with `wait_seconds`,
//! from a client that declared the extension, answers a task at once instead of holding the
//! call open while the batch goes from `canceling` to `ended`.
//!
//! Nothing about a task is kept here. Its ID is a sealed token ([`token`]) naming the batches
//! being followed, how each cancel went, the deadline and the kind of report; the truth about
//! the batches is at the API. So `tasks/get`, on any instance with the same
//! `MSGBATCH_REQUEST_STATE_KEY`, opens the ID, retrieves the batches ([`poll`]) and answers
//! `working` (with status and counts) or `completed` with the very result the waiting call
//! gives. `tasks/cancel` stops the following, never the batch (a cancel cannot be undone):
//! the instance that got it remembers it (a bounded set, [`Cancelled`]) and answers
//! `cancelled` from then on; another instance, not told, still answers from the API.

pub mod poll;
pub mod token;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use sha2::{Digest, Sha256};

/// Extra lifetime of a task ID past its deadline: time enough for a client that polls late,
/// or was away, to collect the result.
pub const RESULT_KEPT_SECS: u64 = 3600;
/// Tasks cancelled on this instance that it remembers (each one is 32 bytes).
const MAX_REMEMBERED: usize = 4096;

/// Whether the call's client declared the tasks extension (rmcp refuses a task answer to one
/// that did not).
pub fn declared(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .is_some_and(|caps| caps.supports_tasks())
}

/// The tasks settings and what this instance remembers, shared by every clone of the server.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    /// A task ID's whole lifetime, when set (`MSGBATCH_TASK_TTL_SECS`, for tests); otherwise
    /// its wait plus [`RESULT_KEPT_SECS`].
    pub ttl_secs: Option<u64>,
    cancelled: Arc<Mutex<Cancelled>>,
}

impl Tasks {
    pub fn new(ttl_secs: Option<u64>) -> Self {
        Self {
            ttl_secs,
            ..Self::default()
        }
    }

    /// The lifetime of a task that waits `wait_seconds`.
    pub fn ttl_secs_for(&self, wait_seconds: u32) -> u64 {
        self.ttl_secs
            .unwrap_or(u64::from(wait_seconds) + RESULT_KEPT_SECS)
    }

    /// Remembers that `task_id` was cancelled here.
    pub fn cancel(&self, task_id: &str) {
        if let Ok(mut c) = self.cancelled.lock() {
            c.insert(digest(task_id));
        }
    }

    /// Whether `task_id` was cancelled here.
    pub fn is_cancelled(&self, task_id: &str) -> bool {
        self.cancelled
            .lock()
            .is_ok_and(|c| c.contains(&digest(task_id)))
    }
}

/// A bounded, oldest-first set of task ID digests.
#[derive(Debug, Default)]
struct Cancelled {
    order: VecDeque<[u8; 32]>,
}

impl Cancelled {
    fn insert(&mut self, d: [u8; 32]) {
        if self.order.contains(&d) {
            return;
        }
        if self.order.len() >= MAX_REMEMBERED {
            self.order.pop_front();
        }
        self.order.push_back(d);
    }

    fn contains(&self, d: &[u8; 32]) -> bool {
        self.order.contains(d)
    }
}

fn digest(task_id: &str) -> [u8; 32] {
    Sha256::digest(task_id.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_tasks_are_remembered_within_a_bound() {
        let t = Tasks::default();
        t.cancel("a");
        assert!(t.is_cancelled("a") && !t.is_cancelled("b"));
        let other = t.clone();
        assert!(other.is_cancelled("a"), "clones share what they remember");
        for i in 0..MAX_REMEMBERED {
            t.cancel(&i.to_string());
        }
        assert!(!t.is_cancelled("a"), "the oldest goes first");
        assert_eq!(t.ttl_secs_for(30), 30 + RESULT_KEPT_SECS);
        assert_eq!(Tasks::new(Some(0)).ttl_secs_for(30), 0);
    }
}
