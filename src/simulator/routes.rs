//! The HTTP face of the simulator: routes, header checks, and errors in the real API's shape.
//!
//! Every answer passes through [`gate`], which
//! - counts the request (before anything can refuse it, so tests can prove nothing was sent);
//! - refuses a missing key (401) or a missing or unknown `anthropic-version` (400) as the real
//!   API does; the key may come as `x-api-key` or as `Authorization: Bearer <key>` (what the
//!   current official SDKs send), and the versions accepted include the SDKs' current one;
//! - writes every error body as the real envelope,
//!   `{"type":"error","error":{"type":…,"message":…},"request_id":"req_…"}`, including axum's
//!   own rejections (405, 413, ...) which would otherwise be plain text;
//! - adds a `request-id` header to every answer, the same ID as in an error body;
//! - logs method, path and status at debug level (never header values: one is the API key).
//!
//! Handlers take the store's lock for one lookup or update and turn the result into JSON after
//! releasing it; no lock is ever held across an `await`. A create body is read against
//! `SimLimits::max_body_bytes` (its `Content-Length` first, then as it arrives), a few at a time,
//! and checked as it is parsed (`validate.rs`); results are streamed (`results.rs`).

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::store::{BatchSpec, Cursor, RequestMeta, Snapshot, StoreError, Tick};
use super::validate::Parsed;
use super::{RouteKind, SANDBOX_PREFIX, Simulator, V1_PREFIX, results, validate};
use crate::api::types::{BatchPage, DeletedBatch, MessageBatch};

/// The `anthropic-version` values accepted: the versions the Anthropic API has documented, and
/// the one the current official SDKs send (`2026-10-21`, Python `anthropic` 2.x and TypeScript
/// `@anthropic-ai/sdk` 1.x). The Batches endpoints and objects are the same in all of them.
pub(crate) const API_VERSIONS: [&str; 3] = ["2023-01-01", "2023-06-01", "2026-10-21"];
/// Longest a create body may take to arrive once its headers have (a trickle would otherwise
/// hold one of the few body slots for as long as it liked).
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// Page size when `limit` is not given, and the allowed range.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1000;

static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");

/// The simulator's routes under both prefixes, with [`gate`] in front of everything.
pub(crate) fn router(sim: Simulator) -> Router {
    Router::new()
        .nest(SANDBOX_PREFIX, api(&sim, SANDBOX_PREFIX))
        .nest(V1_PREFIX, api(&sim, V1_PREFIX))
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(sim, gate))
}

/// The Batches routes, relative to `prefix`; `prefix` is kept so that a `results_url` points
/// back the way the caller came in.
fn api(sim: &Simulator, prefix: &'static str) -> Router {
    Router::new()
        .route("/messages/batches", get(list).post(create))
        .route("/messages/batches/{id}", get(retrieve).delete(delete))
        .route("/messages/batches/{id}/cancel", post(cancel))
        .route("/messages/batches/{id}/results", get(results))
        .with_state(Ctx {
            sim: sim.clone(),
            prefix,
        })
}

#[derive(Clone)]
struct Ctx {
    sim: Simulator,
    prefix: &'static str,
}

impl Ctx {
    fn now(&self) -> Tick {
        self.sim.inner.clock.now()
    }

    fn to_batch(&self, snapshot: &Snapshot, host: &Host) -> MessageBatch {
        snapshot.to_batch(&self.sim.inner.clock, &host.name(&self.sim), self.prefix)
    }
}

/// The `Host` header, for `results_url`. Copying a `HeaderValue` only bumps a reference count.
struct Host(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for Host {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Host(parts.headers.get(HOST).cloned()))
    }
}

impl Host {
    /// The host the caller used, if it looks like a host (so that a forged header cannot put
    /// arbitrary text into a URL); else the bound address, else `localhost`.
    fn name<'a>(&'a self, sim: &Simulator) -> Cow<'a, str> {
        let given = self.0.as_ref().and_then(|v| v.to_str().ok()).filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
        match (given, sim.inner.local_addr.get()) {
            (Some(h), _) => Cow::Borrowed(h),
            (None, Some(addr)) => Cow::Owned(addr.to_string()),
            (None, None) => Cow::Borrowed("localhost"),
        }
    }
}

/// An error answer. Handlers return it; [`gate`] writes its body with the request ID.
#[derive(Debug, Clone)]
struct Failure {
    status: StatusCode,
    kind: &'static str,
    message: Cow<'static, str>,
}

