//! `msgbatch-mcp serve --http` end to end: the real binary, rmcp's own Streamable HTTP client
//! (and raw HTTP for what a client should never send), a wiremock upstream.
//!
//! Also read-only mode over stdio, since the same switch covers both transports.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    BIN, ID, Recorder, batch_json, call, echo_upstream, hits, is_error, structured, text,
};
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

type Client = RunningService<RoleClient, Recorder>;

/// A `serve --http` process on a free loopback port; killed when dropped.
struct HttpServer {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT/mcp`
    url: String,
    stderr: Arc<std::sync::Mutex<Vec<u8>>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
}

impl HttpServer {
    async fn start(upstream: &str, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .env("MSGBATCH_API_URL", upstream)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("MSGBATCH_HTTP_TOKEN")
            .env_remove("MSGBATCH_READ_ONLY")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn msgbatch-mcp serve --http");
        let stderr = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let stderr_task = tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), out.next_line())
            .await
            .expect("the server says where it listens")
            .expect("read stdout")
            .unwrap_or_else(|| panic!("no address line; stderr: {}", lock_text(&stderr)));
        let url = line
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://") && u.ends_with("/mcp"))
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self {
            child,
            url,
            stderr,
            stderr_task: Some(stderr_task),
        }
    }

    fn base(&self) -> String {
        self.url.trim_end_matches("/mcp").to_owned()
    }

    fn addr(&self) -> String {
        self.base().trim_start_matches("http://").to_owned()
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running");
        let ok = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok);
    }

    async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .expect("the server exits")
            .expect("wait");
        if let Some(t) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        status
    }

    fn stderr_text(&self) -> String {
        lock_text(&self.stderr)
    }
}

fn lock_text(buf: &std::sync::Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// A plain HTTP client (no proxy from the environment: everything here is loopback).
fn http() -> reqwest::Client {
    // The crate builds reqwest without a default TLS provider; plain http needs none, but the
    // builder insists on one being installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

fn transport(url: &str, token: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(t) = token {
        config = config.auth_header(t.to_owned());
    }
    StreamableHttpClientTransport::with_client(http(), config)
}

/// rmcp's client over Streamable HTTP, with the `initialize` handshake (protocol 2025-11-25).
async fn connect(url: &str, token: Option<&str>) -> (Client, Recorder) {
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve(transport(url, token))
        .await
        .expect("MCP initialize over HTTP");
    (client, recorder)
}

/// rmcp's client in the 2026-07-28 era: no handshake, `server/discover` and per-request metadata.
async fn connect_modern(url: &str) -> (Client, Recorder) {
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve_with_lifecycle(
            transport(url, None),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("MCP discover over HTTP");
    (client, recorder)
}

/// One raw JSON-RPC POST to `/mcp`, as a well-behaved client sends it, plus `extra` headers.
async fn post(url: &str, body: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let mut headers = HeaderMap::new();
    let defaults = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    // An extra header of the same name replaces the default.
    for (k, v) in defaults.iter().chain(extra) {
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    http()
        .post(url)
        .headers(headers)
        .body(body.to_owned())
        .send()
        .await
        .expect("HTTP request")
}

/// POSTs `body` to `/mcp` over a raw connection, reading the answer while the body is written:
/// the server may answer from `Content-Length` alone (413) and stop reading, so writing the rest
/// may fail (EPIPE, reset) or stall, and the answer must be read whatever the write does.
/// Answers (status, body).
async fn post_reading_while_writing(addr: &str, body: &[u8]) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-06-18\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    let body = body.to_vec();
    let writer = tokio::spawn(async move {
        // Errors are expected once the server has answered; the answer is what counts.
        if write.write_all(head.as_bytes()).await.is_ok() {
            let _ = write.write_all(&body).await;
        }
        // Keeps the write half open (a drop would send FIN) until the reader is done.
        write
    });
    let mut got = Vec::new();
    let mut chunk = [0u8; 8192];
    let complete = |got: &[u8]| -> Option<usize> {
        let text = String::from_utf8_lossy(got);
        let (head, rest) = text.split_once("\r\n\r\n")?;
        let len = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })?;
        (rest.len() >= len).then_some(len)
    };
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        while complete(&got).is_none() {
            match read.read(&mut chunk).await {
                // A reset after the answer arrived still leaves the answer read.
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    writer.abort();
    assert!(answered.is_ok(), "no answer within 30 s");
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// Polls `cond` until it holds; fails the test, naming what it waited for, after 60 s (a bound
/// for a loaded machine, not a time that makes it pass).
async fn wait_until(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 60 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Tools, both protocol eras, progress over SSE, errors.

#[tokio::test]
async fn the_tools_answer_over_http_as_over_stdio_in_both_protocol_eras() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[], &[]).await;

    let (legacy, _) = connect(&server.url, None).await;
    let (modern, _) = connect_modern(&server.url).await;
    let (stdio, _) = common::spawn(&common::base(&up), &[]).await;
    let over_stdio = tool_names(&stdio.list_all_tools().await.expect("tools/list on stdio"));
    for client in [&legacy, &modern] {
        let tools = client.list_all_tools().await.expect("tools/list");
        assert_eq!(tool_names(&tools), over_stdio);
        assert!(tools.iter().any(|t| t.name == "cancel_message_batch"));

        let r = call(
            client,
            "cancel_message_batch",
            json!({ "message_batch_id": ID }),
        )
        .await;
        assert!(!is_error(&r), "{}", text(&r));
        assert_eq!(structured(&r)["processing_status"], "canceling");
        assert!(text(&r).contains("not immediate"), "{}", text(&r));

        let r = call(
            client,
            "get_message_batch",
            json!({ "message_batch_id": ID }),
        )
        .await;
        assert_eq!(structured(&r)["id"], ID);
        assert_eq!(structured(&r)["processing_status"], "in_progress");
    }
    // Same answer, word for word, as over stdio.
    let args = json!({ "message_batch_id": ID });
    let a = call(&legacy, "get_message_batch", args.clone()).await;
    let b = call(&stdio, "get_message_batch", args).await;
    assert_eq!(text(&a), text(&b));
    // 2 clients x (cancel + get) + the comparison.
    assert_eq!(hits(&up).await, 6);
}

#[tokio::test]
async fn a_cancel_with_wait_streams_progress_over_sse_then_the_result() {
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(batch_json(ID, "canceling")),
        )
        .mount(&up)
        .await;
    // The first poll still finds it canceling; the next, ended.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(batch_json(ID, "canceling")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&up)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(batch_json(ID, "ended")))
        .with_priority(2)
        .mount(&up)
        .await;
    let server = HttpServer::start(&common::base(&up), &[], &[]).await;
    let (client, recorder) = connect(&server.url, None).await;

    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": ID, "wait_seconds": 60 }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "ended");
    let progress = recorder.progress();
    assert!(progress.len() >= 2, "progress over SSE: {progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].progress <= w[1].progress),
        "{progress:?}"
    );
    let last = progress.last().expect("progress");
    assert!(
        last.message.as_deref().unwrap_or("").starts_with("ended"),
        "{last:?}"
    );

    // The same call by hand: the answer is an SSE stream, progress first, the result last.
    let body = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "cancel_message_batch", "arguments": {"message_batch_id": ID, "wait_seconds": 60},
                   "_meta": {"progressToken": "p1"}}
    });
    let resp = post(&server.url, &body.to_string(), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let stream = resp.text().await.expect("SSE body");
    let messages: Vec<Value> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_json::from_str(d.trim()).expect("SSE data is JSON"))
        .collect();
    assert!(messages.len() >= 2, "{stream}");
    assert_eq!(messages[0]["method"], "notifications/progress", "{stream}");
    let result = messages.last().unwrap();
    assert_eq!(result["id"], 9, "{stream}");
    assert_eq!(
        result["result"]["structuredContent"]["processing_status"],
        "ended"
    );
}

#[tokio::test]
async fn a_call_without_progress_answers_plain_json() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[], &[]).await;
    let body = json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "get_message_batch", "arguments": {"message_batch_id": ID}}
    });
    let resp = post(&server.url, &body.to_string(), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().get("mcp-session-id").is_none());
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(v["result"]["structuredContent"]["id"], ID);
}

#[tokio::test]
async fn errors_are_tool_results_and_unknown_tools_json_rpc_errors() {
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(404).set_body_json(json!({
            "type": "error", "error": {"type": "not_found_error", "message": "batch not found"}
        })))
        .mount(&up)
        .await;
    let server = HttpServer::start(&common::base(&up), &[], &[]).await;
    let (client, _) = connect(&server.url, None).await;

    let r = call(
        &client,
        "cancel_message_batch",
        json!({ "message_batch_id": "../etc" }),
    )
    .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("Nothing was sent"), "{}", text(&r));
    assert_eq!(hits(&up).await, 0);

    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": ID }),
    )
    .await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("404") || text(&r).contains("not found"),
        "{}",
        text(&r)
    );

    let err = client
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await
        .expect_err("an unknown tool is a JSON-RPC error");
    assert!(err.to_string().contains("not found"), "{err}");
    // And the server is still serving.
    let r = call(&client, "list_message_batches", json!({})).await;
    assert!(is_error(&r), "{}", text(&r));
}

// ---------------------------------------------------------------------------------------------
// Stateless: two instances, one client.

/// A TCP balancer on loopback that sends each new connection to the next backend in turn,
/// as nginx's round robin does; counts the connections each backend got.
async fn round_robin(backends: Vec<String>) -> (String, Arc<Vec<AtomicUsize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(
        backends
            .iter()
            .map(|_| AtomicUsize::new(0))
            .collect::<Vec<_>>(),
    );
    let c = counts.clone();
    tokio::spawn(async move {
        let mut next = 0;
        while let Ok((mut inbound, _)) = listener.accept().await {
            let i = next % backends.len();
            next += 1;
            c[i].fetch_add(1, Ordering::SeqCst);
            let target = backends[i].clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://localhost:{}/mcp", addr.port()), counts)
}

#[tokio::test]
async fn two_instances_answer_one_client_with_no_session_between_them() {
    let up = echo_upstream("canceling", "in_progress").await;
    let a = HttpServer::start(&common::base(&up), &[], &[]).await;
    let b = HttpServer::start(&common::base(&up), &[], &[]).await;
    let (url, counts) = round_robin(vec![a.addr(), b.addr()]).await;

    // A connection per request, so that the balancer spreads them.
    let _ = http();
    let client_http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let transport = StreamableHttpClientTransport::with_client(
        client_http,
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    let client = Recorder::default()
        .serve(transport)
        .await
        .expect("initialize through the balancer");
    for i in 0..6 {
        let r = call(
            &client,
            "get_message_batch",
            json!({ "message_batch_id": ID }),
        )
        .await;
        assert!(!is_error(&r), "call {i}: {}", text(&r));
        assert_eq!(structured(&r)["id"], ID);
    }
    let tools = client.list_all_tools().await.expect("tools/list");
    let (direct, _) = connect(&a.url, None).await;
    let expected = direct.list_all_tools().await.expect("tools/list");
    assert_eq!(tool_names(&tools), tool_names(&expected));
    let (to_a, to_b) = (
        counts[0].load(Ordering::SeqCst),
        counts[1].load(Ordering::SeqCst),
    );
    assert!(
        to_a >= 3 && to_b >= 3,
        "both instances served: {to_a} and {to_b}"
    );
}

// ---------------------------------------------------------------------------------------------
// Who may call.

#[tokio::test]
async fn tokens_none_wrong_and_right_and_never_in_the_log() {
    let up = echo_upstream("canceling", "in_progress").await;
    let tokens = "first-token-d41d8cd98f00b204,second-token-e9800998ecf8427e";
    let server = HttpServer::start(
        &common::base(&up),
        &[("MSGBATCH_HTTP_TOKEN", tokens), ("RUST_LOG", "trace")],
        &[],
    )
    .await;

    let none = post(&server.url, PING, &[]).await;
    assert_eq!(none.status(), 401);
    let challenge = none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");

    let wrong = post(
        &server.url,
        PING,
        &[("authorization", "Bearer first-token-d41d8cd98f00b20")],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let basic = post(&server.url, PING, &[("authorization", "Basic Zmlyc3Q=")]).await;
    assert_eq!(basic.status(), 401);
    // A valid token under another scheme is refused too: only `Bearer` carries it, as a
    // password in Basic (plain, or base64 of `user:token`) it would be a credential in a form
    // proxies and browsers cache and replay.
    let first = tokens.split(',').next().unwrap();
    for value in [
        format!("Basic {first}"),
        // base64 of `user:first-token-d41d8cd98f00b204`.
        "Basic dXNlcjpmaXJzdC10b2tlbi1kNDFkOGNkOThmMDBiMjA0".to_owned(),
        format!("bearer{first}"),
        first.to_owned(),
    ] {
        let r = post(&server.url, PING, &[("authorization", &value)]).await;
        assert_eq!(r.status(), 401, "{value}");
    }

    // Either token works (rotation), with rmcp's client.
    for token in tokens.split(',') {
        let (client, _) = connect(&server.url, Some(token)).await;
        let r = call(
            &client,
            "get_message_batch",
            json!({ "message_batch_id": ID }),
        )
        .await;
        assert_eq!(structured(&r)["id"], ID);
    }
    // Refused requests reached no tool and no upstream: only the two calls did.
    assert_eq!(hits(&up).await, 2);
    // The health check needs no token.
    let health = http()
        .get(format!("{}/healthz", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let log = server.stderr_text();
    assert!(log.contains("401"), "the refusals are logged: {log}");
    for token in tokens.split(',') {
        assert!(!log.contains(token), "a token reached the log");
        assert!(
            !log.contains(&token[..20]),
            "part of a token reached the log"
        );
    }
}

#[tokio::test]
async fn an_open_address_without_a_token_refuses_to_start_and_says_how() {
    let out = tokio::process::Command::new(BIN)
        .args(["serve", "--http", "0.0.0.0:0"])
        .env_remove("MSGBATCH_HTTP_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve on 0.0.0.0"), "{err}");
    assert!(err.contains("MSGBATCH_HTTP_TOKEN"), "{err}");
    assert!(err.contains("--allow-unauthenticated"), "{err}");
}

/// A flood of wrong-token requests is one summary line at the default level, not one line
/// each (44,000 a second wrote 6.2 MB/s of them).
#[tokio::test]
async fn refused_requests_are_summed_up_not_logged_one_by_one() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(
        &common::base(&up),
        &[("MSGBATCH_HTTP_TOKEN", "the-right-token-0123456789")],
        &[],
    )
    .await;
    for _ in 0..200 {
        let r = post(&server.url, PING, &[("authorization", "Bearer wrong")]).await;
        assert_eq!(r.status(), 401);
    }
    let log = server.stderr_text();
    let lines = log.lines().filter(|l| l.contains("401")).count();
    assert!((1..=2).contains(&lines), "{lines} lines: {log}");
    assert!(log.contains("refused 1 request"), "{log}");
}

/// A token setting that cannot be used refuses to start, on loopback too, with an error that
/// names the problem and never a token: clap used to print `invalid value '<every token>'`.
#[tokio::test]
async fn unusable_tokens_refuse_to_start_and_are_never_printed() {
    let good = "good-secret-0123456789";
    for (value, says) in [
        (format!("{good},second one"), "token 2 holds characters"),
        (",".to_owned(), "holds no token"),
        (" , ".to_owned(), "holds no token"),
        ("".to_owned(), "holds no token"),
        (
            "${MSGBATCH_HTTP_TOKEN}".to_owned(),
            "unexpanded placeholder",
        ),
        (format!("{good},k"), "token 2 is shorter than 16"),
    ] {
        for by_flag in [false, true] {
            let mut cmd = tokio::process::Command::new(BIN);
            cmd.args(["serve", "--http", "127.0.0.1:0"])
                .env_remove("MSGBATCH_HTTP_TOKEN")
                .env("RUST_LOG", "trace")
                .stdin(Stdio::null());
            if by_flag {
                cmd.args(["--token", &value]);
            } else {
                cmd.env("MSGBATCH_HTTP_TOKEN", &value);
            }
            let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
                .await
                .expect("exits at once")
                .expect("run");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{value:?} started: {err}");
            assert!(err.contains("MSGBATCH_HTTP_TOKEN"), "{err}");
            assert!(err.contains(says), "{value:?}: {err}");
            for secret in [good, "second one", "${MSGBATCH_HTTP_TOKEN}"] {
                assert!(!err.contains(secret), "{secret:?} printed: {err}");
            }
            assert!(out.stdout.is_empty(), "it never served");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DNS rebinding: Host and Origin.

#[tokio::test]
async fn host_and_origin_are_checked() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(
        &common::base(&up),
        &[
            ("MSGBATCH_ALLOWED_HOSTS", "mcp.example.com"),
            ("MSGBATCH_ALLOWED_ORIGINS", "https://app.example.com:443"),
        ],
        &[],
    )
    .await;
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(post(&server.url, PING, &[]).await),
        200,
        "no Origin passes"
    );
    assert_eq!(
        status(post(&server.url, PING, &[("host", "evil.example")]).await),
        403
    );
    assert_eq!(
        status(post(&server.url, PING, &[("host", "mcp.example.com")]).await),
        200
    );
    assert_eq!(
        status(post(&server.url, PING, &[("origin", "http://evil.example")]).await),
        403
    );
    assert_eq!(
        status(
            post(
                &server.url,
                PING,
                &[("origin", "https://app.example.com:8443")]
            )
            .await
        ),
        403
    );
    assert_eq!(
        status(post(&server.url, PING, &[("origin", "http://localhost:3000")]).await),
        200
    );
    assert_eq!(
        status(post(&server.url, PING, &[("origin", "https://app.example.com")]).await),
        200
    );
    assert_eq!(hits(&up).await, 0);
}

#[tokio::test]
async fn by_default_only_pages_from_this_machine_may_call() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[], &[]).await;
    for foreign in ["http://evil.example", "https://evil.example:443", "null"] {
        let r = post(&server.url, PING, &[("origin", foreign)]).await;
        assert_eq!(r.status(), 403, "{foreign}");
    }
    // A rebinding page keeps its own Origin even when its name now points here.
    let r = post(
        &server.url,
        PING,
        &[("origin", "http://evil.example"), ("host", "localhost")],
    )
    .await;
    assert_eq!(r.status(), 403);
    for local in [
        "http://127.0.0.1:1234",
        "http://localhost:5173",
        "http://[::1]:80",
    ] {
        let r = post(&server.url, PING, &[("origin", local)]).await;
        assert_eq!(r.status(), 200, "{local}");
    }
    assert_eq!(post(&server.url, PING, &[]).await.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Bounded: bodies, malformed input, calls in flight, slow clients.

#[tokio::test]
async fn bad_input_gets_a_4xx_that_says_what_and_changes_nothing() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[], &[]).await;

    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024)
    );
    // Read whatever the write does: the server may answer from Content-Length and close
    // before the whole body is written.
    let (status, body) = post_reading_while_writing(&server.addr(), big.as_bytes()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("may hold at most"), "{body}");
    // Small, but ~25,000 values (what a parser turns into a tree 100 times its size), or
    // nested 100 deep: refused as it streams in, before rmcp parses it.
    let many = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":[{}0]}}}}"#,
        "0,".repeat(25_000)
    );
    let r = post(&server.url, &many, &[]).await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("JSON values"));
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":{}{}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(post(&server.url, &deep, &[]).await.status(), 413);

    let r = post(&server.url, r#"{"jsonrpc":"2.0","id":1,"method":"#, &[]).await;
    assert_eq!(r.status(), 400);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], -32700);
    assert!(v["id"].is_null());

    let r = post(&server.url, r#"{"hello":"world"}"#, &[]).await;
    assert_eq!(r.status(), 400);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["error"]["code"], -32600);

    let r = post(&server.url, PING, &[("content-type", "text/plain")]).await;
    assert_eq!(r.status(), 415);
    let r = post(&server.url, PING, &[("accept", "text/html")]).await;
    assert_eq!(r.status(), 406);
    let r = http().get(&server.url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = http()
        .get(format!("{}/nowhere", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    assert_eq!(hits(&up).await, 0);
    let (client, _) = connect(&server.url, None).await;
    common::still_serving(&client, ID).await;
}

#[tokio::test]
async fn a_full_server_answers_503_with_retry_after() {
    let up = echo_upstream("canceling", "canceling").await;
    let server = HttpServer::start(&common::base(&up), &[], &["--max-in-flight", "1"]).await;
    let (client, recorder) = connect(&server.url, None).await;
    // One call that stays in flight (the batch never ends), holding the only slot.
    let url = server.url.clone();
    let waiting = tokio::spawn(async move {
        call(
            &client,
            "cancel_message_batch",
            json!({ "message_batch_id": ID, "wait_seconds": 30 }),
        )
        .await;
        drop(url);
    });
    wait_until(
        "a progress notification of the call in flight",
        async || !recorder.progress().is_empty(),
    )
    .await;
    let busy = post(&server.url, PING, &[]).await;
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    waiting.abort();
}

#[tokio::test]
async fn a_silent_or_slow_connection_is_closed() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[], &["--idle-timeout-secs", "1"]).await;
    // Connects and says nothing.
    let mut silent = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    // Sends half a request line, then nothing.
    let mut slow = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    for conn in [&mut silent, &mut slow] {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(60), conn.read(&mut buf))
            .await
            .expect("the server closes the connection")
            .unwrap_or(0);
        // Closed, with at most an error status written first.
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(n == 0 || text.starts_with("HTTP/1.1 4"), "{text}");
    }
}

/// A raw POST from a chosen loopback source address (Linux routes all of 127/8 to loopback), so
/// that one test can be several clients.
async fn post_from(source: [u8; 4], url: &str, body: &str) -> reqwest::Response {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from(source))
        .build()
        .expect("reqwest client")
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(body.to_owned())
        .send()
        .await
        .expect("HTTP request")
}

fn tools_call(id: i64, wait_seconds: u32) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "cancel_message_batch",
        "arguments": {"message_batch_id": ID, "wait_seconds": wait_seconds}}})
    .to_string()
}

/// Unfinished request heads cost a small buffer each, not hyper's ~400 KiB: a head past 16 KiB
/// is refused (431) or the connection closed, at once, before any token is checked; a head
/// that stops coming is closed after the read timeout (here 1 s) although the idle timeout is
/// 30 s; a kept-alive connection may still sit idle between requests; /healthz answers
/// throughout. (tools/measure/http-memory.sh gives the memory figures.)
#[tokio::test]
async fn unfinished_heads_are_small_and_short_lived_and_health_answers_throughout() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(
        &common::base(&up),
        &[("MSGBATCH_HTTP_TOKEN", "a-long-enough-token-0123456789")],
        &["--read-timeout-secs", "1"],
    )
    .await;
    let mut padded = Vec::new();
    for _ in 0..20 {
        let mut c = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        c.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        let pad = format!("X-Pad: {}\r\n", "p".repeat(4000));
        for _ in 0..10 {
            if c.write_all(pad.as_bytes()).await.is_err() {
                break;
            }
        }
        padded.push(c);
    }
    let health = http()
        .get(format!("{}/healthz", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    for c in &mut padded {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(20), c.read(&mut buf))
            .await
            .expect("a 40 KB head is refused at once, not held for the read timeout")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(n == 0 || text.starts_with("HTTP/1.1 431"), "{text}");
    }
    // Half a head, then nothing: closed after the read timeout, long before the idle timeout.
    let mut slow = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(20), slow.read(&mut buf))
        .await
        .expect("closed within the read timeout, not the 30 s idle timeout")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(n == 0 || text.starts_with("HTTP/1.1 4"), "{text}");
    // A whole request, then two read timeouts of silence: the connection is still open.
    let mut kept = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let get = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    kept.write_all(get).await.unwrap();
    let mut reader = BufReader::new(kept);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    let mut rest = vec![0u8; 4096];
    let _ = reader.read(&mut rest).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut kept = reader.into_inner();
    kept.write_all(get).await.unwrap();
    let mut reader = BufReader::new(kept);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    assert!(
        line.starts_with("HTTP/1.1 200"),
        "kept-alive connection closed: {line:?}"
    );
}

/// Past `--max-connections`, a connection waits (in the kernel's queue) until one closes; the
/// soft open-files limit is raised to the hard one, so the cap, not `ulimit -n`, is what binds.
#[tokio::test]
async fn connections_are_capped_below_the_descriptor_limit() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[], &["--max-connections", "16"]).await;
    // Started with a soft open-files limit of 512 (below the hard one), it raises it.
    let mut lowered = tokio::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -Sn 512 && exec "$0" serve --http 127.0.0.1:0"#,
            BIN,
        ])
        .env("MSGBATCH_API_URL", common::base(&up))
        .env_remove("MSGBATCH_HTTP_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(lowered.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), out.next_line()).await;
    assert!(
        ready.is_ok_and(|l| l.is_ok_and(|l| l.is_some())),
        "it serves"
    );
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", lowered.id().unwrap())).unwrap();
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect();
    assert_eq!(files[0], files[1], "soft raised to hard: {limits}");
    assert_ne!(files[0], "512", "{limits}");
    drop(lowered);
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(tokio::net::TcpStream::connect(server.addr()).await.unwrap());
    }
    // Let the server accept all sixteen.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("{}/healthz", server.base());
    let waiting = tokio::spawn(async move { http().get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a 17th connection was served");
    held.pop();
    let status = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("served once one closed")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// One client cannot hold every call slot: a head whose body never comes holds none (the slot
/// is taken once the body is in); calls that wait may hold three quarters of the slots; one
/// peer address three quarters too; another client is still served.
#[tokio::test]
async fn one_client_cannot_hold_every_call_slot() {
    let up = echo_upstream("canceling", "canceling").await;
    let server = HttpServer::start(&common::base(&up), &[], &["--max-in-flight", "4"]).await;
    // Heads that promise a body and never send it.
    let mut promised = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        c.write_all(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
        promised.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = post_from([127, 0, 0, 1], &server.url, PING).await;
    assert_eq!(r.status(), 200, "bodies not yet sent hold no slot");
    // Three calls that wait (the batch never ends) from 127.0.0.1: the waiting share.
    let mut waits = Vec::new();
    for i in 0..3 {
        let url = server.url.clone();
        waits.push(tokio::spawn(async move {
            post_from([127, 0, 0, 1], &url, &tools_call(i, 60))
                .await
                .status()
        }));
    }
    while hits(&up).await < 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = post_from([127, 0, 0, 2], &server.url, &tools_call(10, 60)).await;
    assert_eq!(r.status(), 503, "a fourth waiting call");
    assert!(r.text().await.unwrap().contains("wait_seconds"));
    let r = post_from([127, 0, 0, 1], &server.url, PING).await;
    assert_eq!(r.status(), 503, "127.0.0.1 has used its share");
    assert!(r.text().await.unwrap().contains("this client"));
    let r = post_from([127, 0, 0, 2], &server.url, PING).await;
    assert_eq!(r.status(), 200, "another client is still served");
    for w in waits {
        w.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Read-only, over HTTP and stdio.

async fn assert_read_only(client: &Client, up: &wiremock::MockServer) {
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(
        tool_names(&tools),
        [
            "get_message_batch",
            "get_message_batch_results",
            "list_message_batches"
        ]
    );
    assert!(tools.iter().all(|t| {
        t.annotations
            .as_ref()
            .is_some_and(|a| a.read_only_hint == Some(true))
    }));
    // The prompts would send the agent to the cancel tools: none is offered.
    let prompts = client.list_all_prompts().await.expect("prompts/list");
    assert!(prompts.is_empty(), "{prompts:?}");
    let r = call(
        client,
        "cancel_message_batch",
        json!({ "message_batch_id": ID }),
    )
    .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("read-only"), "{}", text(&r));
    assert!(text(&r).contains("nothing was sent"), "{}", text(&r));
    // The bulk cancel too: hidden by its annotation, with no name listed anywhere here.
    let r = call(
        client,
        "cancel_message_batches",
        json!({ "message_batch_ids": [ID] }),
    )
    .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("read-only"), "{}", text(&r));
    assert_eq!(hits(up).await, 0, "a refused cancel sends nothing");
    let r = call(
        client,
        "get_message_batch",
        json!({ "message_batch_id": ID }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
}

#[tokio::test]
async fn read_only_hides_and_refuses_every_tool_that_writes_over_http() {
    let up = echo_upstream("canceling", "in_progress").await;
    let server = HttpServer::start(&common::base(&up), &[("MSGBATCH_READ_ONLY", "1")], &[]).await;
    let (client, _) = connect(&server.url, None).await;
    assert_read_only(&client, &up).await;
}

#[tokio::test]
async fn read_only_hides_and_refuses_every_tool_that_writes_over_stdio() {
    let up = echo_upstream("canceling", "in_progress").await;
    let (client, _) = common::spawn(&common::base(&up), &[("MSGBATCH_READ_ONLY", "true")]).await;
    assert_read_only(&client, &up).await;
}

// ---------------------------------------------------------------------------------------------
// Stopping.

#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish_then_exits_0() {
    // The batch ends at the first poll, a second after the cancel: within the grace period.
    let up = echo_upstream("canceling", "ended").await;
    let mut server = HttpServer::start(&common::base(&up), &[], &[]).await;
    let (client, recorder) = connect(&server.url, None).await;
    let call_task = tokio::spawn(async move {
        call(
            &client,
            "cancel_message_batch",
            json!({ "message_batch_id": ID, "wait_seconds": 30 }),
        )
        .await
    });
    // The cancel has reached the upstream: the call is in flight.
    wait_until("the cancel reaching the upstream", async || {
        hits(&up).await > 0
    })
    .await;
    server.signal("TERM");
    let r = call_task.await.expect("the call is answered");
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "ended");
    assert!(!recorder.progress().is_empty());
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{}", server.stderr_text());
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(server.addr()).await.is_err());
}

#[tokio::test]
async fn sigterm_cuts_short_a_call_that_outlasts_the_grace_period_with_an_answer() {
    let up = echo_upstream("canceling", "canceling").await;
    let mut server = HttpServer::start(&common::base(&up), &[], &[]).await;
    let (client, recorder) = connect(&server.url, None).await;
    let call_task = tokio::spawn(async move {
        call(
            &client,
            "cancel_message_batch",
            json!({ "message_batch_id": ID, "wait_seconds": 300 }),
        )
        .await
    });
    wait_until(
        "a progress notification of the call in flight",
        async || !recorder.progress().is_empty(),
    )
    .await;
    server.signal("TERM");
    let r = call_task.await.expect("the call is answered");
    assert!(is_error(&r));
    assert!(text(&r).contains("shutting down"), "{}", text(&r));
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{}", server.stderr_text());
}

#[tokio::test]
async fn bare_msgbatch_mcp_stays_stdio_whatever_the_environment() {
    // MSGBATCH_HTTP_ADDR set, no `serve`: still stdio (the rmcp stdio client gets its answers).
    let up = echo_upstream("canceling", "in_progress").await;
    let (client, _) =
        common::spawn(&common::base(&up), &[("MSGBATCH_HTTP_ADDR", "127.0.0.1:0")]).await;
    common::still_serving(&client, ID).await;
}
