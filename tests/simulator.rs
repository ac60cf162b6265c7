//! The simulator over real HTTP: every answer checked against the sandbox OpenAPI spec (a copy
//! in `tests/fixtures`, so these tests need nothing outside the crate), the life of a batch, list
//! pagination, header checks and errors.
//!
//! Nothing here asserts a duration: the machine may be shared and slow. Tests that wait for a
//! batch to end poll with a deadline of many seconds, and pick sizes that leave a wide margin.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Parser;
use msgbatch_mcp::simulator::{
    self, RunningSimulator, SEEDED_CANCELABLE_ID, SEEDED_ENDED_ID, SEEDED_IDS, SimArgs, SimConfig,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Schemas

/// The spec's `components`, converted from OpenAPI's `nullable: true` to JSON Schema.
fn components() -> &'static Value {
    static COMPONENTS: OnceLock<Value> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic-message-batches-api-openapi.yml"
        );
        let text = std::fs::read_to_string(path).expect("read the OpenAPI fixture");
        let spec: Value = serde_yaml::from_str(&text).expect("parse the OpenAPI fixture");
        let mut components = spec["components"].clone();
        convert_nullable(&mut components);
        components
    })
}

/// OpenAPI 3.0's `nullable: true` means "or null"; JSON Schema spells it in `type` (and an
/// `enum` must list `null` too, or it would still refuse it).
fn convert_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = t.clone();
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(types)) => types.push(json!("null")),
                    _ => {
                        // A `$ref` (or a schema without `type`) that may be null.
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
                if let Some(Value::Array(variants)) = map.get_mut("enum") {
                    variants.push(Value::Null);
                }
            }
            for v in map.values_mut() {
                convert_nullable(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(convert_nullable),
        _ => {}
    }
}

/// What is wrong with `instance` against `#/components/schemas/{name}`, formats included
/// (`date-time`, `uri`); empty when it is valid.
fn schema_errors(name: &str, instance: &Value) -> Vec<String> {
    let root = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": components(),
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema {name} does not compile: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn assert_schema(name: &str, instance: &Value) {
    let errors = schema_errors(name, instance);
    assert!(
        errors.is_empty(),
        "not a valid {name}: {errors:#?}\n{instance:#}"
    );
}

/// The spec does not forbid extra fields; the real API sends exactly the listed ones, so check
/// that too.
fn assert_exact_fields(name: &str, instance: &Value) {
    let properties = components()["schemas"][name]["properties"]
        .as_object()
        .expect("schema has properties");
    let want: HashSet<&str> = properties.keys().map(String::as_str).collect();
    let got: HashSet<&str> = instance
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(got, want, "fields of {name}");
}

fn assert_batch(batch: &Value) {
    assert_schema("MessageBatch", batch);
    assert_exact_fields("MessageBatch", batch);
    let counts = &batch["request_counts"];
    assert_exact_fields("RequestCounts", counts);
}

/// The spec's `Error` schema is the sandbox mock's flat `{type, message}`; the real API (and so
/// the simulator) sends an envelope instead, which is checked here by hand.
fn assert_error(answer: &Answer, status: StatusCode, kind: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["request_id"].as_str(),
        answer.request_id.as_deref(),
        "{body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(3), "{body}");
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// Request headers as name/value pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

const KEY: &str = "sk-test-key";
const VERSION: &str = "2023-06-01";

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .tls_certs_only(Vec::new())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the HTTP client")
}

async fn start(config: SimConfig) -> RunningSimulator {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    simulator::start(addr, config)
        .await
        .expect("start the simulator")
}

/// Fast batches for tests: 20 ms a request, 200 ms to cancel, no seeded batches.
fn fast() -> SimConfig {
    SimConfig {
        request_time: Duration::from_millis(20),
        cancel_delay: Duration::from_millis(200),
        seed: false,
        ..SimConfig::default()
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    request_id: Option<String>,
    content_type: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.json()
    }
}

struct Api {
    http: Client,
    base: String,
}

impl Api {
    fn new(base: String) -> Self {
        Self {
            http: client(),
            base,
        }
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        headers: Headers<'_>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("send");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header("request-id");
        let content_type = header("content-type");
        let status = response.status();
        let text = response.text().await.expect("read the body");
        let answer = Answer {
            status,
            request_id,
            content_type,
            text,
        };
        let id = answer.request_id.as_deref().unwrap_or_default();
        assert!(
            id.len() == 28
                && id.starts_with("req_")
                && id[4..].bytes().all(|b| b.is_ascii_alphanumeric()),
            "request-id header {:?} on {answer:?}",
            answer.request_id
        );
        answer
    }

    async fn send(&self, method: Method, path: &str, body: Option<String>) -> Answer {
        let headers = [("x-api-key", KEY), ("anthropic-version", VERSION)];
        self.send_with(method, path, body, &headers).await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    async fn retrieve(&self, id: &str) -> Answer {
        self.get(&format!("/messages/batches/{id}")).await
    }

    async fn cancel(&self, id: &str) -> Answer {
        self.send(
            Method::POST,
            &format!("/messages/batches/{id}/cancel"),
            None,
        )
        .await
    }

    async fn delete(&self, id: &str) -> Answer {
        self.send(Method::DELETE, &format!("/messages/batches/{id}"), None)
            .await
    }

    async fn results(&self, id: &str) -> Answer {
        self.get(&format!("/messages/batches/{id}/results")).await
    }

    async fn create(&self, body: &Value) -> Answer {
        self.send(Method::POST, "/messages/batches", Some(body.to_string()))
            .await
    }

    /// Polls the batch until it is `ended`, for at most 30 s.
    async fn wait_ended(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let batch = self.retrieve(id).await.ok();
            assert_batch(&batch);
            if batch["processing_status"] == "ended" {
                return batch;
            }
            assert!(
                Instant::now() < deadline,
                "{id} did not end in time: {batch:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn create_body(n: usize) -> Value {
    let requests: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "custom_id": format!("req-{i}"),
                "params": {
                    "model": "claude-test-model",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": format!("Question {i}")}],
                },
            })
        })
        .collect();
    json!({ "requests": requests })
}

