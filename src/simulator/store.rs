//! The simulator's state: the batches, their newest-first order, and each batch's life as a
//! pure function of time.
//!
//! A batch stores only the facts fixed when something happened to it (when it was created, when
//! its requests started, how fast they finish, when a cancel was asked). Its status and counts
//! are computed from those facts and the clock on every access. That keeps the simulator free
//! of background tasks and timers, makes every answer reproducible from its inputs (the unit
//! tests below pass explicit times), and means thousands of idle batches cost nothing.
//!
//! What the counts say while a batch runs is the real API's way by default: every request under
//! `processing` until the batch ends. The store can instead report requests as they finish
//! (`live_counts`), which the real API does not do; see `SimConfig::live_counts`.
//!
//! The store is bounded (`SimLimits::max_batches`, `max_stored_bytes`): a create that would pass
//! a bound drops the oldest ended batches first, and is refused when none has ended.
//!
//! Times are [`Tick`]s: signed nanoseconds from the simulator's start on a monotonic clock, so a
//! change of the wall clock cannot make a batch go backwards, and seeded batches can have been
//! created "before" the simulator started (negative ticks).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::SimLimits;
use crate::api::types::{MessageBatch, ProcessingStatus, RequestCounts};

/// Nanoseconds since the simulator started; negative means before.
pub(crate) type Tick = i64;

/// One second in ticks.
pub(crate) const SECOND: Tick = 1_000_000_000;
/// A batch expires this long after it was created, like the real API's 24 hours.
pub(crate) const EXPIRY: Tick = 24 * 3600 * SECOND;
/// One request in this many errors (the 10th, 20th, ...); the others succeed. Deterministic, so
/// that tests and demos can predict the counts.
pub(crate) const ERROR_EVERY: u64 = 10;

/// `d` in ticks, saturating (a duration of centuries is simply "never").
pub(crate) fn ticks(d: Duration) -> Tick {
    Tick::try_from(d.as_nanos()).unwrap_or(Tick::MAX)
}

/// Whether the request at `index` (0-based, in processing order) errors rather than succeeds.
pub(crate) fn is_errored(index: u64) -> bool {
    (index + 1).is_multiple_of(ERROR_EVERY)
}

/// Maps ticks to wall-clock time for the RFC 3339 timestamps in answers.
#[derive(Debug)]
pub(crate) struct Clock {
    base: Instant,
    base_wall: SystemTime,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
            base_wall: SystemTime::now(),
        }
    }

    /// The current tick.
    pub(crate) fn now(&self) -> Tick {
        ticks(self.base.elapsed())
    }

    /// `t` as an RFC 3339 UTC timestamp with microseconds, the real API's format
    /// (`2024-08-20T18:37:24.100435Z`).
    pub(crate) fn rfc3339(&self, t: Tick) -> String {
        let offset = Duration::from_nanos(t.unsigned_abs());
        let wall = if t >= 0 {
            self.base_wall.checked_add(offset)
        } else {
            self.base_wall.checked_sub(offset)
        };
        // humantime panics before 1970 and fails after 9999; neither can come from a tick
        // (they span ±292 years from now), but clamp so that no input can make this panic.
        let max = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        let wall = wall.unwrap_or(self.base_wall).clamp(UNIX_EPOCH, max);
        humantime::format_rfc3339_micros(wall).to_string()
    }
}

/// What the simulator knows about one request of a batch created over HTTP. The model is shared
/// between the requests of a batch that name the same one.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeta {
    pub custom_id: Box<str>,
    pub model: Arc<str>,
    pub max_tokens: u64,
}

/// Bytes a batch holds besides its requests (ID, spec, map and list entries), for the budget.
const BATCH_OVERHEAD: usize = 256;

/// The facts that decide a batch's whole life.
#[derive(Debug, Clone)]
pub(crate) struct BatchSpec {
    /// When it was created (`created_at`; `expires_at` is 24 h later).
    pub created: Tick,
    /// When its first request started; request `i` finishes at `started + (i + 1) * pace`.
    pub started: Tick,
    /// Number of requests.
    pub total: u64,
    /// Ticks one request takes; 0 means all finish at `started`.
    pub pace: Tick,
    /// Ticks from a cancel to the batch ending.
    pub cancel_delay: Tick,
    /// When a cancel was asked, if it was.
    pub cancel_at: Option<Tick>,
    /// The requests as sent to the create endpoint; `None` for batches made without HTTP, whose
    /// results get generated `custom_id`s.
    pub requests: Option<Arc<[RequestMeta]>>,
}

