//! `msgbatch-mcp demo`: the whole job, end to end, offline, in one command.
//!
//! It plays both sides an agent would meet: it starts the simulator in-process on a free
//! loopback port, spawns this very binary as an MCP stdio server pointed at it, and then acts
//! as the MCP client (the agent): lists the tools, finds the running batches, stops two of them
//! in one call, cancels the first while following progress to `ended`, and tries once more to
//! show the "already ended" answer. The agent can show forms, so before each cancel the server
//! asks the person, and the demo prints that form and accepts it as shown.
//! It prints what the agent sees at each step, and checks it: the demo fails (exit 1) if the
//! product does not behave as documented, so a test can run it.

use std::io::IsTerminal;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, ProgressNotificationParam,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::simulator::{self, SimConfig};

/// Options of `msgbatch-mcp demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Seconds the agent lets cancel_message_batch wait for `ended`.
    #[arg(long, default_value_t = 30)]
    pub wait_seconds: u32,
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not start the simulator: {0}")]
    Simulator(std::io::Error),
    #[error("could not start the MCP server ({0}); is the binary intact?")]
    Spawn(String),
    #[error("the MCP call {0} failed: {1}")]
    Call(&'static str, String),
    #[error("the demo saw something unexpected: {0}")]
    Unexpected(String),
}

/// The agent's side: shows progress notifications as a bar (or as lines when not on a
/// terminal, so that a log of the demo still shows them).
#[derive(Clone)]
struct Agent {
    bar: Arc<ProgressBar>,
    live: bool,
}

impl ClientHandler for Agent {
    /// The agent can show a person a form (form elicitation), so the server asks before each
    /// cancel, as it does in Claude Code.
    fn get_info(&self) -> ClientConfig {
        let mut caps = ClientCapabilities::default();
        caps.elicitation = serde_json::from_value(json!({ "form": {} })).ok();
        ClientConfig::new(
            caps,
            Implementation::new("msgbatch-mcp-demo", env!("CARGO_PKG_VERSION")),
        )
    }

    /// Shows the confirmation form as the person would read it, then accepts it as shown:
    /// every field at its default (the batch checked; every batch of a bulk cancel checked).
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let form = serde_json::to_value(&request).unwrap_or_default();
        let message = form["message"].as_str().unwrap_or_default();
        println!("    form shown to the person:");
        for line in message.lines() {
            println!("      | {line}");
        }
        let mut content = serde_json::Map::new();
        if let Some(fields) = form["requestedSchema"]["properties"].as_object() {
            for (name, field) in fields {
                content.insert(name.clone(), field["default"].clone());
            }
        }
        println!("    the person accepts the form as shown");
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content)))
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let total = params.total.unwrap_or(0.0) as u64;
        let done = params.progress as u64;
        let message = params.message.unwrap_or_default();
        if self.live {
            self.bar.set_length(total);
            self.bar.set_position(done);
            self.bar.set_message(message);
        } else {
            println!("    progress: {message}");
        }
    }
}

/// Runs the demo against an in-process simulator. Prints to stdout.
pub async fn run(args: &DemoArgs) -> Result<(), DemoError> {
    let sim = simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_millis(100),
            cancel_delay: Duration::from_secs(3),
            seed: true,
            // So that the demo shows counts moving; said on screen, as the real API does not.
            live_counts: true,
            ..SimConfig::default()
        },
    )
    .await
    .map_err(DemoError::Simulator)?;

    println!("msgbatch-mcp demo: stopping a Message Batch through MCP, offline\n");
    println!(
        "  simulator  Message Batches API at {} (in this process)",
        sim.base_url()
    );
    println!(
        "             set to report requests as they finish (`mock --live-counts`); the real API\n             \
         keeps them all under `processing` until the batch ends"
    );

    let live = std::io::stderr().is_terminal();
    let bar = ProgressBar::hidden();
    let agent = Agent {
        bar: Arc::new(bar),
        live,
    };
    let client = spawn_server(&sim.base_url(), agent.clone()).await?;
    let outcome = converse(&client, &agent, args.wait_seconds).await;
    // Closing stdin is how MCP clients stop a stdio server.
    let _ = client.cancel().await;
    // The demo is over either way; a slow simulator shutdown changes nothing it showed.
    let _ = sim.shutdown().await;
    outcome
}

async fn spawn_server(
    base_url: &str,
    agent: Agent,
) -> Result<RunningService<RoleClient, Agent>, DemoError> {
    let exe = std::env::current_exe().map_err(|e| DemoError::Spawn(e.to_string()))?;
    let mut cmd = tokio::process::Command::new(&exe);
    cmd.env("MSGBATCH_API_URL", base_url)
        .env_remove("ANTHROPIC_API_KEY")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "error".into()),
        );
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| DemoError::Spawn(e.to_string()))?;
    let client = agent
        .serve(transport)
        .await
        .map_err(|e| DemoError::Spawn(e.to_string()))?;
    println!(
        "  server     {} spawned as an MCP stdio server, MSGBATCH_API_URL set to the simulator",
        exe.display()
    );
    Ok(client)
}

