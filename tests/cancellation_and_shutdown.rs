//! Stopping work, end to end.
//!
//! - A client cancel (`notifications/cancelled`) stops the call's HTTP request and its wait
//!   loop at once (the upstream sees the connection close and no more polls), no answer is
//!   ever written for that request, and the server goes on serving.
//! - stdin EOF, SIGTERM and SIGINT end the process with status 0 even with a call in flight
//!   against a hanging upstream, and stdout holds nothing but JSON-RPC messages.
//!
//! Exit times are only bounded generously (10 s, against a 120 s upstream timeout): the real
//! figures are measured by `tools/measure/reliability.sh`.

mod common;

use std::time::Duration;

use common::*;
use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Generous bound on exiting after stdin EOF or a signal; typical is a few milliseconds.
const EXIT_BOUND: Duration = Duration::from_secs(10);

/// An upstream where cancel succeeds and the batch stays `canceling` forever.
async fn canceling_forever() -> MockServer {
    echo_upstream("canceling", "canceling").await
}

async fn count(up: &MockServer, verb: &str) -> usize {
    hits_by(up, verb).await
}

/// Polls `cond` every 20 ms for up to `within`.
async fn eventually(within: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Polls of `id` the upstream has received.
async fn polls(up: &MockServer, id: &str) -> usize {
    received(up)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "GET" && id_in_path(r.url.path()) == Some(id))
        .count()
}

/// Sends a `cancel_message_batch` with a long wait for `id`, as a call that can be cancelled.
async fn waiting_cancel(
    client: &Client,
    id: &str,
) -> rmcp::service::RequestHandle<rmcp::RoleClient> {
    let args = json!({"message_batch_id": id, "wait_seconds": 120});
    let params = CallToolRequestParams::new("cancel_message_batch")
        .with_arguments(args.as_object().unwrap().clone());
    client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap()
}

/// A client cancel stops the wait loop. Seen against a witness: a second wait, started after
/// the cancel and left running, polls twice (at 1 s and 3 s after its start); the cancelled
/// wait's second poll was due 2 s after its first, so before the witness's second poll. Both
/// run in the same server, so a slow machine delays them alike: no sleep decides the outcome.
#[tokio::test]
async fn a_client_cancel_stops_the_wait_loop_and_the_server_serves_on() {
    const WITNESS: &str = "msgbatch_01WitnessOfTheWait00000";
    let up = canceling_forever().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let handle = waiting_cancel(&client, ID).await;
    // The wait loop is running once the first poll arrives (1 s after the cancel).
    assert!(eventually(Duration::from_secs(20), async || polls(&up, ID).await >= 1).await);
    handle
        .cancel(Some("user pressed stop".into()))
        .await
        .unwrap();
    let before = polls(&up, ID).await;
    let _witness = waiting_cancel(&client, WITNESS).await;
    assert!(
        eventually(Duration::from_secs(60), async || polls(&up, WITNESS).await
            >= 2)
        .await,
        "the witness's wait did not poll twice"
    );
    assert_eq!(polls(&up, ID).await, before, "the wait loop kept polling");
    let batch = still_serving(&client, ID).await;
    assert_eq!(batch["processing_status"], "canceling");
}

/// Dropping the call on the client side (as rmcp does when its future is dropped) cancels
/// it; the server drops the request it had in flight, which the upstream sees as a hang-up.
#[tokio::test]
async fn a_client_cancel_drops_the_http_request_in_flight() {
    let up = MiniUpstream::start(MiniMode::Hang).await;
    let (client, _) = spawn(&up.url, &[("MSGBATCH_TIMEOUT_SECS", "120")]).await;
    let call = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    );
    tokio::select! {
        r = call => panic!("a hanging upstream answered: {r:?}"),
        seen = eventually(Duration::from_secs(20), async || up.requests() >= 1) => assert!(seen),
    }
    // The call future is dropped here: rmcp sends notifications/cancelled.
    assert!(
        eventually(Duration::from_secs(20), async || up.closed_by_client() >= 1).await,
        "the server kept the cancelled request's connection open"
    );
    assert_eq!(up.requests(), 1);
}