impl BatchSpec {
    /// A batch created at `now` whose requests start at once.
    pub(crate) fn new(now: Tick, total: u64, pace: Duration, cancel_delay: Duration) -> Self {
        Self {
            created: now,
            started: now,
            total,
            pace: ticks(pace),
            cancel_delay: ticks(cancel_delay),
            cancel_at: None,
            requests: None,
        }
    }

    /// How many requests have finished by `t` (ignoring cancel and expiry).
    fn done_at(&self, t: Tick) -> u64 {
        if t < self.started {
            return 0;
        }
        if self.pace <= 0 {
            return self.total;
        }
        let elapsed = t.saturating_sub(self.started).unsigned_abs() / self.pace.unsigned_abs();
        elapsed.min(self.total)
    }

    /// When and why the batch ends: all requests done, the cancel taking effect, or expiry,
    /// whichever comes first (a tie goes to finishing, then to the cancel).
    fn end(&self) -> (Tick, EndReason) {
        let work = i128::from(self.total) * i128::from(self.pace);
        let finished = i128::from(self.started) + work;
        let finished = Tick::try_from(finished).unwrap_or(Tick::MAX);
        let mut end = (finished, EndReason::Finished);
        if let Some(cancel_at) = self.cancel_at {
            let effective = cancel_at.saturating_add(self.cancel_delay);
            if effective < end.0 {
                end = (effective, EndReason::Canceled);
            }
        }
        let expiry = self.created.saturating_add(EXPIRY);
        if expiry < end.0 {
            end = (expiry, EndReason::Expired);
        }
        end
    }

    /// Where the batch stands at `now`.
    fn state(&self, now: Tick) -> State {
        let (end, reason) = self.end();
        if now >= end {
            let done = match reason {
                EndReason::Finished => self.total,
                EndReason::Canceled | EndReason::Expired => self.done_at(end),
            };
            State {
                status: ProcessingStatus::Ended,
                done,
                ended: Some((end, reason)),
            }
        } else {
            let status = match self.cancel_at {
                Some(c) if c <= now => ProcessingStatus::Canceling,
                _ => ProcessingStatus::InProgress,
            };
            State {
                status,
                done: self.done_at(now),
                ended: None,
            }
        }
    }
}

/// Why a batch ended; decides what its unfinished requests count as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// Every request finished.
    Finished,
    /// A cancel took effect; unfinished requests are `canceled`.
    Canceled,
    /// 24 hours passed; unfinished requests are `expired`.
    Expired,
}

struct State {
    status: ProcessingStatus,
    /// Requests finished (succeeded or errored).
    done: u64,
    ended: Option<(Tick, EndReason)>,
}

impl State {
    /// The counts as the API reports them: until the batch ends, all under `processing` (the
    /// real API's way) unless `live`, when finished requests are counted as they finish.
    fn counts(&self, total: u64, live: bool) -> RequestCounts {
        if self.ended.is_none() && !live {
            return RequestCounts {
                processing: total,
                ..RequestCounts::default()
            };
        }
        let errored = self.done / ERROR_EVERY;
        let rest = total - self.done;
        let mut counts = RequestCounts {
            succeeded: self.done - errored,
            errored,
            ..RequestCounts::default()
        };
        match self.ended {
            None => counts.processing = rest,
            Some((_, EndReason::Finished)) => {}
            Some((_, EndReason::Canceled)) => counts.canceled = rest,
            Some((_, EndReason::Expired)) => counts.expired = rest,
        }
        counts
    }
}

/// A batch as seen at one instant, taken under the lock and turned into JSON outside it.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub id: Arc<str>,
    pub status: ProcessingStatus,
    pub counts: RequestCounts,
    pub created: Tick,
    pub cancel_initiated: Option<Tick>,
    pub ended: Option<Tick>,
}

