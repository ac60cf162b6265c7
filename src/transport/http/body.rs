//! Request bodies: at most [`MAX_BODY_BYTES`] and [`CLIENT_MESSAGE`]'s values and depth
//! (counted as the bytes arrive, before any tree is built), read within their own timeout, and
//! JSON, or an error saying what is wrong.
//!
//! Bodies are read before the call takes a slot ([`super::limits`]): a client that sends a head
//! and never its body holds a connection for the body timeout, never a call slot.
//!
//! rmcp has a body limit of its own (set to the same value), but answers a body that is not
//! JSON, or JSON that is not a JSON-RPC message, with `415 Unsupported Media Type` and plain text.
//! JSON-RPC says a parse error is `-32700` and a message of the wrong shape `-32600`, and the
//! Streamable HTTP transport says a message the server cannot accept gets an HTTP error status
//! (400) whose body may be a JSON-RPC error without an id: that is what a client gets here. A
//! body with another content type is left to rmcp, which answers 415, as it should.

use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde::de::IgnoredAny;
use tokio::time::error::Elapsed;

use super::limits::Waits;
use crate::json_budget::{CLIENT_MESSAGE, Exceeded, Scanner};

/// Largest request body: what the tools can need (a bulk cancel of 100 IDs of 256 characters is
/// ~27 KB) with room to spare. It was 1 MiB, which a body of ~500k small values turned into
/// 115 MiB while parsed.
pub const MAX_BODY_BYTES: usize = CLIENT_MESSAGE.bytes;

/// How long a client may take to send a body (a slow sender holds a connection and memory).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// The middleware (for `POST` with a JSON content type; anything else passes untouched).
pub async fn check(State(timeout): State<BodyTimeout>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !is_json(&request) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large(Exceeded::Bytes(MAX_BODY_BYTES));
    }
    let (parts, body) = request.into_parts();
    let bytes = match within(timeout.0, read_limited(body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(Unread::TooLarge(why))) => return too_large(why),
        Ok(Err(Unread::Failed)) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "Bad Request: the body could not be read.",
            );
        }
        Err(_) => {
            return plain(
                StatusCode::REQUEST_TIMEOUT,
                "Request Timeout: the body did not arrive in time.",
            );
        }
    };
    let waits = match waits(&bytes) {
        Ok(waits) => waits,
        Err(e) => {
            return jsonrpc_error(-32700, &format!("Parse error: the body is not JSON ({e})."));
        }
    };
    let mut request = Request::from_parts(parts, Body::from(bytes.clone()));
    if waits {
        request.extensions_mut().insert(Waits);
    }
    let response = next.run(request).await;
    // The content type is JSON and the JSON parsed, so rmcp's 415 can only mean that it is not
    // a JSON-RPC message it knows.
    if response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return jsonrpc_error(
            -32600,
            "Invalid Request: the body is JSON but not a JSON-RPC 2.0 request, notification or \
             response that MCP defines.",
        );
    }
    response
}

/// `future`, given at most `limit`; one that is ready at once (a body that came with its head,
/// nearly every one) sets no timer: a timer costs an entry in the timer wheel and, being the
/// earliest, a wake-up of the runtime's driver.
async fn within<F: Future>(limit: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout(limit, future).await,
    }
}

