//! Stateless tasks (SEP-2663) end to end: two `serve --http` instances with the same
//! MSGBATCH_REQUEST_STATE_KEY, rmcp's own client on 2026-07-28 declaring the tasks extension,
//! a fresh connection for every poll, and an upstream whose batch ends after a set number of
//! polls (so nothing waits on the clock). Plus `tasks/cancel`, tampered and expired IDs, and the
//! fallback's cap for clients without tasks.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{ID, batch_json, call, hits_by, is_error, structured, text};
use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    GetTaskParams, Implementation, ProtocolVersion, TaskStatus,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "tasks-test-key-0123456789abcdef0123456789";
const OTHER: &str = "ffffffffffffffffffffffffffffffff-other";

/// A `serve --http` process on a free loopback port; killed when dropped.
struct Instance {
    _child: tokio::process::Child,
    url: String,
}

async fn instance(upstream: &str, env: &[(&str, &str)]) -> Instance {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.args(["serve", "--http", "127.0.0.1:0"])
        .env("MSGBATCH_API_URL", upstream)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("MSGBATCH_HTTP_TOKEN")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn serve --http");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = out
        .next_line()
        .await
        .expect("stdout")
        .expect("address line");
    let url = line.rsplit(' ').next().expect("url").to_owned();
    assert!(url.ends_with("/mcp"), "{line}");
    Instance { _child: child, url }
}

type Client = RunningService<RoleClient, ClientConfig>;

/// A fresh 2026-07-28 client (no session to carry), declaring the tasks extension or not.
async fn connect(url: &str, tasks: bool) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest");
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
    );
    let caps = if tasks {
        ClientCapabilities::builder().enable_tasks().build()
    } else {
        ClientCapabilities::default()
    };
    ClientConfig::new(caps, Implementation::new("tasks-test", "0"))
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("discover over HTTP")
}

/// Every batch is `canceling` for the first `polls` GETs after the cancel, then `ended`.
struct EndsAfter {
    polls: usize,
    gets: Arc<AtomicUsize>,
}

impl Respond for EndsAfter {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = common::id_in_path(request.url.path()).unwrap_or(ID);
        if request.method.as_str() == "POST" {
            return ResponseTemplate::new(200).set_body_json(batch_json(id, "canceling"));
        }
        let n = self.gets.fetch_add(1, Ordering::SeqCst);
        let status = if n < self.polls { "canceling" } else { "ended" };
        ResponseTemplate::new(200).set_body_json(batch_json(id, status))
    }
}

async fn upstream(polls: usize) -> (MockServer, Arc<AtomicUsize>) {
    let up = MockServer::start().await;
    let gets = Arc::new(AtomicUsize::new(0));
    Mock::given(path_regex(r"/messages/batches/[^/]+(/cancel)?$"))
        .respond_with(EndsAfter {
            polls,
            gets: gets.clone(),
        })
        .mount(&up)
        .await;
    (up, gets)
}

fn cancel_params(name: &str, args: Value) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new(name.to_owned());
    p.arguments = args.as_object().cloned();
    p
}

/// Calls a cancel on `url` and expects a task; answers its ID.
async fn start_task(url: &str, name: &str, args: Value) -> (String, rmcp::model::Task) {
    let client = connect(url, true).await;
    let answer = client
        .call_tool_once(cancel_params(name, args))
        .await
        .expect("tools/call");
    let CallToolResponse::Task(created) = answer else {
        panic!("expected a task, got {answer:?}");
    };
    client.cancel().await.ok();
    (created.task.task_id.clone(), created.task)
}

async fn get(url: &str, task_id: &str) -> Result<rmcp::model::GetTaskResult, String> {
    let client = connect(url, true).await;
    let r = client
        .get_task(GetTaskParams::new(task_id))
        .await
        .map_err(|e| e.to_string());
    client.cancel().await.ok();
    r
}

