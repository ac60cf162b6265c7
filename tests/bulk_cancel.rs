//! `cancel_message_batches` end to end: the real binary over stdio, against the simulator and
//! against upstreams that fail in chosen ways. Requests are counted upstream, so "nothing was
//! sent" and "one cancel per distinct ID" are facts, not claims.

mod common;

use std::time::Duration;

use common::*;
use msgbatch_mcp::simulator::{self, RunningSimulator, SimConfig};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn sim(request_ms: u64, cancel_delay_ms: u64) -> RunningSimulator {
    simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_millis(request_ms),
            cancel_delay: Duration::from_millis(cancel_delay_ms),
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator")
}

async fn bulk(client: &Client, args: Value) -> rmcp::model::CallToolResult {
    call(client, "cancel_message_batches", args).await
}

/// The outcome of each ID, in order: (id, outcome).
fn outcomes(result: &rmcp::model::CallToolResult) -> Vec<(String, String)> {
    structured(result)["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| {
            (
                o["message_batch_id"].as_str().unwrap_or("").to_owned(),
                o["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn assert_matches_output_schema(client: &Client, value: &Value) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let schema = tools
        .iter()
        .find(|t| t.name == "cancel_message_batches")
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
        "answer breaks its outputSchema: {errors:?}\n{value}"
    );
}

/// The "done when": five IDs (two running, one ended, one unknown, one repeated) give
/// exactly four cancels upstream and one answer with four outcomes.
#[tokio::test]
async fn five_ids_give_four_cancels_and_four_outcomes() {
    let sim = sim(1_000, 60_000).await;
    let a = sim.simulator().insert_batch(20);
    let b = sim.simulator().insert_batch(30);
    let ended = sim.simulator().insert_ended_batch(10);
    let unknown = "msgbatch_0000000000000000000unknown";
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let before = sim.simulator().stats().cancel;

    let r = bulk(
        &client,
        json!({"message_batch_ids": [a.id, ended.id, unknown, b.id, a.id]}),
    )
    .await;

    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        sim.simulator().stats().cancel - before,
        4,
        "cancels sent upstream"
    );
    assert_eq!(
        outcomes(&r),
        vec![
            (a.id.clone(), "canceling".to_owned()),
            (ended.id.clone(), "already_ended".to_owned()),
            (unknown.to_owned(), "not_found".to_owned()),
            (b.id.clone(), "canceling".to_owned()),
        ]
    );
    let s = structured(&r);
    assert_eq!(s["summary"], "2 canceling, 1 already ended, 1 not found");
    assert_eq!(s["ids_given"], 5);
    assert_eq!(s["repeated"], 1);
    assert_eq!(s["counts"]["canceling"], 2);
    let o = &s["outcomes"];
    assert_eq!(o[0]["processing_status"], "canceling");
    assert_eq!(
        o[0]["request_counts"]["processing"].as_u64().map(|_| ()),
        Some(())
    );
    assert_eq!(o[1]["processing_status"], "ended");
    assert!(o[1]["results_url"].is_string(), "{o}");
    assert!(o[2]["processing_status"].is_null());
    let reason = o[2]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("no such batch"), "{reason}");
    assert_eq!(
        sim.simulator()
            .batch(&a.id)
            .map(|b| b.processing_status.to_string())
            .as_deref(),
        Some("canceling")
    );
    assert_eq!(
        sim.simulator()
            .batch(&b.id)
            .map(|b| b.processing_status.to_string())
            .as_deref(),
        Some("canceling")
    );

    let t = text(&r);
    assert!(
        t.starts_with("4 batches: 2 canceling, 1 already ended, 1 not found."),
        "{t}"
    );
    assert!(t.contains("5 IDs given; 1 repeated"), "{t}");
    assert!(
        t.contains(&format!("| {} | canceling | canceling |", a.id)),
        "{t}"
    );
    assert!(
        t.contains(&format!("| {unknown} | not found | - | - |")),
        "{t}"
    );
    assert!(t.contains("not immediate"), "{t}");
    assert_matches_output_schema(&client, s).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn wait_seconds_follows_every_batch_to_ended_with_progress_in_batches() {
    let sim = sim(50, 1_500).await;
    let a = sim.simulator().insert_batch(200);
    let b = sim.simulator().insert_batch(300);
    let ended = sim.simulator().insert_ended_batch(5);
    let (client, recorder) = spawn(&sim.base_url(), &[]).await;

    let r = bulk(
        &client,
        json!({"message_batch_ids": [a.id, b.id, ended.id], "wait_seconds": 60}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    for o in s["outcomes"].as_array().unwrap() {
        assert_eq!(o["processing_status"], "ended", "{o}");
        assert!(o["ended_at"].is_string(), "{o}");
    }
    assert_eq!(s["outcomes"][0]["outcome"], "canceling");
    assert_eq!(s["outcomes"][2]["outcome"], "already_ended");
    // The wait asked, as held: never past the 50 s cap on held calls.
    assert_eq!(s["waited_seconds"], 50);
    assert!(
        s["note"]
            .as_str()
            .unwrap_or("")
            .contains("every canceled batch has ended"),
        "{s}"
    );

    let progress = recorder.progress();
    assert!(!progress.is_empty(), "no progress");
    assert!(
        progress.iter().all(|p| p.total == Some(3.0)),
        "{progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "progress goes forward: {progress:?}"
    );
    assert_eq!(
        progress[0].progress, 1.0,
        "the ended batch counts from the start"
    );
    let last = progress.last().unwrap();
    assert_eq!(last.progress, 3.0);
    assert_eq!(last.message.as_deref(), Some("3 of 3 batches ended"));
    assert_matches_output_schema(&client, s).await;
    client.cancel().await.ok();
}

/// IDs named after what the fault upstream does with them.
const OK: &str = "msgbatch_ok";
const GONE: &str = "msgbatch_gone";
const BROKEN: &str = "msgbatch_broken";
const EARLIER: &str = "msgbatch_earlier";

/// A cancel is accepted for OK, 404 for GONE, 500 for BROKEN, and 409 for EARLIER whose batch
/// is already `canceling`.
async fn fault_upstream() -> MockServer {
    let up = MockServer::start().await;
    let cancel = |id: &str| format!("/v1/messages/batches/{id}/cancel$");
    Mock::given(method("POST"))
        .and(path_regex(cancel(OK)))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch_json(OK, "canceling")))
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(cancel(GONE)))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "type": "error", "error": {"type": "not_found_error", "message": "No such batch"}})))
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(cancel(BROKEN)))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "type": "error", "error": {"type": "api_error", "message": "Internal error"}})))
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(cancel(EARLIER)))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "type": "error", "error": {"type": "conflict_error", "message": "Already canceling"}})))
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("/v1/messages/batches/{EARLIER}$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch_json(EARLIER, "canceling")))
        .mount(&up)
        .await;
    up
}

