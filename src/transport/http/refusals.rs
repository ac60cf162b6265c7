//! Refused requests in the log: each at debug, and at info one summary line a minute at most.
//!
//! A request with a wrong token was one info line: 44,000 of them a second wrote 6.2 MB/s to
//! stderr, a flood that fills disks and buries everything else. The operator needs to know
//! that requests are being refused and how many, not each one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shortest time between two summary lines.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// Requests refused for want of a valid token since the last summary, and when the next
/// summary may be written (`None`: at the next refusal).
static UNAUTHORIZED: AtomicU64 = AtomicU64::new(0);
static NEXT_SUMMARY: Mutex<Option<Instant>> = Mutex::new(None);

/// Notes one request refused with 401.
pub fn unauthorized(token_sent: bool) {
    tracing::debug!(
        token_sent,
        "refused a request without a valid bearer token (401)"
    );
    UNAUTHORIZED.fetch_add(1, Ordering::Relaxed);
    // Whoever holds the lock writes the summary; the others only count.
    let Ok(mut next) = NEXT_SUMMARY.try_lock() else {
        return;
    };
    let now = Instant::now();
    if next.is_some_and(|at| now < at) {
        return;
    }
    *next = Some(now + SUMMARY_EVERY);
    let refused = UNAUTHORIZED.swap(0, Ordering::Relaxed);
    tracing::info!(
        refused,
        "refused {refused} request(s) without a valid bearer token (401) since the last such \
         line; at most one such line a minute (RUST_LOG=debug shows each)"
    );
}
