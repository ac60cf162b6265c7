//! A task's ID: its whole state, sealed ([`crate::server::sealed`], [`Purpose::Task`]).
//!
//! Signed, not encrypted: it holds batch IDs and times, nothing secret. A client can neither
//! forge one nor change the batches or the deadline in it. Its expiry is checked twice: by the
//! codec, and against `expires_ms` here (which makes a lifetime of 0 expire at once, where the
//! codec's millisecond clock would race).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::server::bulk_report::OutcomeKind;
use crate::server::sealed::{Purpose, SealError, Sealer};

/// What is being followed, and how to answer at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    /// `cancel_message_batch`: one batch; `refused` when the API refused the cancel because one
    /// was already under way (the answer says so).
    Single { refused: bool },
    /// `cancel_message_batches`: `given` IDs as passed (repeats included).
    Bulk { given: u32 },
}

/// One ID of the call and how its cancel went; `reason` for the ones that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub outcome: OutcomeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A task's state: everything `tasks/get` needs, on any instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    pub report: Report,
    pub entries: Vec<Entry>,
    /// The `wait_seconds` asked for.
    pub wait_seconds: u32,
    pub created_ms: u64,
    /// Following stops here; the answer is then the last state, as a wait that ran out.
    pub deadline_ms: u64,
    /// The ID opens until here.
    pub expires_ms: u64,
    /// What the answer adds at the end of its note, as the waiting call's answer does (how the
    /// cancel was confirmed, or that no confirmation was possible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a task ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "this task ID has expired (task IDs last the wait plus an hour); call \
         get_message_batch to see where the batch is now"
    )]
    Expired,
    #[error(
        "this task ID is not one this server issued: {0}. Call get_message_batch to see where \
         the batch is"
    )]
    Invalid(SealError),
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `ms` as an RFC 3339 UTC time.
pub fn rfc3339(ms: u64) -> String {
    let max = 253_402_300_799_000;
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms.min(max))).to_string()
}

impl TaskState {
    pub fn new(report: Report, entries: Vec<Entry>, wait_seconds: u32, ttl_secs: u64) -> Self {
        let created_ms = now_ms();
        Self {
            report,
            entries,
            wait_seconds,
            created_ms,
            deadline_ms: created_ms + u64::from(wait_seconds) * 1000,
            expires_ms: created_ms + ttl_secs.saturating_mul(1000),
            note: None,
        }
    }

    /// The lifetime the task advertises (`ttlMs`).
    pub fn ttl_ms(&self) -> u64 {
        self.expires_ms.saturating_sub(self.created_ms)
    }

    /// The task ID.
    pub fn seal(&self, sealer: &Sealer) -> Result<String, SealError> {
        // The codec's own expiry a second past ours, so that ours is the one that speaks.
        let ttl = Duration::from_millis(self.ttl_ms() + 1000);
        sealer.seal(Purpose::Task, b"", self, ttl)
    }

    /// The state in `task_id`, if this server sealed it and it has not expired.
    pub fn open(sealer: &Sealer, task_id: &str) -> Result<Self, TokenError> {
        let state: Self = match sealer.open(Purpose::Task, b"", task_id) {
            Ok(s) => s,
            Err(SealError::Expired) => return Err(TokenError::Expired),
            Err(e) => return Err(TokenError::Invalid(e)),
        };
        if now_ms() >= state.expires_ms {
            return Err(TokenError::Expired);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::from_setting(Some(&crate::secret::StateKeys::new(
            "0123456789abcdef0123456789abcdef-task",
        )))
        .unwrap()
    }

    fn state(ttl: u64) -> TaskState {
        TaskState::new(
            Report::Single { refused: false },
            vec![Entry {
                id: "msgbatch_a".into(),
                outcome: OutcomeKind::Canceling,
                reason: None,
            }],
            30,
            ttl,
        )
    }

    #[test]
    fn a_task_id_opens_on_any_sealer_with_the_key_and_only_unchanged() {
        let s = state(3630);
        let id = s.seal(&sealer()).unwrap();
        assert_eq!(TaskState::open(&sealer(), &id).unwrap(), s);
        assert_eq!(s.deadline_ms - s.created_ms, 30_000);
        let mut bytes = id.clone().into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            TaskState::open(&sealer(), &changed),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(
            TaskState::open(&Sealer::ephemeral(), &id),
            Err(TokenError::Invalid(_))
        ));
        // A confirmation's token is not a task ID, even with the same key.
        let confirm = sealer()
            .seal(Purpose::Confirm, b"", &s, Duration::from_secs(60))
            .unwrap();
        assert!(TaskState::open(&sealer(), &confirm).is_err());
    }

    #[test]
    fn a_lifetime_of_zero_is_expired_at_once() {
        let id = state(0).seal(&sealer()).unwrap();
        assert_eq!(TaskState::open(&sealer(), &id), Err(TokenError::Expired));
        assert!(rfc3339(0).starts_with("1970-01-01T00:00:00"));
    }
}