async fn posts_for(up: &MockServer, id: &str) -> usize {
    up.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && id_in_path(r.url.path()) == Some(id))
        .count()
}

#[tokio::test]
async fn mixed_outcomes_are_independent_and_partial_failure_is_not_an_error() {
    let up = fault_upstream().await;
    let (client, _) = spawn(&base(&up), &[("MSGBATCH_MAX_RETRIES", "0")]).await;
    let r = bulk(
        &client,
        json!({"message_batch_ids": [BROKEN, OK, GONE, EARLIER, OK, " msgbatch_ok "]}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        outcomes(&r),
        vec![
            (BROKEN.to_owned(), "failed".to_owned()),
            (OK.to_owned(), "canceling".to_owned()),
            (GONE.to_owned(), "not_found".to_owned()),
            (EARLIER.to_owned(), "already_canceling".to_owned()),
        ]
    );
    // Repeats (even with spaces around) collapse: one cancel per distinct ID.
    for id in [BROKEN, OK, GONE, EARLIER] {
        assert_eq!(posts_for(&up, id).await, 1, "cancels of {id}");
    }
    let s = structured(&r);
    assert_eq!(
        s["summary"],
        "1 canceling, 1 already canceling, 1 not found, 1 failed"
    );
    let failed = s["outcomes"][0]["reason"].as_str().unwrap_or("");
    assert!(failed.contains("HTTP 500"), "{failed}");
    assert!(
        failed.contains("may or may not have reached the API"),
        "{failed}"
    );
    assert_eq!(s["outcomes"][3]["processing_status"], "canceling");
    assert_matches_output_schema(&client, s).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn all_failing_is_an_error_that_still_gives_each_outcome() {
    let up = fault_upstream().await;
    let (client, _) = spawn(&base(&up), &[("MSGBATCH_MAX_RETRIES", "0")]).await;
    let r = bulk(&client, json!({"message_batch_ids": [GONE, BROKEN]})).await;
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    assert!(t.starts_with("2 batches: 1 not found, 1 failed."), "{t}");
    assert!(
        t.contains(&format!(
            "- {GONE}: Could not cancel batch {GONE}: no such batch"
        )),
        "{t}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn one_invalid_id_refuses_all_and_nothing_is_sent() {
    let up = fault_upstream().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = bulk(
        &client,
        json!({"message_batch_ids": [OK, "msgbatch_x/../../files", EARLIER, ""]}),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    assert!(
        t.starts_with("2 of the 4 IDs are not valid batch IDs"),
        "{t}"
    );
    assert!(t.contains("message_batch_ids[1] contains '/'"), "{t}");
    assert!(t.contains("message_batch_ids[3] is empty"), "{t}");
    assert!(t.contains("Nothing was sent"), "{t}");
    assert_eq!(hits(&up).await, 0, "requests sent upstream");
    still_serving(&client, EARLIER).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn more_than_100_ids_or_none_are_refused_with_nothing_sent() {
    let up = fault_upstream().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let many: Vec<String> = (0..101).map(|i| format!("msgbatch_{i:03}")).collect();
    let r = bulk(&client, json!({ "message_batch_ids": many })).await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("message_batch_ids has 101 IDs; at most 100"),
        "{}",
        text(&r)
    );
    let r = bulk(&client, json!({ "message_batch_ids": [] })).await;
    assert!(is_error(&r));
    assert!(
        text(&r).starts_with("message_batch_ids is empty"),
        "{}",
        text(&r)
    );
    let r = bulk(&client, json!({ "message_batch_ids": OK })).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("message_batch_ids must be a list"),
        "{}",
        text(&r)
    );
    let r = bulk(
        &client,
        json!({ "message_batch_ids": [OK], "wait_seconds": 601 }),
    )
    .await;
    assert!(is_error(&r));
    assert_eq!(hits(&up).await, 0, "requests sent upstream");
    client.cancel().await.ok();
}

/// A client cancel drops the call: the cancels in flight are dropped (the upstream sees the
/// connections close) and the ones not yet sent never are.
#[tokio::test]
async fn a_client_cancel_stops_the_remaining_cancels() {
    let up = MiniUpstream::start(MiniMode::Hang).await;
    let (client, _) = spawn(&up.url, &[("MSGBATCH_TIMEOUT_SECS", "120")]).await;
    let ids: Vec<String> = (0..20).map(|i| format!("msgbatch_{i:02}")).collect();
    let in_flight = msgbatch_mcp::server::bulk::CONCURRENCY;
    let call = bulk(&client, json!({ "message_batch_ids": ids }));
    tokio::select! {
        r = call => panic!("a hanging upstream answered: {r:?}"),
        seen = eventually(Duration::from_secs(20), async || up.requests() >= in_flight) => assert!(seen),
    }
    // The call future is dropped here: rmcp sends notifications/cancelled.
    assert!(
        eventually(Duration::from_secs(20), async || up.closed_by_client()
            >= in_flight)
        .await,
        "the server kept the cancelled requests' connections open"
    );
    assert_eq!(
        up.requests(),
        in_flight,
        "cancels sent after the client cancelled"
    );
    client.cancel().await.ok();
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

/// A canned mock (the sandbox mock, Prism or Microcks serving the spec's examples) answers
/// every ID with its one example batch: for every other ID that is an answer about another
/// batch, so that ID's outcome is `failed` with the reason, never `canceling`; the others go on.
#[tokio::test]
async fn an_answer_about_another_batch_is_that_ids_failure() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch_json(ID, "canceling")))
        .mount(&up)
        .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = bulk(
        &client,
        json!({"message_batch_ids": ["msgbatch_mine1", ID, "msgbatch_mine2"]}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        outcomes(&r),
        vec![
            ("msgbatch_mine1".to_owned(), "failed".to_owned()),
            (ID.to_owned(), "canceling".to_owned()),
            ("msgbatch_mine2".to_owned(), "failed".to_owned()),
        ]
    );
    let s = structured(&r);
    let reason = s["outcomes"][0]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains(&format!(
            "answered for another batch, {ID}, not for msgbatch_mine1"
        )),
        "{reason}"
    );
    assert!(reason.contains("nothing real was canceled"), "{reason}");
    assert!(s["outcomes"][0]["processing_status"].is_null(), "{s}");
    assert_eq!(s["summary"], "1 canceling, 2 failed");
    // All failing is an error, still with each outcome.
    let r = bulk(&client, json!({"message_batch_ids": ["msgbatch_mine3"]})).await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("answered for another batch"),
        "{}",
        text(&r)
    );
    client.cancel().await.ok();
}