/// Whether the body, JSON, is a `tools/call` whose `wait_seconds` is above 0 (such a call may
/// hold its slot for minutes, and [`super::limits`] gives those a share of their own); or the
/// parse error when it is not JSON. One pass: the body is small by now (its budget was counted
/// as it came).
fn waits(body: &[u8]) -> Result<bool, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Call {
        method: Option<String>,
        params: Option<Params>,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        arguments: Option<Arguments>,
    }
    #[derive(serde::Deserialize)]
    struct Arguments {
        wait_seconds: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Call>(body) {
        Ok(c) => Ok(c.method.as_deref() == Some("tools/call")
            && c.params
                .and_then(|p| p.arguments)
                .and_then(|a| a.wait_seconds)
                .and_then(|w| w.as_f64())
                .is_some_and(|w| w > 0.0)),
        // JSON of another shape (a batch array, a `method` that is not a string) does not wait;
        // only what is not JSON at all is an error.
        Err(_) => serde_json::from_slice::<IgnoredAny>(body).map(|_| false),
    }
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

enum Unread {
    TooLarge(Exceeded),
    Failed,
}

/// Reads the body, giving up as soon as it passes [`CLIENT_MESSAGE`]'s bytes, values or depth
/// (whatever `Content-Length` said, or with chunked encoding).
async fn read_limited(body: Body) -> Result<Bytes, Unread> {
    let mut stream = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    let mut budget = Scanner::new(CLIENT_MESSAGE);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Unread::Failed)?;
        budget.feed(&chunk).map_err(Unread::TooLarge)?;
        // Most bodies arrive in one chunk: keep it as it is, without a copy.
        match &first {
            None if more.is_empty() => first = Some(chunk),
            _ => {
                if let Some(f) = first.take() {
                    more.extend_from_slice(&f);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(more)))
}

fn too_large(why: Exceeded) -> Response {
    let text = format!(
        "Payload Too Large: the body holds {why}. A message to this server may hold at most {} \
         bytes and {} JSON values, nested at most {} deep.",
        CLIENT_MESSAGE.bytes, CLIENT_MESSAGE.values, CLIENT_MESSAGE.depth
    );
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// 400 with a JSON-RPC error and no id (the request's id could not be read).
fn jsonrpc_error(code: i32, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    (
        StatusCode::BAD_REQUEST,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    /// Stands in for rmcp: echoes the body, or answers 415 to what is not a JSON object with
    /// "jsonrpc" (as rmcp does to what does not deserialize as a JSON-RPC message).
    async fn inner(body: Bytes) -> Response {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if v.get("jsonrpc").is_none() {
            return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
        }
        body.into_response()
    }

    fn app() -> Router {
        Router::new()
            .route("/", post(inner))
            .route_layer(axum::middleware::from_fn_with_state(
                BodyTimeout(Duration::from_secs(5)),
                check,
            ))
    }

    async fn send(content_type: &str, body: impl Into<Body>) -> (StatusCode, serde_json::Value) {
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        let r = app().oneshot(req).await.unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn malformed_json_is_a_parse_error() {
        let (status, body) = send("application/json", "{\"jsonrpc\":").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], -32700);
        assert!(body["id"].is_null());
    }

    #[tokio::test]
    async fn json_that_is_not_json_rpc_is_an_invalid_request() {
        let (status, body) = send("application/json; charset=utf-8", "[1,2]").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], -32600);
    }

    #[tokio::test]
    async fn a_good_message_passes_whole() {
        let msg = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let (status, body) = send("application/json", msg).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["method"], "ping");
    }

    #[tokio::test]
    async fn too_large_is_413_even_when_chunked() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let chunks: Vec<Result<Bytes, std::io::Error>> = big
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let (status, _) = send(
            "application/json",
            Body::from_stream(futures::stream::iter(chunks)),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    /// A body well under the byte limit but made of many small values is refused while it
    /// streams in, as is one nested too deep.
    #[tokio::test]
    async fn too_many_values_or_too_deep_is_413_before_parsing() {
        let many = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":[{}0]}}}}"#,
            "0,".repeat(5000)
        );
        assert!(many.len() < MAX_BODY_BYTES);
        let (status, _) = send("application/json", many).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let (status, _) = send("application/json", deep).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn calls_that_wait_are_told_apart() {
        let call = |args: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{args}}}}}"#
            )
        };
        let waits = |body: &[u8]| waits(body).expect("JSON");
        assert!(waits(call(r#"{"wait_seconds":600}"#).as_bytes()));
        assert!(!waits(call(r#"{"wait_seconds":0}"#).as_bytes()));
        assert!(!waits(call(r#"{"message_batch_id":"m"}"#).as_bytes()));
        assert!(!waits(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#));
        assert!(!waits(b"[1,2]"));
        assert!(!waits(br#"{"jsonrpc":"2.0","id":1,"method":7}"#));
    }

    #[test]
    fn only_what_is_not_json_is_a_parse_error() {
        assert!(super::waits(b"{\"jsonrpc\":").is_err());
        assert!(super::waits(b"{} trailing").is_err());
        assert!(super::waits(b"{}").is_ok());
    }

    /// A body that starts and then stops coming is answered 408 once the body timeout passes
    /// (the timer is set only when the body is not there at once).
    #[tokio::test]
    async fn a_body_that_stops_coming_is_408() {
        let app = Router::new().route("/", post(inner)).route_layer(
            axum::middleware::from_fn_with_state(BodyTimeout(Duration::from_millis(200)), check),
        );
        let start = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{"))]);
        let body = Body::from_stream(start.chain(futures::stream::pending()));
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap();
        let r = tokio::time::timeout(Duration::from_secs(30), app.oneshot(req))
            .await
            .expect("answered within the body timeout, not held")
            .unwrap();
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test]
    async fn other_content_types_are_left_to_rmcp() {
        let req = Request::builder()
            .method("POST")
            .uri("/")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("hello"))
            .unwrap();
        let r = app().oneshot(req).await.unwrap();
        // `inner` stands in for rmcp here; the middleware did not touch the request.
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
