//! `get_message_batch_results` end to end: the real binary over stdio, in front of the
//! simulator (which serves real-shaped results files, shuffled), the sandbox spec's canned
//! answers, and hostile streams (a line that is not JSON, a 10 MB line, a stream cut midway,
//! counts that disagree, a results_url on another host).

mod common;

use std::io::{Read as _, Write as _};
use std::time::Duration;

use common::{Client, call, hits, is_error, spawn, structured, text};
use msgbatch_mcp::simulator::{self, SimConfig};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn results(client: &Client, args: Value) -> rmcp::model::CallToolResult {
    call(client, "get_message_batch_results", args).await
}

/// Checks an answer against the tool's declared outputSchema.
async fn assert_fits_schema(client: &Client, value: &Value) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|t| t.name == "get_message_batch_results")
        .expect("the tool is listed");
    assert_eq!(
        tool.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    let schema =
        serde_json::to_value(&**tool.output_schema.as_ref().expect("outputSchema")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{value}");
}

async fn quick_sim() -> simulator::RunningSimulator {
    simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_millis(1),
            cancel_delay: Duration::ZERO,
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator")
}

#[tokio::test]
async fn an_ended_batch_is_summed_up_grouped_and_looked_up() {
    let sim = quick_sim().await;
    let batch = sim.simulator().insert_ended_batch(1_000);
    let (client, _) = spawn(&sim.base_url(), &[]).await;

    let r = results(&client, json!({"message_batch_id": batch.id})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["counts"]["succeeded"], 900, "{s}");
    assert_eq!(s["counts"]["errored"], 100, "{s}");
    assert_eq!(s["lines_read"], 1000);
    assert_eq!(s["complete"], true);
    assert_eq!(s["counts_match"], true, "{s}");
    assert_eq!(s["errors"][0]["error_type"], "invalid_request_error");
    assert_eq!(s["errors"][0]["count"], 100);
    assert_eq!(s["errors"][0]["examples"].as_array().unwrap().len(), 3);
    assert!(s["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(s["matches"].as_array().unwrap().is_empty());
    let t = text(&r);
    assert!(
        t.starts_with(&format!("Results of batch {}: 900 succeeded, 100 errored, 0 canceled, 0 expired (1000 lines read).", batch.id)),
        "{t}"
    );
    assert!(t.contains("invalid_request_error × 100"), "{t}");
    assert!(t.contains("equal the batch's request_counts"), "{t}");
    // Never the content: the simulator's reply text does not reach the model.
    assert!(!t.contains("simulated reply") && !s.to_string().contains("simulated reply"));
    assert_fits_schema(&client, s).await;

    let r = results(
        &client,
        json!({"message_batch_id": batch.id, "result_type": "errored", "limit": 5}),
    )
    .await;
    let s = structured(&r);
    assert_eq!(s["matched"], 100);
    let listed = s["matches"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    assert!(
        listed
            .iter()
            .all(|m| m["type"] == "errored" && m["error_type"] == "invalid_request_error")
    );
    assert!(
        s["note"]
            .as_str()
            .unwrap()
            .contains("100 entries match; 5 are listed"),
        "{s}"
    );

    let r = results(
        &client,
        json!({"message_batch_id": batch.id, "custom_id": "request-00007"}),
    )
    .await;
    let s = structured(&r);
    assert_eq!(s["matched"], 1, "{s}");
    let m = &s["matches"][0];
    assert_eq!(m["custom_id"], "request-00007");
    assert_eq!(m["type"], "succeeded");
    assert!(
        m["stop_reason"].is_string() && m["output_tokens"].as_u64().unwrap() > 0,
        "{m}"
    );
    assert!(
        m.get("content").is_none() && m.get("message").is_none(),
        "{m}"
    );

    let r = results(
        &client,
        json!({"message_batch_id": batch.id, "custom_id": "nope"}),
    )
    .await;
    assert!(
        structured(&r)["note"]
            .as_str()
            .unwrap()
            .contains("No entry has that custom_id")
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_canceled_batch_counts_its_canceled_requests_and_a_running_one_is_not_read() {
    let sim = simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_secs(3600),
            cancel_delay: Duration::ZERO,
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator");
    let batch = sim.simulator().insert_batch(200);
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let args = json!({"message_batch_id": batch.id});

    let r = results(&client, args.clone()).await;
    assert!(is_error(&r));
    let t = text(&r);
    assert!(
        t.contains("is `in_progress`, not ended") && t.contains("Nothing was downloaded"),
        "{t}"
    );
    assert_eq!(
        sim.simulator().stats().results,
        0,
        "no download for a running batch"
    );

    let c = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": batch.id, "wait_seconds": 5}),
    )
    .await;
    assert_eq!(structured(&c)["processing_status"], "ended", "{}", text(&c));
    let r = results(&client, args).await;
    let s = structured(&r);
    assert_eq!(
        s["counts"]["canceled"].as_u64().unwrap()
            + s["counts"]["succeeded"].as_u64().unwrap()
            + s["counts"]["errored"].as_u64().unwrap(),
        200,
        "{s}"
    );
    assert!(s["counts"]["canceled"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["counts_match"], true, "{s}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn refused_arguments_send_nothing() {
    let up = MockServer::start().await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    for args in [
        json!({"message_batch_id": "../x"}),
        json!({"message_batch_id": common::ID, "limit": 0}),
        json!({"message_batch_id": common::ID, "limit": 51}),
        json!({"message_batch_id": common::ID, "result_type": "failed"}),
        json!({"message_batch_id": common::ID, "custom_id": "a b"}),
    ] {
        let r = client
            .call_tool({
                let mut p = rmcp::model::CallToolRequestParams::new("get_message_batch_results");
                p.arguments = args.as_object().cloned();
                p
            })
            .await;
        match r {
            Ok(r) => assert!(is_error(&r), "{args}: {}", text(&r)),
            Err(e) => panic!("{args}: protocol error {e}"),
        }
    }
    assert_eq!(hits(&up).await, 0);
    client.cancel().await.ok();
}

/// An upstream whose batch has ended, with its results at `body`.
async fn ended_with(body: Vec<u8>, counts: Value) -> MockServer {
    let up = MockServer::start().await;
    let mut batch = common::batch_json(common::ID, "ended");
    batch["request_counts"] = counts;
    batch["results_url"] =
        format!("{}/v1/messages/batches/{}/results", up.uri(), common::ID).into();
    Mock::given(method("GET"))
        .and(path(format!("/v1/messages/batches/{}", common::ID)))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch))
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/results$"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/x-jsonl"))
        .mount(&up)
        .await;
    up
}

fn ok_line(id: &str) -> String {
    format!(
        r#"{{"custom_id":"{id}","result":{{"type":"succeeded","message":{{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{{"type":"text","text":"hello"}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{{"input_tokens":7,"output_tokens":3}}}}}}}}"#
    )
}

fn counts(succeeded: u64) -> Value {
    json!({"processing": 0, "succeeded": succeeded, "errored": 0, "canceled": 0, "expired": 0})
}

#[tokio::test]
async fn a_line_that_is_not_json_and_a_10_mb_line_are_skipped_and_said() {
    let mut body = format!("{}\n<html>oops</html>\n", ok_line("a")).into_bytes();
    body.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    body.extend(format!("\n{}\n", ok_line("b")).into_bytes());
    let up = ended_with(body, counts(3)).await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let r = results(&client, json!({"message_batch_id": common::ID})).await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["counts"]["succeeded"], 2, "{s}");
    assert_eq!(s["unreadable_lines"], 2, "{s}");
    assert!(
        s["first_unreadable"]
            .as_str()
            .unwrap()
            .starts_with("line 2: not JSON"),
        "{s}"
    );
    assert_eq!(s["counts_match"], false);
    let t = text(&r);
    assert!(t.contains("2 lines could not be read"), "{t}");
    assert!(t.len() < 4_000, "{}", t.len());
    // The results request carried the API's headers, as the SDK sends them.
    let reqs = common::received(&up).await;
    let get = reqs
        .iter()
        .find(|r| r.url.path().ends_with("/results"))
        .expect("results fetched");
    assert_eq!(get.headers.get("accept").unwrap(), "application/binary");
    assert_eq!(get.headers.get("anthropic-version").unwrap(), "2023-06-01");
    assert!(get.headers.get("x-api-key").is_some());
    client.cancel().await.ok();
}

#[tokio::test]
async fn counts_that_disagree_are_said() {
    let body = format!("{}\n{}\n", ok_line("a"), ok_line("b")).into_bytes();
    let up = ended_with(body, counts(5)).await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let r = results(&client, json!({"message_batch_id": common::ID})).await;
    let s = structured(&r);
    assert_eq!(
        (s["counts_match"].clone(), s["complete"].clone()),
        (json!(false), json!(true))
    );
    let note = s["note"].as_str().unwrap();
    assert!(
        note.contains("differ from the batch's request_counts (5 succeeded"),
        "{note}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_results_url_on_another_host_gets_no_key() {
    let up = MockServer::start().await;
    let other = MockServer::start().await;
    let mut batch = common::batch_json(common::ID, "ended");
    batch["results_url"] =
        format!("{}/v1/messages/batches/{}/results", other.uri(), common::ID).into();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch))
        .mount(&up)
        .await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let r = results(&client, json!({"message_batch_id": common::ID})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("is not on the configured API"),
        "{}",
        text(&r)
    );
    assert_eq!(hits(&other).await, 0);
    client.cancel().await.ok();
}

/// A raw upstream: the batch, then a results answer that promises more bytes than it sends
/// and closes the connection.
fn cut_upstream() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            if head.contains("/results ") {
                let lines = format!(
                    "{}\n{}\n{{\"custom_id\":\"c\",\"res",
                    ok_line("a"),
                    ok_line("b")
                );
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-jsonl\r\ncontent-length: 100000\r\n\r\n{lines}"
                );
            } else {
                let mut batch = common::batch_json(common::ID, "ended");
                batch["results_url"] =
                    format!("http://{addr}/v1/messages/batches/{}/results", common::ID).into();
                let body = batch.to_string();
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
            let _ = conn.flush();
        }
    });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_cut_stream_is_an_error_with_what_was_read() {
    let base = cut_upstream();
    let (client, _) = spawn(&base, &[]).await;
    let r = results(&client, json!({"message_batch_id": common::ID})).await;
    assert!(is_error(&r), "{}", text(&r));
    let t = text(&r);
    assert!(
        t.contains("(partial)") && t.contains("The results stream broke after 2 lines"),
        "{t}"
    );
    assert!(t.contains("Call get_message_batch_results again"), "{t}");
    client.cancel().await.ok();
}

