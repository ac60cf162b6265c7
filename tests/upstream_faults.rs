//! The fault matrix, end to end: the real binary over stdio against an upstream that misbehaves
//! in every way we know of. Each test asserts what the person sees (`isError`, a text naming
//! the status or the URL and saying what to do, the `request-id` to quote), what the upstream
//! saw (attempt counts), and that the server still serves the next call.
//!
//! The client-cancel, stdin-EOF and 1,000-concurrent-calls rows of the matrix live in
//! `cancellation_and_shutdown.rs` and `concurrency.rs`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANCEL: &str = "/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF/cancel";
const RETRIEVE: &str = "/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";
const OTHER: &str = "msgbatch_01OtherBatchStillFine000";
/// A server that waits 1 s for each attempt and tries twice: for upstreams that never answer.
const IMPATIENT: &[(&str, &str)] = &[
    ("MSGBATCH_TIMEOUT_SECS", "1"),
    ("MSGBATCH_MAX_RETRIES", "1"),
];

/// An upstream whose cancel and retrieve of [`ID`] answer `answer`, and where any other batch
/// answers normally.
async fn upstream(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path(CANCEL))
        .respond_with(answer.clone())
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(RETRIEVE))
        .respond_with(answer)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(EchoBatch("in_progress"))
        .with_priority(5)
        .mount(&server)
        .await;
    server
}

async fn cancel(client: &Client) -> rmcp::model::CallToolResult {
    call(
        client,
        "cancel_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await
}

fn api_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", format!("req_{status}_test"))
        .set_body_json(json!({
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": format!("req_{status}_body")
        }))
}

#[tokio::test]
async fn unauthorized_401_names_the_key_variable_and_is_not_retried() {
    let up = upstream(api_error(401, "authentication_error", "invalid x-api-key")).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(
        t.contains("HTTP 401 authentication_error: invalid x-api-key"),
        "{t}"
    );
    assert!(t.contains("ANTHROPIC_API_KEY"), "{t}");
    assert!(t.contains("(request-id: req_401_test)"), "{t}");
    assert_eq!(hits(&up).await, 1);
    still_serving(&client, OTHER).await;
}

#[tokio::test]
async fn forbidden_403_says_the_key_lacks_permission() {
    let up = upstream(api_error(403, "permission_error", "no access")).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("HTTP 403 permission_error"), "{t}");
    assert!(t.contains("not allowed"), "{t}");
    assert!(t.contains("request-id: req_403_test"), "{t}");
    assert_eq!(hits(&up).await, 1);
}

#[tokio::test]
async fn not_found_404_suggests_list_message_batches() {
    let up = upstream(api_error(404, "not_found_error", "batch not found")).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("no such batch"), "{t}");
    assert!(t.contains("list_message_batches"), "{t}");
    assert!(t.contains("request-id: req_404_test"), "{t}");
    assert_eq!(hits(&up).await, 1);
}

#[tokio::test]
async fn the_flat_sandbox_error_shape_is_understood() {
    let up = upstream(
        ResponseTemplate::new(404)
            .set_body_json(json!({"type": "not_found_error", "message": "No batch with that ID"})),
    )
    .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(
        t.contains("HTTP 404 not_found_error: No batch with that ID"),
        "{t}"
    );
    assert!(t.contains("list_message_batches"), "{t}");
    // No request-id header and none in the body: nothing is made up.
    assert!(!t.contains("request-id"), "{t}");
}

#[tokio::test]
async fn a_500_every_time_says_try_later_after_all_attempts() {
    let up = upstream(api_error(500, "api_error", "Internal server error")).await;
    let (client, _) = spawn(&base(&up), &[("MSGBATCH_MAX_RETRIES", "1")]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("HTTP 500 api_error"), "{t}");
    assert!(t.contains("Try again later"), "{t}");
    assert!(t.contains("2 attempts"), "{t}");
    assert!(t.contains("request-id: req_500_test"), "{t}");
    assert_eq!(hits(&up).await, 2);
    still_serving(&client, OTHER).await;
}

