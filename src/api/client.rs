//! The HTTP client for the Message Batches API.
//!
//! One `reqwest::Client` per process (per worker thread for `serve --http`, so that a call's
//! upstream request stays on its thread), so connections are kept alive and reused across tool
//! calls. A semaphore bounds the requests in flight: when an agent fans out hundreds of calls
//! at once they share 16 warm connections instead of each opening its own.
//!
//! Every request carries `anthropic-version`, `x-api-key` (or `Authorization: Bearer` for an
//! `ANTHROPIC_AUTH_TOKEN`; marked sensitive, so it is redacted
//! from any debug output of the request) and our `user-agent`. Retries follow [`super::retry`];
//! answers are read with a size cap, so a hostile or broken upstream cannot make us buffer an
//! unbounded body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, Url};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::batch_id::BatchId;
use super::decode;
use super::error::{ApiError, truncate};
use super::http::Http;
use super::retry;
use super::types::{BatchPage, ListParams, MessageBatch};
use crate::backlog::Backlog;
use crate::config::{Config, ConfigError, KeyHeader};

/// The API version every request names.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Largest success body we read; a batch object is about 600 bytes, a full page of 1,000
/// batches about 600 KiB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest error body we read; the rest is ignored.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Bound on establishing one connection.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests in flight at once (and so, at most, connections kept to the upstream). 16 keeps a
/// single-threaded server busy even against an upstream that answers in microseconds, and each
/// connection costs about 40 KiB of buffers: 32 measured 1.1 MiB more peak RSS for no more
/// throughput.
pub const MAX_IN_FLIGHT: usize = 16;

/// A client for one base URL.
#[derive(Debug, Clone)]
pub struct BatchesClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: Http,
    /// The base URL as shown: without credentials (see [`crate::secret::BaseUrl`]).
    base_url: String,
    /// The base URL, parsed once: each request's URL is this plus path segments. Parsing the
    /// whole URL again per request cost about 20,000 instructions (the host goes through IDNA
    /// processing), an eighth of a call.
    base: Option<Url>,
    /// The credential header (`x-api-key`, or `authorization` for an auth token) and its
    /// value, or why no request may be sent.
    key: Result<(HeaderName, HeaderValue), ApiError>,
    timeout: Duration,
    max_retries: u32,
    permits: Semaphore,
    /// Calls waiting for one of the `permits` (see [`crate::backlog`]).
    backlog: Backlog,
}