impl Snapshot {
    /// The API object. `results_url` is `http://{host}{prefix}/messages/batches/{id}/results`,
    /// so that it points back at the simulator the way the caller reached it.
    pub(crate) fn to_batch(&self, clock: &Clock, host: &str, prefix: &str) -> MessageBatch {
        MessageBatch {
            id: self.id.to_string(),
            kind: "message_batch".to_owned(),
            processing_status: self.status.into(),
            request_counts: self.counts,
            created_at: clock.rfc3339(self.created),
            expires_at: clock.rfc3339(self.created.saturating_add(EXPIRY)),
            archived_at: None,
            cancel_initiated_at: self.cancel_initiated.map(|t| clock.rfc3339(t)),
            ended_at: self.ended.map(|t| clock.rfc3339(t)),
            results_url: self
                .ended
                .map(|_| format!("http://{host}{prefix}/messages/batches/{}/results", self.id)),
            extra: Default::default(),
            extra_dropped: 0,
        }
    }
}

/// What the results endpoint needs to write an ended batch's results, outside the lock.
#[derive(Debug, Clone)]
pub(crate) struct ResultsPlan {
    pub id: Arc<str>,
    pub total: u64,
    /// Requests `0..done` finished (succeeded or errored); the rest did not.
    pub done: u64,
    pub reason: EndReason,
    pub requests: Option<Arc<[RequestMeta]>>,
}

/// Why an operation on one batch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// No batch has this ID (or it was deleted).
    NotFound,
    /// The batch has ended: too late to cancel.
    AlreadyEnded,
    /// The batch has not ended: too early to delete or read results.
    StillProcessing,
    /// Holding one more batch would pass a limit, and no ended batch could be dropped to make
    /// room: every batch held is still processing.
    Full,
}

/// Where a page of the list starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cursor<'a> {
    /// The newest batches.
    First,
    /// The batches immediately after (older than) this one.
    After(&'a str),
    /// The batches immediately before (newer than) this one.
    Before(&'a str),
}

/// One page of the list, newest first.
#[derive(Debug)]
pub(crate) struct Page {
    pub data: Vec<Snapshot>,
    /// Whether more batches lie beyond this page in the direction of travel.
    pub has_more: bool,
}

/// Position in the list: newest first, and among batches created in the same tick, the one
/// inserted last first. Unique because `seq` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    created: Reverse<Tick>,
    seq: Reverse<u64>,
}

#[derive(Debug)]
struct Batch {
    id: Arc<str>,
    key: OrderKey,
    spec: BatchSpec,
    /// What it counts against `SimLimits::max_stored_bytes`.
    bytes: usize,
}

impl Batch {
    fn snapshot(&self, now: Tick, live: bool) -> Snapshot {
        let state = self.spec.state(now);
        Snapshot {
            id: Arc::clone(&self.id),
            status: state.status,
            counts: state.counts(self.spec.total, live),
            created: self.spec.created,
            cancel_initiated: self.spec.cancel_at.filter(|c| *c <= now),
            ended: state.ended.map(|(t, _)| t),
        }
    }
}

/// All batches, by ID and in list order.
#[derive(Debug)]
pub(crate) struct Store {
    batches: HashMap<Arc<str>, Batch>,
    order: BTreeMap<OrderKey, Arc<str>>,
    next_seq: u64,
    /// Report finished requests while a batch runs (`SimConfig::live_counts`).
    live: bool,
    max_batches: usize,
    max_bytes: usize,
    /// Sum of the batches' `bytes`.
    bytes: usize,
}

impl Default for Store {
    /// The real API's counting and the default limits.
    fn default() -> Self {
        Self::new(false, &SimLimits::default())
    }
}

impl Store {
    pub(crate) fn new(live_counts: bool, limits: &SimLimits) -> Self {
        Self {
            batches: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            live: live_counts,
            max_batches: limits.max_batches.max(1),
            max_bytes: limits.max_stored_bytes,
            bytes: 0,
        }
    }

    /// Number of batches held.
    pub(crate) fn len(&self) -> usize {
        self.batches.len()
    }

    /// Bytes of request metadata held, as counted against `max_stored_bytes`.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a batch created over HTTP under a fresh ID, within the limits: the oldest ended
    /// batches are dropped to make room; if that is not enough, nothing changes and the answer
    /// is [`StoreError::Full`]. `request_bytes` is what its requests take (see `validate`).
    pub(crate) fn create(
        &mut self,
        spec: BatchSpec,
        request_bytes: usize,
        now: Tick,
    ) -> Result<Snapshot, StoreError> {
        let bytes = request_bytes.saturating_add(BATCH_OVERHEAD);
        self.make_room(bytes, now)?;
        Ok(self.insert_sized(spec, None, bytes, now))
    }