#[tokio::test]
async fn a_hanging_upstream_times_out_naming_the_url_and_the_server_keeps_serving() {
    let up = upstream(
        ResponseTemplate::new(200)
            .set_body_json(batch_json(ID, "canceling"))
            .set_delay(Duration::from_secs(60)),
    )
    .await;
    let (client, _) = spawn(&base(&up), IMPATIENT).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(
        t.contains(&format!("no answer from {} within 1 s", base(&up))),
        "{t}"
    );
    assert!(
        t.contains("2 attempts") || t.contains("tried 2 times"),
        "{t}"
    );
    assert!(t.contains("MSGBATCH_TIMEOUT_SECS"), "{t}");
    assert!(t.contains("may or may not have reached"), "{t}");
    // Both attempts timed out: the upstream saw two requests, and the text says two attempts.
    assert_eq!(hits(&up).await, 2);
    still_serving(&client, OTHER).await;
}

#[tokio::test]
async fn a_64_mib_body_is_refused_and_the_server_keeps_serving() {
    let big = vec![b' '; 64 * 1024 * 1024];
    let up = upstream(ResponseTemplate::new(200).set_body_raw(big, "application/json")).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("larger than 8388608 bytes"), "{t}");
    assert!(t.contains("refused without reading it all"), "{t}");
    // Not retried: the same upstream would send the same body.
    assert_eq!(hits(&up).await, 1);
    still_serving(&client, OTHER).await;
}

/// A body with no length that never ends is cut off at the cap, not read forever.
#[tokio::test]
async fn an_endless_chunked_body_is_cut_off_at_the_cap() {
    let up = MiniUpstream::start(MiniMode::EndlessChunked).await;
    let (client, _) = spawn(&up.url, &[("MSGBATCH_TIMEOUT_SECS", "60")]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("larger than 8388608 bytes"), "{t}");
    assert_eq!(up.requests(), 1);
    // The client hung up: the upstream's writes fail soon after the cap (waited for up to
    // 60 s, so that a loaded machine is not mistaken for a client that kept reading).
    for _ in 0..1200 {
        if up.closed_by_client() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.closed_by_client(), 1);
    assert!(up.bytes_sent() < 64 * 1024 * 1024, "{}", up.bytes_sent());
}

#[tokio::test]
async fn invalid_json_names_the_status_and_content_type() {
    let up = upstream(
        ResponseTemplate::new(200).set_body_raw(r#"{"id": "msgbatch_"#, "application/json"),
    )
    .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("HTTP 200"), "{t}");
    assert!(t.contains("content-type application/json"), "{t}");
    assert!(t.contains("not valid JSON"), "{t}");
    assert!(t.contains("MSGBATCH_API_URL"), "{t}");
    assert_eq!(hits(&up).await, 1);
    still_serving(&client, OTHER).await;
}

#[tokio::test]
async fn json_that_is_not_a_batch_says_so() {
    let up = upstream(ResponseTemplate::new(200).set_body_json(json!({"hello": "world"}))).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("is not a message batch"), "{t}");
    assert!(t.contains("does not have the expected fields"), "{t}");
}

#[tokio::test]
async fn an_html_page_with_200_is_recognised_as_a_proxy_page() {
    let up = upstream(ResponseTemplate::new(200).set_body_raw(
        "<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>",
        "text/html; charset=utf-8",
    ))
    .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("HTTP 200, content-type text/html"), "{t}");
    assert!(t.contains("HTML page"), "{t}");
    assert!(t.contains("proxy"), "{t}");
}

#[tokio::test]
async fn an_html_502_is_retried_then_named_as_a_gateway_page() {
    let up = upstream(
        ResponseTemplate::new(502)
            .insert_header("retry-after-ms", "10")
            .set_body_raw(
                "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                "text/html",
            ),
    )
    .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("HTTP 502"), "{t}");
    assert!(t.contains("text/html"), "{t}");
    assert!(t.contains("HTML page"), "{t}");
    assert_eq!(hits(&up).await, 3);
    still_serving(&client, OTHER).await;
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    let url = format!("http://127.0.0.1:{}/v1", closed_port());
    let (client, _) = spawn(&url, &[("MSGBATCH_MAX_RETRIES", "0")]).await;
    let r = call(&client, "list_message_batches", json!({})).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains(&format!("could not connect to {url}")), "{t}");
    assert!(t.to_lowercase().contains("refused"), "{t}");
}

