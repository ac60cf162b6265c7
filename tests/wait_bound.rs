//! At most `MAX_WAITING` calls wait for a batch to end at once; the next one is answered at
//! once, saying it did not wait, and a slot given back is used again.
//!
//! Counted, not timed: every call that waits reports progress as soon as its wait begins (the
//! batch as the cancel left it), and a call that cannot wait answers instead. So after
//! `MAX_WAITING + 1` cancels with `wait_seconds: 600`, the test waits until it has seen
//! `MAX_WAITING` distinct progress tokens and one answer, and checks that answer.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use msgbatch_mcp::server::waits::MAX_WAITING;
use serde_json::{Value, json};

fn waiting_cancel(n: usize) -> Value {
    json!({
        "jsonrpc": "2.0", "id": n, "method": "tools/call",
        "params": {"name": "cancel_message_batch",
                   "arguments": {"message_batch_id": format!("msgbatch_{n:05}"),
                                 "wait_seconds": 600},
                   "_meta": {"progressToken": n}}
    })
}

/// What the server said next about calls: a progress token that began waiting, or an answer.
enum Event {
    Waiting(u64),
    Answered(Value),
}

async fn next_event(s: &mut RawServer) -> Event {
    loop {
        let m = s
            .next_message(Duration::from_secs(120))
            .await
            .unwrap_or_else(|| panic!("the server went quiet; log:\n{}", s.stderr_text()));
        if m["method"] == "notifications/progress" {
            return Event::Waiting(m["params"]["progressToken"].as_u64().unwrap());
        }
        if m.get("id").is_some() {
            return Event::Answered(m);
        }
    }
}

#[tokio::test]
async fn the_call_past_the_bound_answers_at_once_saying_it_did_not_wait() {
    // Every cancel is accepted and the batch stays `canceling`: each wait would last 600 s.
    let up = echo_upstream("canceling", "canceling").await;
    let mut s = RawServer::start(&base(&up), &[]).await;
    let calls: String = (1..=MAX_WAITING + 1)
        .map(|n| format!("{}\n", waiting_cancel(n)))
        .collect();
    s.send_raw(calls.as_bytes()).await;

    let mut waiting = HashSet::new();
    let mut answers = Vec::new();
    while waiting.len() < MAX_WAITING || answers.is_empty() {
        match next_event(&mut s).await {
            Event::Waiting(token) => {
                waiting.insert(token);
            }
            Event::Answered(a) => answers.push(a),
        }
    }
    assert_eq!(waiting.len(), MAX_WAITING);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let a = &answers[0];
    let id = a["id"].as_u64().unwrap();
    assert!(!waiting.contains(&id), "call {id} both waited and answered");
    // Not an error: the cancel was sent and accepted, and the answer says where the batch is.
    assert_eq!(a["result"]["isError"], json!(false), "{a}");
    assert_eq!(
        a["result"]["structuredContent"]["processing_status"],
        "canceling"
    );
    let t = raw_text(a);
    assert!(t.contains("did not wait"), "{t}");
    assert!(t.contains(&format!("{MAX_WAITING} other calls")), "{t}");
    assert!(t.contains("get_message_batch"), "{t}");
    let cancels = up
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(cancels, MAX_WAITING + 1, "every cancel was sent");

    // A waiting call cancelled by the client gives its slot back: a later call waits again.
    // (The slot is freed when the cancelled call's task runs, so a call sent just before that
    // may still be told the server is busy: send until one waits, a bounded number of times.)
    let first = *waiting.iter().next().unwrap();
    s.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": first}}),
    )
    .await;
    let mut waited_again = false;
    for n in MAX_WAITING + 2..MAX_WAITING + 50 {
        s.send(&waiting_cancel(n)).await;
        loop {
            match next_event(&mut s).await {
                Event::Waiting(token) if token == n as u64 => {
                    waited_again = true;
                    break;
                }
                Event::Waiting(_) => {}
                Event::Answered(a) => {
                    assert_eq!(a["id"], json!(n), "{a}");
                    assert!(raw_text(&a).contains("did not wait"), "{a}");
                    break;
                }
            }
        }
        if waited_again {
            break;
        }
    }
    assert!(
        waited_again,
        "the cancelled call's slot was never given back"
    );
    s.close_stdin();
    s.wait_exit(Duration::from_secs(30)).await.expect("exits");
}
