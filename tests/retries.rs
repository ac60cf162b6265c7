//! Retries, end to end: the real binary over stdio, wiremock as the Batches API.
//!
//! Proves the official SDKs' rules: which answers are retried, how many times
//! (`MSGBATCH_MAX_RETRIES`, default 2), that `x-should-retry` overrides the status, that
//! `retry-after` / `retry-after-ms` are honoured, that a wait never runs past the call's
//! deadline, and that each attempt leaves one debug log line. Attempt counts are what wiremock
//! received; waits are what the server chose, read from its debug log (never the clock).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANCEL: &str = "/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF/cancel";
const RETRIEVE: &str = "/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";

/// An upstream whose cancel answers `first` `times` times, then succeeds.
async fn failing_then_ok(first: ResponseTemplate, times: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch_json(ID, "canceling")))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// A short server-asked wait, so that tests which count attempts stay fast.
fn quick(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).insert_header("retry-after-ms", "10")
}

async fn cancel(client: &Client) -> rmcp::model::CallToolResult {
    call(
        client,
        "cancel_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await
}

#[tokio::test]
async fn a_500_then_200_is_retried_and_succeeds() {
    let up = failing_then_ok(ResponseTemplate::new(500), 1).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "canceling");
    assert_eq!(hits(&up).await, 2);
}

#[tokio::test]
async fn a_529_overloaded_then_200_is_retried_and_succeeds() {
    let body =
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let up = failing_then_ok(ResponseTemplate::new(529).set_body_json(body), 1).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(hits(&up).await, 2);
}

/// One cancel over raw stdio with the client's debug log: the answer, the waits (ms) the
/// client chose before each retry, and its per-attempt log lines. Waits are read from what the
/// server decided, not from the clock, so a slow machine cannot fail these tests.
async fn cancel_logged(
    url: &str,
    env: &[(&str, &str)],
) -> (serde_json::Value, Vec<u64>, Vec<String>) {
    let mut env = env.to_vec();
    env.push(("RUST_LOG", "msgbatch_mcp=debug"));
    let mut s = RawServer::start(url, &env).await;
    let answer = s
        .call(1, "cancel_message_batch", json!({"message_batch_id": ID}))
        .await;
    s.close_stdin();
    s.wait_exit(Duration::from_secs(30)).await.expect("exits");
    let log = s.stderr_text();
    let waits = log
        .lines()
        .filter(|l| l.contains("msgbatch_mcp::api::client") && l.contains(" retrying"))
        .map(|l| {
            l.split("wait_ms=")
                .nth(1)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no wait_ms in {l}"))
        })
        .collect();
    let attempts = log
        .lines()
        .filter(|l| l.contains("msgbatch_mcp::api::client") && l.contains(" request "))
        .map(str::to_owned)
        .collect();
    (answer, waits, attempts)
}

#[tokio::test]
async fn a_429_with_retry_after_1_waits_the_second_it_asked() {
    let up = failing_then_ok(
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        1,
    )
    .await;
    let (answer, waits, _) = cancel_logged(&base(&up), &[]).await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    assert_eq!(hits(&up).await, 2);
    // Our own first backoff is at most 500 ms: only the header explains 1000.
    assert_eq!(waits, [1000]);
}

#[tokio::test]
async fn retry_after_ms_wins_over_retry_after() {
    let up = failing_then_ok(
        ResponseTemplate::new(503)
            .insert_header("retry-after-ms", "1200")
            .insert_header("retry-after", "7"),
        1,
    )
    .await;
    let (answer, waits, _) = cancel_logged(&base(&up), &[]).await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    assert_eq!(hits(&up).await, 2);
    assert_eq!(waits, [1200]);
}

/// Answers 503 with `retry-after` as an HTTP date 3 s after the moment it answers (not a date
/// taken before the server started, which a slow start could put in the past).
struct DateRetryAfter;

impl wiremock::Respond for DateRetryAfter {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
        ResponseTemplate::new(503).insert_header("retry-after", at)
    }
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(DateRetryAfter)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch_json(ID, "canceling")))
        .with_priority(2)
        .mount(&up)
        .await;
    let (answer, waits, _) = cancel_logged(&base(&up), &[]).await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    assert_eq!(hits(&up).await, 2);
    // HTTP dates have whole seconds: the date is 2 to 3 s ahead when sent. Anything over our
    // own backoff's 500 ms is the header's doing.
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!((600..=3000).contains(&waits[0]), "{waits:?}");
}

#[tokio::test]
async fn x_should_retry_false_means_exactly_one_attempt() {
    let up = failing_then_ok(
        ResponseTemplate::new(503).insert_header("x-should-retry", "false"),
        5,
    )
    .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    assert!(is_error(&r));
    assert_eq!(hits(&up).await, 1);
    let t = text(&r);
    assert!(t.contains("HTTP 503"), "{t}");
    // It must not claim retries that were never made.
    assert!(!t.contains("retries"), "{t}");
    assert!(t.contains("1 attempt"), "{t}");
}

#[tokio::test]
async fn x_should_retry_true_retries_a_400() {
    let up = failing_then_ok(quick(400).insert_header("x-should-retry", "true"), 1).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(hits(&up).await, 2);
}

