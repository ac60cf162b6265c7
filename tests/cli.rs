//! The command line as a person meets it: `--help`, `--version`, `mock`.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_msgbatch-mcp");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("ANTHROPIC_API_KEY", "sk-ant-cli-test-key-9f3a")
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn version_prints_the_crate_version() {
    let (ok, text) = run(&["--version"]);
    assert!(ok);
    assert_eq!(
        text.trim(),
        format!("msgbatch-mcp {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_setting_and_how_to_add_the_server_without_showing_the_key() {
    let (ok, text) = run(&["--help"]);
    assert!(ok);
    for needle in [
        "MSGBATCH_API_URL",
        "ANTHROPIC_API_KEY",
        "MSGBATCH_TIMEOUT_SECS",
        "MSGBATCH_MAX_RETRIES",
        "https://api.anthropic.com/v1",
        "claude mcp add msgbatch",
        "mock",
        "demo",
        "install-skill",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    assert!(!text.contains("sk-ant-cli-test-key-9f3a"), "{text}");
}

#[test]
fn a_malformed_number_setting_is_refused_with_its_name() {
    let out = Command::new(BIN)
        .env("MSGBATCH_TIMEOUT_SECS", "soon")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--timeout-secs"), "{err}");
    assert!(out.stdout.is_empty(), "stdout is for MCP only");
}

#[tokio::test]
async fn mock_serves_the_api_at_both_prefixes_and_stops_on_sigterm() {
    let mut child = tokio::process::Command::new(BIN)
        .args(["mock", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("mock says where it listens")
        .expect("read")
        .expect("a line");
    let origin = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an URL in the first line")
        .to_owned();

    // reqwest is built with rustls but no default crypto provider: the product picks ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    for prefix in ["/rest/anthropic-message-batches-api/1.0.0", "/v1"] {
        let res = http
            .get(format!("{origin}{prefix}/messages/batches"))
            .header("x-api-key", "any")
            .header("anthropic-version", "2023-06-01")
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), 200);
        let body = res.text().await.expect("body");
        assert!(body.contains("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"), "{body}");
    }

    let pid = child.id().expect("pid");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("mock stops on SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn mock_on_a_busy_port_says_what_to_do() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (ok, text) = run(&["mock", "--listen", &addr]);
    assert!(!ok);
    assert!(text.contains(&format!("cannot listen on {addr}")), "{text}");
    assert!(text.contains("--listen 127.0.0.1:0"), "{text}");
}

/// The simulator's connection cap and header timeout are settings: sixteen silent connections
/// fill `--max-connections 16`, and `--header-timeout-secs 1` closes them, so that the next
/// client is served soon rather than starved.
#[tokio::test]
async fn mock_connection_cap_and_header_timeout_are_settings() {
    let mut child = tokio::process::Command::new(BIN)
        .args(["mock", "--listen", "127.0.0.1:0", "--max-connections", "16"])
        .env("MSGBATCH_MOCK_HEADER_TIMEOUT_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mock");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("mock says where it listens")
        .expect("read")
        .expect("a line");
    let origin = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("an URL")
        .to_owned();
    let addr = origin.trim_start_matches("http://").to_owned();
    let mut silent = Vec::new();
    for _ in 0..16 {
        silent.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let res = tokio::time::timeout(
        Duration::from_secs(30),
        reqwest::Client::new()
            .get(format!("{origin}/v1/messages/batches"))
            .header("x-api-key", "any")
            .header("anthropic-version", "2023-06-01")
            .send(),
    )
    .await
    .expect("served once the silent connections time out")
    .expect("list");
    assert_eq!(res.status(), 200);
    // The silent ones were closed by the server.
    let mut buf = [0u8; 16];
    for s in &mut silent {
        use tokio::io::AsyncReadExt as _;
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
            .await
            .expect("closed")
            .unwrap_or(0);
        assert!(n == 0 || buf.starts_with(b"HTTP/1.1 4"));
    }
}