/// Over raw stdio: after `notifications/cancelled`, the cancelled request gets no answer at
/// all (checked on everything the server wrote until it exited), and later requests do.
#[tokio::test]
async fn a_cancelled_request_is_never_answered() {
    let up = canceling_forever().await;
    let mut s = RawServer::start(&base(&up), &[]).await;
    s.send(&json!({
        "jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": "cancel_message_batch",
                   "arguments": {"message_batch_id": ID, "wait_seconds": 120}}
    }))
    .await;
    assert!(
        eventually(Duration::from_secs(20), async || count(&up, "POST").await
            >= 1)
        .await
    );
    s.send(&json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 5, "reason": "test"}
    }))
    .await;
    let answer = s
        .call(6, "get_message_batch", json!({"message_batch_id": ID}))
        .await;
    assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    s.close_stdin();
    let status = s
        .wait_exit(EXIT_BOUND)
        .await
        .expect("exits after stdin EOF");
    assert!(status.success(), "{status:?}");
    let lines = s.stdout_lines();
    for line in &lines {
        let m: Value = serde_json::from_str(line).expect("stdout is JSON-RPC only");
        assert_ne!(
            m["id"],
            json!(5),
            "the cancelled request was answered: {line}"
        );
    }
}

/// Starts a server with one call in flight against a hanging upstream.
async fn server_with_a_call_in_flight() -> (RawServer, MiniUpstream) {
    let up = MiniUpstream::start(MiniMode::Hang).await;
    let mut s = RawServer::start(&up.url, &[("MSGBATCH_TIMEOUT_SECS", "120")]).await;
    s.send(&json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "get_message_batch", "arguments": {"message_batch_id": ID}}
    }))
    .await;
    assert!(eventually(Duration::from_secs(20), async || up.requests() >= 1).await);
    (s, up)
}

fn assert_stdout_is_json_rpc_only(s: &RawServer) {
    for line in s.stdout_lines() {
        let m: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"));
        assert_eq!(m["jsonrpc"], "2.0", "{line}");
    }
}

#[tokio::test]
async fn stdin_eof_with_a_call_in_flight_exits_0() {
    let (mut s, up) = server_with_a_call_in_flight().await;
    s.close_stdin();
    let status = s
        .wait_exit(EXIT_BOUND)
        .await
        .expect("exits after stdin EOF");
    assert!(status.success(), "{status:?}\n{}", s.stderr_text());
    assert_stdout_is_json_rpc_only(&s);
    // The hanging request was dropped, not left to the upstream.
    assert!(eventually(Duration::from_secs(5), async || up.closed_by_client() >= 1).await);
}

#[tokio::test]
async fn sigterm_with_a_call_in_flight_exits_0() {
    let (mut s, _up) = server_with_a_call_in_flight().await;
    s.signal("TERM");
    let status = s.wait_exit(EXIT_BOUND).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", s.stderr_text());
    assert_stdout_is_json_rpc_only(&s);
}

#[tokio::test]
async fn sigint_with_a_call_in_flight_exits_0() {
    let (mut s, _up) = server_with_a_call_in_flight().await;
    s.signal("INT");
    let status = s.wait_exit(EXIT_BOUND).await.expect("exits after SIGINT");
    assert!(status.success(), "{status:?}\n{}", s.stderr_text());
    assert_stdout_is_json_rpc_only(&s);
}

#[tokio::test]
async fn stdin_eof_during_a_wait_for_ended_exits_0() {
    let up = canceling_forever().await;
    let mut s = RawServer::start(&base(&up), &[]).await;
    s.send(&json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "cancel_message_batch",
                   "arguments": {"message_batch_id": ID, "wait_seconds": 600}}
    }))
    .await;
    assert!(
        eventually(Duration::from_secs(20), async || count(&up, "POST").await
            >= 1)
        .await
    );
    s.close_stdin();
    let status = s
        .wait_exit(EXIT_BOUND)
        .await
        .expect("exits after stdin EOF");
    assert!(status.success(), "{status:?}");
    assert_stdout_is_json_rpc_only(&s);
}

#[tokio::test]
async fn stdin_eof_before_initialize_exits_0() {
    let mut s = RawServer::spawn("http://127.0.0.1:9/v1", &[]).await;
    s.close_stdin();
    let status = s.wait_exit(EXIT_BOUND).await.expect("exits");
    assert!(status.success(), "{status:?}");
    assert!(s.stdout_lines().is_empty());
}

/// An upstream that answers slowly still answers: waiting is not mistaken for a hang when it
/// is within the timeout (guards against cancelling too eagerly).
#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_waited_for() {
    let up = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(batch_json(ID, "in_progress"))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&up)
        .await;
    let (client, _) = spawn(&base(&up), &[("MSGBATCH_TIMEOUT_SECS", "10")]).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(hits(&up).await, 1);
}
