//! Against APIs we did not write (issue 8): the real binary over stdio, driven by the rmcp
//! client, in front of upstreams that behave as the ones people actually run, not as our
//! simulator does:
//!
//! - a canned mock, as Prism or Microcks serve the sandbox spec: every ID answered with the
//!   spec's one example batch (read from the spec itself, tests/fixtures);
//! - the real API's way of counting: every request under `processing` until the batch ends;
//! - a newer API: a `processing_status` and fields this version does not know.
//!
//! Plus the settings side: which API answered, and where the person's key goes.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use common::{Client, RawServer, call, is_error, spawn, structured, text};
use msgbatch_mcp::config::{DEFAULT_API_URL, REAL_API_URL};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Where Microcks serves the sandbox API on its host.
const MICROCKS_PREFIX: &str = "/rest/anthropic-message-batches-api/1.0.0";
/// The ID in the spec's examples.
const EXAMPLE_ID: &str = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";
/// A batch of the person's own, which a canned mock knows nothing about.
const MY_ID: &str = "msgbatch_01MyOwnBatchAbCdEfGhIjKlMn";

/// One of the sandbox spec's examples, by name.
fn spec_example(name: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anthropic-message-batches-api-openapi.yml"
    );
    let spec: Value = serde_yaml::from_str(&std::fs::read_to_string(path).expect("read the spec"))
        .expect("parse the spec");
    let value = spec["components"]["examples"][name]["value"].clone();
    assert!(value.is_object(), "no example {name} in the spec");
    value
}

/// A canned mock, the way Prism or Microcks serve the spec: whatever the ID, retrieve answers
/// `MessageBatchExample`, cancel `CanceledMessageBatchExample`, list `MessageBatchListExample`.
async fn canned_mock() -> (MockServer, String) {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/messages/batches/[^/]+/cancel$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(spec_example("CanceledMessageBatchExample")),
        )
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/messages/batches/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(spec_example("MessageBatchExample")))
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/messages/batches$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(spec_example("MessageBatchListExample")),
        )
        .mount(&up)
        .await;
    let base = format!("{}{MICROCKS_PREFIX}", up.uri());
    (up, base)
}

/// Checks a tool's structured answer against the outputSchema it declares.
async fn assert_matches_output_schema(client: &Client, tool: &str, value: &Value) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let schema = tools
        .iter()
        .find(|t| t.name == tool)
        .and_then(|t| t.output_schema.clone())
        .expect("outputSchema declared");
    let schema = serde_json::to_value(&*schema).expect("schema as JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{tool} answer breaks its outputSchema: {errors:?}\n{value}"
    );
}

/// The text every result carries when the base URL is not the Anthropic API.
fn assert_names_the_api(t: &str, base: &str) {
    assert!(
        t.contains(&format!("set to use {base}")) && t.contains("not the Anthropic API"),
        "the text does not say which API answered:\n{t}"
    );
}

