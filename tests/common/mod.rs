//! Shared harness for the end-to-end tests: spawn the real `msgbatch-mcp` binary as an MCP
//! stdio server and drive it with the rmcp client, the way Claude Code or Claude Desktop would.
#![allow(dead_code)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_msgbatch-mcp");

/// A client that records the progress notifications it receives.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl Recorder {
    pub fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Ok(mut p) = self.progress.lock() {
            p.push(params);
        }
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

/// Spawns the server with `MSGBATCH_API_URL=base_url` and the extra environment given;
/// `ANTHROPIC_API_KEY` is removed unless given.
pub async fn spawn(base_url: &str, env: &[(&str, &str)]) -> (Client, Recorder) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env("MSGBATCH_API_URL", base_url)
        .env_remove("ANTHROPIC_API_KEY")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn msgbatch-mcp");
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve(transport)
        .await
        .expect("MCP initialize with msgbatch-mcp");
    (client, recorder)
}

/// Calls a tool with JSON arguments (an object, or anything else to send no arguments).
pub async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(map) = args {
        params.arguments = Some(map);
    }
    client.call_tool(params).await.expect("tools/call answered")
}

/// All the text blocks of a result, joined.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

/// The structured content, which every successful call carries.
pub fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .unwrap_or_else(|| panic!("no structuredContent in {result:?}"))
}
