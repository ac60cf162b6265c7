//! A successful https request end to end: the real binary, over stdio, against a local TLS
//! upstream whose certificate is signed by a test CA made at run time (tests/common/tls.rs).
//! The server trusts that CA only because it is told to, through `SSL_CERT_FILE` (read by
//! rustls-native-certs under rustls-platform-verifier, in place of the system's roots).
//!
//! The first call is sent right after `initialize`, while the https client may still be
//! being built on its own thread (src/api/http.rs): it must wait for it and succeed. (That it
//! waits rather than fails is also checked deterministically, in src/api/http.rs's tests.)

mod common;

use common::tls::TlsFront;
use common::*;
use serde_json::json;
use wiremock::MockServer;
use wiremock::matchers::{header, method};

const KEY: &str = "sk-ant-https-test-key";

async fn upstream() -> MockServer {
    let up = MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(EchoBatch("canceling"))
        .mount(&up)
        .await;
    up
}

#[tokio::test]
async fn a_cancel_over_https_with_a_trusted_test_ca_succeeds() {
    let up = upstream().await;
    let front = TlsFront::start(*up.address());
    let url = format!("{}/v1", front.origin);
    let ca = front.ca_file.to_string_lossy().into_owned();
    let (client, _) = spawn(&url, &[("ANTHROPIC_API_KEY", KEY), ("SSL_CERT_FILE", &ca)]).await;
    // At once, after initialize: the TLS client may still be loading the roots.
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["id"], ID);
    assert_eq!(structured(&r)["processing_status"], "canceling");
    // It came through the TLS front, with the key (the mock matches only on it).
    assert_eq!(front.handshakes(), 1);
    assert_eq!(hits(&up).await, 1);
    client.cancel().await.ok();
}

/// The control: the same upstream, not trusted (the test CA is not among the roots given),
/// fails the TLS handshake, names the URL, and nothing reaches the upstream.
#[tokio::test]
async fn the_same_upstream_without_the_test_ca_is_refused() {
    let up = upstream().await;
    let front = TlsFront::start(*up.address());
    let other = TlsFront::start(*up.address());
    let url = format!("{}/v1", front.origin);
    // Roots: another test CA's certificate, so the verifier has roots, just not this one.
    let wrong_ca = other.ca_file.to_string_lossy().into_owned();
    let (client, _) = spawn(
        &url,
        &[
            ("ANTHROPIC_API_KEY", KEY),
            ("SSL_CERT_FILE", &wrong_ca),
            ("MSGBATCH_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains(&format!("could not connect to {url}")), "{t}");
    assert!(t.to_lowercase().contains("certificate"), "{t}");
    // The TLS handshake failed: nothing was sent, and the answer says so.
    assert!(t.contains("the cancel was not sent"), "{t}");
    assert_eq!(hits(&up).await, 0);
    client.cancel().await.ok();
}

/// With no CA roots at all (a roots file holding none), the call fails naming the URL and
/// the reason, nothing reaches the upstream, and the server keeps serving.
#[tokio::test]
async fn no_ca_roots_is_a_clear_error_and_the_server_serves_on() {
    let up = upstream().await;
    let front = TlsFront::start(*up.address());
    let url = format!("{}/v1", front.origin);
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("none.pem");
    std::fs::write(&empty, "").expect("write");
    let empty = empty.to_string_lossy().into_owned();
    let (client, _) = spawn(
        &url,
        &[
            ("ANTHROPIC_API_KEY", KEY),
            ("SSL_CERT_FILE", &empty),
            ("MSGBATCH_MAX_RETRIES", "0"),
        ],
    )
    .await;
    for _ in 0..2 {
        let r = call(
            &client,
            "cancel_message_batch",
            json!({"message_batch_id": ID}),
        )
        .await;
        let t = text(&r);
        assert!(is_error(&r), "{t}");
        assert!(t.contains(&format!("could not connect to {url}")), "{t}");
        assert!(t.contains("UnknownIssuer"), "{t}");
    }
    assert_eq!(hits(&up).await, 0);
    client.cancel().await.ok();
}
