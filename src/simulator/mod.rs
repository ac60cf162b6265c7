//! An in-memory, stateful simulator of the Anthropic Message Batches API.
//!
//! It exists so that everything this crate does can be tried, demonstrated and tested without
//! a network or a real key: `msgbatch-mcp mock` serves it on a port, the demo and the tests
//! start it in-process with [`start`], and the throughput benchmark uses it as its upstream.
//!
//! It answers the same routes under two prefixes, so both ways of pointing a client at it work:
//! - [`SANDBOX_PREFIX`], the sandbox mock's layout and this crate's default base URL;
//! - [`V1_PREFIX`], what the official SDKs send when their base URL is `http://127.0.0.1:8080`.
//!
//! A batch's life is computed from the clock each time it is looked at (see `store.rs`); there
//! are no background tasks, so an idle simulator costs nothing and every answer is a pure
//! function of what was asked and when.
//!
//! By default it reports what the real API documents, so that a client tested here is not
//! surprised there: a batch's requests stay under `processing` until the whole batch ends, then
//! settle into succeeded, errored, canceled and expired; results come in no promised order; the
//! key may come as `x-api-key` or `Authorization: Bearer`. Counts that move while a batch runs
//! are an explicit option ([`SimConfig::live_counts`], `mock --live-counts`), for demos.
//!
//! Any local process can reach it, so everything it holds is bounded ([`SimLimits`]): stored
//! batches and their bytes, body sizes (checked while reading), connections, and how long a
//! connection may sit idle or take to send its headers; results are streamed, never rendered
//! whole.
//!
//! Where it stands on questions the real API's documentation leaves open (cancel of an ended
//! batch, unknown list cursors, ...), the choice is written down next to the code that makes it.

mod conn;
mod results;
mod routes;
mod seed;
mod store;
mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::api::types::MessageBatch;
use store::{BatchSpec, Clock, Store};

pub use seed::{SEEDED_CANCELABLE_ID, SEEDED_ENDED_ID, SEEDED_IDS};

/// The sandbox mock's path prefix (Microcks serves each API at `/rest/{name}/{version}`).
pub const SANDBOX_PREFIX: &str = "/rest/anthropic-message-batches-api/1.0.0";
/// The real API's path prefix, which the official SDKs append to their base URL.
pub const V1_PREFIX: &str = "/v1";

/// Command-line options of `msgbatch-mcp mock`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Milliseconds one request of a batch takes to finish (requests finish one after another).
    #[arg(long = "request-ms", default_value_t = 150)]
    pub request_ms: u64,

    /// Milliseconds from a cancel to the batch being `ended`.
    #[arg(long = "cancel-delay-ms", default_value_t = 2000)]
    pub cancel_delay_ms: u64,

    /// Start empty, without the example batches.
    #[arg(long = "no-seed")]
    pub no_seed: bool,

    /// Report finished requests as succeeded/errored while a batch runs. The real API does not:
    /// it keeps every request under `processing` until the whole batch ends. For demos only.
    #[arg(long = "live-counts")]
    pub live_counts: bool,

    /// Most batches held; past it, the oldest ended batches are dropped to make room (a create
    /// is refused with 429 when none has ended).
    #[arg(long = "max-batches", default_value_t = SimLimits::default().max_batches)]
    pub max_batches: usize,

    /// Connections served at once; more wait in the kernel's queue until one closes.
    #[arg(long = "max-connections", env = "MSGBATCH_MOCK_MAX_CONNECTIONS",
          default_value_t = SimLimits::default().max_connections as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Seconds a connection has to send a request's headers, and may sit idle between
    /// requests.
    #[arg(long = "header-timeout-secs", env = "MSGBATCH_MOCK_HEADER_TIMEOUT_SECS",
          default_value_t = SimLimits::default().header_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
}

/// How the simulator behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Time for one request of a batch to finish; a batch of `n` requests takes `n` times this.
    pub request_time: Duration,
    /// Time from a cancel to the batch being `ended` (requests keep finishing meanwhile).
    pub cancel_delay: Duration,
    /// Whether to start with the example batches of [`SEEDED_IDS`].
    pub seed: bool,
    /// Report finished requests as `succeeded`/`errored` while the batch runs. Off by default,
    /// as in the real API, whose counts stay under `processing` until the batch ends (the
    /// official SDKs document it); on for a demo that wants to show counts moving, which must
    /// then say that the real API does not do this.
    pub live_counts: bool,
    /// What the simulator will hold and accept; see [`SimLimits`].
    pub limits: SimLimits,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            request_time: Duration::from_millis(150),
            cancel_delay: Duration::from_millis(2000),
            seed: true,
            live_counts: false,
            limits: SimLimits::default(),
        }
    }
}