    /// Adds a batch without checking the limits: for seeding and for tests that insert batches
    /// directly. Under `id`, or a fresh random ID when `id` is `None`; an existing batch with the
    /// same ID is replaced.
    pub(crate) fn insert(&mut self, spec: BatchSpec, id: Option<&str>, now: Tick) -> Snapshot {
        self.insert_sized(spec, id, BATCH_OVERHEAD, now)
    }

    fn insert_sized(
        &mut self,
        spec: BatchSpec,
        id: Option<&str>,
        bytes: usize,
        now: Tick,
    ) -> Snapshot {
        let id: Arc<str> = match id {
            Some(id) => {
                self.remove(id);
                Arc::from(id)
            }
            None => self.fresh_id(),
        };
        let key = OrderKey {
            created: Reverse(spec.created),
            seq: Reverse(self.next_seq),
        };
        self.next_seq += 1;
        let batch = Batch {
            id: Arc::clone(&id),
            key,
            spec,
            bytes,
        };
        let snapshot = batch.snapshot(now, self.live);
        self.order.insert(key, Arc::clone(&id));
        self.bytes = self.bytes.saturating_add(bytes);
        self.batches.insert(id, batch);
        snapshot
    }

    /// Drops the oldest ended batches until one more batch of `bytes` fits, or refuses (and
    /// drops nothing) when the ended ones are not enough.
    fn make_room(&mut self, bytes: usize, now: Tick) -> Result<(), StoreError> {
        if bytes > self.max_bytes {
            return Err(StoreError::Full);
        }
        let fits = |count: usize, held: usize| {
            count < self.max_batches && held.saturating_add(bytes) <= self.max_bytes
        };
        let (mut count, mut held) = (self.batches.len(), self.bytes);
        if fits(count, held) {
            return Ok(());
        }
        // Oldest first: the list order is newest first.
        let mut victims = Vec::new();
        for id in self.order.values().rev() {
            let Some(batch) = self.batches.get(id.as_ref()) else {
                continue;
            };
            if batch.spec.state(now).ended.is_none() {
                continue;
            }
            victims.push(Arc::clone(id));
            count -= 1;
            held = held.saturating_sub(batch.bytes);
            if fits(count, held) {
                break;
            }
        }
        if !fits(count, held) {
            return Err(StoreError::Full);
        }
        for id in victims {
            self.remove(&id);
        }
        Ok(())
    }