#[tokio::test]
async fn a_task_made_on_one_instance_completes_on_another_with_the_waiting_calls_answer() {
    let (up, gets) = upstream(2).await;
    let base = common::base(&up);
    let env = [("MSGBATCH_REQUEST_STATE_KEY", KEY)];
    let a = instance(&base, &env).await;
    let b = instance(&base, &env).await;

    let (task_id, created) = start_task(
        &a.url,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 30}),
    )
    .await;
    assert_eq!(created.status, TaskStatus::Working);
    assert_eq!(created.poll_interval_ms, Some(2_000));
    assert_eq!(created.ttl_ms, Some((30 + 3600) * 1000));
    assert!(
        created
            .status_message
            .as_deref()
            .unwrap()
            .starts_with("canceling"),
        "{created:?}"
    );
    assert_eq!(
        gets.load(Ordering::SeqCst),
        0,
        "a task answers without polling"
    );

    // Polled on the other instance, then on both, each time over a new connection.
    let mut life = Vec::new();
    let mut done = None;
    for url in [&b.url, &a.url, &b.url, &a.url] {
        let got = get(url, &task_id).await.expect("tasks/get");
        life.push(format!(
            "{:?}: {}",
            got.task.task.status,
            got.task.task.status_message.clone().unwrap_or_default()
        ));
        if got.task.task.status == TaskStatus::Completed {
            done = Some(got);
            break;
        }
    }
    eprintln!("task life: {life:#?}");
    assert_eq!(life.len(), 3, "{life:?}");
    assert!(life[0].starts_with("Working: canceling"), "{life:?}");
    let done = done.expect("completed");
    let value = serde_json::to_value(&done).unwrap();
    let result = &value["result"];
    assert_eq!(
        result["structuredContent"]["processing_status"], "ended",
        "{value}"
    );
    assert_eq!(result["structuredContent"]["timed_out"], false, "{value}");
    assert!(
        result["structuredContent"]["note"]
            .as_str()
            .unwrap()
            .starts_with("The cancel is complete"),
        "{value}"
    );

    // The very answer the waiting call gives (a client without tasks), content and all.
    let plain = connect(&b.url, false).await;
    let waited = call_plain(&plain, json!({"message_batch_id": ID, "wait_seconds": 30})).await;
    assert_eq!(serde_json::to_value(&waited).unwrap(), *result);
    plain.cancel().await.ok();
    assert_eq!(
        hits_by(&up, "POST").await,
        2,
        "one cancel per call, none from the polls"
    );
}

async fn call_plain(client: &Client, args: Value) -> rmcp::model::CallToolResult {
    client
        .call_tool(cancel_params("cancel_message_batch", args))
        .await
        .expect("tools/call")
}

#[tokio::test]
async fn a_bulk_cancel_gets_one_task_for_the_set() {
    let (up, _) = upstream(3).await;
    let base = common::base(&up);
    let env = [("MSGBATCH_REQUEST_STATE_KEY", KEY)];
    let a = instance(&base, &env).await;
    let (task_id, created) = start_task(
        &a.url,
        "cancel_message_batches",
        json!({"message_batch_ids": ["msgbatch_a", "msgbatch_b"], "wait_seconds": 60}),
    )
    .await;
    assert_eq!(
        created.status_message.as_deref(),
        Some("0 of 2 batches ended")
    );
    let mut last = None;
    for _ in 0..4 {
        let got = get(&a.url, &task_id).await.expect("tasks/get");
        if got.task.task.status == TaskStatus::Completed {
            last = Some(got);
            break;
        }
        assert!(
            got.task
                .task
                .status_message
                .unwrap()
                .contains("batches ended")
        );
    }
    let value = serde_json::to_value(last.expect("completed")).unwrap();
    let s = &value["result"]["structuredContent"];
    assert_eq!(s["summary"], "2 canceling", "{value}");
    assert_eq!(s["timed_out"], false, "{value}");
    assert!(
        s["note"].as_str().unwrap().contains("In all: 8 succeeded"),
        "{value}"
    );
    assert_eq!(hits_by(&up, "POST").await, 2);
}