/// The sandbox spec's canned answers: its batch is `in_progress` (no results yet), and its
/// results example reads as the two succeeded requests it holds.
#[tokio::test]
async fn the_sandbox_specs_answers_read_right() {
    let spec: Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic-message-batches-api-openapi.yml"
        ))
        .unwrap(),
    )
    .unwrap();
    let example = |name: &str| spec["components"]["examples"][name]["value"].clone();
    let up = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"/messages/batches/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example("MessageBatchExample")))
        .mount(&up)
        .await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let r = results(
        &client,
        json!({"message_batch_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"}),
    )
    .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("not ended"), "{}", text(&r));
    client.cancel().await.ok();

    let body = example("MessageBatchResultsExample")
        .as_str()
        .unwrap()
        .as_bytes()
        .to_vec();
    let up = ended_with(body, counts(2)).await;
    let (client, _) = spawn(&common::base(&up), &[]).await;
    let r = results(
        &client,
        json!({"message_batch_id": common::ID, "result_type": "succeeded"}),
    )
    .await;
    let s = structured(&r);
    assert_eq!(s["counts"]["succeeded"], 2, "{s}");
    assert_eq!(s["counts_match"], true, "{s}");
    assert_eq!(s["matches"][1]["output_tokens"], 35, "{s}");
    client.cancel().await.ok();
}