// ---------------------------------------------------------------------------------------------
// Problem 1: an answer about another batch read as success.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_canned_mock_answering_for_another_batch_is_an_error_naming_both_ids() {
    let (up, base) = canned_mock().await;
    let (client, _) = spawn(&base, &[]).await;

    for (tool, args) in [
        ("cancel_message_batch", json!({ "message_batch_id": MY_ID })),
        (
            "cancel_message_batch",
            json!({ "message_batch_id": MY_ID, "wait_seconds": 30 }),
        ),
        ("get_message_batch", json!({ "message_batch_id": MY_ID })),
    ] {
        let r = call(&client, tool, args.clone()).await;
        let t = text(&r);
        assert!(is_error(&r), "{tool} {args}: must be an error:\n{t}");
        assert!(t.contains(MY_ID) && t.contains(EXAMPLE_ID), "{t}");
        assert!(
            t.contains(&format!(
                "the endpoint at {base} answered for another batch"
            )),
            "{t}"
        );
        assert!(t.contains("nothing is known about batch"), "{t}");
        assert!(t.contains(REAL_API_URL), "how to reach real batches: {t}");
        assert!(!t.contains("is canceling"), "{t}");
        if tool == "cancel_message_batch" {
            assert!(t.contains("nothing real was canceled"), "{t}");
        }
        assert_names_the_api(&t, &base);
    }
    // The wait did not go on polling an answer about another batch.
    let cancels = up
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(cancels, 2);
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_canned_mock_asked_about_its_own_example_answers_as_before() {
    let (_up, base) = canned_mock().await;
    let (client, _) = spawn(&base, &[]).await;

    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": EXAMPLE_ID }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(
        t.contains(&format!("Batch {EXAMPLE_ID} is canceling.")),
        "{t}"
    );
    assert_eq!(structured(&r)["processing_status"], "canceling");
    assert_names_the_api(&t, &base);

    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": EXAMPLE_ID }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["id"], EXAMPLE_ID);
    assert_names_the_api(&text(&r), &base);

    // The list example has more pages: paging backwards goes on with before_id=first_id.
    let r = call(
        &client,
        "list_message_batches",
        json!({ "before_id": "msgbatch_0000000000000000000000NEW" }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(t.contains(&format!("before_id=\"{EXAMPLE_ID}\"")), "{t}");
    assert!(!t.contains("after_id="), "{t}");
    assert_names_the_api(&t, &base);

    // Paging on from the canned page's last batch gets the same page again: said, not looped.
    let r = call(
        &client,
        "list_message_batches",
        json!({ "after_id": "msgbatch_024Abw3DNIMOoYkKKLRrK3FG" }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(
        t.contains("canned page") && t.contains("Do not page on"),
        "{t}"
    );
    assert!(!t.contains("More batches"), "{t}");
    client.cancel().await.ok();
}

// ---------------------------------------------------------------------------------------------
// Problem 2: the real API's way of counting read wrong.
// ---------------------------------------------------------------------------------------------

/// A batch as the real API reports it: 100 requests, every one under `processing` until the
/// batch ends; then settled (40 succeeded, 60 canceled).
fn counted_the_real_way(id: &str, status: &str, cancel_asked: bool) -> Value {
    let ended = status == "ended";
    json!({
        "id": id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": {
            "processing": if ended { 0 } else { 100 },
            "succeeded": if ended { 40 } else { 0 },
            "errored": 0,
            "canceled": if ended { 60 } else { 0 },
            "expired": 0
        },
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "archived_at": null,
        "cancel_initiated_at": if cancel_asked { json!("2026-01-01T00:01:00Z") } else { Value::Null },
        "ended_at": if ended { json!("2026-01-01T00:02:00Z") } else { Value::Null },
        "results_url": if ended { json!(format!("https://api.example/v1/messages/batches/{id}/results")) } else { Value::Null }
    })
}

/// An upstream that counts the real way. A cancel makes a batch `canceling`; with `ends_after`,
/// the batch has ended from that many retrieves after the cancel on (else it never ends).
struct RealCounts {
    ends_after: Option<usize>,
    /// Per batch ID: whether a cancel was asked, and retrieves since.
    seen: Mutex<HashMap<String, (bool, usize)>>,
}

impl RealCounts {
    fn new(ends_after: Option<usize>) -> Self {
        Self {
            ends_after,
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl Respond for RealCounts {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let Some(id) = common::id_in_path(path) else {
            // The list: one batch running, one ended.
            return ResponseTemplate::new(200).set_body_json(json!({
                "data": [
                    counted_the_real_way("msgbatch_01Running00000000000000", "in_progress", false),
                    counted_the_real_way("msgbatch_01Ended0000000000000000", "ended", false),
                ],
                "has_more": false,
                "first_id": "msgbatch_01Running00000000000000",
                "last_id": "msgbatch_01Ended0000000000000000"
            }));
        };
        let mut seen = self.seen.lock().unwrap();
        let state = seen.entry(id.to_owned()).or_insert((false, 0));
        if request.method.as_str() == "POST" {
            state.0 = true;
        } else if state.0 {
            state.1 += 1;
        }
        let status = match (state.0, self.ends_after) {
            (false, _) => "in_progress",
            (true, Some(n)) if state.1 >= n => "ended",
            (true, _) => "canceling",
        };
        ResponseTemplate::new(200).set_body_json(counted_the_real_way(id, status, state.0))
    }
}

async fn real_counts_upstream(ends_after: Option<usize>) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(RealCounts::new(ends_after))
        .mount(&up)
        .await;
    up
}

/// No "0 of 100" or "0/100" (as a number of its own: "100/100" of an ended batch is true).
fn assert_no_zero_of_n(t: &str) {
    for wrong in ["0 of 100", "0/100"] {
        let said = t
            .match_indices(wrong)
            .any(|(i, _)| !t[..i].ends_with(|c: char| c.is_ascii_digit()));
        assert!(!said, "says {wrong:?}:\n{t}");
    }
    assert!(!t.contains("requests are done"), "{t}");
}

#[tokio::test]
async fn counts_held_under_processing_are_said_to_come_at_the_end_never_0_of_n() {
    let up = real_counts_upstream(None).await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let id = "msgbatch_01HeldCounts000000000000";

    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": id }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert_no_zero_of_n(&t);
    assert!(t.contains("counts are reported when the batch ends"), "{t}");
    assert!(t.contains("100 in all"), "{t}");

    let r = call(&client, "list_message_batches", json!({})).await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert_no_zero_of_n(&t);
    assert!(t.contains("100 requests, counted when it ends"), "{t}");

    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": id }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert_no_zero_of_n(&t);
    assert!(
        t.contains("is canceling") && t.contains("when the batch ends"),
        "{t}"
    );
    client.cancel().await.ok();
}

/// The issue's 15 s wait: the batch ends at the second poll after the cancel (polls come at 1 s,
/// then 3 s), so the call takes about 3 s, and progress is seconds waited out of 15.
#[tokio::test]
async fn a_15_s_wait_reports_time_waited_strictly_increasing_with_status_and_counts() {
    let up = real_counts_upstream(Some(2)).await;
    let (client, recorder) = spawn(&common::base(&up), &[]).await;
    let id = "msgbatch_01WaitedFor0000000000000";

    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": id, "wait_seconds": 15 }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert_eq!(structured(&r)["processing_status"], "ended", "{t}");
    assert!(t.contains("The cancel is complete"), "{t}");

    let progress = recorder.progress();
    assert!(
        progress.iter().all(|p| p.total == Some(15.0)),
        "total is wait_seconds: {progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "progress strictly increases: {progress:?}"
    );
    let messages: Vec<&str> = progress
        .iter()
        .map(|p| p.message.as_deref().unwrap_or(""))
        .collect();
    let before_the_end = messages
        .iter()
        .filter(|m| m.starts_with("canceling"))
        .count();
    assert!(
        before_the_end >= 2,
        "at least two before the end: {messages:?}"
    );
    for m in &messages {
        assert_no_zero_of_n(m);
    }
    assert!(
        messages[..before_the_end]
            .iter()
            .all(|m| m.contains("100 requests, counted when the batch ends")),
        "{messages:?}"
    );
    let last = messages.last().copied().unwrap_or("");
    assert!(
        last.starts_with("ended") && last.contains("40 succeeded") && last.contains("60 canceled"),
        "the last message carries the final counts: {messages:?}"
    );
    client.cancel().await.ok();
}

/// A batch that never ends within the wait: polls at 1 and 3 s, then the 5 s deadline.
#[tokio::test]
async fn a_wait_that_runs_out_on_held_counts_still_never_says_0_of_n() {
    let up = real_counts_upstream(None).await;
    let (client, recorder) = spawn(&common::base(&up), &[]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": "msgbatch_01NeverEnds00000000000", "wait_seconds": 5 }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(t.contains("Not ended yet"), "{t}");
    assert_no_zero_of_n(&t);
    let progress = recorder.progress();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .all(|p| p.total == Some(5.0) && p.progress <= 5.0),
        "{progress:?}"
    );
    client.cancel().await.ok();
}

// ---------------------------------------------------------------------------------------------
// Problem 4: a newer API broke every call.
// ---------------------------------------------------------------------------------------------

/// A batch from a newer API: an unknown status and fields this version does not know.
fn from_a_newer_api(id: &str) -> Value {
    let mut b = counted_the_real_way(id, "in_progress", false);
    b["processing_status"] = json!("paused");
    b["priority"] = json!("low");
    b["usage_hint"] = json!({ "estimated_tokens": 12345, "tiers": ["a", "b"] });
    b
}

struct NewerApi;

impl Respond for NewerApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match common::id_in_path(request.url.path()) {
            Some(id) => ResponseTemplate::new(200).set_body_json(from_a_newer_api(id)),
            None => ResponseTemplate::new(200).set_body_json(json!({
                "data": [from_a_newer_api("msgbatch_01Paused000000000000000")],
                "has_more": false,
                "first_id": "msgbatch_01Paused000000000000000",
                "last_id": "msgbatch_01Paused000000000000000",
                "next_page": "opaque-cursor"
            })),
        }
    }
}

#[tokio::test]
async fn an_unknown_status_and_unknown_fields_pass_through_get_cancel_and_list() {
    let up = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(NewerApi)
        .mount(&up)
        .await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let id = "msgbatch_01Paused000000000000000";

    for tool in ["get_message_batch", "cancel_message_batch"] {
        let r = call(&client, tool, json!({ "message_batch_id": id })).await;
        let t = text(&r);
        assert!(!is_error(&r), "{tool}: {t}");
        assert!(t.contains("status `paused`"), "{t}");
        assert!(
            t.contains("a status this server does not know; check the API docs"),
            "{t}"
        );
        assert!(!t.contains("may or may not"), "{t}");
        assert!(!t.contains("not a message batch"), "{t}");
        let s = structured(&r);
        assert_eq!(s["processing_status"], "paused");
        assert_eq!(s["priority"], "low");
        assert_eq!(s["usage_hint"]["estimated_tokens"], 12345);
        assert_eq!(s["usage_hint"]["tiers"], json!(["a", "b"]));
        assert_matches_output_schema(&client, tool, s).await;
    }

    let r = call(&client, "list_message_batches", json!({})).await;
    let t = text(&r);
    assert!(!is_error(&r), "{t}");
    assert!(t.contains("paused (unknown status)"), "{t}");
    let s = structured(&r);
    assert_eq!(s["next_page"], "opaque-cursor");
    assert_eq!(s["data"][0]["processing_status"], "paused");
    assert_eq!(s["data"][0]["priority"], "low");
    assert_matches_output_schema(&client, "list_message_batches", s).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_cancel_answered_200_is_never_one_that_may_not_have_reached_the_api() {
    // A newer API that answers the cancel in a shape this version cannot read at all.
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "batch": { "id": MY_ID, "state": "canceling" }
        })))
        .mount(&up)
        .await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": MY_ID }),
    )
    .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(!t.contains("may or may not"), "{t}");
    assert!(t.contains("accepted the cancel request (HTTP 200)"), "{t}");
    assert!(t.contains("get_message_batch"), "{t}");
    client.cancel().await.ok();
}