/// The bulk call's wait counts against the server's bound on waiting calls (one slot for the
/// call): with every slot taken, it answers at once with its outcomes, saying it did not wait.
#[tokio::test]
async fn with_every_wait_slot_taken_the_bulk_call_answers_without_waiting() {
    use msgbatch_mcp::server::waits::MAX_WAITING;
    let up = echo_upstream("canceling", "canceling").await;
    let mut s = RawServer::start(&base(&up), &[]).await;
    let calls: String = (1..=MAX_WAITING)
        .map(|n| {
            let call = json!({
                "jsonrpc": "2.0", "id": n, "method": "tools/call",
                "params": {"name": "cancel_message_batch",
                           "arguments": {"message_batch_id": format!("msgbatch_{n:05}"),
                                         "wait_seconds": 600},
                           "_meta": {"progressToken": n}}
            });
            format!("{call}\n")
        })
        .collect();
    s.send_raw(calls.as_bytes()).await;
    // Each waiting call reports progress as its wait begins: all slots are taken once every
    // token has been seen.
    let mut waiting = std::collections::HashSet::new();
    while waiting.len() < MAX_WAITING {
        let m = s
            .next_message(Duration::from_secs(120))
            .await
            .expect("the server went quiet");
        assert!(
            m.get("id").is_none(),
            "a call answered instead of waiting: {m}"
        );
        if m["method"] == "notifications/progress" {
            waiting.insert(m["params"]["progressToken"].as_u64().unwrap_or(0));
        }
    }
    let a = s
        .call(
            9_999,
            "cancel_message_batches",
            json!({"message_batch_ids": ["msgbatch_a", "msgbatch_b"], "wait_seconds": 600}),
        )
        .await;
    assert_eq!(a["result"]["isError"], json!(false), "{a}");
    let r = &a["result"]["structuredContent"];
    assert_eq!(r["counts"]["canceling"], 2, "{r}");
    assert_eq!(r["waited_seconds"], 0, "{r}");
    assert!(raw_text(&a).contains("did not wait"), "{a}");
    s.close_stdin();
    s.wait_exit(Duration::from_secs(30)).await.expect("exits");
}
