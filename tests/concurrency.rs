//! Concurrency, end to end: 1,000 tool calls at once in one MCP session.
//!
//! Every call is answered, with its own batch (the upstream echoes the ID from the path, so a
//! crossed answer would show), none lost; and the server keeps to one HTTP client whose
//! connections are reused: never more requests in flight than the cap (16), and about as many
//! connections.

mod common;

use std::collections::HashSet;

use common::*;
use futures::future::join_all;
use serde_json::json;

const CALLS: usize = 1000;

fn id_for(n: usize) -> String {
    format!("msgbatch_{n:04}Concurrent")
}

#[tokio::test]
async fn a_thousand_concurrent_calls_each_get_their_own_batch() {
    let up = echo_upstream("canceling", "in_progress").await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let calls = (0..CALLS).map(|n| {
        let client = &client;
        async move {
            // Half cancels, half gets, interleaved.
            let (tool, status) = if n % 2 == 0 {
                ("cancel_message_batch", "canceling")
            } else {
                ("get_message_batch", "in_progress")
            };
            let r = call(client, tool, json!({"message_batch_id": id_for(n)})).await;
            (n, status, r)
        }
    });
    // join_all answers one result per call, in order, so each call's own answer is checked.
    let results = join_all(calls).await;
    for (n, status, r) in &results {
        assert!(!is_error(r), "call {n}: {}", text(r));
        let s = structured(r);
        assert_eq!(s["id"], id_for(*n), "call {n} got another call's batch");
        assert_eq!(s["processing_status"], *status, "call {n}");
        assert!(text(r).contains(&id_for(*n)), "call {n}");
    }
    // The upstream saw each batch exactly once.
    let received = up.received_requests().await.unwrap();
    assert_eq!(received.len(), CALLS);
    let ids: HashSet<String> = received
        .iter()
        .filter_map(|r| id_in_path(r.url.path()).map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), CALLS);
    // And the session is still healthy.
    let r = call(
        &client,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert_eq!(structured(&r)["id"], ID);
}

/// The cap on requests in flight (`MAX_IN_FLIGHT` in src/api/client.rs).
const CAP: usize = 16;

#[tokio::test]
async fn a_thousand_calls_keep_to_the_cap_and_share_kept_alive_connections() {
    // Each answer takes 20 ms, so that calls overlap at the upstream and the cap is reached.
    let up = MiniUpstream::start(MiniMode::EchoAfter(20)).await;
    let (client, _) = spawn(&up.url, &[]).await;
    let calls = (0..CALLS).map(|n| {
        let client = &client;
        async move {
            let r = call(
                client,
                "get_message_batch",
                json!({"message_batch_id": id_for(n)}),
            )
            .await;
            (n, r)
        }
    });
    for (n, r) in join_all(calls).await {
        assert!(!is_error(&r), "call {n}: {}", text(&r));
        assert_eq!(structured(&r)["id"], id_for(n));
    }
    assert_eq!(up.requests(), CALLS);
    // Exactly the cap: never more at once, and reached (1,000 calls were waiting).
    assert_eq!(up.max_in_flight(), CAP);
    // About one connection per request in flight. Not exact: hyper races a new connection
    // against waiting for one to come back to the pool, so a returning connection can lose to
    // a fresh one. Without reuse this would be 1,000; without the cap, hundreds.
    let connections = up.connections();
    assert!(
        (CAP..=2 * CAP).contains(&connections),
        "{connections} connections for {CALLS} requests"
    );
    // Sequential calls afterwards reuse what is already open.
    for n in 0..20 {
        call(
            &client,
            "get_message_batch",
            json!({"message_batch_id": id_for(n)}),
        )
        .await;
    }
    assert_eq!(up.connections(), connections);
}
