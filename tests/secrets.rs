//! The API key never shows, end to end.
//!
//! The server runs with a unique random key and `RUST_LOG=trace` (rmcp, reqwest, hyper and
//! rustls included) through success, 401, 500 with retries, a timeout, a refused connection,
//! a failed TLS handshake and a cancelled call; then everything it wrote to stdout and stderr
//! is searched for the key. The upstream must have received the key in `x-api-key`, so the
//! search is for something that was really there to leak.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A key nobody else could print by chance.
fn unique_key() -> String {
    let mut key = String::from("sk-ant-api03-test");
    for _ in 0..40 {
        key.push(fastrand::alphanumeric());
    }
    key
}

fn path_for(id: &str) -> String {
    format!("/v1/messages/batches/{id}")
}

fn assert_absent(key: &str, s: &RawServer) {
    let stdout = s.stdout_lines().join("\n");
    let stderr = s.stderr_text();
    assert!(!stdout.contains(key), "the key is on stdout");
    assert!(!stderr.contains(key), "the key is in the log");
    // The log really is at trace level, with the HTTP stack in it: the check is not vacuous.
    assert!(stderr.contains("TRACE"), "no trace output:\n{stderr}");
}

#[tokio::test]
async fn the_key_is_sent_upstream_but_never_logged_or_answered() {
    let key = unique_key();
    let up = MockServer::start().await;
    let ok = "msgbatch_01Ok";
    let denied = "msgbatch_01Denied";
    let failing = "msgbatch_01Failing";
    let slow = "msgbatch_01Slow";
    let waited = "msgbatch_01Waited";
    Mock::given(path(path_for(ok)))
        .respond_with(EchoBatch("in_progress"))
        .mount(&up)
        .await;
    Mock::given(path(path_for(denied)))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("request-id", "req_401")
                .set_body_json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        )
        .mount(&up)
        .await;
    Mock::given(path(path_for(failing)))
        .respond_with(ResponseTemplate::new(500).insert_header("retry-after-ms", "10"))
        .mount(&up)
        .await;
    Mock::given(path(path_for(slow)))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(batch_json(slow, "in_progress"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .respond_with(EchoBatch("canceling"))
        .mount(&up)
        .await;
    Mock::given(path(path_for(waited)))
        .respond_with(EchoBatch("canceling"))
        .mount(&up)
        .await;

    let mut s = RawServer::start(
        &base(&up),
        &[
            ("ANTHROPIC_API_KEY", &key),
            ("RUST_LOG", "trace"),
            ("MSGBATCH_TIMEOUT_SECS", "1"),
            ("MSGBATCH_MAX_RETRIES", "1"),
        ],
    )
    .await;
    let a = s
        .call(1, "get_message_batch", json!({"message_batch_id": ok}))
        .await;
    assert_eq!(a["result"]["isError"], json!(false), "{a}");
    for (n, batch) in [denied, failing, slow].into_iter().enumerate() {
        let a = s
            .call(
                2 + n as i64,
                "get_message_batch",
                json!({"message_batch_id": batch}),
            )
            .await;
        assert_eq!(a["result"]["isError"], json!(true), "{a}");
    }
    // A call cancelled mid-wait, and a list.
    s.send(&json!({
        "jsonrpc": "2.0", "id": 50, "method": "tools/call",
        "params": {"name": "cancel_message_batch",
                   "arguments": {"message_batch_id": waited, "wait_seconds": 30}}
    }))
    .await;
    // Cancel it once its first poll has landed, so the log holds a poll and a cancelled call.
    let polled = async {
        loop {
            let polls = received(&up)
                .await
                .iter()
                .filter(|r| r.method.as_str() == "GET" && r.url.path() == path_for(waited))
                .count();
            if polls >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), polled)
        .await
        .expect("the wait's first poll reached the upstream");
    s.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 50}}),
    )
    .await;
    let a = s
        .call(51, "list_message_batches", json!({"limit": 5}))
        .await;
    assert!(a["result"].is_object(), "{a}");
    s.close_stdin();
    s.wait_exit(Duration::from_secs(10)).await.expect("exits");

    // The upstream got the key on every request: there was something to leak.
    let received = up.received_requests().await.unwrap();
    // ok 1, denied 1, failing 2, slow 2, cancel 1, polls >= 1, list 1.
    assert!(received.len() >= 9, "{}", received.len());
    for r in &received {
        assert_eq!(
            r.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
            Some(key.as_str()),
            "{} {}",
            r.method,
            r.url
        );
    }
    assert_absent(&key, &s);
    // The HTTP stack's own trace output is there too (so its lines were searched).
    let log = s.stderr_text();
    assert!(log.contains("reqwest") || log.contains("hyper"), "{log}");
}

