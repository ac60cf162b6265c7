//! Following a cancel through to `ended`.
//!
//! After the cancel, the batch is polled (first after 1 s, then backing off to at most 10 s
//! between polls, never past the deadline) until it has ended or `wait_seconds` ran out. Each
//! poll is reported as `notifications/progress` when the client asked for progress.
//!
//! Progress is the time waited, out of `wait_seconds`, not the requests settled: the real API
//! counts every request as `processing` until the whole batch ends, so a count would read 0, 0,
//! 0, then jump to the end, and the MCP spec says progress MUST increase with each notification.
//! Time always moves; the message carries the status and the counts, as the API gives them.
//! The caller stops the whole wait at once when the client
//! cancels the call: this future is simply dropped, and with it any request in flight.

use std::time::{Duration, Instant};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};

use crate::api::{ApiError, BatchId, BatchesClient, MessageBatch};
use crate::server::report::counts_pending;

/// Longest a call is held waiting for `ended` by default: below the 60 s after which claude.ai
/// connectors, Claude Desktop and nginx's default `proxy_read_timeout` cut a call.
pub const DEFAULT_HOLD_SECS: u32 = 50;

const FIRST_POLL: Duration = Duration::from_secs(1);
const MAX_POLL_GAP: Duration = Duration::from_secs(10);

/// Where progress goes, if the client asked for it.
pub struct Progress {
    pub peer: Peer<RoleServer>,
    pub token: ProgressToken,
}

impl Progress {
    /// Sends one notification (see [`Clock`] for the numbers).
    async fn report(&self, (progress, total): (f64, f64), batch: &MessageBatch) {
        let param = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_total(total)
            .with_message(message(batch));
        // A client that went away cannot be told anything; the wait itself goes on.
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not sent");
        }
    }
}

/// "canceling: 100 requests, counted when the batch ends", or, once the API gives counts,
/// "ended: 40 succeeded, 5 errored, 55 canceled, 0 expired, 0 processing". Starts with the
/// status, as the API spelled it.
pub fn message(batch: &MessageBatch) -> String {
    let c = &batch.request_counts;
    if let Some(total) = c.total().filter(|_| counts_pending(batch)) {
        format!(
            "{}: {total} requests, counted when the batch ends",
            batch.processing_status,
        )
    } else {
        format!(
            "{}: {} succeeded, {} errored, {} canceled, {} expired, {} processing",
            batch.processing_status, c.succeeded, c.errored, c.canceled, c.expired, c.processing
        )
    }
}

/// Progress as seconds waited out of `wait_seconds`, strictly increasing from one notification
/// to the next (the MCP spec's rule), whatever the clock's resolution.
pub struct Clock {
    started: Instant,
    total: f64,
    last: Option<f64>,
}

impl Clock {
    pub fn new(started: Instant, wait: Duration) -> Self {
        Self {
            started,
            total: wait.as_secs_f64(),
            last: None,
        }
    }

    /// The next (progress, total): the seconds waited at `now`, in milliseconds, nudged past
    /// the last value sent if the clock has not moved, and never past `total` but at the end.
    pub fn tick(&mut self, now: Instant) -> (f64, f64) {
        let waited = (now.saturating_duration_since(self.started).as_millis() as f64) / 1000.0;
        let mut progress = waited.min(self.total);
        if let Some(last) = self.last
            && progress <= last
        {
            progress = last + 0.001;
        }
        self.last = Some(progress);
        (progress, self.total.max(progress))
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
    let started = Instant::now();
    let deadline = started + wait;
    let mut clock = Clock::new(started, wait);
    let mut gap = FIRST_POLL;
    if let Some(p) = progress {
        p.report(clock.tick(Instant::now()), &batch).await;
    }
    while !batch.processing_status.is_ended() {
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
            p.report(clock.tick(Instant::now()), &batch).await;
        }
        gap = (gap * 2).min(MAX_POLL_GAP);
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_time_waited_and_strictly_increases() {
        let start = Instant::now();
        let mut clock = Clock::new(start, Duration::from_secs(15));
        let (p0, total) = clock.tick(start);
        assert_eq!((p0, total), (0.0, 15.0));
        // The same instant again still moves forward.
        let (p1, _) = clock.tick(start);
        assert!(p1 > p0, "{p1} > {p0}");
        let (p2, total) = clock.tick(start + Duration::from_millis(3_250));
        assert_eq!((p2, total), (3.25, 15.0));
        // Past the deadline: at most the total, and still increasing.
        let (p3, total) = clock.tick(start + Duration::from_secs(20));
        assert_eq!((p3, total), (15.0, 15.0));
        let (p4, total) = clock.tick(start + Duration::from_secs(20));
        assert!(p4 > p3 && total >= p4, "{p4} {total}");
    }
}