async fn converse(
    client: &RunningService<RoleClient, Agent>,
    agent: &Agent,
    wait_seconds: u32,
) -> Result<(), DemoError> {
    step(1, "The agent connects (initialize)");
    if let Some(info) = client.peer_info() {
        let server = info.server_info.as_ref();
        println!(
            "    server: {} {}",
            server.map(|s| s.name.as_str()).unwrap_or("?"),
            server.map(|s| s.version.as_str()).unwrap_or("?")
        );
        if let Some(instructions) = &info.instructions {
            print_block("instructions", instructions);
        }
    }

    step(2, "tools/list: what the model can call");
    let tools = client
        .list_all_tools()
        .await
        .map_err(|e| DemoError::Call("tools/list", e.to_string()))?;
    for tool in &tools {
        println!("    - {}", tool.name);
    }

    step(
        3,
        "The person says \"stop my running batch\". No ID, so the agent lists batches first",
    );
    let listed = call(client, "list_message_batches", json!({ "limit": 10 })).await?;
    let running: Vec<String> = listed
        .structured_content
        .as_ref()
        .and_then(|v| v["data"].as_array())
        .into_iter()
        .flatten()
        .filter(|b| b["processing_status"] == "in_progress")
        .filter_map(|b| b["id"].as_str().map(str::to_owned))
        .collect();
    let Some((id, others)) = running.split_first() else {
        return Err(DemoError::Unexpected(
            "no batch in progress to cancel".into(),
        ));
    };
    let id = id.clone();

    step(
        4,
        "The person adds \"and stop the other two running ones\": one call for both",
    );
    let others: Vec<&String> = others.iter().take(2).collect();
    let both = call(
        client,
        "cancel_message_batches",
        json!({ "message_batch_ids": others }),
    )
    .await?;
    let canceling = both
        .structured_content
        .as_ref()
        .and_then(|v| v["counts"]["canceling"].as_u64());
    if both.is_error == Some(true) || canceling != Some(2) {
        return Err(DemoError::Unexpected(format!(
            "expected two batches canceling in one call, got {canceling:?}"
        )));
    }

    step(
        5,
        &format!("The agent cancels {id} and waits up to {wait_seconds} s for it to end"),
    );
    if agent.live {
        agent
            .bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        agent.bar.set_style(
            ProgressStyle::with_template("    {bar:40} {pos}/{len} s waited  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let canceled = call(
        client,
        "cancel_message_batch",
        json!({ "message_batch_id": id, "wait_seconds": wait_seconds }),
    )
    .await;
    agent.bar.finish_and_clear();
    let canceled = canceled?;
    expect_status(&canceled, "ended")?;

    step(6, "The person asks again; the batch has already ended");
    let again = call(
        client,
        "cancel_message_batch",
        json!({ "message_batch_id": id }),
    )
    .await?;
    if again.is_error != Some(true) {
        return Err(DemoError::Unexpected(
            "a second cancel of an ended batch should be refused".into(),
        ));
    }

    println!(
        "\nDone: three batches canceled (two in one call), one followed to `ended` with its counts."
    );
    Ok(())
}

/// Calls a tool and prints what the agent sees.
async fn call(
    client: &RunningService<RoleClient, Agent>,
    name: &'static str,
    args: Value,
) -> Result<CallToolResult, DemoError> {
    println!("    → {name} {args}");
    let arguments = match args {
        Value::Object(map) => Some(map),
        _ => None,
    };
    let mut params = CallToolRequestParams::new(name);
    params.arguments = arguments;
    let result = client
        .call_tool(params)
        .await
        .map_err(|e| DemoError::Call(name, e.to_string()))?;
    let label = if result.is_error == Some(true) {
        "← isError"
    } else {
        "←"
    };
    for block in &result.content {
        if let Some(text) = block.as_text() {
            print_block(label, &text.text);
        }
    }
    Ok(result)
}

fn expect_status(result: &CallToolResult, want: &str) -> Result<(), DemoError> {
    let got = result
        .structured_content
        .as_ref()
        .and_then(|v| v["processing_status"].as_str())
        .unwrap_or("(no status)");
    if result.is_error == Some(true) || got != want {
        return Err(DemoError::Unexpected(format!(
            "expected the batch to be {want}, got {got}"
        )));
    }
    Ok(())
}

fn step(n: u32, title: &str) {
    println!("\n[{n}] {title}");
}

fn print_block(label: &str, text: &str) {
    let mut lines = text.lines();
    if let Some(first) = lines.next() {
        println!("    {label} {first}");
    }
    let pad = " ".repeat(label.chars().count() + 1);
    for line in lines {
        println!("    {pad}{line}");
    }
}
