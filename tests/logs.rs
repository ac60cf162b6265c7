//! What a person running the server reads on stderr about cancels, end to end (stdio): at the
//! default level one line per cancel, the audit line; the reason nobody could be asked said once,
//! not per call; with `RUST_LOG=warn`, no audit line on stderr, but every one in
//! `MSGBATCH_AUDIT_LOG` still.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const IDS: [&str; 2] = [
    "msgbatch_01LogsOneLinePerCancel0001",
    "msgbatch_01LogsOneLinePerCancel0002",
];

/// The stderr lines so far that contain `needle`, waiting (up to 30 s) until there are `want`.
async fn lines_with(server: &RawServer, needle: &str, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines: Vec<String> = server
            .stderr_text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn cancel_both(server: &mut RawServer) {
    for (n, id) in IDS.iter().enumerate() {
        let answer = server
            .call(
                n as i64 + 10,
                "cancel_message_batch",
                json!({"message_batch_id": id}),
            )
            .await;
        let text = raw_text(&answer);
        assert!(text.contains(&format!("Batch {id} is canceling")), "{text}");
    }
}

#[tokio::test]
async fn each_cancel_is_one_info_line_the_audit_line() {
    let up = echo_upstream("canceling", "canceling").await;
    let mut server = RawServer::start(
        &base(&up),
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-logs-test"),
            // What a user gets without RUST_LOG (src/logging.rs).
            ("RUST_LOG", "msgbatch_mcp=info,warn"),
            ("MSGBATCH_CONFIRM", "auto"),
        ],
    )
    .await;
    cancel_both(&mut server).await;

    let audit = lines_with(&server, "msgbatch_mcp::audit", 2).await;
    assert_eq!(audit.len(), 2, "{}", server.stderr_text());
    for (line, id) in audit.iter().zip(IDS) {
        let json: Value = serde_json::from_str(&line[line.find('{').expect("JSON")..]).unwrap();
        assert_eq!(json["event"], "cancel");
        assert_eq!(json["batch_ids"], json!([id]));
        assert_eq!(json["outcome"], "canceling");
    }
    // Nothing else at info per cancel: the reason nobody was asked (this client declared no
    // forms) once for the process, not once per cancel.
    let info: Vec<String> = server
        .stderr_text()
        .lines()
        .filter(|l| l.contains(" INFO ") && !l.contains("msgbatch_mcp::audit"))
        .map(str::to_owned)
        .collect();
    let unconfirmed = info.iter().filter(|l| l.contains("confirmation")).count();
    assert_eq!(unconfirmed, 1, "{info:#?}");
    assert!(
        !info.iter().any(|l| l.contains("cancel accepted")),
        "{info:#?}"
    );
    // The answer still says it every time, to the model and the person.
    let again = server
        .call(
            20,
            "cancel_message_batch",
            json!({"message_batch_id": IDS[0]}),
        )
        .await;
    assert!(raw_text(&again).contains("No confirmation was possible"));
}

#[tokio::test]
async fn at_warn_the_audit_line_still_reaches_its_file() {
    let up = echo_upstream("canceling", "canceling").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let mut server = RawServer::start(
        &base(&up),
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-logs-test"),
            ("RUST_LOG", "warn"),
            ("MSGBATCH_AUDIT_LOG", file.to_str().unwrap()),
        ],
    )
    .await;
    cancel_both(&mut server).await;

    let text = std::fs::read_to_string(&file).unwrap();
    let ids: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["batch_ids"][0].clone())
        .collect();
    assert_eq!(ids, vec![json!(IDS[0]), json!(IDS[1])], "{text}");
    assert!(
        !server.stderr_text().contains("msgbatch_mcp::audit"),
        "{}",
        server.stderr_text()
    );
}