impl Failure {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 413 `request_too_large`, the real API's answer to a body over its limit.
    fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!(
                "Request exceeds the maximum allowed number of bytes: the simulator accepts \
                 create bodies of at most {limit} bytes (the real API: 256 MB)."
            ),
        )
    }

    fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            format!("No message batch with ID {} was found.", shorten(id)),
        )
    }

    /// What a store refusal means for batch `id`, given what was being attempted.
    fn from_store(e: StoreError, id: &str, action: &str) -> Self {
        let id = shorten(id);
        match e {
            StoreError::NotFound => Self::not_found(id),
            StoreError::AlreadyEnded => Self::invalid(format!(
                "Batch {id} has already finished processing and cannot be canceled."
            )),
            StoreError::StillProcessing => Self::invalid(format!(
                "Batch {id} is still processing: {action} only once it has ended \
                 (processing_status \"ended\"). Cancel it first if you do not want to wait."
            )),
            StoreError::Full => Self::full(),
        }
    }

    /// 429 `rate_limit_error`: the simulator holds as many batches (or bytes) as it may and
    /// none has ended, so none could be dropped to make room.
    fn full() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "The simulator holds as many batches as its limits allow and all of them are \
             still processing, so none could be dropped to make room. Cancel or delete \
             batches, or restart the simulator (msgbatch-mcp mock --max-batches N).",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Caller-supplied text echoed in a message, cut short so an error stays readable.
fn shorten(text: &str) -> &str {
    match text.char_indices().nth(100) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: EnvelopeError<'a>,
    request_id: &'a str,
}

#[derive(Serialize)]
struct EnvelopeError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// Counts, checks headers, renders errors, stamps `request-id` and logs; see the module docs.
async fn gate(State(sim): State<Simulator>, request: Request, next: Next) -> Response {
    sim.count_request();
    let method = request.method().clone();
    let uri = request.uri().clone();

    let mut response = match check_headers(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(failure) => failure.into_response(),
    };

    let request_id = new_request_id();
    let failure = response
        .extensions_mut()
        .remove::<Failure>()
        .or_else(|| framework_failure(response.status(), &method));
    if let Some(failure) = failure {
        response = render_failure(response, &failure, request_id.to_str().unwrap_or("req_"));
    }
    let status = response.status();
    response
        .headers_mut()
        .insert(REQUEST_ID.clone(), request_id);
    tracing::debug!(%method, path = uri.path(), status = status.as_u16(), "simulator request");
    response
}

/// The real API's first two checks: a key (401 without one) and a version (400 without one, or
/// with one it does not know). Any non-empty key is accepted, as `x-api-key` or as
/// `Authorization: Bearer`; the simulator has no accounts.
fn check_headers(headers: &HeaderMap) -> Result<(), Failure> {
    let given = |v: &HeaderValue| !v.as_bytes().trim_ascii().is_empty();
    let api_key = headers.get(&X_API_KEY).is_some_and(given);
    let bearer = headers.get(AUTHORIZATION).is_some_and(|v| {
        let v = v.as_bytes().trim_ascii();
        v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") && !v[7..].trim_ascii().is_empty()
    });
    if !api_key && !bearer {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required (or an Authorization: Bearer header).",
        ));
    }
    let Some(version) = headers.get(&ANTHROPIC_VERSION).filter(|v| given(v)) else {
        return Err(Failure::invalid("anthropic-version: header is required"));
    };
    let version = version.to_str().unwrap_or("").trim();
    if !API_VERSIONS.contains(&version) {
        return Err(Failure::invalid(format!(
            "anthropic-version: '{}' is not a supported version (the simulator knows {}).",
            shorten(version),
            API_VERSIONS.join(", ")
        )));
    }
    Ok(())
}

/// An error answer that axum made on its own (no [`Failure`] attached), in API terms.
fn framework_failure(status: StatusCode, method: &Method) -> Option<Failure> {
    let (kind, message): (&'static str, Cow<'static, str>) = match status.as_u16() {
        0..=399 => return None,
        404 => ("not_found_error", "Not found.".into()),
        405 => (
            "invalid_request_error",
            format!("Method {method} is not allowed on this path.").into(),
        ),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.".into(),
        ),
        400..=499 => ("invalid_request_error", "Invalid request.".into()),
        _ => ("api_error", "Internal error in the simulator.".into()),
    };
    Some(Failure::new(status, kind, message))
}

/// Replaces `response`'s body with the error envelope, keeping its status and headers (a 405's
/// `allow`, for one).
fn render_failure(response: Response, failure: &Failure, request_id: &str) -> Response {
    let envelope = Envelope {
        kind: "error",
        error: EnvelopeError {
            kind: failure.kind,
            message: &failure.message,
        },
        request_id,
    };
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    let (mut parts, _) = response.into_parts();
    parts.status = failure.status;
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(body))
}

