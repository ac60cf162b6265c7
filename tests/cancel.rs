//! `cancel_message_batch` end to end: the real binary over stdio, the simulator upstream.

mod common;

use std::time::Duration;

use common::{MiniMode, MiniUpstream, call, is_error, spawn, structured, text};
use msgbatch_mcp::simulator::{self, RunningSimulator, SimConfig};
use serde_json::{Value, json};

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

/// Checks a tool's structured answer against the outputSchema it declares.
async fn assert_matches_output_schema(client: &common::Client, tool: &str, value: &Value) {
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

#[tokio::test]
async fn cancel_answers_canceling_with_every_field_and_the_not_immediate_note() {
    let sim = sim(1_000, 60_000).await;
    let batch = sim.simulator().insert_batch(50);
    let (client, _) = spawn(&sim.base_url(), &[]).await;

    let result = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": batch.id }),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let s = structured(&result);
    assert_eq!(s["id"], batch.id);
    assert_eq!(s["type"], "message_batch");
    assert_eq!(s["processing_status"], "canceling");
    assert!(s["cancel_initiated_at"].is_string());
    // Nullable fields are present as null, as the API sends them.
    for field in ["ended_at", "results_url", "archived_at"] {
        assert!(s.get(field).is_some_and(Value::is_null), "{field}: {s}");
    }
    let note = s["note"].as_str().expect("note");
    assert!(note.contains("not immediate"), "{note}");
    assert!(note.contains("may still complete"), "{note}");
    assert!(note.contains("get_message_batch"), "{note}");
    let t = text(&result);
    assert!(
        t.contains(&format!("Batch {} is canceling.", batch.id)),
        "{t}"
    );
    assert!(t.contains("50 in all"), "{t}");
    assert_matches_output_schema(&client, "cancel_message_batch", s).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn wait_seconds_follows_the_cancel_to_ended_with_progress() {
    let sim = sim(50, 1_500).await;
    let batch = sim.simulator().insert_batch(400);
    let (client, recorder) = spawn(&sim.base_url(), &[]).await;

    let result = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": batch.id, "wait_seconds": 60 }),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let s = structured(&result);
    assert_eq!(s["processing_status"], "ended", "{s}");
    assert!(s["ended_at"].is_string() && s["results_url"].is_string());
    let counts = &s["request_counts"];
    assert_eq!(counts["processing"], 0);
    assert!(
        counts["canceled"].as_u64().expect("a count") > 0,
        "{counts}"
    );
    let total: u64 = ["succeeded", "errored", "canceled", "expired"]
        .iter()
        .map(|k| counts[k].as_u64().expect("a count"))
        .sum();
    assert_eq!(total, 400);
    let note = s["note"].as_str().unwrap_or("");
    assert!(note.starts_with("The cancel is complete"), "{note}");

    // Progress is seconds waited out of the wait as held (wait_seconds, at most the 50 s cap:
    // the real API holds its counts until the end, so counts cannot show progress); it strictly
    // increases, as the MCP spec requires.
    let progress = recorder.progress();
    assert!(progress.len() >= 2, "progress notifications: {progress:?}");
    assert!(
        progress.iter().all(|p| p.total == Some(50.0)),
        "{progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "progress strictly increases: {progress:?}"
    );
    let last = progress.last().expect("a last notification");
    assert!(last.progress <= 50.0, "{last:?}");
    assert!(
        last.message.as_deref().unwrap_or("").starts_with("ended"),
        "{last:?}"
    );
    assert_matches_output_schema(&client, "cancel_message_batch", s).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_wait_that_runs_out_says_the_batch_has_not_ended_yet() {
    let sim = sim(1_000, 120_000).await;
    let batch = sim.simulator().insert_batch(10);
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let result = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": batch.id, "wait_seconds": 2 }),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let s = structured(&result);
    assert_eq!(s["processing_status"], "canceling");
    assert!(
        s["note"].as_str().unwrap_or("").contains("Not ended yet"),
        "{s}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn cancelling_twice_is_harmless() {
    let sim = sim(1_000, 60_000).await;
    let batch = sim.simulator().insert_batch(5);
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let args = json!({ "message_batch_id": batch.id });
    let first = call(&client, "cancel_message_batch", args.clone()).await;
    let second = call(&client, "cancel_message_batch", args).await;
    assert!(!is_error(&first) && !is_error(&second), "{}", text(&second));
    assert_eq!(structured(&second)["processing_status"], "canceling");
    assert_eq!(
        structured(&first)["cancel_initiated_at"],
        structured(&second)["cancel_initiated_at"]
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn an_unknown_batch_is_a_clear_error_that_points_to_list() {
    let sim = sim(1_000, 60_000).await;
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    for tool in ["cancel_message_batch", "get_message_batch"] {
        let result = call(
            &client,
            tool,
            json!({ "message_batch_id": "msgbatch_0000000000000000000000000" }),
        )
        .await;
        assert!(is_error(&result));
        let t = text(&result);
        assert!(t.contains("no such batch"), "{t}");
        assert!(t.contains("HTTP 404 not_found_error"), "{t}");
        assert!(t.contains("list_message_batches"), "{t}");
        assert!(t.contains("(request-id: req_"), "{t}");
    }
    client.cancel().await.ok();
}

#[tokio::test]
async fn refused_ids_and_arguments_send_nothing_upstream() {
    let sim = sim(1_000, 60_000).await;
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let before = sim.simulator().requests_received();
    let cases = [
        json!({ "message_batch_id": "" }),
        json!({ "message_batch_id": "   " }),
        json!({ "message_batch_id": "../../v1/messages/batches" }),
        json!({ "message_batch_id": "msgbatch_1?limit=1" }),
        json!({ "message_batch_id": "msgbatch_1#x" }),
        json!({ "message_batch_id": "msgbatch_%2F" }),
        json!({ "message_batch_id": "msgbatch 1" }),
        json!({ "message_batch_id": "msgbatch_é" }),
        json!({ "message_batch_id": "a".repeat(257) }),
        json!({ "message_batch_id": "msgbatch_1", "wait_seconds": 601 }),
        json!({ "message_batch_id": "msgbatch_1", "wait_seconds": -1 }),
        json!({ "message_batch_id": "msgbatch_1", "wait_seconds": "soon" }),
        json!({ "message_batch_id": 42 }),
        json!({}),
    ];
    for args in cases {
        let result = call(&client, "cancel_message_batch", args.clone()).await;
        assert!(is_error(&result), "{args} should be refused");
        assert!(!text(&result).is_empty());
    }
    let ok_id = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": "  x_-Y9 " }),
    )
    .await;
    assert!(is_error(&ok_id), "unknown, but valid: it is sent and 404s");
    assert_eq!(
        sim.simulator().requests_received() - before,
        1,
        "only the valid ID reached the API"
    );
    // A valid ID's refusal message says what a valid one looks like.
    let refused = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": "a/b" }),
    )
    .await;
    assert!(text(&refused).contains("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"));
    client.cancel().await.ok();
}

/// A base URL that is not loopback by its name but reaches a local upstream (an IPv4-mapped
/// IPv6 address), so that "nothing was sent" is observed where it would have arrived.
#[tokio::test]
async fn no_key_for_a_remote_api_is_refused_before_sending() {
    let up = MiniUpstream::start(MiniMode::Echo).await;
    let port = up
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .expect("port");
    let remote = format!("http://[::ffff:127.0.0.1]:{port}/v1");
    let args = json!({ "message_batch_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF" });
    let (client, _) = spawn(&remote, &[("MSGBATCH_ALLOW_INSECURE", "1")]).await;
    let result = call(&client, "cancel_message_batch", args.clone()).await;
    assert!(is_error(&result));
    let t = text(&result);
    assert!(t.contains("ANTHROPIC_API_KEY is not set"), "{t}");
    assert!(t.contains("nothing was sent"), "{t}");
    assert_eq!(up.connections(), 0, "a request left without a key");
    client.cancel().await.ok();
    // The same URL with a key does reach the upstream: the count above could have moved.
    let (client, _) = spawn(
        &remote,
        &[
            ("MSGBATCH_ALLOW_INSECURE", "1"),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
        ],
    )
    .await;
    let result = call(&client, "cancel_message_batch", args).await;
    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(up.requests(), 1);
    client.cancel().await.ok();
}