impl From<&SimArgs> for SimConfig {
    fn from(args: &SimArgs) -> Self {
        Self {
            request_time: Duration::from_millis(args.request_ms),
            cancel_delay: Duration::from_millis(args.cancel_delay_ms),
            seed: !args.no_seed,
            live_counts: args.live_counts,
            limits: SimLimits {
                max_batches: args.max_batches.max(1),
                max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
                header_read_timeout: Duration::from_secs(args.header_timeout_secs),
                ..SimLimits::default()
            },
        }
    }
}

/// Bounds on what any local process can make the simulator hold. Every one answers in the real
/// API's error shape when reached (or closes the connection, for the connection limits), so a
/// client sees a clear refusal rather than a simulator that grows until the machine gives out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLimits {
    /// Most batches held. Past it, the oldest ended batches are dropped first; when none has
    /// ended, a create is refused with 429 `rate_limit_error`.
    pub max_batches: usize,
    /// Most bytes of request metadata (custom IDs, models) held over all batches, with the same
    /// policy as `max_batches`.
    pub max_stored_bytes: usize,
    /// Largest create body, checked against `Content-Length` before reading and while reading
    /// (chunked bodies): past it, 413 `request_too_large`. The real API allows 256 MB; a
    /// simulator may refuse earlier, in the same shape.
    pub max_body_bytes: usize,
    /// Most requests in one batch: 100,000, the real API's documented limit.
    pub max_requests: usize,
    /// Most connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time a connection has to send a request's headers (also how long a kept-alive
    /// connection may sit between requests).
    pub header_read_timeout: Duration,
    /// Time a connection may go without moving a byte either way (a body that never comes,
    /// a download nobody reads) before it is closed.
    pub idle_timeout: Duration,
}