impl BatchesClient {
    /// Builds the client. This cannot fail: a setting that forbids requests (or a TLS set-up
    /// that failed) is kept as the error every call will answer with. For an https base URL
    /// the TLS set-up finishes in the background (see [`super::http`]); if it fails, calls
    /// answer with that.
    pub fn new(config: &Config) -> Self {
        let http = Http::start(config);
        let key = match (&config.key, http.failed()) {
            (Err(e), _) => Err(ApiError::Config(e.clone())),
            (_, Some(e)) => Err(e),
            (Ok(k), None) => match credential(config.key_header, k.expose()) {
                Ok((name, mut v)) => {
                    v.set_sensitive(true);
                    Ok((name, v))
                }
                Err(_) => Err(ApiError::Config(ConfigError::BadKey)),
            },
        };
        Self {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url.shown().to_owned(),
                // Checked by `Config`: when it does not parse, `key` holds why. Credentials in
                // it are sent as basic auth by reqwest, never as part of the URL.
                base: Url::parse(config.base_url.expose()).ok(),
                key,
                timeout: config.timeout,
                max_retries: config.max_retries,
                permits: Semaphore::new(MAX_IN_FLIGHT),
                backlog: Backlog::default(),
            }),
        }
    }

    /// The base URL requests go to, as it may be shown: any user and password in it are
    /// replaced by `[redacted]`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The bound on one attempt.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The count of calls waiting for a request slot, which paces reading stdin.
    pub fn backlog(&self) -> Backlog {
        self.inner.backlog.clone()
    }

    /// Whether requests can be sent at all (see [`BatchesClient::new`]).
    pub fn ready(&self) -> Result<(), ApiError> {
        self.inner.key.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// The longest one call can take: every attempt timing out, with the longest backoffs
    /// between (a server-asked wait, up to 60 s, can stretch it further).
    pub fn worst_case(&self) -> Duration {
        let attempts = self.inner.max_retries + 1;
        let backoff: Duration = (0..self.inner.max_retries)
            .map(|n| retry::backoff(n, 0.0))
            .sum();
        self.inner.timeout * attempts + backoff
    }

    /// `GET /messages/batches/{id}`.
    pub async fn retrieve(&self, id: &BatchId) -> Result<MessageBatch, ApiError> {
        self.retrieve_before(id, None).await
    }

    /// `GET /messages/batches/{id}`, giving up at `deadline` (used while waiting for a cancel
    /// to finish, so that polling never runs past the time the caller allowed).
    pub async fn retrieve_before(
        &self,
        id: &BatchId,
        deadline: Option<Instant>,
    ) -> Result<MessageBatch, ApiError> {
        let path = ["messages", "batches", id.as_str()];
        let batch = self
            .call(Method::GET, &path, None, deadline, "a message batch")
            .await?;
        self.the_batch_asked_for(id, batch)
    }

    /// `POST /messages/batches/{id}/cancel`.
    pub async fn cancel(&self, id: &BatchId) -> Result<MessageBatch, ApiError> {
        let path = ["messages", "batches", id.as_str(), "cancel"];
        let batch = self
            .call(Method::POST, &path, None, None, "a message batch")
            .await?;
        self.the_batch_asked_for(id, batch)
    }

    /// The answer, if it is about batch `id`; otherwise [`ApiError::OtherBatch`]. Checked here,
    /// once, so that every caller (a get, a cancel, each poll of a wait, each batch of a bulk
    /// cancel) refuses an answer about another batch instead of reporting it as this one's.
    fn the_batch_asked_for(
        &self,
        id: &BatchId,
        batch: MessageBatch,
    ) -> Result<MessageBatch, ApiError> {
        if batch.id == id.as_str() {
            return Ok(batch);
        }
        Err(ApiError::OtherBatch {
            base_url: self.inner.base_url.clone(),
            requested: id.as_str().to_owned(),
            answered: truncate(&batch.id, 100),
        })
    }

    /// The parsed base URL (for checking that a `results_url` is on the same API).
    pub(super) fn base(&self) -> Option<&Url> {
        self.inner.base.as_ref()
    }

    /// One `GET url` with the headers every request carries (version, key, user agent) plus
    /// `accept`, for a caller that reads the body itself, as it streams. Only the wait for the
    /// answer's head is bounded here (by the attempt timeout); the body is the caller's.
    pub(super) async fn get_streamed(
        &self,
        url: Url,
        accept: &'static str,
    ) -> Result<Response, ApiError> {
        let inner = &*self.inner;
        let key = inner.key.as_ref().map_err(Clone::clone)?;
        let http = inner.http.get().await?;
        let request = http
            .get(url)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header(key.0.clone(), key.1.clone())
            .header(reqwest::header::ACCEPT, accept);
        match tokio::time::timeout(inner.timeout, request.send()).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(self.transport_error(&e)),
            Err(_) => Err(self.timeout_error()),
        }
    }

    /// The error an answer with a failing status stands for, from its head and (capped) body.
    pub(super) async fn error_answer(&self, response: Response) -> ApiError {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| truncate(s, 200));
        let body = read_capped(response, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        ApiError::from_answer(status, request_id, &content_type, &body)
    }

    /// The retry settings, for a caller with its own request loop.
    pub(super) fn max_retries(&self) -> u32 {
        self.inner.max_retries
    }

    /// The error for a transport failure, naming the base URL (never a full URL with a key).
    pub(super) fn transport(&self, e: &reqwest::Error) -> ApiError {
        if e.is_timeout() {
            return self.timeout_error();
        }
        self.transport_error(e)
    }

    /// `GET /messages/batches?limit=&before_id=&after_id=`.
    pub async fn list(&self, params: &ListParams) -> Result<BatchPage, ApiError> {
        self.call(
            Method::GET,
            &["messages", "batches"],
            Some(params),
            None,
            "a page of message batches",
        )
        .await
    }

    /// Sends one request to the base URL plus `segments` (each percent-encoded by `url`, a
    /// second line of defence behind [`BatchId`]'s own check), with retries, and decodes the
    /// JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: Option<&ListParams>,
        deadline: Option<Instant>,
        expected: &'static str,
    ) -> Result<T, ApiError> {
        let inner = &*self.inner;
        let key = inner.key.as_ref().map_err(Clone::clone)?;
        let http = inner.http.get().await?;
        let Some(mut url) = inner.base.clone() else {
            return Err(ApiError::Config(ConfigError::BadUrl {
                url: inner.base_url.clone(),
                reason: "it does not parse".to_owned(),
            }));
        };
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let path = url.path();
        let mut retry = 0u32;
        let mut maybe_sent = false;
        loop {
            let attempt_timeout = match deadline {
                Some(d) => d
                    .saturating_duration_since(Instant::now())
                    .min(inner.timeout),
                None => inner.timeout,
            };
            if attempt_timeout.is_zero() {
                return Err(self.timeout_error().after_attempts(retry.max(1)));
            }
            let started = Instant::now();
            // The attempt's bound covers the wait for a permit too: with hundreds of calls
            // queued behind a hanging upstream, each call still ends within its own bound.
            // It is the attempt's only timer: reqwest's own `timeout` would be a second one for
            // the same deadline (a boxed `Sleep` and a timer-wheel entry per request), and
            // reading the body is inside this future, so it is bounded as well.
            let attempt = async {
                // Closed only if the semaphore is dropped, which cannot happen while `self` lives.
                let _permit = {
                    let _queued = inner.backlog.enter();
                    inner.permits.acquire().await
                };
                let mut request = http
                    .request(method.clone(), url.clone())
                    .header("anthropic-version", ANTHROPIC_VERSION)
                    .header(key.0.clone(), key.1.clone());
                if let Some(q) = query {
                    request = request.query(q);
                }
                match request.send().await {
                    Ok(response) => self.read_answer::<T>(response, expected).await,
                    Err(e) => Attempt::retry(self.transport_error(&e), None),
                }
            };
            let outcome = match tokio::time::timeout(attempt_timeout, attempt).await {
                Ok(outcome) => outcome,
                Err(_) => Attempt::retry(self.timeout_error(), None),
            };
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            let (error, retryable, headers, status) = match outcome {
                Attempt::Done(value) => {
                    tracing::debug!(%method, path, attempt = retry + 1, status = 200, elapsed_ms, "request");
                    return Ok(value);
                }
                Attempt::Failed {
                    error,
                    retryable,
                    headers,
                    status,
                } => (error, retryable, headers, status),
            };
            tracing::debug!(%method, path, attempt = retry + 1, status, elapsed_ms, error = %error, "request");
            let mut error = error.after_attempts(retry + 1);
            // Whether the call may have reached the API, over all its attempts: a cancel that
            // only ever failed to connect was never sent; one that timed out once may have been.
            match &mut error {
                ApiError::Connect { sent_before, .. } => *sent_before = maybe_sent,
                _ => maybe_sent = true,
            }
            if !retryable || retry >= inner.max_retries {
                return Err(error);
            }
            let wait = retry::delay(retry, headers.as_ref());
            if let Some(d) = deadline
                && Instant::now() + wait >= d
            {
                return Err(error);
            }
            tracing::debug!(%method, path, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    /// Reads one answer: the value on success, or the error and whether to retry it.
    async fn read_answer<T: DeserializeOwned>(
        &self,
        response: Response,
        expected: &'static str,
    ) -> Attempt<T> {
        let status = response.status();
        super::request_ids::note(response.url().path(), response.headers());
        // Kept as the header (a reference count) and read as text only for an error.
        let content_type_header = response.headers().get(CONTENT_TYPE).cloned();
        let content_type = || {
            content_type_header
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
        };
        if status.is_success() {
            let body = match read_capped(response, MAX_BODY_BYTES).await {
                Ok(b) => b,
                Err(ReadError::TooLarge) => {
                    return Attempt::fatal(ApiError::TooLarge {
                        status: status.as_u16(),
                        limit: MAX_BODY_BYTES,
                    });
                }
                Err(ReadError::Http(e)) => return Attempt::retry(self.transport_error(&e), None),
            };
            // Every string in the answer is capped here (see [`super::decode`]).
            return match decode::from_upstream::<T>(&body) {
                Ok(v) => Attempt::Done(v),
                Err(e) => Attempt::fatal(ApiError::Decode {
                    status: status.as_u16(),
                    content_type: truncate(content_type(), 100),
                    expected,
                    detail: truncate(&describe_decode_error(&body, &e), 500),
                }),
            };
        }
        // Only a failure needs the headers (request id, retry advice): a copy here, not on
        // every success.
        let headers = response.headers().clone();
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(|s| truncate(s, 200));
        let retryable = retry::should_retry_status(status.as_u16(), &headers);
        // The body of an error answer only serves to explain it: read what fits, ignore the rest.
        let body = match read_capped(response, MAX_ERROR_BODY_BYTES).await {
            Ok(b) => b,
            Err(ReadError::TooLarge) => Vec::new(),
            Err(ReadError::Http(e)) => return Attempt::retry(self.transport_error(&e), None),
        };
        Attempt::Failed {
            error: ApiError::from_answer(status.as_u16(), request_id, content_type(), &body),
            retryable,
            headers: Some(headers),
            status: Some(status.as_u16()),
        }
    }

    fn timeout_error(&self) -> ApiError {
        ApiError::Timeout {
            base_url: self.inner.base_url.clone(),
            secs: self.inner.timeout.as_secs(),
            attempts: 1,
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> ApiError {
        let base_url = self.inner.base_url.clone();
        // reqwest's own text names the URL; our own says it once, with the root cause.
        // A connection that could not be made within `CONNECT_TIMEOUT` is both a connect error
        // and a timeout: it is the former ("could not connect ... timed out"), not "no answer
        // within MSGBATCH_TIMEOUT_SECS", which would name a bound that was never reached.
        if e.is_connect() {
            let detail = if e.is_timeout() {
                format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())
            } else {
                root_cause(e)
            };
            return ApiError::Connect {
                base_url,
                detail,
                sent_before: false,
            };
        }
        if e.is_timeout() {
            return self.timeout_error();
        }
        ApiError::Transport {
            base_url,
            detail: root_cause(e),
        }
    }
}

/// The header that carries the credential, as the official SDKs send it: a key as `x-api-key`,
/// an auth token as `Authorization: Bearer`. Only ever ours: the MCP caller's own token is never
/// forwarded.
fn credential(
    header: KeyHeader,
    secret: &str,
) -> Result<(HeaderName, HeaderValue), reqwest::header::InvalidHeaderValue> {
    match header {
        KeyHeader::ApiKey => Ok((
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_str(secret)?,
        )),
        KeyHeader::Bearer => Ok((
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {secret}"))?,
        )),
    }
}

/// The result of one attempt.
enum Attempt<T> {
    Done(T),
    Failed {
        error: ApiError,
        retryable: bool,
        headers: Option<HeaderMap>,
        status: Option<u16>,
    },
}

impl<T> Attempt<T> {
    fn fatal(error: ApiError) -> Self {
        Self::Failed {
            error,
            retryable: false,
            headers: None,
            status: None,
        }
    }
    fn retry(error: ApiError, status: Option<u16>) -> Self {
        Self::Failed {
            error,
            retryable: true,
            headers: None,
            status,
        }
    }
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

/// Reads a body of at most `cap` bytes. A declared length over the cap is refused before
/// reading; a streamed body is cut off as soon as it passes the cap (dropping the response
/// closes the connection, so the rest is never read).
async fn read_capped(mut response: Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    if let Some(len) = response.content_length()
        && len > cap as u64
    {
        return Err(ReadError::TooLarge);
    }
    let mut body =
        Vec::with_capacity(response.content_length().unwrap_or(1024).min(cap as u64) as usize);
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Says what the body was, for a person: "an HTML page", "empty", or the parse error.
fn describe_decode_error(body: &[u8], e: &serde_json::Error) -> String {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| &body[i..])
        .unwrap_or_default();
    if start.is_empty() {
        "the body is empty".to_owned()
    } else if start.first() == Some(&b'<') {
        "the body looks like an HTML page (often a proxy or gateway error page)".to_owned()
    } else if e.is_data() {
        format!("the JSON does not have the expected fields ({e})")
    } else {
        format!("the body is not valid JSON ({e})")
    }
}

/// The innermost error's text (e.g. "Connection refused (os error 111)").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    truncate(&cur.to_string(), 300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiSettings;

    /// A loopback server that accepts connections and never answers.
    fn silent_upstream() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                held.push(conn);
            }
        });
        url
    }

    /// With every permit held by a hanging request, a call queued behind them still ends within
    /// its own bound (one attempt's timeout), not after theirs plus its own. Runs on tokio's
    /// paused clock, so the bound is exact and does not depend on the machine's speed.
    #[tokio::test(start_paused = true)]
    async fn the_attempt_bound_covers_waiting_for_a_permit() {
        let config = ApiSettings {
            api_url: silent_upstream(),
            timeout_secs: 10,
            max_retries: 0,
            ..ApiSettings::default()
        }
        .resolve();
        let client = BatchesClient::new(&config);
        let id = BatchId::parse("msgbatch_x").unwrap();
        let started = tokio::time::Instant::now();
        let calls = (0..MAX_IN_FLIGHT + 8).map(|_| {
            let client = client.clone();
            let id = id.clone();
            async move { client.retrieve(&id).await }
        });
        let results = futures::future::join_all(calls).await;
        for r in &results {
            assert!(
                matches!(r, Err(ApiError::Timeout { attempts: 1, .. })),
                "{r:?}"
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
    }
}