#[tokio::test]
async fn tasks_cancel_stops_following_never_the_batch() {
    let (up, _) = upstream(100).await;
    let base = common::base(&up);
    let a = instance(&base, &[("MSGBATCH_REQUEST_STATE_KEY", KEY)]).await;
    let (task_id, _) = start_task(
        &a.url,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 60}),
    )
    .await;
    let client = connect(&a.url, true).await;
    client
        .cancel_task(CancelTaskParams::new(task_id.clone()))
        .await
        .expect("tasks/cancel acknowledged");
    client.cancel().await.ok();
    let got = get(&a.url, &task_id).await.expect("tasks/get");
    assert_eq!(got.task.task.status, TaskStatus::Cancelled);
    let msg = got.task.task.status_message.unwrap();
    assert!(msg.contains("The batch cancel itself stands"), "{msg}");
    // One cancel was sent, by the call; nothing tried to undo it.
    assert_eq!(hits_by(&up, "POST").await, 1);
}

#[tokio::test]
async fn tampered_foreign_and_expired_task_ids_are_refused() {
    let (up, gets) = upstream(100).await;
    let base = common::base(&up);
    let a = instance(&base, &[("MSGBATCH_REQUEST_STATE_KEY", KEY)]).await;
    let other = instance(&base, &[("MSGBATCH_REQUEST_STATE_KEY", OTHER)]).await;
    let (task_id, _) = start_task(
        &a.url,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 60}),
    )
    .await;
    let mut bytes = task_id.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let before = gets.load(Ordering::SeqCst);
    for (url, id) in [
        (&a.url, tampered.as_str()),
        (&other.url, task_id.as_str()),
        (&a.url, "x"),
    ] {
        let e = get(url, id).await.expect_err("refused");
        assert!(e.contains("not one this server issued"), "{e}");
    }
    assert_eq!(
        gets.load(Ordering::SeqCst),
        before,
        "a refused ID reads nothing"
    );

    let short = instance(
        &base,
        &[
            ("MSGBATCH_REQUEST_STATE_KEY", KEY),
            ("MSGBATCH_TASK_TTL_SECS", "0"),
        ],
    )
    .await;
    let (expired, _) = start_task(
        &short.url,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 60}),
    )
    .await;
    for url in [&short.url, &a.url] {
        let e = get(url, &expired).await.expect_err("expired");
        assert!(e.contains("has expired"), "{e}");
    }
}

/// A client without tasks: the call is held, but never longer than the cap, and a wait that
/// runs out answers the last state as `timed_out`, not as an error.
#[tokio::test]
async fn without_tasks_the_wait_is_capped_and_times_out_without_an_error() {
    let (up, _) = upstream(10_000).await;
    let (client, _) = common::spawn(&common::base(&up), &[("MSGBATCH_WAIT_HOLD_SECS", "1")]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 600}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert_eq!(s["timed_out"], true, "{s}");
    assert_eq!(s["processing_status"], "canceling");
    let note = s["note"].as_str().unwrap();
    assert!(
        note.starts_with("Waited 1 s, not the 600 s asked"),
        "{note}"
    );
    assert!(note.contains("Call get_message_batch later"), "{note}");

    let r = call(
        &client,
        "cancel_message_batches",
        json!({"message_batch_ids": [ID], "wait_seconds": 600}),
    )
    .await;
    let s = structured(&r);
    assert_eq!(
        (s["timed_out"].clone(), s["waited_seconds"].clone()),
        (json!(true), json!(1)),
        "{s}"
    );
    assert!(
        s["note"]
            .as_str()
            .unwrap()
            .starts_with("Waited 1 s, not the 600 s asked"),
        "{s}"
    );
    client.cancel().await.ok();
}