/// `req_` and 24 random letters and digits, like the real API's request IDs.
fn new_request_id() -> HeaderValue {
    let mut id = [0u8; 28];
    id[..4].copy_from_slice(b"req_");
    for b in &mut id[4..] {
        // ASCII alphanumerics, so the cast is lossless and the header value valid.
        *b = fastrand::alphanumeric() as u8;
    }
    HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("req_"))
}

async fn unknown_route(method: Method, uri: Uri) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "not_found_error",
        format!(
            "No route for {method} {}. The simulator serves /messages/batches under \
             {SANDBOX_PREFIX} and under {V1_PREFIX}.",
            shorten(uri.path())
        ),
    )
}

/// The batch ID of a `{id}` route. A path that does not decode names no batch: 404.
fn batch_id(path: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    path.map(|Path(id)| id)
        .map_err(|_| Failure::not_found("(undecodable ID)"))
}

/// `POST /messages/batches`.
///
/// The body is refused with 413 before it is read when its `Content-Length` is over the limit,
/// and as soon as it passes the limit otherwise (a chunked body); at most a few are read at a
/// time. It is checked while it is parsed, so a bad or oversized list stops at the first item
/// at fault.
async fn create(
    State(ctx): State<Ctx>,
    host: Host,
    request: Request,
) -> Result<Json<MessageBatch>, Failure> {
    ctx.sim.count_route(RouteKind::Create);
    let limits = &ctx.sim.config().limits;
    let max_body = limits.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(Failure::too_large(max_body));
    }
    // The semaphore is never closed, so this only fails if that changes.
    let _permit = ctx.sim.inner.create_permits.acquire().await.map_err(|_| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "The simulator could not take the request body.",
        )
    })?;
    let capacity = declared.map_or(0, |n| n as usize);
    let read = read_body(request.into_body(), max_body, capacity);
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, read).await {
        Ok(body) => body?,
        Err(_) => {
            return Err(Failure::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                "The request body took too long to arrive.",
            ));
        }
    };
    let max_requests = limits.max_requests;
    let Parsed { requests, bytes } = if body.len() > PARSE_INLINE_BELOW {
        // A big body takes a while to check: off the runtime's threads, so that other requests
        // are not held up meanwhile.
        tokio::task::spawn_blocking(move || validate::create_body(&body, max_requests))
            .await
            .map_err(|_| {
                Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "api_error",
                    "Checking the request body failed.",
                )
            })?
    } else {
        validate::create_body(&body, max_requests)
    }
    .map_err(Failure::invalid)?;
    let requests: Arc<[RequestMeta]> = requests.into();
    let config = ctx.sim.config();
    let now = ctx.now();
    let total = requests.len() as u64;
    let mut spec = BatchSpec::new(now, total, config.request_time, config.cancel_delay);
    spec.requests = Some(requests);
    let snapshot = ctx.sim.lock().create(spec, bytes, now);
    let snapshot = snapshot.map_err(|_| Failure::full())?;
    Ok(Json(ctx.to_batch(&snapshot, &host)))
}

/// The body, refused with 413 as soon as it passes `limit` bytes. `capacity` is its declared
/// length (already checked against `limit`).
async fn read_body(body: Body, limit: usize, capacity: usize) -> Result<Vec<u8>, Failure> {
    use futures::StreamExt as _;
    let mut chunks = body.into_data_stream();
    let mut out = Vec::with_capacity(capacity.min(limit));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| Failure::invalid("The request body could not be read."))?;
        if out.len().saturating_add(chunk.len()) > limit {
            return Err(Failure::too_large(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Create bodies larger than this are checked on a blocking thread.
const PARSE_INLINE_BELOW: usize = 256 * 1024;

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    before_id: Option<String>,
    after_id: Option<String>,
}

/// `GET /messages/batches?limit=&before_id=&after_id=`.
///
/// A cursor that names no batch (never existed, or deleted) is answered 404 `not_found_error`:
/// the real API's cursors are batch IDs it looks up, and a lookup of an unknown ID is a 404
/// everywhere else in this API. An empty cursor (`after_id=`) counts as absent.
async fn list(
    State(ctx): State<Ctx>,
    host: Host,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<BatchPage>, Failure> {
    ctx.sim.count_route(RouteKind::List);
    let Query(query) =
        query.map_err(|_| Failure::invalid("The query string could not be parsed."))?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            Ok(_) => {
                return Err(Failure::invalid(format!(
                    "limit: Input should be between 1 and {MAX_LIMIT}."
                )));
            }
            Err(_) => return Err(Failure::invalid("limit: Input should be a valid integer.")),
        },
    };
    fn non_empty(s: &Option<String>) -> Option<&str> {
        s.as_deref().filter(|s| !s.is_empty())
    }
    let cursor = match (non_empty(&query.before_id), non_empty(&query.after_id)) {
        (Some(_), Some(_)) => {
            return Err(Failure::invalid(
                "Give at most one of before_id and after_id.",
            ));
        }
        (Some(id), None) => Cursor::Before(id),
        (None, Some(id)) => Cursor::After(id),
        (None, None) => Cursor::First,
    };
    let now = ctx.now();
    let page = ctx.sim.lock().list(now, limit, cursor);
    let page = page.map_err(|_| {
        let (name, id) = match cursor {
            Cursor::Before(id) => ("before_id", id),
            Cursor::After(id) => ("after_id", id),
            Cursor::First => ("cursor", ""),
        };
        Failure::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            format!(
                "{name}: no message batch with ID {} was found.",
                shorten(id)
            ),
        )
    })?;
    let data: Vec<MessageBatch> = page.data.iter().map(|s| ctx.to_batch(s, &host)).collect();
    Ok(Json(BatchPage {
        first_id: data.first().map(|b| b.id.clone()),
        last_id: data.last().map(|b| b.id.clone()),
        has_more: page.has_more,
        data,
        extra: Default::default(),
        items_dropped: 0,
    }))
}