#[tokio::test]
async fn the_key_stays_hidden_when_the_upstream_cannot_be_reached() {
    let key = unique_key();
    // Refused connection, then a TLS handshake with a server that speaks plain HTTP.
    let closed = format!("http://127.0.0.1:{}/v1", closed_port());
    let plain = MockServer::start().await;
    let tls = format!("https://{}/v1", plain.address());
    for url in [closed, tls] {
        let mut s = RawServer::start(
            &url,
            &[
                ("ANTHROPIC_API_KEY", &key),
                ("RUST_LOG", "trace"),
                ("MSGBATCH_MAX_RETRIES", "1"),
            ],
        )
        .await;
        let a = s
            .call(1, "cancel_message_batch", json!({"message_batch_id": ID}))
            .await;
        assert_eq!(a["result"]["isError"], json!(true), "{a}");
        assert!(raw_text(&a).contains(&url), "{a}");
        s.close_stdin();
        s.wait_exit(Duration::from_secs(10)).await.expect("exits");
        assert_absent(&key, &s);
    }
}

/// A key that cannot go in a header (a pasted line break) is refused without being echoed.
#[tokio::test]
async fn a_malformed_key_is_refused_without_being_echoed() {
    let up = MockServer::start().await;
    Mock::given(header("anthropic-version", "2023-06-01"))
        .respond_with(EchoBatch("in_progress"))
        .mount(&up)
        .await;
    let secret = unique_key();
    let key = format!("{secret}\u{1}tail");
    let mut s = RawServer::start(
        &base(&up),
        &[("ANTHROPIC_API_KEY", &key), ("RUST_LOG", "trace")],
    )
    .await;
    let a = s
        .call(1, "get_message_batch", json!({"message_batch_id": ID}))
        .await;
    assert_eq!(a["result"]["isError"], json!(true), "{a}");
    assert!(raw_text(&a).contains("ANTHROPIC_API_KEY"), "{a}");
    s.close_stdin();
    s.wait_exit(Duration::from_secs(10)).await.expect("exits");
    assert_eq!(hits(&up).await, 0);
    assert_absent(&secret, &s);
}

/// A gateway's user and password in `MSGBATCH_API_URL` (`https://user:password@gateway/v1`)
/// never show: not in tool results, not in the log at `RUST_LOG=trace`, not in `--help`.
mod credentials_in_the_url {
    use super::*;

    const USER: &str = "gwuser7f3a";
    const PASSWORD: &str = "GATEWAY-TOKEN-9c1e";

    fn assert_hidden(what: &str, text: &str) {
        assert!(!text.contains(USER), "the user is in {what}:\n{text}");
        assert!(
            !text.contains(PASSWORD),
            "the password is in {what}:\n{text}"
        );
    }

    /// Refused connections (http and https to a dead loopback port) and refusals by the
    /// settings (plain http to a remote host; a remote host with no key): every tool's text
    /// names the URL, redacted, and nothing anywhere shows the credentials.
    #[tokio::test]
    async fn they_never_show_when_the_upstream_cannot_be_reached() {
        let dead = closed_port();
        for url in [
            format!("http://{USER}:{PASSWORD}@127.0.0.1:{dead}/v1"),
            format!("https://{USER}:{PASSWORD}@127.0.0.1:{dead}/v1"),
            format!("http://{USER}:{PASSWORD}@gateway.example.test/v1"),
            format!("https://{USER}:{PASSWORD}@gateway.example.test/v1"),
            format!("https://{USER}:{PASSWORD}@gateway example.test/v1"),
        ] {
            let mut s = RawServer::start(
                &url,
                &[("RUST_LOG", "trace"), ("MSGBATCH_MAX_RETRIES", "1")],
            )
            .await;
            for (n, (tool, args)) in [
                ("cancel_message_batch", json!({"message_batch_id": ID})),
                ("get_message_batch", json!({"message_batch_id": ID})),
                ("list_message_batches", json!({})),
            ]
            .into_iter()
            .enumerate()
            {
                let a = s.call(n as i64 + 1, tool, args).await;
                assert_eq!(a["result"]["isError"], json!(true), "{a}");
                let t = raw_text(&a);
                assert!(t.contains("[redacted]@"), "{url} {tool}: {t}");
            }
            s.close_stdin();
            s.wait_exit(Duration::from_secs(10)).await.expect("exits");
            assert_hidden("stdout", &s.stdout_lines().join("\n"));
            let log = s.stderr_text();
            assert!(log.contains("TRACE"), "no trace output:\n{log}");
            assert_hidden("the log", &log);
        }
    }

