//! Transport security and proxies, end to end.
//!
//! - An `http://` base URL to a host that is not this machine is refused (the key would travel
//!   in clear) unless `MSGBATCH_ALLOW_INSECURE=1`: the call is an `isError` result and nothing
//!   is sent, not even to a proxy.
//! - `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` are honoured as reqwest reads them for a remote
//!   base URL (these tests use a made-up `.test` host that never resolves, with wiremock
//!   standing in as the proxy).
//! - A base URL on this machine never goes through any proxy: a recording proxy sees nothing,
//!   and the key reaches only the upstream.
//! - Through an `HTTPS_PROXY` the request is tunnelled (`CONNECT`): the proxy never sees the key.

mod common;

use common::*;
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate};

const REMOTE_HTTP: &str = "http://batches.example.test/v1";
const REMOTE_HTTPS: &str = "https://batches.example.test/v1";
const KEY: &str = "sk-ant-proxy-test-key";

/// A stand-in proxy that answers any forwarded request with a batch.
async fn proxy() -> MockServer {
    let p = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(EchoBatch("in_progress"))
        .mount(&p)
        .await;
    p
}

fn proxy_url(p: &MockServer) -> String {
    format!("http://{}", p.address())
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_and_nothing_is_sent() {
    let p = proxy().await;
    let (client, _) = spawn(
        REMOTE_HTTP,
        &[("ANTHROPIC_API_KEY", KEY), ("HTTP_PROXY", &proxy_url(&p))],
    )
    .await;
    for (tool, args) in [
        ("cancel_message_batch", json!({"message_batch_id": ID})),
        ("get_message_batch", json!({"message_batch_id": ID})),
        ("list_message_batches", json!({})),
    ] {
        let r = call(&client, tool, args).await;
        let t = text(&r);
        assert!(is_error(&r), "{tool}: {t}");
        assert!(t.contains("clear text"), "{t}");
        assert!(t.contains("MSGBATCH_ALLOW_INSECURE=1"), "{t}");
        assert!(t.contains(REMOTE_HTTP), "{t}");
    }
    assert_eq!(hits(&p).await, 0, "a request left despite the refusal");
}

#[tokio::test]
async fn allow_insecure_sends_through_http_proxy_with_the_key() {
    let p = proxy().await;
    let (client, _) = spawn(
        REMOTE_HTTP,
        &[
            ("ANTHROPIC_API_KEY", KEY),
            ("MSGBATCH_ALLOW_INSECURE", "1"),
            ("HTTP_PROXY", &proxy_url(&p)),
        ],
    )
    .await;
    still_serving(&client, ID).await;
    let seen = p.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1);
    let q = &seen[0];
    assert_eq!(q.url.path(), format!("/v1/messages/batches/{ID}"));
    assert_eq!(
        q.headers.get("host").and_then(|v| v.to_str().ok()),
        Some("batches.example.test")
    );
    assert_eq!(
        q.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
        Some(KEY)
    );
}

#[tokio::test]
async fn no_proxy_bypasses_the_proxy() {
    let p = proxy().await;
    let (client, _) = spawn(
        REMOTE_HTTP,
        &[
            ("ANTHROPIC_API_KEY", KEY),
            ("MSGBATCH_ALLOW_INSECURE", "1"),
            ("HTTP_PROXY", &proxy_url(&p)),
            ("NO_PROXY", "localhost,example.test"),
            ("MSGBATCH_MAX_RETRIES", "0"),
            ("MSGBATCH_TIMEOUT_SECS", "5"),
        ],
    )
    .await;
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    // Direct: the made-up host does not resolve, and the message names the URL.
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains(REMOTE_HTTP), "{t}");
    assert_eq!(hits(&p).await, 0);
}

#[tokio::test]
async fn https_goes_through_https_proxy_as_a_tunnel_that_hides_the_key() {
    let p = MockServer::start().await;
    // Refuse the tunnel: the point is what the proxy was asked, not what follows.
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(403))
        .mount(&p)
        .await;
    let (client, _) = spawn(
        REMOTE_HTTPS,
        &[
            ("ANTHROPIC_API_KEY", KEY),
            ("HTTPS_PROXY", &proxy_url(&p)),
            ("MSGBATCH_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains(REMOTE_HTTPS), "{t}");
    let seen = p.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method.as_str(), "CONNECT");
    assert!(seen[0].headers.get("x-api-key").is_none());
    assert!(!format!("{:?}", seen[0]).contains(KEY));
}

/// A loopback "proxy" that records every connection and the bytes that came first on it, then
/// answers 502: if a request reached it, the test sees exactly what would have leaked.
struct RecordingProxy {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl RecordingProxy {
    async fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    let _ = conn
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_loopback_base_url_never_goes_through_a_proxy() {
    let proxy = RecordingProxy::start().await;
    let up = echo_upstream("canceling", "in_progress").await;
    let port = up.address().port();
    let every_proxy: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|k| (k, proxy.url.as_str()))
    .collect();
    for host in ["127.0.0.1", "localhost", "[::1]"] {
        if host == "[::1]" && std::net::TcpListener::bind("[::1]:0").is_err() {
            continue; // no IPv6 loopback on this machine
        }
        // wiremock listens on 127.0.0.1 only: [::1] is refused, which is fine, as long as the
        // refusal comes from the loopback address and not from the proxy.
        let url = format!("http://{host}:{port}/v1");
        let mut env = every_proxy.clone();
        env.extend([
            ("ANTHROPIC_API_KEY", KEY),
            ("MSGBATCH_MAX_RETRIES", "0"),
            ("MSGBATCH_TIMEOUT_SECS", "10"),
        ]);
        let (client, _) = spawn(&url, &env).await;
        for (tool, args) in [
            ("cancel_message_batch", json!({"message_batch_id": ID})),
            ("get_message_batch", json!({"message_batch_id": ID})),
        ] {
            let r = call(&client, tool, args).await;
            let t = text(&r);
            if host != "[::1]" {
                assert!(!is_error(&r), "{url} {tool}: {t}");
            }
            assert!(
                !t.contains("502"),
                "{url} {tool} went through the proxy: {t}"
            );
        }
        let _ = client.cancel().await;
    }
    // https to loopback: no CONNECT either (the TLS handshake with the plain upstream fails).
    let url = format!("https://127.0.0.1:{port}/v1");
    let mut env = every_proxy.clone();
    env.extend([("ANTHROPIC_API_KEY", KEY), ("MSGBATCH_MAX_RETRIES", "0")]);
    let (client, _) = spawn(&url, &env).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    let _ = client.cancel().await;

    assert_eq!(proxy.seen(), Vec::<String>::new(), "the proxy saw traffic");
    let received = up.received_requests().await.unwrap();
    assert!(received.len() >= 4, "{}", received.len());
    for r in &received {
        assert_eq!(
            r.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
            Some(KEY)
        );
    }
}