#[tokio::test]
async fn default_is_two_retries_then_the_error_says_how_many_attempts() {
    let up = failing_then_ok(quick(503), 100).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = cancel(&client).await;
    assert!(is_error(&r));
    assert_eq!(hits(&up).await, 3);
    let t = text(&r);
    assert!(t.contains("3 attempts"), "{t}");
    assert!(t.contains("may or may not have reached"), "{t}");
}

#[tokio::test]
async fn max_retries_setting_is_obeyed() {
    for (setting, attempts) in [("0", 1), ("4", 5)] {
        let up = failing_then_ok(quick(500), 100).await;
        let (client, _) = spawn(&base(&up), &[("MSGBATCH_MAX_RETRIES", setting)]).await;
        let r = cancel(&client).await;
        assert!(is_error(&r));
        assert_eq!(hits(&up).await, attempts, "MSGBATCH_MAX_RETRIES={setting}");
        client.cancel().await.unwrap();
    }
}

/// Which statuses are retried, as the SDKs do: 408, 409, 429 and every 5xx; no other.
#[tokio::test]
async fn the_sdk_status_rules() {
    let up = MockServer::start().await;
    let statuses = [
        (400, false),
        (401, false),
        (403, false),
        (404, false),
        (408, true),
        (409, true),
        (413, false),
        (422, false),
        (429, true),
        (500, true),
        (501, true),
        (502, true),
        (503, true),
        (504, true),
        (529, true),
        (599, true),
    ];
    for (status, _) in statuses {
        Mock::given(method("GET"))
            .and(path(format!("/v1/messages/batches/msgbatch_s{status}")))
            .respond_with(quick(status))
            .mount(&up)
            .await;
    }
    let (client, _) = spawn(&base(&up), &[("MSGBATCH_MAX_RETRIES", "1")]).await;
    for (status, retried) in statuses {
        let id = format!("msgbatch_s{status}");
        let r = call(
            &client,
            "get_message_batch",
            json!({"message_batch_id": id}),
        )
        .await;
        assert!(is_error(&r), "{status}");
        let seen = up
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|q| q.url.path().ends_with(&id))
            .count();
        assert_eq!(seen, if retried { 2 } else { 1 }, "HTTP {status}");
        assert!(text(&r).contains(&format!("HTTP {status}")), "{}", text(&r));
    }
}

#[tokio::test]
async fn connection_errors_are_retried_and_name_the_url() {
    let url = format!("http://127.0.0.1:{}/v1", closed_port());
    let (answer, waits, attempts) = cancel_logged(&url, &[("MSGBATCH_MAX_RETRIES", "1")]).await;
    let t = raw_text(&answer);
    assert_eq!(answer["result"]["isError"], json!(true), "{answer}");
    assert!(t.contains(&format!("could not connect to {url}")), "{t}");
    assert!(t.contains("MSGBATCH_API_URL"), "{t}");
    // No attempt connected: the person is told the cancel was never sent.
    assert!(t.contains("the cancel was not sent"), "{t}");
    assert!(!t.contains("may or may not"), "{t}");
    // The refused connection was tried twice, with one backoff between.
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(attempts[0].contains("attempt=1") && attempts[1].contains("attempt=2"));
    assert!(
        attempts.iter().all(|l| l.contains("refused")),
        "{attempts:?}"
    );
    assert_eq!(waits.len(), 1, "{waits:?}");
}

/// While waiting for `ended`, a server-asked wait that would end past the caller's deadline is
/// not slept: the retrieve is tried once, and the call answers.
#[tokio::test]
async fn a_wait_never_sleeps_past_the_deadline() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch_json(ID, "canceling")))
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path(RETRIEVE))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "30"))
        .mount(&up)
        .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 2}),
    )
    .await;
    let retrieves = up
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|q| q.method.as_str() == "GET")
        .count();
    let t = text(&r);
    assert_eq!(retrieves, 1, "{t}");
    assert!(t.contains("The cancel was accepted"), "{t}");
    assert!(t.contains("HTTP 503; 1 attempt"), "{t}");
    // The cancel is known to have been applied: no hedging about it.
    assert!(!t.contains("may or may not"), "{t}");
}

/// One debug line per attempt, each with its number, status and duration.
#[tokio::test]
async fn each_attempt_logs_one_debug_line() {
    let up = failing_then_ok(quick(503), 2).await;
    let mut s = RawServer::start(&base(&up), &[("RUST_LOG", "msgbatch_mcp=debug")]).await;
    let answer = s
        .call(1, "cancel_message_batch", json!({"message_batch_id": ID}))
        .await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    s.close_stdin();
    s.wait_exit(Duration::from_secs(10)).await.expect("exits");
    let log = s.stderr_text();
    let attempts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("msgbatch_mcp::api::client") && l.contains(" request "))
        .collect();
    assert_eq!(attempts.len(), 3, "{log}");
    for (n, status) in [(1, "503"), (2, "503"), (3, "200")] {
        let line = attempts[n - 1];
        assert!(line.contains(&format!("attempt={n}")), "{line}");
        assert!(line.contains(&format!("status={status}")), "{line}");
        assert!(line.contains("elapsed_ms="), "{line}");
    }
}
