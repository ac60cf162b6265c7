//! Finding the batch to cancel (`list_message_batches`) and following one
//! (`get_message_batch`), end to end against the simulator.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Client, call, is_error, spawn, structured, text};
use msgbatch_mcp::simulator::{self, SimConfig};
use serde_json::{Value, json};

async fn list(client: &Client, args: Value) -> Value {
    let result = call(client, "list_message_batches", args).await;
    assert!(!is_error(&result), "{}", text(&result));
    structured(&result).clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn list_pages_forward_and_back_without_gaps_or_duplicates() {
    let sim = simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_secs(1),
            cancel_delay: Duration::from_secs(60),
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator");
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(sim.simulator().insert_batch(2).id);
        // Distinct creation times, so newest-first order is well defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    let (client, _) = spawn(&sim.base_url(), &[]).await;

    let p1 = list(&client, json!({ "limit": 3 })).await;
    assert_eq!(ids(&p1), newest_first[0..3]);
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["first_id"], newest_first[0].as_str());
    assert_eq!(p1["last_id"], newest_first[2].as_str());
    assert!(p1["note"].as_str().unwrap_or("").contains("after_id"));

    let p2 = list(&client, json!({ "limit": 3, "after_id": p1["last_id"] })).await;
    assert_eq!(ids(&p2), newest_first[3..6]);
    let p3 = list(&client, json!({ "limit": 3, "after_id": p2["last_id"] })).await;
    assert_eq!(ids(&p3), newest_first[6..7]);
    assert_eq!(p3["has_more"], false);

    let seen: HashSet<String> = [&p1, &p2, &p3].iter().flat_map(|p| ids(p)).collect();
    assert_eq!(seen.len(), 7);

    let back = list(&client, json!({ "limit": 3, "before_id": p2["first_id"] })).await;
    assert_eq!(ids(&back), newest_first[0..3]);

    let all = list(&client, json!({})).await;
    assert_eq!(ids(&all), newest_first, "default limit 20 holds all 7");
    client.cancel().await.ok();
}

#[tokio::test]
async fn list_text_marks_the_batches_that_can_be_canceled() {
    let sim = simulator::start(([127, 0, 0, 1], 0).into(), SimConfig::default())
        .await
        .expect("simulator");
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let result = call(&client, "list_message_batches", json!({})).await;
    let page = structured(&result);
    let running = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|b| b["processing_status"] == "in_progress")
        .count();
    assert!(running >= 1, "the seed has a batch in progress");
    let t = text(&result);
    assert_eq!(t.matches("[can cancel]").count(), running, "{t}");
    assert!(
        t.contains("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"),
        "the docs' ID is seeded: {t}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn list_refuses_bad_arguments_before_sending() {
    let sim = simulator::start(([127, 0, 0, 1], 0).into(), SimConfig::default())
        .await
        .expect("simulator");
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let before = sim.simulator().requests_received();
    for args in [
        json!({ "limit": 0 }),
        json!({ "limit": 1001 }),
        json!({ "limit": "ten" }),
        json!({ "after_id": "x/y" }),
        json!({ "after_id": "a", "before_id": "b" }),
    ] {
        let result = call(&client, "list_message_batches", args.clone()).await;
        assert!(is_error(&result), "{args}");
    }
    assert_eq!(sim.simulator().requests_received(), before);
    client.cancel().await.ok();
}

#[tokio::test]
async fn get_explains_each_state() {
    let sim = simulator::start(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            request_time: Duration::from_millis(200),
            cancel_delay: Duration::from_secs(3),
            seed: false,
            ..SimConfig::default()
        },
    )
    .await
    .expect("simulator");
    let batch = sim.simulator().insert_batch(1_000);
    let (client, _) = spawn(&sim.base_url(), &[]).await;
    let args = json!({ "message_batch_id": batch.id });

    let running = call(&client, "get_message_batch", args.clone()).await;
    let s = structured(&running);
    assert_eq!(s["processing_status"], "in_progress");
    assert!(
        s["note"]
            .as_str()
            .unwrap_or("")
            .starts_with("Still running"),
        "{s}"
    );

    // The cancel's own answer: canceling, with the not-immediate note.
    let canceled = call(&client, "cancel_message_batch", args.clone()).await;
    assert!(!is_error(&canceled), "{}", text(&canceled));
    let s = structured(&canceled);
    assert_eq!(s["processing_status"], "canceling", "{s}");
    assert!(
        s["note"]
            .as_str()
            .expect("a note")
            .contains("not immediate"),
        "{s}"
    );
    // Fetched while canceling (it stays so for 3 s after the cancel): a cancel was asked.
    let canceling = call(&client, "get_message_batch", args.clone()).await;
    let s = structured(&canceling);
    assert_eq!(s["processing_status"], "canceling", "{s}");
    let note = s["note"].as_str().expect("a note");
    assert!(note.starts_with("A cancel was asked at "), "{note}");
    assert!(note.contains("not immediate"), "{note}");

    // Then it ends: follow it the way an agent would, until the API says so.
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let got = call(&client, "get_message_batch", args.clone()).await;
        last = structured(&got).clone();
        if last["processing_status"] == "ended" {
            let t = text(&got);
            assert!(t.contains("Results:"), "{t}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last["processing_status"], "ended", "{last}");
    let note = last["note"].as_str().unwrap_or("");
    assert!(note.contains("The cancel stopped"), "{note}");
    assert!(note.contains("/results"), "{note}");
    client.cancel().await.ok();
}
