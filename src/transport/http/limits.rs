//! A cap on calls in flight: beyond it, 503 with `retry-after` at once, rather than a queue.
//!
//! Each call in flight holds rmcp's per-request service, our handler's future and, for a call
//! that streams progress, an SSE response: a few KiB each. Without a cap, a burst of thousands
//! of requests holds thousands of them, and memory grows with the burst. With it, memory is
//! bounded by the cap, and a client told "busy, retry in a second" can back off; a load balancer
//! can send it elsewhere. The permit is held until the response body ends, so a long
//! `wait_seconds` stream counts for as long as it lasts.
//!
//! One client must not be able to hold them all: 96 `wait_seconds: 600` calls, or (when the slot
//! was taken before the body) 96 heads whose bodies never came, gave everyone else 503 for as
//! long as it liked. So a call takes its slot only once its body is in (this layer runs inside
//! [`super::body`]); calls that wait (`wait_seconds` > 0, marked [`Waits`] by the body check)
//! may hold at most [`share`] of the slots; and one client (one peer address: behind a proxy,
//! all of them, which is why it is a setting) at most `--max-per-client`, by default the same
//! share, so that the rest always has a quarter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::Peer;

/// Calls served at once by default. The upstream client sends at most
/// [`MAX_IN_FLIGHT`](crate::api::client::MAX_IN_FLIGHT) requests at a time anyway; the rest
/// wait their turn, up to this many. Each call in flight holds about 22 KiB (rmcp's service
/// for the request, its channels, the upstream request): with 96, two workers answering a
/// burst of 1,000 connections peaked at 30.9 MiB, against 32.6 with 128 and 29.8 with 64
/// (`cargo bench --bench http`), and 64 agents calling at once never see a 503.
pub const MAX_IN_FLIGHT: u32 = 96;
/// What `retry-after` says, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// The part of `max` slots that waiting calls, or one client, may hold: three quarters, at
/// least one.
pub fn share(max: u32) -> u32 {
    (max / 4 * 3).max(max.min(1))
}

/// A call that waits (`wait_seconds` > 0), as the body check found it.
#[derive(Debug, Clone, Copy)]
pub struct Waits;

/// The permits: one per call in flight, per waiting call, and per client.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Slots>);

#[derive(Debug)]
struct Slots {
    all: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    per_client: u32,
    clients: Mutex<HashMap<IpAddr, u32>>,
}

impl InFlight {
    /// `max` calls at once, of which at most `per_client` from one peer (default [`share`]).
    pub fn new(max: u32, per_client: Option<u32>) -> Self {
        Self(Arc::new(Slots {
            all: Arc::new(Semaphore::new(max as usize)),
            waiting: Arc::new(Semaphore::new(share(max) as usize)),
            per_client: per_client.unwrap_or_else(|| share(max)).max(1),
            clients: Mutex::new(HashMap::new()),
        }))
    }

    /// One of `peer`'s share, if it has one left.
    fn client_slot(&self, peer: IpAddr) -> Option<ClientSlot> {
        let mut clients = self.0.clients.lock().unwrap_or_else(|e| e.into_inner());
        let held = clients.entry(peer).or_insert(0);
        if *held >= self.0.per_client {
            return None;
        }
        *held += 1;
        Some(ClientSlot {
            slots: Arc::clone(&self.0),
            peer,
        })
    }
}

/// One of a client's share of slots, given back when dropped.
struct ClientSlot {
    slots: Arc<Slots>,
    peer: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.slots.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = clients.get_mut(&self.peer) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                clients.remove(&self.peer);
            }
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    Full,
    Waiting,
    Client,
}

