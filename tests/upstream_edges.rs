//! Upstream behaviours that no other suite covered, end to end (the real binary over stdio):
//!
//! - a 3xx answer is never followed: the key must not go to another host;
//! - an ended batch whose results were archived says they can no longer be fetched;
//! - the 5 s connect timeout, against a loopback listener whose accept queue is full, so
//!   that connections to it are never completed (the kernel drops the SYNs).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_redirect_is_never_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(EchoBatch("canceling"))
        .mount(&elsewhere)
        .await;
    let up = MockServer::start().await;
    for status in [301, 302, 307, 308] {
        up.reset().await;
        let target = format!("{}/v1/messages/batches/{ID}/cancel", elsewhere.uri());
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).insert_header("location", target))
            .mount(&up)
            .await;
        let (client, _) = spawn(&base(&up), &[("ANTHROPIC_API_KEY", "sk-ant-redirect")]).await;
        let r = call(
            &client,
            "cancel_message_batch",
            json!({"message_batch_id": ID}),
        )
        .await;
        let t = text(&r);
        assert!(is_error(&r), "{status}: {t}");
        assert!(t.contains(&format!("HTTP {status}")), "{status}: {t}");
        assert_eq!(hits(&up).await, 1, "{status}: not retried either");
        client.cancel().await.ok();
    }
    assert_eq!(hits(&elsewhere).await, 0, "a redirect was followed");
}

#[tokio::test]
async fn an_archived_batch_says_its_results_can_no_longer_be_fetched() {
    let up = MockServer::start().await;
    let mut batch = batch_json(ID, "ended");
    batch["archived_at"] = json!("2026-03-01T00:00:00Z");
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(batch))
        .mount(&up)
        .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let note = structured(&r)["note"].as_str().expect("a note").to_owned();
    assert!(
        note.contains(
            "Its results were archived at 2026-03-01T00:00:00Z and can no longer be fetched."
        ),
        "{note}"
    );
    // Not offered as a link to fetch.
    assert!(!note.contains("Results (JSON Lines"), "{note}");
    assert_eq!(structured(&r)["archived_at"], "2026-03-01T00:00:00Z");
    client.cancel().await.ok();
}

/// A loopback listener that never completes another connection: its accept queue (backlog
/// 0) is filled by connections we make and never accept, after which Linux drops new SYNs.
/// Answers the listener's socket (kept open) and its address.
fn blackhole() -> (libc::c_int, std::net::SocketAddr, Vec<std::net::TcpStream>) {
    use std::net::{SocketAddr, TcpStream};
    // SAFETY: plain socket calls on a socket we own; the address struct is fully initialised.
    let (fd, addr) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(libc::bind(fd, (&raw const sa).cast(), len), 0, "bind");
        assert_eq!(libc::listen(fd, 0), 0, "listen");
        let mut got: libc::sockaddr_in = std::mem::zeroed();
        let mut got_len = len;
        assert_eq!(
            libc::getsockname(fd, (&raw mut got).cast(), &mut got_len),
            0
        );
        let port = u16::from_be(got.sin_port);
        (fd, SocketAddr::from(([127, 0, 0, 1], port)))
    };
    // Fill the queue until a connection attempt is not completed.
    let mut held = Vec::new();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
        assert!(held.len() < 64, "the accept queue never filled");
    }
    (fd, addr, held)
}

#[tokio::test]
async fn a_connection_never_completed_gives_up_at_the_connect_timeout() {
    let (fd, addr, _held) = blackhole();
    let url = format!("http://{addr}/v1");
    // The attempt's own bound is 600 s: only the 5 s connect timeout can end this call in
    // the 120 s the test allows, and it says so as a connect failure.
    let (client, _) = spawn(
        &url,
        &[
            ("MSGBATCH_TIMEOUT_SECS", "600"),
            ("MSGBATCH_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let r = tokio::time::timeout(
        Duration::from_secs(120),
        call(
            &client,
            "get_message_batch",
            json!({"message_batch_id": ID}),
        ),
    )
    .await
    .expect("the call ended by the connect timeout");
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(t.contains(&format!("could not connect to {url}")), "{t}");
    assert!(t.contains("(no connection within 5 s)"), "{t}");
    assert!(!t.contains("within 600 s"), "{t}");
    client.cancel().await.ok();
    // SAFETY: our own socket, closed once.
    unsafe { libc::close(fd) };
}
