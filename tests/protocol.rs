//! The MCP handshake across protocol eras, spoken as raw JSON-RPC lines so that the exact wire
//! shapes of each era are exercised: `initialize` (2025-06-18, 2025-11-25) and the 2026-07-28
//! style with `server/discover` and per-request `_meta`, no `initialize`. Also: nothing but
//! JSON-RPC messages ever appears on stdout.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_msgbatch-mcp");
/// A closed port: tools that reach the API answer with a connection error, quickly.
const DEAD_URL: &str = "http://127.0.0.1:9/v1";

struct Raw {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Raw {
    fn spawn() -> Self {
        let mut child = Command::new(BIN)
            .env("MSGBATCH_API_URL", DEAD_URL)
            .env("MSGBATCH_MAX_RETRIES", "0")
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            child,
            stdin,
            stdout,
        }
    }

    async fn send(&mut self, msg: Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("write");
        self.stdin.flush().await.expect("flush");
    }

    /// Reads lines until the response with `id`; every line must be a JSON-RPC message.
    async fn response(&mut self, id: i64) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
                .await
                .expect("an answer in time")
                .expect("read")
                .expect("a line before EOF");
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carried a non-JSON line {line:?}: {e}"));
            assert_eq!(msg["jsonrpc"], "2.0", "{msg}");
            if msg["id"] == json!(id) {
                return msg;
            }
        }
    }

    async fn close(mut self) -> std::process::ExitStatus {
        drop(self.stdin);
        // Anything left on stdout must still be JSON-RPC.
        while let Ok(Some(line)) = self.stdout.next_line().await {
            let msg: Value = serde_json::from_str(&line).expect("JSON on stdout");
            assert_eq!(msg["jsonrpc"], "2.0");
        }
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("exits after stdin closes")
            .expect("wait")
    }
}

fn initialize(id: i64, version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": { "name": "protocol-test", "version": "1.0" }
        }
    })
}

#[tokio::test]
async fn initialize_eras_are_answered_with_our_name_version_and_instructions() {
    for version in ["2025-06-18", "2025-11-25"] {
        let mut raw = Raw::spawn();
        raw.send(initialize(1, version)).await;
        let answer = raw.response(1).await;
        let result = &answer["result"];
        assert_eq!(result["protocolVersion"], version, "{answer}");
        assert_eq!(result["serverInfo"]["name"], "msgbatch-mcp");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(result["capabilities"]["tools"].is_object());
        assert!(result["capabilities"]["prompts"].is_object());
        let instructions = result["instructions"].as_str().expect("instructions");
        assert!(instructions.contains("cancel_message_batch"));
        assert!(instructions.contains("list_message_batches"));

        raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
            .await;
        let tools = raw.response(2).await;
        let names: Vec<&str> = tools["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "cancel_message_batch",
                "cancel_message_batches",
                "get_message_batch",
                "get_message_batch_results",
                "list_message_batches"
            ]
        );
        let status = raw.close().await;
        assert!(status.success(), "{status}");
    }
}

#[tokio::test]
async fn stateless_2026_clients_discover_and_call_without_initialize() {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "protocol-test", "version": "1.0" },
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut raw = Raw::spawn();
    raw.send(json!({
        "jsonrpc": "2.0", "id": 1, "method": "server/discover",
        "params": { "_meta": meta }
    }))
    .await;
    let discovered = raw.response(1).await;
    let text = discovered.to_string();
    assert!(discovered.get("result").is_some(), "{discovered}");
    assert!(text.contains("2026-07-28"), "{text}");
    assert!(text.contains("msgbatch-mcp"), "{text}");

    raw.send(json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {
            "_meta": meta,
            "name": "cancel_message_batch",
            "arguments": { "message_batch_id": "not/valid" }
        }
    }))
    .await;
    let called = raw.response(2).await;
    assert_eq!(called["result"]["isError"], true, "{called}");
    let message = called["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains("'/'"), "{message}");

    raw.send(json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {
            "_meta": meta,
            "name": "get_message_batch",
            "arguments": { "message_batch_id": "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF" }
        }
    }))
    .await;
    let called = raw.response(3).await;
    assert_eq!(called["result"]["isError"], true, "{called}");
    let message = called["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains(DEAD_URL), "{message}");
    assert!(raw.close().await.success());
}