fn counts(batch: &Value) -> [u64; 5] {
    let c = &batch["request_counts"];
    ["processing", "succeeded", "errored", "canceled", "expired"]
        .map(|k| c[k].as_u64().expect("a count"))
}

fn id_of(batch: &Value) -> String {
    batch["id"].as_str().expect("an id").to_owned()
}

// ---------------------------------------------------------------------------------------------
// Tests

/// The checks above would be worthless if they passed anything: feed them known mistakes.
#[test]
fn the_schema_checks_catch_mistakes() {
    let good = json!({
        "id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0},
        "created_at": "2024-08-20T18:37:24.100435Z",
        "expires_at": "2024-08-21T18:37:24.100435Z",
        "archived_at": null,
        "cancel_initiated_at": null,
        "ended_at": "2024-08-20T19:37:24.100435Z",
        "results_url": "http://127.0.0.1:8080/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF/results",
    });
    assert_schema("MessageBatch", &good);
    let broken = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let mistakes = [
        broken("created_at", json!("yesterday")),
        broken("ended_at", json!("2024-13-45")),
        broken("results_url", json!("not a uri")),
        broken("id", Value::Null),
        broken("processing_status", json!("done")),
        broken("type", json!("batch")),
        broken("request_counts", json!({"processing": 0})),
    ];
    for mistake in &mistakes {
        assert!(
            !schema_errors("MessageBatch", mistake).is_empty(),
            "passed: {mistake:#}"
        );
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("archived_at");
    assert!(!schema_errors("MessageBatch", &missing).is_empty());

    // Results: a null stop_reason is allowed (nullable enum), an unknown result type is not.
    let line = json!({"custom_id": "a", "result": {"type": "succeeded", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 1, "output_tokens": 1}}}});
    assert_schema("MessageBatchResult", &line);
    let unknown = json!({"custom_id": "a", "result": {"type": "vanished"}});
    assert!(!schema_errors("MessageBatchResult", &unknown).is_empty());
    assert_schema(
        "MessageBatchResult",
        &json!({"custom_id": "a", "result": {"type": "expired"}}),
    );
}