    /// Against a live upstream the credentials are sent as basic auth (the way to reach such a
    /// gateway) and still never shown.
    #[tokio::test]
    async fn they_reach_the_upstream_as_basic_auth_and_nowhere_else() {
        let up = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(EchoBatch("in_progress"))
            .mount(&up)
            .await;
        let url = format!("http://{USER}:{PASSWORD}@{}/v1", up.address());
        let mut s = RawServer::start(&url, &[("RUST_LOG", "trace")]).await;
        let a = s
            .call(1, "get_message_batch", json!({"message_batch_id": ID}))
            .await;
        assert_eq!(a["result"]["isError"], json!(false), "{a}");
        s.close_stdin();
        s.wait_exit(Duration::from_secs(10)).await.expect("exits");
        let received = up.received_requests().await.unwrap();
        assert_eq!(received.len(), 1);
        let auth = received[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(auth.starts_with("Basic "), "{auth}");
        let log = s.stderr_text();
        let out = s.stdout_lines().join("\n");
        assert_hidden("the log", &log);
        assert_hidden("stdout", &out);
        let encoded = auth.trim_start_matches("Basic ");
        assert!(
            !log.contains(encoded) && !out.contains(encoded),
            "basic auth shown"
        );
    }

    /// clap echoes environment values in `--help` and in its errors.
    #[test]
    fn they_are_not_echoed_by_help_or_argument_errors() {
        let url = format!("https://{USER}:{PASSWORD}@gateway.example.test/v1");
        for (args, extra, names) in [
            (&["--help"][..], None, "MSGBATCH_API_URL"),
            (&[][..], Some(("MSGBATCH_TIMEOUT_SECS", "soon")), "soon"),
        ] {
            let mut cmd = std::process::Command::new(BIN);
            cmd.args(args)
                .env("MSGBATCH_API_URL", &url)
                .stdin(std::process::Stdio::null());
            if let Some((k, v)) = extra {
                cmd.env(k, v);
            }
            let out = cmd.output().unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(said.contains(names), "{args:?}: {said}");
            assert_hidden(&format!("{args:?}"), &said);
        }
    }
}

/// ANTHROPIC_AUTH_TOKEN (no key set) goes upstream as `Authorization: Bearer`, as the official
/// SDKs send it, with no `x-api-key`; and, like the key, never reaches stdout or the log.
#[tokio::test]
async fn an_auth_token_is_sent_as_bearer_but_never_logged_or_answered() {
    let token = unique_key().replace("api03", "oat01");
    let up = MockServer::start().await;
    Mock::given(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(EchoBatch("in_progress"))
        .mount(&up)
        .await;
    let mut s = RawServer::start(
        &base(&up),
        &[("ANTHROPIC_AUTH_TOKEN", &token), ("RUST_LOG", "trace")],
    )
    .await;
    let a = s
        .call(
            1,
            "get_message_batch",
            json!({"message_batch_id": "msgbatch_01Ok"}),
        )
        .await;
    assert_eq!(a["result"]["isError"], json!(false), "{a}");
    let requests = received(&up).await;
    assert_eq!(requests.len(), 1);
    assert!(requests[0].headers.get("x-api-key").is_none());
    s.close_stdin();
    let _ = s.wait_exit(Duration::from_secs(10)).await;
    assert_absent(&token, &s);
}
