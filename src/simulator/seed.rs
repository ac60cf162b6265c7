//! The example batches a fresh simulator holds, so that a first run has something to list,
//! follow and cancel without creating anything.
//!
//! Their creation times are staggered (seconds to a day ago) so that newest-first order is
//! visible in a list. The IDs are fixed so that documentation and demos can name them:
//!
//! | ID | state at start | requests |
//! |---|---|---|
//! | [`SEEDED_CANCELABLE_ID`] | `in_progress` for ~25 min at the default pace: the one to cancel | 10,000 |
//! | `msgbatch_01KcV5nRt3yLp8wQe2zXb7Hj` | `in_progress` for ~7 min | 3,000 |
//! | `msgbatch_01JbT8dP4sWq2mYx7vKc9LhN` | `in_progress`, ends on its own ~12 s after start | 600 |
//! | [`SEEDED_ENDED_ID`] | `ended` after a cancel: succeeded, errored and canceled results | 250 |
//! | `msgbatch_01FmW7aKx2bR9uEe4sYhTz6Q` | `ended` normally a day ago: succeeded and errored | 100 |
//!
//! `msgbatch_013Zva2CMHLNnXjNJJKqJ2EF` is the ID of the API's documentation and of the sandbox
//! spec's examples, so what a person reads there works here. It holds the most requests a batch
//! may have so that, at the default 150 ms a request, it stays cancelable long enough for a
//! first-time user to find it; once canceled it ends after the configured cancel delay. The
//! in-progress batches follow the configured pace; the ended ones have fixed histories, so their
//! counts are the same whatever the configuration.

use std::time::Duration;

use super::SimConfig;
use super::store::{BatchSpec, SECOND, Store, Tick, ticks};

/// The in-progress example batch to cancel (the ID used throughout Anthropic's documentation).
pub const SEEDED_CANCELABLE_ID: &str = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";
/// An example batch that has already ended (after a cancel), with mixed results.
pub const SEEDED_ENDED_ID: &str = "msgbatch_01Hq3ZrNw6cXfV2pYt8sLkMd";
/// Every seeded ID, newest first (the order of the list).
pub const SEEDED_IDS: [&str; 5] = [
    SEEDED_CANCELABLE_ID,
    "msgbatch_01KcV5nRt3yLp8wQe2zXb7Hj",
    "msgbatch_01JbT8dP4sWq2mYx7vKc9LhN",
    SEEDED_ENDED_ID,
    "msgbatch_01FmW7aKx2bR9uEe4sYhTz6Q",
];

const MINUTE: Tick = 60 * SECOND;
const HOUR: Tick = 60 * MINUTE;

/// Adds the example batches to `store`, as seen at `now`.
pub(crate) fn install(store: &mut Store, config: &SimConfig, now: Tick) {
    let pace = ticks(config.request_time);
    let delay = ticks(config.cancel_delay);

    // In progress at the configured pace, with `done` requests already finished at start.
    let running = |id: &'static str, age: Tick, total: u64, done: i64| {
        let spec = BatchSpec {
            created: now - age,
            started: now.saturating_sub(done.saturating_mul(pace)).max(now - age),
            total,
            pace,
            cancel_delay: delay,
            cancel_at: None,
            requests: None,
        };
        (id, spec)
    };

    let seeds = [
        running(SEEDED_IDS[0], 90 * SECOND, 10_000, 40),
        running(SEEDED_IDS[1], 4 * MINUTE, 3_000, 300),
        running(SEEDED_IDS[2], 12 * MINUTE, 600, 520),
        // Canceled 2 minutes in; the cancel took 5 s: 125 finished (12 errored), 125 canceled.
        (
            SEEDED_ENDED_ID,
            BatchSpec {
                created: now - 3 * HOUR,
                started: now - 3 * HOUR,
                total: 250,
                pace: SECOND,
                cancel_delay: 5 * SECOND,
                cancel_at: Some(now - 3 * HOUR + 2 * MINUTE),
                requests: None,
            },
        ),
        // Ran to the end in 200 s: 90 succeeded, 10 errored.
        (
            SEEDED_IDS[4],
            BatchSpec::new(
                now - 26 * HOUR,
                100,
                Duration::from_secs(2),
                Duration::from_secs(5),
            ),
        ),
    ];
    // Oldest first, so that insertion order agrees with creation order.
    for (id, spec) in seeds.into_iter().rev() {
        store.insert(spec, Some(id), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::ProcessingStatus;
    use crate::simulator::store::Cursor;

    #[test]
    fn seeds_are_listed_newest_first_in_the_documented_states() {
        // Counting as requests finish, to see where each seeded batch stands.
        let mut store = Store::new(true, &SimConfig::default().limits);
        install(&mut store, &SimConfig::default(), 0);
        let page = store.list(0, 20, Cursor::First).unwrap();
        let ids: Vec<&str> = page.data.iter().map(|s| &*s.id).collect();
        assert_eq!(ids, SEEDED_IDS);
        for id in SEEDED_IDS {
            assert_eq!(id.len(), "msgbatch_".len() + 24, "{id}");
        }
        let status: Vec<_> = page.data.iter().map(|s| s.status).collect();
        use ProcessingStatus::*;
        assert_eq!(status, [InProgress, InProgress, InProgress, Ended, Ended]);

        let c = page.data[0].counts;
        assert_eq!((c.done(), c.processing), (Some(40), 9_960));
        let c = page.data[3].counts;
        assert_eq!((c.succeeded, c.errored, c.canceled), (113, 12, 125));
        let c = page.data[4].counts;
        assert_eq!((c.succeeded, c.errored, c.canceled), (90, 10, 0));

        // Ten minutes later at 150 ms a request, the batch to cancel is still running.
        let later = store.get(SEEDED_CANCELABLE_ID, 10 * MINUTE).unwrap();
        assert_eq!(later.status, InProgress);

        // Counted the real API's way (the default), a running batch shows only `processing`.
        let mut real = Store::default();
        install(&mut real, &SimConfig::default(), 0);
        let c = real.get(SEEDED_CANCELABLE_ID, 0).unwrap().counts;
        assert_eq!((c.processing, c.done()), (10_000, Some(0)));
    }
}