// ---------------------------------------------------------------------------------------------
// Which API answered, and problem 5: where the person's key goes.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn against_api_anthropic_com_nothing_extra_is_said() {
    // No key: refused before anything is sent, so no traffic leaves this machine.
    let (client, _) = spawn(REAL_API_URL, &[]).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": MY_ID }),
    )
    .await;
    let t = text(&r);
    assert!(
        is_error(&r) && t.contains("ANTHROPIC_API_KEY is not set"),
        "{t}"
    );
    assert!(!t.contains("not the Anthropic API"), "{t}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_chosen_loopback_url_gets_the_persons_key() {
    let key = "sk-ant-test-chosen-loopback-KEY";
    let up = MockServer::start().await;
    Mock::given(header("x-api-key", key))
        .respond_with(common::EchoBatch("in_progress"))
        .mount(&up)
        .await;
    let base = common::base(&up);
    let (client, _) = spawn(&base, &[("ANTHROPIC_API_KEY", key)]).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": MY_ID }),
    )
    .await;
    let t = text(&r);
    assert!(!is_error(&r), "the upstream did not receive the key: {t}");
    assert!(!t.contains(key), "{t}");
    assert_names_the_api(&t, &base);
    client.cancel().await.ok();
}

/// A wiremock upstream on `addr`, recording every request; `None` if that address cannot be
/// bound (no IPv6 on this machine, say).
async fn upstream_on(addr: &str) -> Option<MockServer> {
    let listener = std::net::TcpListener::bind(addr).ok()?;
    let up = MockServer::builder().listener(listener).start().await;
    Mock::given(method("POST"))
        .respond_with(common::EchoBatch("canceling"))
        .mount(&up)
        .await;
    Some(up)
}

