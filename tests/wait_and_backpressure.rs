//! Two behaviours seen only from outside, end to end (the real binary over stdio):
//!
//! - the wait's schedule: after the cancel, the first poll comes after 1 s, the gaps double
//!   up to 10 s, and no poll is sent past `wait_seconds`; read from the times at which the
//!   upstream received the polls, with generous upper bounds (a busy machine only delays);
//! - backpressure: with the upstream holding every request, the server has exactly the cap
//!   (16) in flight and stops reading stdin once its queue is full, so that a `ping` written
//!   after 400 calls is answered only after most of them (it would be answered at once if
//!   stdin were read ahead into memory).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wiremock::{Mock, MockServer};

/// Answers every request with a `canceling` batch echoing the path's ID, noting when each
/// request arrived.
#[derive(Clone, Default)]
struct Timed(Arc<Mutex<Vec<(String, Instant)>>>);

impl wiremock::Respond for Timed {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        if let Ok(mut seen) = self.0.lock() {
            seen.push((request.method.to_string(), Instant::now()));
        }
        EchoBatch("canceling").respond(request)
    }
}

#[tokio::test]
async fn the_wait_polls_after_1_s_doubling_to_10_s_and_stops_at_wait_seconds() {
    let up = MockServer::start().await;
    let timed = Timed::default();
    Mock::given(wiremock::matchers::any())
        .respond_with(timed.clone())
        .mount(&up)
        .await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": 28}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let note = structured(&r)["note"].as_str().expect("a note").to_owned();
    assert!(
        note.contains("still `canceling` after waiting 28 s"),
        "{note}"
    );
    let seen = timed.0.lock().unwrap().clone();
    let (verb, cancel_at) = &seen[0];
    assert_eq!(verb, "POST");
    let polls: Vec<f64> = seen[1..]
        .iter()
        .map(|(verb, at)| {
            assert_eq!(verb, "GET");
            at.duration_since(*cancel_at).as_secs_f64()
        })
        .collect();
    // Polls at 1, 3, 7, 15 and 25 s; the next would be at 35, past the 28 s allowed.
    assert_eq!(polls.len(), 5, "polls at {polls:?} s after the cancel");
    let mut last = 0.0;
    for (poll, gap) in polls.iter().zip([1.0, 2.0, 4.0, 8.0, 10.0]) {
        let got = poll - last;
        // Never early (less a little for the answers' own round trips), and doubling only up
        // to 10 s (16 would break the upper bound).
        assert!(
            got >= gap - 0.25 && got <= gap + 3.0,
            "a gap of {got:.2} s where {gap} s was due; polls at {polls:?}"
        );
        last = *poll;
    }
    assert!(last <= 28.5, "a poll past wait_seconds: {polls:?}");
    client.cancel().await.ok();
}

/// An upstream that reads requests and holds them all until `open` is set, counting requests
/// and those held at once.
struct Gate {
    url: String,
    open: tokio::sync::watch::Sender<bool>,
    requests: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl Gate {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let (open, opened) = tokio::sync::watch::channel(false);
        let requests = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let (r, f, m) = (requests.clone(), in_flight.clone(), max_in_flight.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (r, f, m, mut opened) = (r.clone(), f.clone(), m.clone(), opened.clone());
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut read = BufReader::new(read);
                    loop {
                        let mut path = None;
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if path.is_none() {
                                path = line.split_whitespace().nth(1).map(str::to_owned);
                            } else if line == "\r\n" {
                                break;
                            }
                        }
                        r.fetch_add(1, Ordering::SeqCst);
                        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(now, Ordering::SeqCst);
                        if opened.wait_for(|o| *o).await.is_err() {
                            return;
                        }
                        let path = path.unwrap_or_default();
                        let body = batch_json(id_in_path(&path).unwrap_or("none"), "in_progress")
                            .to_string();
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n\r\n",
                            body.len()
                        );
                        f.fetch_sub(1, Ordering::SeqCst);
                        if write.write_all(head.as_bytes()).await.is_err()
                            || write.write_all(body.as_bytes()).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url,
            open,
            requests,
            in_flight,
            max_in_flight,
        }
    }
}

const CALLS: i64 = 400;
const PING: i64 = 9_999;
/// Requests in flight (src/api/client.rs) and calls queued before stdin pauses
/// (src/transport/backpressure.rs).
const CAP: usize = 16;
const QUEUED: i64 = 32;

#[tokio::test]
async fn stdin_pauses_while_the_upstream_holds_the_cap() {
    let up = Gate::start().await;
    let mut s = RawServer::start(&up.url, &[("MSGBATCH_TIMEOUT_SECS", "600")]).await;
    // 400 calls then a ping, written at once (about 70 KB: the pipe and the server's small
    // read-ahead take it all, so the write completes whether or not the server reads on).
    let mut lines = String::new();
    for n in 1..=CALLS {
        let call = json!({
            "jsonrpc": "2.0", "id": n, "method": "tools/call",
            "params": {"name": "get_message_batch",
                       "arguments": {"message_batch_id": format!("msgbatch_{n:04}Held")}}
        });
        lines.push_str(&call.to_string());
        lines.push('\n');
    }
    lines.push_str(&json!({"jsonrpc": "2.0", "id": PING, "method": "ping"}).to_string());
    lines.push('\n');
    s.send_raw(lines.as_bytes()).await;

    // The cap is reached, and held.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while up.in_flight.load(Ordering::SeqCst) < CAP {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cap was never reached"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    up.open.send_replace(true);

    // Every call is answered; the ping only once most of the calls were, because it was read
    // from stdin only when the queue had room again.
    let mut answered = 0;
    let mut before_ping = None;
    while answered < CALLS || before_ping.is_none() {
        let m: Value = s
            .next_message(Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("{answered} calls answered, then nothing"));
        match m["id"].as_i64() {
            Some(PING) => before_ping = Some(answered),
            Some(n) if (1..=CALLS).contains(&n) => {
                assert_eq!(m["result"]["isError"], json!(false), "{m}");
                answered += 1;
            }
            _ => panic!("unexpected {m}"),
        }
    }
    let before_ping = before_ping.expect("the ping was answered");
    // At most the cap, the queue and what one read of stdin holds (about 50 lines each time
    // the gate opens) were read ahead of their turn.
    assert!(
        before_ping >= CALLS - CAP as i64 - QUEUED - 120,
        "the ping was answered after only {before_ping} of {CALLS} calls: stdin was not paused"
    );
    assert_eq!(up.requests.load(Ordering::SeqCst), CALLS as usize);
    assert_eq!(up.max_in_flight.load(Ordering::SeqCst), CAP);
}
