//! `cargo bench --bench bulk`: the time to cancel 100 batches through MCP, with one
//! `cancel_message_batches` call, next to 100 `cancel_message_batch` calls made one after
//! another (what an agent does without the bulk tool).
//!
//! The server is the release binary (override with `MSGBATCH_BENCH_BIN`), spawned and driven by
//! the rmcp client as Claude Code would. Two upstreams, both on loopback:
//! - the embedded simulator, in this process, with 100 fresh `in_progress` batches per run;
//! - an upstream that answers every cancel after 50 ms, about what the real API takes, where
//!   the bulk tool's few cancels at a time show.
//!
//! Each figure is the median of [`ROUNDS`] runs, the two ways alternating; every answer is
//! checked (no error, 100 outcomes or 100 batches `canceling`), and the upstream's count of
//! cancels must be 100 a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use msgbatch_mcp::simulator::{self, SimConfig};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

const IDS: usize = 100;
const ROUNDS: usize = 5;
const LATENCY: Duration = Duration::from_millis(50);

type Client = RunningService<RoleClient, ()>;

fn binary() -> String {
    std::env::var("MSGBATCH_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_msgbatch-mcp").to_owned())
}

async fn spawn(base_url: &str) -> Client {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.env("MSGBATCH_API_URL", base_url)
        .env_remove("ANTHROPIC_API_KEY")
        .env("RUST_LOG", "error");
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn msgbatch-mcp");
    ().serve(transport).await.expect("initialize")
}

async fn call(client: &Client, name: &'static str, args: Value) -> rmcp::model::CallToolResult {
    let Value::Object(map) = args else {
        unreachable!("arguments are an object")
    };
    let r = client
        .call_tool(CallToolRequestParams::new(name).with_arguments(map))
        .await
        .expect("tools/call");
    assert_ne!(r.is_error, Some(true), "{name} failed: {r:?}");
    r
}

/// One `cancel_message_batches` call for all of `ids`.
async fn bulk(client: &Client, ids: &[String]) -> Duration {
    let start = Instant::now();
    let r = call(
        client,
        "cancel_message_batches",
        json!({ "message_batch_ids": ids }),
    )
    .await;
    let took = start.elapsed();
    let s = r.structured_content.expect("structured");
    let canceling = s["counts"]["canceling"].as_u64().unwrap_or(0)
        + s["counts"]["already_canceling"].as_u64().unwrap_or(0);
    assert_eq!(canceling, ids.len() as u64, "{}", s["summary"]);
    took
}

/// One `cancel_message_batch` call per ID, each awaited before the next.
async fn singles(client: &Client, ids: &[String]) -> Duration {
    let start = Instant::now();
    for id in ids {
        let r = call(
            client,
            "cancel_message_batch",
            json!({ "message_batch_id": id }),
        )
        .await;
        let s = r.structured_content.expect("structured");
        assert_eq!(s["processing_status"], "canceling", "{s}");
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Row {
    upstream: &'static str,
    bulk: Duration,
    singles: Duration,
}

async fn against_simulator() -> Row {
    let sim = simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_secs(60),
            cancel_delay: Duration::from_secs(3600),
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator");
    let client = spawn(&sim.base_url()).await;
    let fresh = || -> Vec<String> {
        (0..IDS)
            .map(|_| sim.simulator().insert_batch(100).id)
            .collect()
    };
    // Warm-up: connections open, code paged in.
    bulk(&client, &fresh()).await;
    singles(&client, &fresh()[..10]).await;
    let (mut b, mut s) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let before = sim.simulator().stats().cancel;
        b.push(bulk(&client, &fresh()).await);
        s.push(singles(&client, &fresh()).await);
        assert_eq!(sim.simulator().stats().cancel - before, 2 * IDS as u64);
    }
    client.cancel().await.ok();
    let _ = sim.shutdown().await;
    Row {
        upstream: "simulator (in-process, loopback)",
        bulk: median(b),
        singles: median(s),
    }
}

/// Answers every cancel with its batch, `canceling`, after [`LATENCY`].
struct Slow(Arc<AtomicU64>);

impl wiremock::Respond for Slow {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        self.0.fetch_add(1, Ordering::Relaxed);
        let path = request.url.path();
        let id = path
            .split_once("/messages/batches/")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or("none");
        let body = json!({
            "id": id, "type": "message_batch", "processing_status": "canceling",
            "request_counts": {"processing": 10, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
            "archived_at": null, "cancel_initiated_at": "2026-01-01T00:01:00Z",
            "ended_at": null, "results_url": null
        });
        wiremock::ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(LATENCY)
    }
}

async fn against_slow_upstream() -> Row {
    let up = wiremock::MockServer::start().await;
    let count = Arc::new(AtomicU64::new(0));
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Slow(count.clone()))
        .mount(&up)
        .await;
    let client = spawn(&format!("{}/v1", up.uri())).await;
    let ids: Vec<String> = (0..IDS).map(|i| format!("msgbatch_bench{i:03}")).collect();
    bulk(&client, &ids).await;
    let (mut b, mut s) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let before = count.load(Ordering::Relaxed);
        b.push(bulk(&client, &ids).await);
        s.push(singles(&client, &ids).await);
        assert_eq!(count.load(Ordering::Relaxed) - before, 2 * IDS as u64);
    }
    client.cancel().await.ok();
    Row {
        upstream: "loopback upstream, 50 ms per answer",
        bulk: median(b),
        singles: median(s),
    }
}

#[tokio::main]
async fn main() {
    println!(
        "Cancel {IDS} batches through MCP: {} (rmcp client over stdio), median of {ROUNDS} runs\n",
        binary()
    );
    let rows = [against_simulator().await, against_slow_upstream().await];
    println!(
        "{:<38} {:>30} {:>31} {:>7}",
        "upstream", "1 cancel_message_batches call", "100 cancel_message_batch calls", "ratio"
    );
    for r in rows {
        println!(
            "{:<38} {:>30} {:>31} {:>6.1}x",
            r.upstream,
            ms(r.bulk),
            ms(r.singles),
            r.singles.as_secs_f64() / r.bulk.as_secs_f64()
        );
    }
    println!(
        "\nThe bulk call sends {} cancels at a time (msgbatch_mcp::server::bulk::CONCURRENCY).",
        msgbatch_mcp::server::bulk::CONCURRENCY
    );
}
