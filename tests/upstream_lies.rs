//! An upstream that lies in the shape of the truth, end to end (the real binary over stdio,
//! wiremock upstreams): counts no batch can have, control characters in its strings, hundreds of
//! thousands of unknown fields, a page far longer than was asked for. Each answer is still read
//! right, and nothing it sent reaches a tool text or a log line raw.

mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn at(id: &str) -> String {
    format!("/v1/messages/batches/{id}")
}

async fn serve_batch(up: &MockServer, id: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(at(id)))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(up)
        .await;
}

/// Counts that overflow when added (`u64::MAX` + 1) or add up to a number no batch can hold are
/// called what they are, not wrapped into a total (`9223372036854775806 in all`), and the
/// server (a debug build, which panics on overflow) serves on.
#[tokio::test]
async fn absurd_counts_are_called_what_they_are() {
    let up = MockServer::start().await;
    let wraps = "msgbatch_01WrappingCounts";
    let huge = "msgbatch_01HugeCounts";
    let mut b = batch_json(wraps, "ended");
    b["request_counts"] = json!({"processing": 0u64, "succeeded": u64::MAX,
        "errored": i64::MAX as u64, "canceled": i64::MAX as u64, "expired": 0});
    serve_batch(&up, wraps, b).await;
    let mut b = batch_json(huge, "in_progress");
    b["request_counts"]["processing"] = json!(i64::MAX as u64);
    serve_batch(&up, huge, b).await;
    let (client, _) = spawn(&base(&up), &[]).await;
    for id in [wraps, huge] {
        let r = call(
            &client,
            "get_message_batch",
            json!({ "message_batch_id": id }),
        )
        .await;
        let t = text(&r);
        assert!(!is_error(&r), "{t}");
        assert!(t.contains("cannot be right"), "{t}");
        assert!(!t.contains("in all"), "no total is made up: {t}");
        assert!(!t.contains("9223372036854775806"), "{t}");
        // The numbers themselves are shown as sent, in the text and the structured content.
        assert!(t.contains(&(i64::MAX as u64).to_string()), "{t}");
        assert_eq!(
            structured(&r)["request_counts"]["processing"],
            b_counts(id, wraps)
        );
    }
    // Still serving after both (a debug build used to panic here).
    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": wraps }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
}

fn b_counts(id: &str, wraps: &str) -> Value {
    if id == wraps {
        json!(0)
    } else {
        json!(i64::MAX as u64)
    }
}

/// Newlines, ESC, C1 controls, bidi overrides and U+2028 from the upstream reach neither a tool
/// text, nor the structured content, nor stderr (where they would forge log lines at the
/// default level and drive the terminal).
#[tokio::test]
async fn control_characters_from_the_upstream_reach_no_text_and_no_log() {
    let forged = "\n2026-12-02T10:00:00.000000Z  INFO msgbatch_mcp: forged line\u{1b}[2J\u{202e}gnp.exe\u{2028}\u{85}\u{7}";
    let up = MockServer::start().await;
    let id = "msgbatch_01ControlChars";
    let mut b = batch_json(id, "in_progress");
    b["processing_status"] = json!(format!("paused{forged}"));
    b["created_at"] = json!(format!("2026-01-01{forged}"));
    b[format!("new{forged}")] = json!(forged);
    serve_batch(&up, id, b).await;
    let failing = "msgbatch_01ControlError";
    Mock::given(path(format!("{}/cancel", at(failing))))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "type": "error",
            "error": {"type": format!("invalid_request_error{forged}"), "message": forged},
            "request_id": format!("req{forged}")
        })))
        .mount(&up)
        .await;

    let mut s = RawServer::start(&base(&up), &[("RUST_LOG", "info")]).await;
    let got = s
        .call(1, "get_message_batch", json!({ "message_batch_id": id }))
        .await;
    let refused = s
        .call(
            2,
            "cancel_message_batch",
            json!({ "message_batch_id": failing }),
        )
        .await;
    s.close_stdin();
    s.wait_exit(std::time::Duration::from_secs(30)).await;
    let log = s.stderr_text();
    let bad = ['\u{1b}', '\u{202e}', '\u{2028}', '\u{85}', '\u{7}'];
    for answer in [&got, &refused] {
        let t = raw_text(answer);
        let all = answer.to_string();
        let decoded: Value = serde_json::from_str(&all).unwrap();
        let structured = decoded["result"]["structuredContent"].to_string();
        for c in bad {
            assert!(!t.contains(c), "{c:?} in the text: {t:?}");
            assert!(!structured.contains(c), "{c:?} in structured content");
        }
        assert!(
            !t.contains("\n2026-12-02T10"),
            "a forged line in the text: {t:?}"
        );
        assert!(
            t.contains("forged line"),
            "the rest of the text is kept: {t:?}"
        );
    }
    for c in bad {
        assert!(!log.contains(c), "{c:?} reached stderr: {log:?}");
    }
    assert!(
        !log.lines()
            .any(|l| l.contains("forged line") && l.starts_with("2026-12-02T10")),
        "a forged log line: {log}"
    );
}

/// A 200 with 400,000 unknown fields (~5 MB) keeps a few of them and says the rest were left
/// out, in a small answer; a page of 2,000 batches where 5 were asked for is cut to 5, with a
/// note and a cursor that goes on from the last batch shown.
#[tokio::test]
async fn unknown_fields_and_overlong_pages_are_cut_to_a_budget_with_a_note() {
    let up = MockServer::start().await;
    let id = "msgbatch_01ManyUnknownFields";
    let mut b = batch_json(id, "ended");
    let obj = b.as_object_mut().unwrap();
    for i in 0..400_000 {
        obj.insert(format!("x{i}"), json!(i));
    }
    serve_batch(&up, id, b).await;
    let rows: Vec<Value> = (0..2000)
        .map(|i| batch_json(&format!("msgbatch_01Page{i:05}"), "in_progress"))
        .collect();
    Mock::given(method("GET"))
        .and(path("/v1/messages/batches"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": rows, "has_more": false,
            "first_id": "msgbatch_01Page00000", "last_id": "msgbatch_01Page01999"
        })))
        .mount(&up)
        .await;

    let (client, _) = spawn(&base(&up), &[]).await;
    let r = call(
        &client,
        "get_message_batch",
        json!({ "message_batch_id": id }),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    let answer = serde_json::to_string(&r).unwrap();
    assert!(answer.len() < 20_000, "answer of {} bytes", answer.len());
    let kept = structured(&r)
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with('x'))
        .count();
    assert!((1..=16).contains(&kept), "{kept} unknown fields kept");
    assert!(text(&r).contains("left out"), "{}", text(&r));

    let r = call(&client, "list_message_batches", json!({ "limit": 5 })).await;
    assert!(!is_error(&r), "{}", text(&r));
    let page = structured(&r);
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    assert_eq!(page["last_id"], "msgbatch_01Page00004");
    assert_eq!(page["has_more"], true);
    let t = text(&r);
    assert!(t.contains("where 5 were asked for"), "{t}");
    assert!(t.contains(r#"after_id="msgbatch_01Page00004""#), "{t}");
}
