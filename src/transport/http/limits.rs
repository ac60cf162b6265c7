//! A cap on calls in flight: beyond it, 503 with `retry-after` at once, rather than a queue.
//!
//! Each call in flight holds rmcp's per-request service, our handler's future and, for a call
//! that streams progress, an SSE response: a few KiB each. Without a cap, a burst of thousands
//! of requests holds thousands of them, and memory grows with the burst. With it, memory is
//! bounded by the cap, and a client told "busy, retry in a second" can back off; a load balancer
//! can send it elsewhere. The permit is held until the response body ends, so a long
//! `wait_seconds` stream counts for as long as it lasts.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Calls served at once by default. The upstream client sends at most
/// [`MAX_IN_FLIGHT`](crate::api::client::MAX_IN_FLIGHT) requests at a time anyway; the rest
/// wait their turn, up to this many. Each call in flight holds about 22 KiB (rmcp's service
/// for the request, its channels, the upstream request): with 96, two workers answering a
/// burst of 1,000 connections peaked at 30.9 MiB, against 32.6 with 128 and 29.8 with 64
/// (`cargo bench --bench http`), and 64 agents calling at once never see a 503.
pub const MAX_IN_FLIGHT: u32 = 96;
/// What `retry-after` says, in seconds.
const RETRY_AFTER_SECS: &str = "1";

/// The permits: one per call in flight.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Semaphore>);

impl InFlight {
    pub fn new(max: u32) -> Self {
        Self(Arc::new(Semaphore::new(max as usize)))
    }
}

/// The middleware: serves the request with a permit, or answers 503 when none is left.
pub async fn cap(State(in_flight): State<InFlight>, request: Request, next: Next) -> Response {
    let Ok(permit) = in_flight.0.clone().try_acquire_owned() else {
        tracing::debug!("all call slots busy: 503");
        return busy();
    };
    let (parts, body) = next.run(request).await.into_parts();
    Response::from_parts(
        parts,
        Body::new(Held {
            body,
            _permit: permit,
        }),
    )
}

fn busy() -> Response {
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
        "Service Unavailable: msgbatch-mcp is serving as many calls as it takes at once. \
         Retry after a second.",
    )
        .into_response()
}

/// A response body that holds a call's permit until it ends (or is dropped: client gone).
struct Held {
    body: Body,
    _permit: OwnedSemaphorePermit,
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
        let in_flight = InFlight::new(1);
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
}