#[tokio::test]
async fn every_answer_matches_the_openapi_schemas() {
    let sim = start(SimConfig {
        seed: true,
        ..fast()
    })
    .await;
    let api = Api::new(sim.base_url());

    // A created batch, in progress.
    let created = api.create(&create_body(40)).await.ok();
    assert_batch(&created);
    assert_eq!(created["processing_status"], "in_progress");
    let id = id_of(&created);

    // Canceling, then ended with canceled requests.
    let canceling = api.cancel(&id).await.ok();
    assert_batch(&canceling);
    let ended = api.wait_ended(&id).await;
    assert_batch(&ended);

    // Pages, including an empty one past the end.
    let page = api.get("/messages/batches?limit=3").await.ok();
    assert_schema("MessageBatchList", &page);
    assert_exact_fields("MessageBatchList", &page);
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .for_each(assert_batch);
    let oldest = SEEDED_IDS[SEEDED_IDS.len() - 1];
    let empty = api
        .get(&format!("/messages/batches?after_id={oldest}"))
        .await
        .ok();
    assert_schema("MessageBatchList", &empty);
    assert_eq!(empty["first_id"], Value::Null);

    // Results of every kind there is over HTTP: succeeded, errored, canceled.
    for batch in [&id, SEEDED_ENDED_ID] {
        let answer = api.results(batch).await;
        assert_eq!(answer.status, StatusCode::OK);
        let mut kinds = HashSet::new();
        for line in answer.text.lines() {
            let line: Value = serde_json::from_str(line).expect("a JSON line");
            assert_schema("MessageBatchResult", &line);
            kinds.insert(line["result"]["type"].as_str().unwrap().to_owned());
        }
        assert!(
            kinds.contains("succeeded") && kinds.contains("canceled"),
            "{kinds:?}"
        );
    }

    // Delete.
    let deleted = api.delete(&id).await.ok();
    assert_schema("MessageBatchDeletedResponse", &deleted);
    assert_exact_fields("MessageBatchDeletedResponse", &deleted);

    // Every seeded batch.
    for seeded in SEEDED_IDS {
        assert_batch(&api.retrieve(seeded).await.ok());
    }

    // Errors: each kind the simulator produces.
    assert_error(
        &api.retrieve(&id).await,
        StatusCode::NOT_FOUND,
        "not_found_error",
    );
    assert_error(
        &api.cancel(SEEDED_ENDED_ID).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
    );
    let no_key = api
        .send_with(
            Method::GET,
            "/messages/batches",
            None,
            &[("anthropic-version", VERSION)],
        )
        .await;
    assert_error(&no_key, StatusCode::UNAUTHORIZED, "authentication_error");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cancel_goes_through_canceling_to_ended() {
    // Canceling lasts 3 s here, so the second cancel below lands while canceling on any
    // machine that is not stalled for seconds.
    let sim = start(SimConfig {
        cancel_delay: Duration::from_secs(3),
        ..fast()
    })
    .await;
    let api = Api::new(sim.base_url());
    // 1,000 requests at 20 ms: 20 s of work, far more than a cancel needs to land first.
    let created = api.create(&create_body(1000)).await.ok();
    let id = id_of(&created);
    assert_eq!(created["processing_status"], "in_progress");
    assert_eq!(created["cancel_initiated_at"], Value::Null);

    let canceling = api.cancel(&id).await.ok();
    assert_eq!(canceling["processing_status"], "canceling");
    let initiated = canceling["cancel_initiated_at"].clone();
    assert!(initiated.is_string());
    assert_eq!(canceling["ended_at"], Value::Null);
    assert_eq!(canceling["results_url"], Value::Null);

    // A second cancel while canceling: 200 and the batch as it is.
    let again = api.cancel(&id).await.ok();
    assert_eq!(again["processing_status"], "canceling");
    assert_eq!(again["cancel_initiated_at"], initiated);

    let ended = api.wait_ended(&id).await;
    let [processing, succeeded, errored, canceled, expired] = counts(&ended);
    assert_eq!(processing + expired, 0);
    assert!(canceled > 0, "{ended:#}");
    assert_eq!(processing + succeeded + errored + canceled + expired, 1000);
    assert_eq!(ended["cancel_initiated_at"], initiated);
    assert!(ended["ended_at"].is_string());
    let url = ended["results_url"].as_str().unwrap();
    assert_eq!(
        url,
        format!("{}/messages/batches/{id}/results", sim.base_url())
    );

    // Too late to cancel now.
    let late = api.cancel(&id).await;
    assert_error(&late, StatusCode::BAD_REQUEST, "invalid_request_error");
    let message = late.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains(&id) && message.contains("has already finished processing"));

    // Results: one line per request, outcomes agreeing with the counts.
    let results = api.results(&id).await;
    assert_eq!(results.status, StatusCode::OK);
    assert_eq!(results.content_type.as_deref(), Some("application/x-jsonl"));
    let lines: Vec<Value> = results
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1000);
    let count = |kind: &str| lines.iter().filter(|l| l["result"]["type"] == kind).count() as u64;
    assert_eq!(
        [count("succeeded"), count("errored"), count("canceled")],
        [succeeded, errored, canceled]
    );
    let custom_ids: HashSet<&str> = lines
        .iter()
        .map(|l| l["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(custom_ids.len(), 1000);
    assert!(custom_ids.contains("req-0") && custom_ids.contains("req-999"));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn delete_and_results_wait_for_the_end() {
    let sim = start(SimConfig {
        request_time: Duration::from_millis(100),
        ..fast()
    })
    .await;
    let api = Api::new(sim.base_url());
    // 30 requests at 100 ms: ends on its own after about 3 s, long after the two calls below.
    let id = id_of(&api.create(&create_body(30)).await.ok());

    for early in [api.delete(&id).await, api.results(&id).await] {
        assert_error(&early, StatusCode::BAD_REQUEST, "invalid_request_error");
    }

    let ended = api.wait_ended(&id).await;
    assert_eq!(counts(&ended), [0, 27, 3, 0, 0]);
    assert_eq!(ended["cancel_initiated_at"], Value::Null);

    let results = api.results(&id).await;
    assert_eq!(results.status, StatusCode::OK);
    let lines: Vec<Value> = results
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    // No promised order: find each request by its custom_id, as the API docs say to.
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["custom_id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"))
    };
    assert_eq!(
        by_id("req-0")["result"]["message"]["model"],
        "claude-test-model"
    );
    assert_eq!(by_id("req-9")["result"]["type"], "errored");

    let deleted = api.delete(&id).await.ok();
    assert_eq!(deleted, json!({"id": id, "type": "message_batch_deleted"}));
    assert_error(
        &api.delete(&id).await,
        StatusCode::NOT_FOUND,
        "not_found_error",
    );
    assert_error(
        &api.retrieve(&id).await,
        StatusCode::NOT_FOUND,
        "not_found_error",
    );
    assert_error(
        &api.results(&id).await,
        StatusCode::NOT_FOUND,
        "not_found_error",
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_pages_walk_forward_and_back() {
    let sim = start(fast()).await;
    let api = Api::new(sim.v1_base_url());
    let inserted: Vec<String> = (0..7).map(|_| sim.simulator().insert_batch(5).id).collect();
    let newest_first: Vec<String> = inserted.iter().rev().cloned().collect();

    let ids = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(id_of).collect()
    };
    let check_ends = |page: &Value| {
        let ids = ids(page);
        assert_eq!(page["first_id"].as_str(), ids.first().map(String::as_str));
        assert_eq!(page["last_id"].as_str(), ids.last().map(String::as_str));
    };

    // Forward with after_id.
    let mut walked = Vec::new();
    let mut more = Vec::new();
    let mut page = api.get("/messages/batches?limit=3").await.ok();
    loop {
        check_ends(&page);
        walked.extend(ids(&page));
        more.push(page["has_more"].as_bool().unwrap());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
        let after = page["last_id"].as_str().unwrap();
        page = api
            .get(&format!("/messages/batches?limit=3&after_id={after}"))
            .await
            .ok();
    }
    assert_eq!(
        walked, newest_first,
        "forward: newest first, no gaps or duplicates"
    );
    assert_eq!(more, [true, true, false]);

    // Back with before_id, from the last page.
    let mut back: Vec<Vec<String>> = Vec::new();
    let mut more = Vec::new();
    loop {
        let first = page["first_id"].as_str().unwrap().to_owned();
        page = api
            .get(&format!("/messages/batches?limit=3&before_id={first}"))
            .await
            .ok();
        check_ends(&page);
        back.push(ids(&page));
        more.push(page["has_more"].as_bool().unwrap());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(
        back,
        [newest_first[3..6].to_vec(), newest_first[0..3].to_vec()]
    );
    assert_eq!(more, [true, false]);

    // The page just before the second newest holds only the newest.
    let p = api
        .get(&format!("/messages/batches?before_id={}", newest_first[1]))
        .await
        .ok();
    assert_eq!(ids(&p), [newest_first[0].clone()]);
    assert_eq!(p["has_more"], false);

    // Default limit (20) takes them all.
    let all = api.get("/messages/batches").await.ok();
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all["has_more"], false);
    let one = api.get("/messages/batches?limit=1").await.ok();
    assert_eq!((ids(&one).len(), &one["has_more"]), (1, &json!(true)));
    let max = api.get("/messages/batches?limit=1000").await.ok();
    assert_eq!(ids(&max).len(), 7);

    // Bad parameters.
    for bad in ["limit=0", "limit=1001", "limit=abc", "limit=-1"] {
        let answer = api.get(&format!("/messages/batches?{bad}")).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
    }
    let both = format!(
        "/messages/batches?before_id={}&after_id={}",
        newest_first[0], newest_first[1]
    );
    assert_error(
        &api.get(&both).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
    );
    // An unknown cursor: 404, like any other unknown ID.
    let unknown = "/messages/batches?after_id=msgbatch_000000000000000000000000";
    assert_error(
        &api.get(unknown).await,
        StatusCode::NOT_FOUND,
        "not_found_error",
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn headers_are_checked_and_every_answer_has_a_request_id() {
    let sim = start(SimConfig {
        seed: true,
        ..fast()
    })
    .await;
    let api = Api::new(sim.base_url());
    let path = format!("/messages/batches/{SEEDED_CANCELABLE_ID}");

    // Success answers carry it too (checked in `send_with` for every answer).
    let ok = api.get(&path).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.content_type.as_deref(), Some("application/json"));

    let cases: [(Headers, StatusCode, &str); 4] = [
        (
            &[("anthropic-version", VERSION)],
            StatusCode::UNAUTHORIZED,
            "authentication_error",
        ),
        (
            &[("x-api-key", ""), ("anthropic-version", VERSION)],
            StatusCode::UNAUTHORIZED,
            "authentication_error",
        ),
        (
            &[("x-api-key", KEY)],
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
        ),
        (&[], StatusCode::UNAUTHORIZED, "authentication_error"),
    ];
    for (headers, status, kind) in cases {
        let answer = api.send_with(Method::GET, &path, None, headers).await;
        assert_error(&answer, status, kind);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    }

    let unknown_id = api.retrieve("msgbatch_doesnotexist00000000000").await;
    assert_error(&unknown_id, StatusCode::NOT_FOUND, "not_found_error");
    let unknown_route = api.get("/messages/nothing-here").await;
    assert_error(&unknown_route, StatusCode::NOT_FOUND, "not_found_error");
    let outside = Api::new(format!("http://{}", sim.addr()))
        .get("/nowhere")
        .await;
    assert_error(&outside, StatusCode::NOT_FOUND, "not_found_error");
    let wrong_method = api.send(Method::PUT, &path, None).await;
    assert_error(
        &wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
    );

    // Request IDs differ from answer to answer.
    let a = api.get(&path).await.request_id;
    let b = api.get(&path).await.request_id;
    assert_ne!(a, b);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn both_prefixes_answer_the_same() {
    let sim = start(SimConfig {
        seed: true,
        ..fast()
    })
    .await;
    let sandbox = Api::new(sim.base_url());
    let v1 = Api::new(sim.v1_base_url());

    let a = sandbox.get("/messages/batches").await.ok();
    let b = v1.get("/messages/batches").await.ok();
    let ids = |p: &Value| {
        p["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), SEEDED_IDS);
    assert_eq!(ids(&a), ids(&b));

    // Same batch; the results URL points back the way the caller came in.
    let a = sandbox.retrieve(SEEDED_ENDED_ID).await.ok();
    let b = v1.retrieve(SEEDED_ENDED_ID).await.ok();
    let tail = format!("/messages/batches/{SEEDED_ENDED_ID}/results");
    assert_eq!(a["results_url"], format!("{}{tail}", sim.base_url()));
    assert_eq!(b["results_url"], format!("{}{tail}", sim.v1_base_url()));
    let without_url = |mut v: Value| {
        v["results_url"] = Value::Null;
        v
    };
    assert_eq!(without_url(a), without_url(b));

    // A cancel through one prefix is seen through the other.
    let canceled = v1.cancel(SEEDED_CANCELABLE_ID).await.ok();
    assert_eq!(canceled["processing_status"], "canceling");
    let seen = sandbox.retrieve(SEEDED_CANCELABLE_ID).await.ok();
    assert_eq!(seen["cancel_initiated_at"], canceled["cancel_initiated_at"]);

    let a = sandbox.results(SEEDED_ENDED_ID).await;
    let b = v1.results(SEEDED_ENDED_ID).await;
    assert_eq!((a.status, &a.text), (b.status, &b.text));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn seeded_batches_tell_a_story() {
    let sim = start(SimConfig::default()).await;
    let api = Api::new(sim.base_url());

    let page = api.get("/messages/batches").await.ok();
    let status: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["processing_status"].as_str().unwrap())
        .collect();
    assert_eq!(status[0], "in_progress");
    assert!(status.contains(&"ended"));
    let created: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted, "newest first");

    let ended = api.retrieve(SEEDED_ENDED_ID).await.ok();
    let [_, succeeded, errored, canceled, _] = counts(&ended);
    assert!(
        succeeded > 0 && errored > 0 && canceled > 0,
        "mixed: {ended:#}"
    );

    // The documented ID can be canceled on a first run.
    let canceling = api.cancel(SEEDED_CANCELABLE_ID).await.ok();
    assert_eq!(canceling["processing_status"], "canceling");
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_validates_its_body() {
    let sim = start(fast()).await;
    let api = Api::new(sim.base_url());
    let post =
        |body: &'static str| api.send(Method::POST, "/messages/batches", Some(body.to_owned()));

    let cases = [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ("{}", "requests: Field required"),
        (r#"{"requests":[]}"#, "at least 1 item"),
        (
            r#"{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}}]}"#,
            "max_tokens",
        ),
        (
            r#"{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":5,"messages":[]}}]}"#,
            "messages",
        ),
        (
            r#"{"requests":[{"custom_id":"a","params":{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}}]}"#,
            "model",
        ),
        (
            r#"{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}},{"custom_id":"a","params":{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}}]}"#,
            "unique",
        ),
    ];
    for (body, expected) in cases {
        let answer = post(body).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(expected), "{body} -> {message}");
    }

    // The documented limit is 100,000 requests a batch.
    let too_many = api.create(&create_body(100_001)).await;
    assert_error(&too_many, StatusCode::BAD_REQUEST, "invalid_request_error");
    let message = too_many.json()["error"]["message"].to_string();
    assert!(message.contains("at most 100000 items"), "{message}");
    assert_eq!(
        sim.simulator().batch_count(),
        0,
        "nothing created by a refused body"
    );

    let ok = api.create(&create_body(3)).await.ok();
    assert_eq!(counts(&ok), [3, 0, 0, 0, 0]);
    assert_eq!(sim.simulator().batch_count(), 1);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_request_counter_counts_every_request() {
    let sim = start(fast()).await;
    let api = Api::new(sim.base_url());
    let handle = sim.simulator();
    let batch = handle.insert_batch(5);
    assert_eq!(handle.requests_received(), 0, "inserting is not a request");

    api.retrieve(&batch.id).await.ok();
    api.cancel(&batch.id).await.ok();
    api.get("/messages/batches").await.ok();
    let refused = api
        .send_with(Method::GET, "/messages/batches", None, &[])
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    api.get("/nowhere").await;

    let stats = handle.stats();
    assert_eq!(stats.total, 5);
    assert_eq!(handle.requests_received(), 5);
    assert_eq!((stats.retrieve, stats.cancel, stats.list), (1, 1, 1));
    assert_eq!((stats.create, stats.results, stats.delete), (0, 0, 0));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn inserted_batches_are_served() {
    let sim = start(fast()).await;
    let api = Api::new(sim.base_url());
    let running = sim.simulator().insert_batch(10_000);
    assert_eq!(running.processing_status.as_str(), "in_progress");
    assert_eq!(running.request_counts.processing, 10_000);
    let served = api.retrieve(&running.id).await.ok();
    assert_eq!(served["id"], running.id.as_str());

    let ended = sim.simulator().insert_ended_batch(20);
    assert_eq!(ended.processing_status.as_str(), "ended");
    assert_eq!(
        ended.request_counts.succeeded + ended.request_counts.errored,
        20
    );
    assert!(ended.results_url.is_some());
    assert_error(
        &api.cancel(&ended.id).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
    );
    let lines = api.results(&ended.id).await.text.lines().count();
    assert_eq!(lines, 20);
    assert_eq!(sim.simulator().batch(&ended.id), Some(ended));
    assert_eq!(sim.simulator().batch("msgbatch_nope"), None);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = start(fast()).await;
    let api = Api::new(sim.base_url());
    api.get("/messages/batches").await.ok();
    let base = sim.base_url();
    sim.shutdown().await.unwrap();
    let after = client()
        .get(format!("{base}/messages/batches"))
        .header("x-api-key", KEY)
        .header("anthropic-version", VERSION)
        .send()
        .await;
    assert!(after.is_err(), "still answering after shutdown: {after:?}");
}

#[test]
fn sim_args_defaults_match_the_default_config() {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }
    let cli = Cli::parse_from(["sim"]);
    assert_eq!(
        cli.sim.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(SimConfig::from(&cli.sim), SimConfig::default());

    let cli = Cli::parse_from([
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--request-ms",
        "5",
        "--cancel-delay-ms",
        "7",
        "--no-seed",
    ]);
    let config = SimConfig::from(&cli.sim);
    assert_eq!(config.request_time, Duration::from_millis(5));
    assert_eq!(config.cancel_delay, Duration::from_millis(7));
    assert!(!config.seed);
    assert!(!config.live_counts, "the real API's counting unless asked");

    let cli = Cli::parse_from(["sim", "--live-counts", "--max-batches", "12"]);
    let config = SimConfig::from(&cli.sim);
    assert!(config.live_counts);
    assert_eq!(config.limits.max_batches, 12);
}

/// Issue 8 item 4: counts stay under `processing` until the batch ends (the official SDKs
/// document it), then settle; every answer still fits the spec.
#[tokio::test]
async fn counts_stay_under_processing_until_the_batch_ends_then_settle() {
    // A cancel takes 2 s to settle here, so that the list below still finds it `canceling`
    // however slow the machine is between the two requests.
    let sim = start(SimConfig {
        cancel_delay: Duration::from_secs(2),
        ..fast()
    })
    .await;
    let api = Api::new(sim.v1_base_url());
    // 2,000 requests at 20 ms: 40 s of work, so it is still running while we look.
    let id = id_of(&api.create(&create_body(2000)).await.ok());
    // Let some requests finish, then look: still all under processing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let running = api.retrieve(&id).await.ok();
    assert_batch(&running);
    assert_eq!(running["processing_status"], "in_progress", "{running:#}");
    assert_eq!(counts(&running), [2000, 0, 0, 0, 0], "{running:#}");
    let canceling = api.cancel(&id).await.ok();
    assert_batch(&canceling);
    assert_eq!(canceling["processing_status"], "canceling", "{canceling:#}");
    assert_eq!(counts(&canceling), [2000, 0, 0, 0, 0], "{canceling:#}");
    let listed = api.get("/messages/batches").await.ok();
    let ours = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {listed:#}"));
    assert_eq!(ours["processing_status"], "canceling", "{ours:#}");
    assert_eq!(counts(ours), [2000, 0, 0, 0, 0], "{ours:#}");
    let ended = api.wait_ended(&id).await;
    let [processing, succeeded, errored, canceled, expired] = counts(&ended);
    assert_eq!((processing, expired), (0, 0), "{ended:#}");
    assert!(succeeded > 0 && errored > 0 && canceled > 0, "{ended:#}");
    assert_eq!(succeeded + errored + canceled, 2000);

    // Asked for explicitly (`mock --live-counts`), counts move while the batch runs.
    let live = start(SimConfig {
        live_counts: true,
        ..fast()
    })
    .await;
    let api = Api::new(live.base_url());
    let id = id_of(&api.create(&create_body(2000)).await.ok());
    let moved = loop {
        let batch = api.retrieve(&id).await.ok();
        assert_batch(&batch);
        if counts(&batch)[1] > 0 {
            break batch;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(moved["processing_status"], "in_progress", "{moved:#}");
    live.shutdown().await.unwrap();
    sim.shutdown().await.unwrap();
}

/// Issue 8 item 4: the key as `x-api-key` or `Authorization: Bearer` (what today's official SDKs
/// send), the versions the SDKs send, and the real API's refusals otherwise.
#[tokio::test]
async fn accepts_the_key_and_versions_the_official_sdks_send() {
    let sim = start(SimConfig {
        seed: true,
        ..fast()
    })
    .await;
    let api = Api::new(sim.v1_base_url());
    let bearer = format!("Bearer {KEY}");
    let accepted: [Headers; 5] = [
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        &[
            ("authorization", &bearer),
            ("anthropic-version", "2026-10-21"),
        ],
        &[
            ("authorization", "bearer sk-x"),
            ("anthropic-version", "2023-06-01"),
        ],
        &[("x-api-key", KEY), ("anthropic-version", "2026-10-21")],
        &[
            ("x-api-key", KEY),
            ("authorization", &bearer),
            ("anthropic-version", "2023-01-01"),
        ],
    ];
    for headers in accepted {
        let answer = api
            .send_with(Method::GET, "/messages/batches?limit=2", None, headers)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{headers:?}: {}",
            answer.text
        );
        assert_schema("MessageBatchList", &answer.json());
    }
    let refused: [(Headers, StatusCode, &str); 6] = [
        (
            &[("authorization", "Bearer "), ("anthropic-version", VERSION)],
            StatusCode::UNAUTHORIZED,
            "authentication_error",
        ),
        (
            &[("authorization", KEY), ("anthropic-version", VERSION)],
            StatusCode::UNAUTHORIZED,
            "authentication_error",
        ),
        (
            &[
                ("authorization", "Basic dXNlcjpwYXNz"),
                ("anthropic-version", VERSION),
            ],
            StatusCode::UNAUTHORIZED,
            "authentication_error",
        ),
        (
            &[("authorization", &bearer)],
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
        ),
        (
            &[
                ("authorization", &bearer),
                ("anthropic-version", "2099-01-01"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
        ),
        (
            &[("x-api-key", KEY), ("anthropic-version", "latest")],
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
        ),
    ];
    for (headers, status, kind) in refused {
        let answer = api
            .send_with(Method::GET, "/messages/batches", None, headers)
            .await;
        assert_error(&answer, status, kind);
    }
    let unknown = api
        .send_with(
            Method::GET,
            "/messages/batches",
            None,
            &[("x-api-key", KEY), ("anthropic-version", "2099-01-01")],
        )
        .await;
    let message = unknown.json()["error"]["message"].to_string();
    assert!(
        message.contains("2026-10-21"),
        "names what it accepts: {message}"
    );
    sim.shutdown().await.unwrap();
}

/// Issue 8 item 4: results in no promised order (the real API's docs: match on `custom_id`).
#[tokio::test]
async fn results_come_in_no_promised_order() {
    let sim = start(fast()).await;
    let api = Api::new(sim.base_url());
    let id = id_of(&api.create(&create_body(30)).await.ok());
    api.wait_ended(&id).await;
    let results = api.results(&id).await;
    let ids: Vec<String> = results
        .text
        .lines()
        .map(|l| {
            let line: Value = serde_json::from_str(l).unwrap();
            assert_schema("MessageBatchResult", &line);
            line["custom_id"].as_str().unwrap().to_owned()
        })
        .collect();
    let request_order: Vec<String> = (0..30).map(|i| format!("req-{i}")).collect();
    assert_ne!(ids, request_order, "lines in request order");
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| id[4..].parse::<u32>().unwrap());
    assert_eq!(sorted, request_order, "each request exactly once");
    // The same order on every download.
    assert_eq!(api.results(&id).await.text, results.text);
    sim.shutdown().await.unwrap();
}
