//! Following a cancel through to `ended`.
//!
//! After the cancel, the batch is polled (first after 1 s, then backing off to at most 10 s
//! between polls, never past the deadline) until it has ended or `wait_seconds` ran out. Each
//! poll is reported as `notifications/progress` when the client asked for progress, so a person
//! watching sees requests settle. The caller stops the whole wait at once when the client
//! cancels the call: this future is simply dropped, and with it any request in flight.

use std::time::{Duration, Instant};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};

use crate::api::{ApiError, BatchId, BatchesClient, MessageBatch, ProcessingStatus};

const FIRST_POLL: Duration = Duration::from_secs(1);
const MAX_POLL_GAP: Duration = Duration::from_secs(10);

/// Where progress goes, if the client asked for it.
pub struct Progress {
    pub peer: Peer<RoleServer>,
    pub token: ProgressToken,
}

impl Progress {
    /// Progress is the number of requests no longer processing, out of all requests.
    async fn report(&self, batch: &MessageBatch) {
        let c = &batch.request_counts;
        let param = ProgressNotificationParam::new(self.token.clone(), c.done() as f64)
            .with_total(c.total() as f64)
            .with_message(format!(
                "{}: {} of {} requests settled",
                batch.processing_status,
                c.done(),
                c.total()
            ));
        // A client that went away cannot be told anything; the wait itself goes on.
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not sent");
        }
    }
}

/// Polls `id` until it is `ended` or `wait` has passed, starting from `batch` (the cancel's
/// answer). Answers the last batch seen; an API error ends the wait with that error, except a
/// timeout caused by the deadline itself, which just ends the wait.
pub async fn until_ended(
    client: &BatchesClient,
    id: &BatchId,
    mut batch: MessageBatch,
    wait: Duration,
    progress: Option<&Progress>,
) -> Result<MessageBatch, ApiError> {
    let deadline = Instant::now() + wait;
    let mut gap = FIRST_POLL;
    if let Some(p) = progress {
        p.report(&batch).await;
    }
    while batch.processing_status != ProcessingStatus::Ended {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(gap.min(left)).await;
        if Instant::now() >= deadline {
            break;
        }
        match client.retrieve_before(id, Some(deadline)).await {
            Ok(b) => batch = b,
            Err(ApiError::Timeout { .. }) if Instant::now() >= deadline => break,
            Err(e) => return Err(e),
        }
        if let Some(p) = progress {
            p.report(&batch).await;
        }
        gap = (gap * 2).min(MAX_POLL_GAP);
    }
    Ok(batch)
}