    /// `msgbatch_` and 24 random letters and digits, like every real ID seen so far.
    fn fresh_id(&self) -> Arc<str> {
        loop {
            let mut id = String::with_capacity(33);
            id.push_str("msgbatch_");
            id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(24));
            if !self.batches.contains_key(id.as_str()) {
                return Arc::from(id);
            }
        }
    }

    fn remove(&mut self, id: &str) -> Option<Batch> {
        let batch = self.batches.remove(id)?;
        self.order.remove(&batch.key);
        self.bytes = self.bytes.saturating_sub(batch.bytes);
        Some(batch)
    }

    /// The batch as it is at `now`.
    pub(crate) fn get(&self, id: &str, now: Tick) -> Option<Snapshot> {
        self.batches.get(id).map(|b| b.snapshot(now, self.live))
    }

    /// Asks for a cancel. An `in_progress` batch becomes `canceling`; a `canceling` one is
    /// returned as it is (asking twice changes nothing); an `ended` one is refused.
    pub(crate) fn cancel(&mut self, id: &str, now: Tick) -> Result<Snapshot, StoreError> {
        let batch = self.batches.get_mut(id).ok_or(StoreError::NotFound)?;
        match batch.spec.state(now).status {
            ProcessingStatus::Ended => return Err(StoreError::AlreadyEnded),
            ProcessingStatus::Canceling => {}
            ProcessingStatus::InProgress => batch.spec.cancel_at = Some(now),
        }
        Ok(batch.snapshot(now, self.live))
    }

    /// Deletes an ended batch; one still processing is refused (the real API wants it ended).
    pub(crate) fn delete(&mut self, id: &str, now: Tick) -> Result<Arc<str>, StoreError> {
        let batch = self.batches.get(id).ok_or(StoreError::NotFound)?;
        if batch.spec.state(now).ended.is_none() {
            return Err(StoreError::StillProcessing);
        }
        let batch = self.remove(id).ok_or(StoreError::NotFound)?;
        Ok(batch.id)
    }

    /// What is needed to write an ended batch's results.
    pub(crate) fn results(&self, id: &str, now: Tick) -> Result<ResultsPlan, StoreError> {
        let batch = self.batches.get(id).ok_or(StoreError::NotFound)?;
        let state = batch.spec.state(now);
        let (_, reason) = state.ended.ok_or(StoreError::StillProcessing)?;
        Ok(ResultsPlan {
            id: Arc::clone(&batch.id),
            total: batch.spec.total,
            done: state.done,
            reason,
            requests: batch.spec.requests.clone(),
        })
    }

    /// One page of at most `limit` batches, newest first.
    ///
    /// `After(x)` gives the `limit` batches immediately older than `x`; `Before(x)` the `limit`
    /// batches immediately newer than `x` (the ones closest to `x`), still newest first.
    /// `has_more` says whether more lie beyond the page in that direction. A cursor naming no
    /// batch is refused with `NotFound` (see the list handler for why).
    pub(crate) fn list(
        &self,
        now: Tick,
        limit: usize,
        cursor: Cursor<'_>,
    ) -> Result<Page, StoreError> {
        let key_of = |id: &str| {
            self.batches
                .get(id)
                .map(|b| b.key)
                .ok_or(StoreError::NotFound)
        };
        let (ids, has_more): (Vec<&Arc<str>>, bool) = match cursor {
            Cursor::First => take_page(self.order.values(), limit),
            Cursor::After(id) => {
                let range = (Bound::Excluded(key_of(id)?), Bound::Unbounded);
                take_page(self.order.range(range).map(|(_, v)| v), limit)
            }
            Cursor::Before(id) => {
                let key = key_of(id)?;
                let (mut ids, has_more) =
                    take_page(self.order.range(..key).rev().map(|(_, v)| v), limit);
                ids.reverse();
                (ids, has_more)
            }
        };
        let data = ids
            .into_iter()
            .filter_map(|id| self.batches.get(id.as_ref()))
            .map(|b| b.snapshot(now, self.live))
            .collect();
        Ok(Page { data, has_more })
    }
}

