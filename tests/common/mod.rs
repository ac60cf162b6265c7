//! Shared harness for the end-to-end tests: spawn the real `msgbatch-mcp` binary as an MCP
//! stdio server and drive it with the rmcp client, the way Claude Code or Claude Desktop would.
#![allow(dead_code)]

pub mod serve_http;
pub mod tls;

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
        .env_remove("ANTHROPIC_AUTH_TOKEN")
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

// ---------------------------------------------------------------------------------------------
// Helpers for the reliability suites (retries, faults, hostile input, cancellation, shutdown,
// secrets, concurrency). Added after the helpers above, which stay as they are.
// ---------------------------------------------------------------------------------------------

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A syntactically valid batch ID.
pub const ID: &str = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";

/// A batch object exactly as the API returns it.
pub fn batch_json(id: &str, status: &str) -> Value {
    let ended = status == "ended";
    serde_json::json!({
        "id": id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": {
            "processing": if ended { 0 } else { 10 },
            "succeeded": if ended { 4 } else { 0 },
            "errored": 0,
            "canceled": if ended { 6 } else { 0 },
            "expired": 0
        },
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "archived_at": null,
        "cancel_initiated_at": if status == "in_progress" { Value::Null } else { "2026-01-01T00:01:00Z".into() },
        "ended_at": if ended { "2026-01-01T00:02:00Z".into() } else { Value::Null },
        "results_url": if ended { format!("https://api.example/v1/messages/batches/{id}/results").into() } else { Value::Null }
    })
}

/// The batch ID in a request path `/…/messages/batches/{id}[/cancel]`, if any.
pub fn id_in_path(path: &str) -> Option<&str> {
    let (_, rest) = path.split_once("/messages/batches/")?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

/// A wiremock responder that answers with a batch whose ID is the one in the request path,
/// so that concurrent calls can be checked for crossed answers.
pub struct EchoBatch(pub &'static str);

impl wiremock::Respond for EchoBatch {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        match id_in_path(request.url.path()) {
            Some(id) => wiremock::ResponseTemplate::new(200).set_body_json(batch_json(id, self.0)),
            None => wiremock::ResponseTemplate::new(404),
        }
    }
}

/// A base URL for `server` with the `/v1` prefix the real API has.
pub fn base(server: &wiremock::MockServer) -> String {
    format!("{}/v1", server.uri())
}

/// Every request `server` has received. Fails the test if the server is not recording: a
/// counter that read 0 then would make every "nothing was sent" assertion pass.
pub async fn received(server: &wiremock::MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("the upstream records requests")
}

/// How many requests `server` has received.
pub async fn hits(server: &wiremock::MockServer) -> usize {
    received(server).await.len()
}

/// How many `verb` requests `server` has received.
pub async fn hits_by(server: &wiremock::MockServer, verb: &str) -> usize {
    received(server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == verb)
        .count()
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// The server driven with raw JSON-RPC lines over stdio: for what the rmcp client cannot send
/// (malformed JSON, cancellation by hand) and for inspecting every byte the server writes.
pub struct RawServer {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
}

impl RawServer {
    /// Spawns the server like [`spawn`] does (no key, `RUST_LOG=warn` unless `env` says
    /// otherwise), with stdout and stderr captured.
    pub async fn spawn(base_url: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.env("MSGBATCH_API_URL", base_url)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_AUTH_TOKEN")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn msgbatch-mcp");
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let all = stdout.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(out).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                all.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let all = stderr.clone();
        let stderr_task = tokio::spawn(async move {
            let mut err = err;
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                all.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            stdin,
            lines,
            stdout,
            stderr,
            stderr_task: Some(stderr_task),
        }
    }

    /// Spawns and completes the MCP handshake (protocol 2025-06-18).
    pub async fn start(base_url: &str, env: &[(&str, &str)]) -> Self {
        let mut s = Self::spawn(base_url, env).await;
        s.initialize().await;
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Writes one line (a newline is added).
    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).await.expect("write");
        stdin.write_all(b"\n").await.expect("write");
        stdin.flush().await.expect("flush");
    }

    /// Writes bytes as they are (no newline added): for invalid UTF-8.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.expect("write");
        stdin.flush().await.expect("flush");
    }

    pub async fn send(&mut self, message: &Value) {
        self.send_line(&message.to_string()).await;
    }

    pub async fn initialize(&mut self) {
        self.send(&serde_json::json!({
            "jsonrpc": "2.0", "id": "init", "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "raw-test", "version": "1"}}
        }))
        .await;
        let answer = self.response(&serde_json::json!("init")).await;
        assert_eq!(
            answer["result"]["protocolVersion"], "2025-06-18",
            "{answer}"
        );
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    /// The next line the server writes, parsed, or `None` if nothing comes within `within`.
    pub async fn next_message(&mut self, within: Duration) -> Option<Value> {
        let line = tokio::time::timeout(within, self.lines.recv())
            .await
            .ok()??;
        Some(
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}")),
        )
    }

    /// Waits (up to 60 s) for the answer to request `id`, skipping other messages.
    pub async fn response(&mut self, id: &Value) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.next_message(left).await.unwrap_or_else(|| {
                panic!("no answer to request {id}; stderr:\n{}", self.stderr_text())
            });
            if &m["id"] == id {
                return m;
            }
        }
    }

    /// Sends a `tools/call` and returns its answer (the whole JSON-RPC message).
    pub async fn call(&mut self, id: i64, name: &str, args: Value) -> Value {
        self.send(&serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": args}
        }))
        .await;
        self.response(&serde_json::json!(id)).await
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits for the process to exit, at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .ok()?
            .ok();
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        status
    }

    /// Sends a signal (`TERM`, `INT`, ...) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Every stdout line so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }
}