/// A cancel refused at connect on every attempt was never sent, and says so; one whose first
/// attempt was sent and timed out, and whose retry was then refused, may have been applied by
/// that first attempt: the answer must not say it was not sent.
#[tokio::test]
async fn a_retry_refused_after_a_timeout_says_the_cancel_may_have_reached_the_api() {
    // Refused every time: "not sent".
    let url = format!("http://127.0.0.1:{}/v1", closed_port());
    let (client, _) = spawn(&url, &[("MSGBATCH_MAX_RETRIES", "1")]).await;
    let t = text(&cancel(&client).await);
    assert!(t.contains("the cancel was not sent"), "{t}");
    assert!(!t.contains("may or may not"), "{t}");

    // Sent, no answer, then refused: the first attempt's request reached the upstream.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let upstream = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = vec![0u8; 4096];
        let n = tcp.read(&mut head).await.unwrap();
        // The listener closes here: the retry's connect is refused. The first connection
        // stays open, unanswered, until the server gives up on it.
        drop(listener);
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
        String::from_utf8_lossy(&head[..n]).into_owned()
    });
    let (client, _) = spawn(&url, IMPATIENT).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains(&format!("could not connect to {url}")), "{t}");
    assert!(t.contains("may or may not have reached"), "{t}");
    assert!(!t.contains("not sent"), "{t}");
    let first = upstream.await.unwrap();
    assert!(first.starts_with(&format!("POST {CANCEL} ")), "{first}");
}

/// An https base URL pointing at a server that speaks plain HTTP: the TLS handshake fails
/// (so the TLS stack is set up and used), and the message names the URL.
#[tokio::test]
async fn a_failed_tls_handshake_names_the_url() {
    let up = MockServer::start().await;
    let url = format!("https://{}/v1", up.address());
    let (client, _) = spawn(&url, &[("MSGBATCH_MAX_RETRIES", "0")]).await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains(&url), "{t}");
}

/// A refused cancel is followed by a fetch of the batch, to say whether it already ended; that
/// fetch shares the call's bound (attempts x timeout + backoff, here 2 x 2 s + 0.5 s = 4.5 s)
/// instead of getting its own. The cancel's two 409s use 2.3 s of it (the asked wait), so the
/// hanging fetch gets one attempt, cut at the bound, where a bound of its own would allow two
/// (and removing the fetch, none). The person reads the cancel's own error.
///
/// Exactly one fetch holds however slow the machine is, up to 2.2 s of delay in the 409s'
/// round trips (after which no time would be left for the fetch at all).
#[tokio::test]
async fn a_refused_cancel_follow_up_stays_within_the_calls_bound() {
    let up = MockServer::start().await;
    Mock::given(path(CANCEL))
        .respond_with(
            api_error(409, "conflict_error", "conflict").insert_header("retry-after-ms", "2300"),
        )
        .mount(&up)
        .await;
    Mock::given(path(RETRIEVE))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(batch_json(ID, "ended"))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&up)
        .await;
    let (client, _) = spawn(
        &base(&up),
        &[
            ("MSGBATCH_TIMEOUT_SECS", "2"),
            ("MSGBATCH_MAX_RETRIES", "1"),
        ],
    )
    .await;
    let r = cancel(&client).await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("HTTP 409 conflict_error"), "{t}");
    assert!(t.contains("2 attempts"), "{t}");
    assert_eq!(hits_by(&up, "POST").await, 2);
    assert_eq!(
        hits_by(&up, "GET").await,
        1,
        "the follow-up fetch ran past the call's bound, or did not run"
    );
}