/// The person's key set with the default URL (the local mock's, on port 8080) never leaves: the
/// upstream listening there receives the placeholder and nothing of the key, in no header and
/// not in the URL. The test listens on 8080 itself (both loopback addresses `localhost` may
/// resolve to), so that what a mutation sending the real key would send is seen.
#[tokio::test]
async fn a_key_set_for_the_default_mock_url_never_reaches_it() {
    let key = "sk-ant-test-default-url-never-sent-KEY";
    let v4 = upstream_on("127.0.0.1:8080").await.unwrap_or_else(|| {
        panic!(
            "this test listens on 127.0.0.1:8080, the default URL's port: something else holds it"
        )
    });
    let v6 = upstream_on("[::1]:8080").await;
    let (client, _) = spawn(DEFAULT_API_URL, &[("ANTHROPIC_API_KEY", key)]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": MY_ID }),
    )
    .await;
    assert!(
        !is_error(&r),
        "the default URL's upstream did not answer: {}",
        text(&r)
    );
    client.cancel().await.ok();
    let mut received = v4.received_requests().await.expect("recording");
    if let Some(v6) = &v6 {
        received.extend(v6.received_requests().await.expect("recording"));
    }
    assert_eq!(received.len(), 1, "{received:?}");
    let cancel = &received[0];
    assert!(
        cancel.url.path().starts_with(MICROCKS_PREFIX),
        "{}",
        cancel.url
    );
    assert_eq!(
        cancel
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok()),
        Some(msgbatch_mcp::config::PLACEHOLDER_KEY),
        "the key sent to the default URL"
    );
    for (name, value) in &cancel.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(!value.contains(key), "the key went out in {name}");
    }
    assert!(!cancel.url.as_str().contains(key));
    assert!(!String::from_utf8_lossy(&cancel.body).contains(key));
}

/// What the person sees at start when a key is set with the default URL.
#[tokio::test]
async fn a_key_set_for_the_default_mock_url_is_warned_about_at_start() {
    let key = "sk-ant-test-default-url-KEY";
    let mut server = RawServer::start(DEFAULT_API_URL, &[("ANTHROPIC_API_KEY", key)]).await;
    server.close_stdin();
    server
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("exits when stdin closes");
    let stderr = server.stderr_text();
    assert!(
        stderr.contains("ANTHROPIC_API_KEY is set, but MSGBATCH_API_URL is the default"),
        "{stderr}"
    );
    assert!(stderr.contains("the key is not sent there"), "{stderr}");
    assert!(stderr.contains(REAL_API_URL), "{stderr}");
    assert!(!stderr.contains(key), "{stderr}");
}
