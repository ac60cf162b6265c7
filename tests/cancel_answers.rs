//! What `cancel_message_batch` answers for every answer the API could give to a cancel, end to
//! end against a fault upstream (wiremock).
//!
//! What the real API answers to a cancel of a batch that is already `canceling` or `ended` is
//! not documented (our simulator's 400 for `ended` is a guess). So each plausible answer is
//! played here, and the server must read it by the batch's state:
//!
//! | API answer to the cancel            | what the person reads                              |
//! |-------------------------------------|----------------------------------------------------|
//! | 200 `canceling`                     | accepted, not immediate                            |
//! | 200 still `in_progress`             | accepted; the API still says `in_progress`         |
//! | 200 `ended`, no cancel ever asked   | error: already ended, nothing to cancel, counts    |
//! | 200 `ended` after a cancel          | the cancel is complete, what it stopped            |
//! | 400 or 409, batch `canceling`       | the API refused this one, a cancel is under way    |
//! | 400 or 409, batch `ended`           | error: already ended, nothing to cancel, counts    |
//! | 400, batch still `in_progress`      | error: the API's own message                       |
//! | any other error (404 here)          | error, and no follow-up fetch                      |

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANCEL: &str = "/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF/cancel";
const RETRIEVE: &str = "/v1/messages/batches/msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";

/// An upstream whose cancel answers `on_cancel` and whose retrieve answers `on_retrieve`.
async fn upstream(on_cancel: ResponseTemplate, on_retrieve: ResponseTemplate) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(on_cancel)
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path(RETRIEVE))
        .respond_with(on_retrieve)
        .mount(&up)
        .await;
    up
}

fn ok(batch: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(batch)
}

/// An API error in the real envelope; a short `retry-after-ms` so that retried ones (409) are
/// quick.
fn refusal(status: u16, message: &str) -> ResponseTemplate {
    let kind = if status == 409 {
        "conflict_error"
    } else {
        "invalid_request_error"
    };
    ResponseTemplate::new(status)
        .insert_header("retry-after-ms", "10")
        .set_body_json(json!({"type": "error", "error": {"type": kind, "message": message}}))
}

/// A batch that ended by itself, with no cancel ever asked.
fn ended_without_cancel() -> Value {
    let mut b = batch_json(ID, "ended");
    b["cancel_initiated_at"] = Value::Null;
    b["request_counts"] =
        json!({"processing": 0, "succeeded": 9, "errored": 1, "canceled": 0, "expired": 0});
    b
}

async fn cancel(up: &MockServer, wait_seconds: u32) -> rmcp::model::CallToolResult {
    let (client, _) = spawn(&base(up), &[]).await;
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": ID, "wait_seconds": wait_seconds}),
    )
    .await;
    client.cancel().await.ok();
    r
}

fn note(r: &rmcp::model::CallToolResult) -> String {
    structured(r)["note"].as_str().expect("a note").to_owned()
}

#[tokio::test]
async fn a_200_canceling_is_accepted_and_not_immediate() {
    let up = upstream(
        ok(batch_json(ID, "canceling")),
        ok(batch_json(ID, "canceling")),
    )
    .await;
    let r = cancel(&up, 0).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "canceling");
    let n = note(&r);
    assert!(n.starts_with("Cancellation is not immediate"), "{n}");
    assert!(!n.contains("refused"), "{n}");
    assert_eq!(hits_by(&up, "GET").await, 0);
}

#[tokio::test]
async fn a_200_still_in_progress_is_accepted_and_says_what_the_api_reports() {
    let up = upstream(
        ok(batch_json(ID, "in_progress")),
        ok(batch_json(ID, "in_progress")),
    )
    .await;
    let r = cancel(&up, 0).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "in_progress");
    let n = note(&r);
    assert!(
        n.contains("The API still reports `in_progress` after the cancel was sent"),
        "{n}"
    );
    assert!(n.contains("not immediate"), "{n}");
    assert!(text(&r).contains("is in_progress"), "{}", text(&r));
}

#[tokio::test]
async fn a_200_ended_with_no_cancel_ever_asked_is_nothing_to_cancel() {
    let up = upstream(ok(ended_without_cancel()), ok(ended_without_cancel())).await;
    let r = cancel(&up, 30).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(
        t.contains("has already ended, so there is nothing to cancel"),
        "{t}"
    );
    assert!(t.contains("9 succeeded, 1 errored, 0 canceled"), "{t}");
    // The answer said everything: no fetch, no wait.
    assert_eq!(hits_by(&up, "GET").await, 0);
}