/// The middleware: serves the request with a permit, or answers 503 when none is left.
pub async fn cap(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    let client = match request.extensions().get::<Peer>() {
        Some(Peer(ip)) => match in_flight.client_slot(*ip) {
            Some(slot) => Some(slot),
            None => return busy(Busy::Client),
        },
        None => None,
    };
    let waiting = if request.extensions().get::<Waits>().is_some() {
        match in_flight.0.waiting.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => return busy(Busy::Waiting),
        }
    } else {
        None
    };
    let Ok(permit) = in_flight.0.all.clone().try_acquire_owned() else {
        return busy(Busy::Full);
    };
    let (parts, body) = next.run(request).await.into_parts();
    Response::from_parts(
        parts,
        Body::new(Held {
            body,
            _permits: (permit, waiting, client),
        }),
    )
}

fn busy(why: Busy) -> Response {
    tracing::debug!(?why, "no call slot: 503");
    let text = match why {
        Busy::Full => {
            "Service Unavailable: msgbatch-mcp is serving as many calls as it takes at once. \
             Retry after a second."
        }
        Busy::Waiting => {
            "Service Unavailable: as many calls that wait (wait_seconds) are running as this \
             server takes at once. Retry after a second, or call without wait_seconds and follow \
             the batch with get_message_batch."
        }
        Busy::Client => {
            "Service Unavailable: this client has as many calls in flight as one client may \
             have, so that others can be served too. Retry after a second, when one has ended."
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        text,
    )
        .into_response()
}

/// A response body that holds a call's permit until it ends (or is dropped: client gone).
struct Held {
    body: Body,
    _permits: (
        OwnedSemaphorePermit,
        Option<OwnedSemaphorePermit>,
        Option<ClientSlot>,
    ),
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn full_answers_503_with_retry_after_and_a_finished_body_frees_its_slot() {
        let in_flight = InFlight::new(1, None);
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route_layer(axum::middleware::from_fn_with_state(in_flight.clone(), cap));
        let req = || Request::builder().uri("/").body(Body::empty()).unwrap();
        // Hold the only slot with a response whose body has not been read.
        let held = app.clone().oneshot(req()).await.unwrap();
        let refused = app.clone().oneshot(req()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        // Reading the body to its end frees the slot.
        let body = axum::body::to_bytes(held.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"ok");
        let again = app.oneshot(req()).await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
    }

    /// One peer gets its share and no more; another is still served; waiting calls get a
    /// share of their own.
    #[tokio::test]
    async fn one_client_or_waiting_calls_cannot_take_every_slot() {
        let in_flight = InFlight::new(4, None);
        assert_eq!(share(4), 3);
        assert_eq!(share(96), 72);
        assert_eq!(share(1), 1);
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route_layer(axum::middleware::from_fn_with_state(in_flight.clone(), cap));
        let from = |ip: [u8; 4], waits: bool| {
            let mut r = Request::builder().uri("/").body(Body::empty()).unwrap();
            r.extensions_mut().insert(Peer(IpAddr::from(ip)));
            if waits {
                r.extensions_mut().insert(Waits);
            }
            r
        };
        let mut held = Vec::new();
        for _ in 0..3 {
            let r = app
                .clone()
                .oneshot(from([10, 0, 0, 1], false))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            held.push(r);
        }
        let refused = app
            .clone()
            .oneshot(from([10, 0, 0, 1], false))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = axum::body::to_bytes(refused.into_body(), 1024)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&text).contains("this client"));
        let other = app
            .clone()
            .oneshot(from([10, 0, 0, 2], false))
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK);
        drop((held, other));
        // Waiting calls, from several clients: three of the four slots, no more.
        let mut waiting = Vec::new();
        for i in 0..3u8 {
            let r = app
                .clone()
                .oneshot(from([10, 0, 1, i], true))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            waiting.push(r);
        }
        let refused = app
            .clone()
            .oneshot(from([10, 0, 1, 9], true))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let quick = app
            .clone()
            .oneshot(from([10, 0, 1, 9], false))
            .await
            .unwrap();
        assert_eq!(quick.status(), StatusCode::OK);
    }
}