/// The text of a raw `tools/call` answer's content blocks, joined.
pub fn raw_text(answer: &Value) -> String {
    answer["result"]["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// What [`MiniUpstream`] does with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiniMode {
    /// Answers every request on a kept-alive connection with a batch echoing the path's ID.
    Echo,
    /// As `Echo`, each answer held back this many milliseconds (so requests overlap).
    EchoAfter(u64),
    /// Reads the request and never answers; notes when the client closes the connection.
    Hang,
    /// Answers 200 with a chunked body (no content-length) that never ends.
    EndlessChunked,
}

/// What a [`MiniUpstream`] has seen.
#[derive(Debug, Default)]
pub struct MiniStats {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// HTTP requests read.
    pub requests: AtomicUsize,
    /// Connections the client closed while we were waiting or writing.
    pub closed_by_client: AtomicUsize,
    /// Body bytes written.
    pub bytes_sent: AtomicU64,
    /// Requests read and not yet answered, now and at most.
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// A minimal HTTP/1.1 upstream over a raw socket, for what wiremock cannot show: how many
/// connections the client opens, whether it hangs up, and a body that never ends.
pub struct MiniUpstream {
    /// The base URL (with `/v1`).
    pub url: String,
    pub stats: Arc<MiniStats>,
}

impl MiniUpstream {
    pub async fn start(mode: MiniMode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let stats = Arc::new(MiniStats::default());
        let s = stats.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(mini_connection(socket, mode, s.clone()));
            }
        });
        Self { url, stats }
    }

    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    pub fn closed_by_client(&self) -> usize {
        self.stats.closed_by_client.load(Ordering::SeqCst)
    }

    pub fn bytes_sent(&self) -> u64 {
        self.stats.bytes_sent.load(Ordering::SeqCst)
    }

    /// The most requests that were waiting for their answer at once.
    pub fn max_in_flight(&self) -> usize {
        self.stats.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn mini_connection(socket: tokio::net::TcpStream, mode: MiniMode, stats: Arc<MiniStats>) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    loop {
        // Request line and headers; our client's requests carry no body.
        let mut path = None;
        let mut line = String::new();
        loop {
            line.clear();
            match read.read_line(&mut line).await {
                Ok(0) | Err(_) => {
                    if mode == MiniMode::Hang
                        && path.is_none()
                        && stats.requests.load(Ordering::SeqCst) > 0
                    {
                        stats.closed_by_client.fetch_add(1, Ordering::SeqCst);
                    }
                    return;
                }
                Ok(_) => {}
            }
            if path.is_none() {
                path = line.split_whitespace().nth(1).map(str::to_owned);
            } else if line == "\r\n" {
                break;
            }
        }
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let path = path.unwrap_or_default();
        if let MiniMode::EchoAfter(ms) = mode {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        match mode {
            MiniMode::Echo | MiniMode::EchoAfter(_) => {
                let body = batch_json(id_in_path(&path).unwrap_or("none"), "canceling").to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                if write.write_all(head.as_bytes()).await.is_err()
                    || write.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
                stats
                    .bytes_sent
                    .fetch_add(body.len() as u64, Ordering::SeqCst);
                stats.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            MiniMode::Hang => {
                let mut sink = [0u8; 1024];
                loop {
                    match read.read(&mut sink).await {
                        Ok(0) | Err(_) => {
                            stats.closed_by_client.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Ok(_) => {}
                    }
                }
            }
            MiniMode::EndlessChunked => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if write.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let frame_head = format!("{:x}\r\n", chunk.len());
                loop {
                    let ok = write.write_all(frame_head.as_bytes()).await.is_ok()
                        && write.write_all(&chunk).await.is_ok()
                        && write.write_all(b"\r\n").await.is_ok();
                    if !ok {
                        stats.closed_by_client.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    stats
                        .bytes_sent
                        .fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
            }
        }
    }
}

/// A wiremock upstream where every cancel (POST) answers the batch in `after_cancel` and every
/// retrieve (GET) in `on_retrieve`, echoing the ID from the path.
pub async fn echo_upstream(
    after_cancel: &'static str,
    on_retrieve: &'static str,
) -> wiremock::MockServer {
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(EchoBatch(after_cancel))
        .mount(&up)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(EchoBatch(on_retrieve))
        .mount(&up)
        .await;
    up
}

/// Asserts the server still answers `get_message_batch` for `id` after whatever came before,
/// and returns the batch it answered.
pub async fn still_serving(client: &Client, id: &str) -> Value {
    let r = call(
        client,
        "get_message_batch",
        serde_json::json!({ "message_batch_id": id }),
    )
    .await;
    assert!(!is_error(&r), "server not serving: {}", text(&r));
    let batch = structured(&r).clone();
    assert_eq!(batch["id"], id);
    batch
}