#[tokio::test]
async fn a_200_ended_after_a_cancel_says_the_cancel_is_complete() {
    let up = upstream(ok(batch_json(ID, "ended")), ok(batch_json(ID, "ended"))).await;
    let r = cancel(&up, 0).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "ended");
    let n = note(&r);
    assert!(n.starts_with("The batch has ended."), "{n}");
    assert!(n.contains("The cancel stopped 6 requests"), "{n}");
    assert!(!n.contains("had already ended"), "{n}");
}

#[tokio::test]
async fn a_400_while_canceling_answers_the_cancel_under_way() {
    let up = upstream(
        refusal(400, "Batch is already being canceled"),
        ok(batch_json(ID, "canceling")),
    )
    .await;
    let r = cancel(&up, 0).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "canceling");
    let n = note(&r);
    assert!(
        n.starts_with("The API refused this cancel because one is already under way"),
        "{n}"
    );
    assert!(n.contains("not immediate"), "{n}");
    assert!(text(&r).contains(&n), "the text carries the note too");
    assert_eq!(hits_by(&up, "POST").await, 1);
    assert_eq!(hits_by(&up, "GET").await, 1);
}

#[tokio::test]
async fn a_409_while_canceling_is_retried_then_answers_the_cancel_under_way() {
    let up = upstream(
        refusal(409, "A cancel is in progress"),
        ok(batch_json(ID, "canceling")),
    )
    .await;
    let r = cancel(&up, 0).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "canceling");
    assert!(note(&r).contains("refused this cancel"), "{}", note(&r));
    // 409 is retried as the SDKs do (twice by default), then the batch is fetched once.
    assert_eq!(hits_by(&up, "POST").await, 3);
    assert_eq!(hits_by(&up, "GET").await, 1);
}

/// Answers `canceling` to the first retrieve and `ended` to every later one.
struct EndsOnSecondFetch(AtomicUsize);

impl wiremock::Respond for EndsOnSecondFetch {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let status = match self.0.fetch_add(1, Ordering::SeqCst) {
            0 => "canceling",
            _ => "ended",
        };
        ok(batch_json(ID, status))
    }
}

/// A refused cancel of a canceling batch still honours `wait_seconds`: it is followed to
/// `ended` like an accepted one.
#[tokio::test]
async fn a_refusal_while_canceling_is_followed_to_ended_when_asked() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CANCEL))
        .respond_with(refusal(400, "Batch is already being canceled"))
        .mount(&up)
        .await;
    Mock::given(method("GET"))
        .and(path(RETRIEVE))
        .respond_with(EndsOnSecondFetch(AtomicUsize::new(0)))
        .mount(&up)
        .await;
    let r = cancel(&up, 60).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "ended");
    let n = note(&r);
    assert!(n.contains("The API refused this cancel"), "{n}");
    assert!(n.contains("The cancel is complete"), "{n}");
    // The refusal's fetch, then one poll.
    assert_eq!(hits_by(&up, "GET").await, 2);
}

#[tokio::test]
async fn a_400_or_409_for_an_ended_batch_is_nothing_to_cancel() {
    for status in [400, 409] {
        let up = upstream(
            refusal(status, "Batch has already finished processing"),
            ok(batch_json(ID, "ended")),
        )
        .await;
        let r = cancel(&up, 30).await;
        let t = text(&r);
        assert!(is_error(&r), "{status}: {t}");
        assert!(
            t.contains("has already ended, so there is nothing to cancel"),
            "{status}: {t}"
        );
        assert!(t.contains("6 canceled"), "{status}: {t}");
        assert!(t.contains("Results:"), "{status}: {t}");
        // No wait after it: the one fetch that found it ended.
        assert_eq!(hits_by(&up, "GET").await, 1, "{status}");
    }
}

#[tokio::test]
async fn a_400_for_a_batch_still_in_progress_is_the_apis_error() {
    let up = upstream(
        refusal(400, "Something else is wrong"),
        ok(batch_json(ID, "in_progress")),
    )
    .await;
    let r = cancel(&up, 0).await;
    let t = text(&r);
    assert!(is_error(&r), "{t}");
    assert!(
        t.starts_with(&format!("Could not cancel batch {ID}")),
        "{t}"
    );
    assert!(
        t.contains("HTTP 400 invalid_request_error: Something else is wrong"),
        "{t}"
    );
    assert!(!t.contains("already"), "{t}");
}

#[tokio::test]
async fn other_errors_are_not_followed_by_a_fetch() {
    let up = upstream(
        ResponseTemplate::new(404).set_body_json(
            json!({"type": "error", "error": {"type": "not_found_error", "message": "no batch"}}),
        ),
        ok(batch_json(ID, "ended")),
    )
    .await;
    let r = cancel(&up, 0).await;
    assert!(is_error(&r));
    assert!(text(&r).contains("no such batch"), "{}", text(&r));
    assert_eq!(hits_by(&up, "GET").await, 0);
}
