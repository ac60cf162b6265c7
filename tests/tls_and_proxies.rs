//! Transport security and proxies, end to end.
//!
//! - An `http://` base URL to a host that is not this machine is refused (the key would travel
//!   in clear) unless `MSGBATCH_ALLOW_INSECURE=1`: the call is an `isError` result and nothing
//!   is sent, not even to a proxy.
//! - `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` are honoured as reqwest reads them (reqwest makes
//!   no exception for loopback, so these tests use a made-up `.test` host that never resolves,
//!   with wiremock standing in as the proxy).
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