impl Default for SimLimits {
    fn default() -> Self {
        Self {
            max_batches: 10_000,
            max_stored_bytes: 64 * 1024 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
            max_requests: 100_000,
            // 300 idle connections, reopened as they closed, starved other clients at 256 and
            // 10 s: a simulator serves a few SDK clients, each with a small pool.
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The kinds of request the simulator answers, for [`RequestStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    Create = 0,
    List = 1,
    Retrieve = 2,
    Cancel = 3,
    Results = 4,
    Delete = 5,
}

/// How many HTTP requests the simulator has received.
///
/// `total` counts every request, whatever became of it (refused for a missing key, unknown
/// route, ...): it is what end-to-end tests compare to prove that nothing was sent. The
/// per-route counts only count requests that got past the header checks to their handler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    pub total: u64,
    pub create: u64,
    pub list: u64,
    pub retrieve: u64,
    pub cancel: u64,
    pub results: u64,
    pub delete: u64,
}

/// Lock-free counters behind [`RequestStats`]: bumped on every request, so no lock is taken.
#[derive(Debug, Default)]
struct Counters {
    total: AtomicU64,
    by_route: [AtomicU64; 6],
}

/// Create bodies read at once (see `Inner::create_permits`).
const CONCURRENT_CREATE_BODIES: usize = 4;

/// The simulator's shared state. Cloning is cheap (one `Arc`); every clone sees the same batches.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    clock: Clock,
    /// One short critical section per request; never held across an `await`.
    store: Mutex<Store>,
    counters: Counters,
    /// Connections being served now (for tests of the connection limits).
    open_connections: AtomicUsize,
    /// Create bodies being read at once: each may hold up to `max_body_bytes`, so this bounds
    /// the memory a flood of creates can take.
    create_permits: Semaphore,
    /// Where it is being served, once known: used for `results_url` when no request says.
    local_addr: OnceLock<SocketAddr>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("config", &self.inner.config)
            .field("local_addr", &self.inner.local_addr.get())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A simulator with the example batches installed unless `config.seed` is false.
    pub fn new(config: SimConfig) -> Self {
        let clock = Clock::new();
        let mut store = Store::new(config.live_counts, &config.limits);
        if config.seed {
            seed::install(&mut store, &config, clock.now());
        }
        Self {
            inner: Arc::new(Inner {
                config,
                clock,
                store: Mutex::new(store),
                counters: Counters::default(),
                open_connections: AtomicUsize::new(0),
                create_permits: Semaphore::new(CONCURRENT_CREATE_BODIES),
                local_addr: OnceLock::new(),
            }),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// Adds an `in_progress` batch of `n_requests` requests, as if created just now, without an
    /// HTTP request (and without counting one, or checking the limits on stored batches). Its requests finish at the configured pace and
    /// get generated `custom_id`s (`request-00001`, ...).
    pub fn insert_batch(&self, n_requests: u64) -> MessageBatch {
        self.insert(n_requests, self.inner.config.request_time)
    }

    /// Adds a batch of `n_requests` requests that has already `ended` (every 10th errored, the
    /// rest succeeded), for tests that need a batch it is too late to cancel.
    pub fn insert_ended_batch(&self, n_requests: u64) -> MessageBatch {
        self.insert(n_requests, Duration::ZERO)
    }

    fn insert(&self, n_requests: u64, request_time: Duration) -> MessageBatch {
        let now = self.inner.clock.now();
        let spec = BatchSpec::new(
            now,
            n_requests,
            request_time,
            self.inner.config.cancel_delay,
        );
        let snapshot = self.lock().insert(spec, None, now);
        snapshot.to_batch(&self.inner.clock, &self.default_host(), SANDBOX_PREFIX)
    }

    /// The batch as the API would return it now, or `None` if there is no such batch.
    pub fn batch(&self, id: &str) -> Option<MessageBatch> {
        let now = self.inner.clock.now();
        let snapshot = self.lock().get(id, now)?;
        Some(snapshot.to_batch(&self.inner.clock, &self.default_host(), SANDBOX_PREFIX))
    }

    /// Number of batches held (deleted ones excluded).
    pub fn batch_count(&self) -> usize {
        self.lock().len()
    }

    /// Connections open to it right now (0 when it is not served over TCP).
    pub fn open_connections(&self) -> usize {
        self.inner.open_connections.load(Ordering::Relaxed)
    }

    /// How many HTTP requests it has received so far.
    pub fn stats(&self) -> RequestStats {
        let c = &self.inner.counters;
        let get = |k: RouteKind| c.by_route[k as usize].load(Ordering::Relaxed);
        RequestStats {
            total: c.total.load(Ordering::Relaxed),
            create: get(RouteKind::Create),
            list: get(RouteKind::List),
            retrieve: get(RouteKind::Retrieve),
            cancel: get(RouteKind::Cancel),
            results: get(RouteKind::Results),
            delete: get(RouteKind::Delete),
        }
    }

    /// Total HTTP requests received so far (shorthand for `stats().total`).
    pub fn requests_received(&self) -> u64 {
        self.inner.counters.total.load(Ordering::Relaxed)
    }

    /// The store, even if a thread panicked while holding it: every mutation is a single
    /// insert or remove, so the data behind a poisoned lock is still consistent.
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn count_request(&self) {
        self.inner.counters.total.fetch_add(1, Ordering::Relaxed);
    }

    fn count_route(&self, kind: RouteKind) {
        self.inner.counters.by_route[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Host for the `results_url` of batches returned outside an HTTP request (which then use
    /// the sandbox prefix, this crate's default base URL).
    fn default_host(&self) -> String {
        match self.inner.local_addr.get() {
            Some(addr) => addr.to_string(),
            None => "localhost".to_owned(),
        }
    }
}

/// The HTTP routes of the simulator over `sim`'s state.
pub fn router(sim: Simulator) -> axum::Router {
    routes::router(sim)
}

/// Serves a new simulator on `listener` until `shutdown` completes, then lets requests in flight
/// finish (graceful shutdown).
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_simulator(listener, Simulator::new(config), shutdown).await
}

async fn serve_simulator(
    listener: TcpListener,
    sim: Simulator,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let _ = sim.inner.local_addr.set(addr);
    tracing::info!(
        "Message Batches API simulator listening: base URL http://{addr}{SANDBOX_PREFIX} \
         (or http://{addr}{V1_PREFIX}; official SDKs: http://{addr})"
    );
    conn::serve(listener, sim, shutdown).await
}

/// Binds `addr` (port 0 picks a free port) and serves a new simulator on the current Tokio
/// runtime until the returned handle is shut down or dropped.
pub async fn start(addr: SocketAddr, config: SimConfig) -> std::io::Result<RunningSimulator> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sim = Simulator::new(config);
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        // A dropped sender means the handle is gone: shut down then too.
        let _ = rx.await;
    };
    let task = tokio::spawn(serve_simulator(listener, sim.clone(), shutdown));
    Ok(RunningSimulator {
        addr,
        sim,
        stop: Some(tx),
        task: Some(task),
    })
}

/// A simulator served in-process by [`start`]. Dropping it stops the server too.
#[derive(Debug)]
pub struct RunningSimulator {
    addr: SocketAddr,
    sim: Simulator,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// How long [`RunningSimulator::shutdown`] waits for open requests before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl RunningSimulator {
    /// The bound address (with the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL in the sandbox layout: `http://{addr}/rest/anthropic-message-batches-api/1.0.0`.
    pub fn base_url(&self) -> String {
        format!("http://{}{SANDBOX_PREFIX}", self.addr)
    }

    /// The base URL in the real API's layout: `http://{addr}/v1`.
    pub fn v1_base_url(&self) -> String {
        format!("http://{}{V1_PREFIX}", self.addr)
    }

    /// The shared state: insert batches, read the request counters.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Stops accepting connections, lets requests in flight finish (for at most a few seconds)
    /// and waits for the server to stop.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => {
                // A client holding a request open must not keep the caller waiting forever.
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The task finishes on its own once open connections close; it is not awaited here
        // because `drop` cannot wait.
    }
}
