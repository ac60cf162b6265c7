//! The threads that serve connections: one single-threaded runtime per worker, each
//! connection served start to end on one of them.
//!
//! Why not tokio's multi-thread runtime: a `tools/call` hands work between tasks several times
//! (hyper's connection, rmcp's per-request service and the handler it spawns, the upstream
//! client's connection task), and on a multi-thread runtime each hand-off may wake another
//! worker: ~2.2 `futex` calls per call, and twice the CPU per call of one thread at one
//! connection (323-329 µs against 169 µs, `cargo bench --bench http`, docs/performance.md).
//! Here a connection's tasks, and the upstream connections its calls use (each worker has its
//! own upstream client), all live on one thread: hand-offs are a push on that thread's queue.
//!
//! The accepting runtime (the caller's) is worker 0 and serves its share too. A connection
//! goes to the worker with the fewest open connections, so a few long-lived agents' connections
//! spread over every core; the one cross-thread hand-off is the accepted socket, once per
//! connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The workers: their runtimes' handles and how many connections each has open.
pub struct Workers {
    handles: Vec<Handle>,
    open: Arc<[AtomicUsize]>,
    threads: Vec<JoinHandle<()>>,
    done: CancellationToken,
}

/// A connection's place on a worker, released (its count decremented) when dropped.
pub struct Seat {
    open: Arc<[AtomicUsize]>,
    worker: usize,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.open[self.worker].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Workers {
    /// `count` workers (at least one): the current runtime and `count - 1` threads, each
    /// running a runtime of its own until [`Workers::stop`].
    pub fn start(count: usize) -> std::io::Result<Self> {
        let count = count.max(1);
        let done = CancellationToken::new();
        let mut handles = vec![Handle::current()];
        let mut threads = Vec::with_capacity(count - 1);
        for n in 1..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let until = done.clone();
            let thread = std::thread::Builder::new()
                .name(format!("http-worker-{n}"))
                .spawn(move || runtime.block_on(until.cancelled()));
            match thread {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    // The ones started so far end with this value's drop.
                    let started = Self {
                        handles,
                        open: Arc::from([]),
                        threads,
                        done,
                    };
                    drop(started);
                    return Err(e);
                }
            }
        }
        let open = (0..count).map(|_| AtomicUsize::new(0)).collect();
        Ok(Self {
            handles,
            open,
            threads,
            done,
        })
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// The worker with the fewest open connections (the first of them on a tie, so one
    /// connection stays on the accepting runtime), and its seat for a new connection.
    pub fn seat(&self) -> (usize, &Handle, Seat) {
        let worker = self
            .open
            .iter()
            .enumerate()
            .min_by_key(|(_, n)| n.load(Ordering::Relaxed))
            .map_or(0, |(i, _)| i);
        self.open[worker].fetch_add(1, Ordering::Relaxed);
        let seat = Seat {
            open: Arc::clone(&self.open),
            worker,
        };
        (worker, &self.handles[worker], seat)
    }

    /// Ends the worker threads (their connections must have ended) and waits for them.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.done.cancel();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections spread to the least-loaded worker, the accepting one first, and a seat
    /// given back makes room there again.
    #[tokio::test]
    async fn connections_go_to_the_least_loaded_worker() {
        let workers = Workers::start(3).unwrap();
        assert_eq!(workers.len(), 3);
        let (a, _, seat_a) = workers.seat();
        let (b, _, _seat_b) = workers.seat();
        let (c, _, _seat_c) = workers.seat();
        assert_eq!((a, b, c), (0, 1, 2));
        drop(seat_a);
        let (d, _, _seat_d) = workers.seat();
        assert_eq!(d, 0, "the freed worker is the least loaded");
        workers.stop();
    }

    /// A task spawned on another worker runs on that worker's own thread.
    #[tokio::test]
    async fn a_worker_runs_on_its_own_thread() {
        let workers = Workers::start(2).unwrap();
        let here = std::thread::current().id();
        let _first = workers.seat();
        let (n, handle, _seat) = workers.seat();
        assert_eq!(n, 1);
        let there = handle
            .spawn(async { std::thread::current().id() })
            .await
            .unwrap();
        assert_ne!(here, there);
        workers.stop();
    }
}