/// Up to `limit` items, and whether there was at least one more.
fn take_page<'a>(
    mut iter: impl Iterator<Item = &'a Arc<str>>,
    limit: usize,
) -> (Vec<&'a Arc<str>>, bool) {
    let page: Vec<_> = iter.by_ref().take(limit).collect();
    let has_more = iter.next().is_some();
    (page, has_more)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Tick = 1_000_000;

    /// 25 requests at 10 ms each, cancel taking 100 ms, created at 0.
    fn spec() -> BatchSpec {
        BatchSpec::new(0, 25, Duration::from_millis(10), Duration::from_millis(100))
    }

    /// A store that reports requests as they finish (so the timeline is visible), holding `spec`.
    fn one(spec: BatchSpec) -> (Store, Arc<str>) {
        let mut store = Store::new(true, &SimLimits::default());
        let id = store.insert(spec, None, 0).id;
        (store, id)
    }

    fn limited(max_batches: usize, max_stored_bytes: usize) -> Store {
        let limits = SimLimits {
            max_batches,
            max_stored_bytes,
            ..SimLimits::default()
        };
        Store::new(false, &limits)
    }

    #[test]
    fn by_default_counts_stay_under_processing_until_the_end_then_settle() {
        let mut store = Store::default();
        let id = store.insert(spec(), None, 0).id;
        for t in [0, 105 * MS, 240 * MS] {
            let s = store.get(&id, t).unwrap();
            assert_eq!(s.status, ProcessingStatus::InProgress);
            assert_eq!(s.counts.processing, 25, "at {t}: {:?}", s.counts);
            assert_eq!(s.counts.total(), Some(25));
        }
        let s = store.get(&id, 250 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Ended);
        assert_eq!((s.counts.processing, s.counts.succeeded), (0, 23));
        assert_eq!(s.counts.errored, 2);

        // Canceling: still all under processing; at the end, finished and canceled.
        let id = store.insert(spec(), None, 0).id;
        let s = store.cancel(&id, 50 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Canceling);
        assert_eq!(s.counts.processing, 25);
        let s = store.get(&id, 120 * MS).unwrap();
        assert_eq!(s.counts.processing, 25);
        let s = store.get(&id, 150 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Ended);
        assert_eq!((s.counts.processing, s.counts.canceled), (0, 10));
        assert_eq!(s.counts.succeeded + s.counts.errored, 15);
    }

    fn ended(store: &mut Store, created: Tick) -> Arc<str> {
        let spec = BatchSpec::new(created, 1, Duration::ZERO, Duration::ZERO);
        store.create(spec, 100, created).unwrap().id
    }

    fn running(store: &mut Store, created: Tick) -> Result<Snapshot, StoreError> {
        let spec = BatchSpec::new(created, 1, Duration::from_secs(3600), Duration::ZERO);
        store.create(spec, 100, created)
    }

    #[test]
    fn a_full_store_drops_its_oldest_ended_batches_first() {
        let mut store = limited(3, usize::MAX);
        let old_running = running(&mut store, 0).unwrap().id;
        let old_ended = ended(&mut store, 1);
        let newer_ended = ended(&mut store, 2);
        // A fourth: the oldest *ended* one goes, not the older one still running.
        let fourth = running(&mut store, 3).unwrap().id;
        assert_eq!(store.len(), 3);
        assert!(store.get(&old_ended, 3).is_none());
        for id in [&old_running, &newer_ended, &fourth] {
            assert!(store.get(id, 3).is_some());
        }
        let fifth = running(&mut store, 4).unwrap().id;
        assert!(store.get(&newer_ended, 4).is_none());
        // All three running now: nothing may be dropped, the create is refused.
        assert_eq!(running(&mut store, 5).err(), Some(StoreError::Full));
        assert_eq!(store.len(), 3);
        assert!(store.get(&fifth, 5).is_some());
    }

    #[test]
    fn the_byte_budget_is_kept_the_same_way() {
        let budget = 3 * (100 + BATCH_OVERHEAD);
        let mut store = limited(usize::MAX, budget);
        let first = ended(&mut store, 0);
        ended(&mut store, 1);
        running(&mut store, 2).unwrap();
        assert_eq!(store.bytes(), budget);
        running(&mut store, 3).unwrap();
        assert!(
            store.get(&first, 3).is_none(),
            "the oldest ended batch made room"
        );
        assert!(store.bytes() <= budget);
        // One batch bigger than the whole budget: refused, nothing dropped.
        let big = BatchSpec::new(4, 1, Duration::ZERO, Duration::ZERO);
        assert_eq!(store.create(big, budget, 4).err(), Some(StoreError::Full));
        assert_eq!(store.len(), 3);
        // Deleting gives the bytes back.
        let mut store = limited(10, budget);
        let id = ended(&mut store, 0);
        assert_eq!(store.bytes(), 100 + BATCH_OVERHEAD);
        store.delete(&id, 0).unwrap();
        assert_eq!(store.bytes(), 0);
    }

    #[test]
    fn requests_finish_at_the_pace_and_the_batch_ends() {
        let (store, id) = one(spec());
        let s = store.get(&id, 0).unwrap();
        assert_eq!(s.status, ProcessingStatus::InProgress);
        assert_eq!(s.counts.processing, 25);

        let s = store.get(&id, 105 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::InProgress);
        assert_eq!((s.counts.succeeded, s.counts.errored), (9, 1));
        assert_eq!(s.counts.total(), Some(25));
        assert_eq!(s.ended, None);

        let s = store.get(&id, 250 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Ended);
        assert_eq!(s.ended, Some(250 * MS));
        assert_eq!((s.counts.succeeded, s.counts.errored), (23, 2));
        assert_eq!(s.counts.processing + s.counts.canceled, 0);
    }

    #[test]
    fn cancel_keeps_finishing_requests_until_the_delay_then_cancels_the_rest() {
        let (mut store, id) = one(spec());
        let s = store.cancel(&id, 50 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Canceling);
        assert_eq!(s.cancel_initiated, Some(50 * MS));

        // Asking again changes nothing, not even the time of the first ask.
        let s = store.cancel(&id, 80 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Canceling);
        assert_eq!(s.cancel_initiated, Some(50 * MS));
        assert_eq!(s.counts.done(), Some(8));

        let s = store.get(&id, 150 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Ended);
        assert_eq!(s.ended, Some(150 * MS));
        assert_eq!(s.counts.succeeded + s.counts.errored, 15);
        assert_eq!(s.counts.canceled, 10);
        assert_eq!(s.counts.total(), Some(25));

        assert_eq!(
            store.cancel(&id, 151 * MS).err(),
            Some(StoreError::AlreadyEnded)
        );
    }

    #[test]
    fn a_cancel_shortly_before_the_end_cancels_nothing() {
        let (mut store, id) = one(spec());
        store.cancel(&id, 200 * MS).unwrap();
        let s = store.get(&id, 260 * MS).unwrap();
        assert_eq!(s.status, ProcessingStatus::Ended);
        assert_eq!(s.ended, Some(250 * MS));
        assert_eq!(s.counts.canceled, 0);
        assert_eq!(s.cancel_initiated, Some(200 * MS));
    }

    #[test]
    fn unfinished_requests_expire_after_24_hours() {
        let mut slow = spec();
        slow.pace = 3600 * SECOND;
        let (store, id) = one(slow);
        let s = store.get(&id, EXPIRY).unwrap();
        assert_eq!(s.status, ProcessingStatus::Ended);
        assert_eq!(s.counts.succeeded + s.counts.errored, 24);
        assert_eq!(s.counts.expired, 1);
        let plan = store.results(&id, EXPIRY).unwrap();
        assert_eq!((plan.done, plan.reason), (24, EndReason::Expired));
    }

    #[test]
    fn delete_and_results_wait_for_the_end() {
        let (mut store, id) = one(spec());
        assert_eq!(store.delete(&id, 0), Err(StoreError::StillProcessing));
        assert_eq!(
            store.results(&id, 0).err(),
            Some(StoreError::StillProcessing)
        );
        assert_eq!(store.results(&id, 250 * MS).unwrap().done, 25);
        assert_eq!(store.delete(&id, 250 * MS).unwrap(), id);
        assert!(store.get(&id, 250 * MS).is_none());
        assert_eq!(store.delete(&id, 250 * MS), Err(StoreError::NotFound));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn pages_walk_both_ways_without_gaps() {
        let mut store = Store::default();
        // Same creation tick for some, to check the tie-break by insertion order.
        let ids: Vec<Arc<str>> = (0..7)
            .map(|i| {
                store
                    .insert(
                        BatchSpec::new(i / 2, 1, Duration::ZERO, Duration::ZERO),
                        None,
                        0,
                    )
                    .id
            })
            .collect();
        let newest_first: Vec<Arc<str>> = ids.iter().rev().cloned().collect();
        let ids_of = |p: &Page| p.data.iter().map(|s| Arc::clone(&s.id)).collect::<Vec<_>>();

        let p1 = store.list(0, 3, Cursor::First).unwrap();
        assert_eq!(ids_of(&p1), newest_first[0..3]);
        assert!(p1.has_more);
        let p2 = store.list(0, 3, Cursor::After(&newest_first[2])).unwrap();
        assert_eq!(ids_of(&p2), newest_first[3..6]);
        assert!(p2.has_more);
        let p3 = store.list(0, 3, Cursor::After(&newest_first[5])).unwrap();
        assert_eq!(ids_of(&p3), newest_first[6..7]);
        assert!(!p3.has_more);

        let b = store.list(0, 3, Cursor::Before(&newest_first[6])).unwrap();
        assert_eq!(ids_of(&b), newest_first[3..6]);
        assert!(b.has_more);
        let b = store.list(0, 3, Cursor::Before(&newest_first[3])).unwrap();
        assert_eq!(ids_of(&b), newest_first[0..3]);
        assert!(!b.has_more);
        let b = store.list(0, 3, Cursor::Before(&newest_first[1])).unwrap();
        assert_eq!(ids_of(&b), newest_first[0..1]);
        assert!(!b.has_more);

        assert_eq!(
            store.list(0, 3, Cursor::After("msgbatch_nope")).err(),
            Some(StoreError::NotFound)
        );
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds() {
        let clock = Clock::new();
        let t = clock.rfc3339(-EXPIRY);
        assert_eq!(t.len(), "2024-08-20T18:37:24.100435Z".len(), "{t}");
        assert!(t.ends_with('Z'));
        // Out-of-range ticks clamp instead of panicking.
        let _ = clock.rfc3339(Tick::MAX);
        let _ = clock.rfc3339(Tick::MIN);
    }
}