/// `GET /messages/batches/{id}`.
async fn retrieve(
    State(ctx): State<Ctx>,
    host: Host,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<MessageBatch>, Failure> {
    ctx.sim.count_route(RouteKind::Retrieve);
    let id = batch_id(path)?;
    let now = ctx.now();
    let snapshot = ctx.sim.lock().get(&id, now);
    let snapshot = snapshot.ok_or_else(|| Failure::not_found(&id))?;
    Ok(Json(ctx.to_batch(&snapshot, &host)))
}

/// `POST /messages/batches/{id}/cancel`: `in_progress` becomes `canceling`; `canceling` is
/// returned as it is (200); `ended` is 400 `invalid_request_error`, which is what public
/// emulators and clients expect of the real API (it is not documented).
async fn cancel(
    State(ctx): State<Ctx>,
    host: Host,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<MessageBatch>, Failure> {
    ctx.sim.count_route(RouteKind::Cancel);
    let id = batch_id(path)?;
    let now = ctx.now();
    let snapshot = ctx.sim.lock().cancel(&id, now);
    let snapshot = snapshot.map_err(|e| Failure::from_store(e, &id, "canceling"))?;
    Ok(Json(ctx.to_batch(&snapshot, &host)))
}

/// `DELETE /messages/batches/{id}`: only an ended batch can be deleted.
async fn delete(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<DeletedBatch>, Failure> {
    ctx.sim.count_route(RouteKind::Delete);
    let id = batch_id(path)?;
    let now = ctx.now();
    let deleted = ctx.sim.lock().delete(&id, now);
    let deleted = deleted.map_err(|e| Failure::from_store(e, &id, "it can be deleted"))?;
    Ok(Json(DeletedBatch {
        id: deleted.to_string(),
        kind: "message_batch_deleted".to_owned(),
    }))
}

/// `GET /messages/batches/{id}/results`: JSON Lines, only once the batch has ended.
async fn results(
    State(ctx): State<Ctx>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Failure> {
    ctx.sim.count_route(RouteKind::Results);
    let id = batch_id(path)?;
    let now = ctx.now();
    let plan = ctx.sim.lock().results(&id, now);
    let plan = plan.map_err(|e| Failure::from_store(e, &id, "results are available"))?;
    // Streamed: each chunk is written when the client is ready for it, so a download holds
    // one chunk, however big the batch and however slow the reader.
    let chunks = results::ResultsStream::new(plan).map(Ok::<_, Infallible>);
    let body = Body::from_stream(futures::stream::iter(chunks));
    let content_type = HeaderValue::from_static("application/x-jsonl");
    Ok(([(CONTENT_TYPE, content_type)], body).into_response())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Bytes;

    use super::*;

    #[tokio::test]
    async fn a_body_is_refused_as_soon_as_it_passes_the_limit() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pulled);
        // A 1 MiB body in 1 KiB chunks against a 10 KiB limit.
        let chunks = futures::stream::iter((0..1024).map(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(Bytes::from(vec![b' '; 1024]))
        }));
        let failure = read_body(Body::from_stream(chunks), 10 * 1024, 0)
            .await
            .unwrap_err();
        assert_eq!(failure.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(failure.kind, "request_too_large");
        let pulled = pulled.load(Ordering::Relaxed);
        assert!(
            pulled <= 12,
            "read {pulled} chunks of a body already too large"
        );

        let small = futures::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{}"))]);
        let body = read_body(Body::from_stream(small), 10 * 1024, 2).await;
        assert_eq!(body.ok().as_deref(), Some(&b"{}"[..]));
    }
}
