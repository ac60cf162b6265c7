//! Hostile input at the protocol edge, end to end.
//!
//! Raw stdio lines (malformed JSON, JSON that is not JSON-RPC, unknown methods, a line over
//! the transport's cap) and tool calls through the rmcp client (unknown tools, wrong types,
//! missing arguments, a 10 MB argument, IDs built to escape the URL path): each is answered
//! with a JSON-RPC error or an `isError` result, or (for unparsable lines, see below) ignored;
//! the server serves on; nothing reaches the upstream for a refused ID.
//!
//! Unparsable lines get no answer: rmcp drops them on purpose, as the other official MCP SDKs
//! do (an error answer with a null ID can start an error storm with a peer that echoes it;
//! rust-sdk issue 938). The tests accept either that or a JSON-RPC error with a null ID, and
//! insist on what matters: stdout stays JSON-RPC and the next request is answered.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer};

/// An upstream that answers any request, so that a refused ID shows up as "nothing received"
/// rather than as an error.
async fn upstream() -> MockServer {
    let up = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(EchoBatch("in_progress"))
        .mount(&up)
        .await;
    up
}

/// Sends `ping` with `id` and returns every message written before its answer.
async fn ping_and_collect(s: &mut RawServer, id: i64) -> Vec<Value> {
    s.send(&json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
        .await;
    let mut before = Vec::new();
    loop {
        let m = s
            .next_message(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("ping {id} not answered; stderr:\n{}", s.stderr_text()));
        if m["id"] == json!(id) {
            assert_eq!(m["result"], json!({}), "{m}");
            return before;
        }
        before.push(m);
    }
}

#[tokio::test]
async fn malformed_json_lines_leave_the_server_serving() {
    let mut s = RawServer::start("http://127.0.0.1:9/v1", &[]).await;
    let lines: &[&[u8]] = &[
        b"{not json",
        b"}",
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":",
        b"\xff\xfe\x00garbage",
        b"\x00\x00\x00",
        b"nul\x00inside",
        b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}}",
        b"   ",
        b"\xef\xbb\xbf{broken after a BOM",
    ];
    for (n, line) in lines.iter().enumerate() {
        s.send_line(&String::from_utf8_lossy(line)).await;
        let before = ping_and_collect(&mut s, 100 + n as i64).await;
        for m in before {
            // If anything is answered for an unparsable line, it is an error with a null id.
            assert_eq!(m["id"], Value::Null, "{m}");
            assert!(m["error"]["code"].is_i64(), "{m}");
        }
    }
    // Invalid UTF-8 bytes, not just replacement characters.
    for raw in [&b"\xc3\x28\n"[..], &b"{\"a\":\"\xff\"}\n"[..]] {
        s.send_raw(raw).await;
        ping_and_collect(&mut s, 200).await;
    }
}

#[tokio::test]
async fn json_that_is_not_json_rpc_gets_invalid_request() {
    let mut s = RawServer::start("http://127.0.0.1:9/v1", &[]).await;
    for line in [
        r#"{"foo":1}"#,
        "[1,2]",
        r#""just a string""#,
        "42",
        "null",
        r#"{"jsonrpc":"2.0","id":{"an":"object"},"method":"ping"}"#,
        r#"{"jsonrpc":"1.0","id":3}"#,
    ] {
        s.send_line(line).await;
        let m = s
            .next_message(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no answer to {line}"));
        assert_eq!(m["error"]["code"], json!(-32600), "{line} -> {m}");
        assert_eq!(m["id"], Value::Null, "{m}");
    }
    ping_and_collect(&mut s, 1).await;
}

#[tokio::test]
async fn unknown_methods_and_bad_requests_get_json_rpc_errors_with_their_id() {
    let mut s = RawServer::start("http://127.0.0.1:9/v1", &[]).await;
    // What JSON-RPC 2.0 (section 5.1) and MCP (tools: "Error Handling") say for each: a request
    // whose id can be read is answered with that id; a method that does not exist is -32601;
    // params the method cannot take are -32602 (MCP: unknown tool, invalid arguments).
    for (id, message, code) in [
        (
            10,
            json!({"jsonrpc": "2.0", "id": 10, "method": "no/such/method"}),
            -32601,
        ),
        (
            11,
            json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call"}),
            -32602,
        ),
        (
            12,
            json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": "nope"}}),
            -32602,
        ),
        (
            13,
            json!({"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": 7}}),
            -32602,
        ),
        (
            15,
            json!({"jsonrpc": "2.0", "id": 15, "method": "tools/call",
                    "params": {"name": "get_message_batch", "arguments": [1, 2]}}),
            -32602,
        ),
    ] {
        s.send(&message).await;
        let m = s.response(&json!(id)).await;
        assert_eq!(m["error"]["code"], code, "{message} -> {m}");
    }
    // Params that are neither an object nor an array: not a Request object at all (JSON-RPC
    // 5.1: "Invalid Request", and the id "MUST be Null" since the request could not be read;
    // the spec's own example is this case). rmcp leaves the id out rather than null, which
    // reads the same to a client; any id but none or null would be wrong.
    s.send(&json!({"jsonrpc": "2.0", "id": 14, "method": "tools/call", "params": "x"}))
        .await;
    let m = s
        .next_message(Duration::from_secs(10))
        .await
        .expect("an answer to params \"x\"");
    assert_eq!(m["error"]["code"], -32600, "{m}");
    assert!(m["id"].is_null(), "{m}");
    ping_and_collect(&mut s, 1).await;
}

#[tokio::test]
async fn a_line_over_the_transport_cap_is_dropped_and_the_server_serves_on() {
    let mut s = RawServer::start("http://127.0.0.1:9/v1", &[]).await;
    // 17 MiB of one JSON string: over rmcp's 16 MiB line cap.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"get_message_batch","arguments":{{"message_batch_id":"{}"}}}}}}"#,
        "a".repeat(17 * 1024 * 1024)
    );
    s.send_line(&huge).await;
    // Refused unread, with an error for its id, and the server serves on.
    let answer = s.response(&json!(9)).await;
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("refused unread"), "{answer}");
    ping_and_collect(&mut s, 1).await;
}

/// A line of small values (~100 KB of `0,`) cost ~100 times its size as a parsed tree (one
/// 10.5 MB line: 1.08 GiB). The same bound as an HTTP body applies: it is refused unparsed with
/// a JSON-RPC error for its id, a warning says why, and the next message is served.
#[tokio::test]
async fn a_line_of_too_many_values_is_refused_unparsed_and_the_server_serves_on() {
    let mut s = RawServer::start("http://127.0.0.1:9/v1", &[]).await;
    let many = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"get_message_batch","arguments":{{"message_batch_id":"msgbatch_01x","pad":[{}0]}}}}}}"#,
        "0,".repeat(50_000)
    );
    s.send_line(&many).await;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":10,"method":"ping","params":{{"x":{}{}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    s.send_line(&deep).await;
    // Each gets an error that says so, unread: no tool ran, nothing was parsed.
    for id in [9, 10] {
        let answer = s.response(&json!(id)).await;
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("refused unread"), "{answer}");
        assert!(message.contains("4096 JSON values"), "{answer}");
    }
    ping_and_collect(&mut s, 1).await;
    let log = s.stderr_text();
    assert!(log.contains("JSON values"), "{log}");
    assert!(log.contains("nested deeper"), "{log}");
}

#[tokio::test]
async fn unknown_tools_are_a_json_rpc_error() {
    let up = upstream().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let mut params = rmcp::model::CallToolRequestParams::new("delete_everything");
    params.arguments = Some(json!({"message_batch_id": ID}).as_object().unwrap().clone());
    let err = client.call_tool(params).await.unwrap_err();
    assert!(format!("{err:?}").contains("-32602"), "{err:?}");
    assert_eq!(hits(&up).await, 0);
    assert!(!is_error(
        &call(
            &client,
            "get_message_batch",
            json!({"message_batch_id": ID})
        )
        .await
    ));
}

#[tokio::test]
async fn wrong_types_and_missing_arguments_are_tool_errors_and_nothing_is_sent() {
    let up = upstream().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    // Each wrong argument is named, so that the model can fix its call.
    let id_type = "message_batch_id must be a string";
    let wait_type = "wait_seconds must be a whole number";
    let cases = [
        (
            "cancel_message_batch",
            json!({}),
            "missing field `message_batch_id`",
        ),
        (
            "cancel_message_batch",
            Value::Null,
            "missing field `message_batch_id`",
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": 5}),
            id_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": null}),
            id_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": [ID]}),
            id_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": ID, "wait_seconds": "ten"}),
            wait_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": ID, "wait_seconds": -1}),
            wait_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": ID, "wait_seconds": 1.5}),
            wait_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": ID, "wait_seconds": 1e20}),
            wait_type,
        ),
        (
            "cancel_message_batch",
            json!({"message_batch_id": ID, "wait_seconds": 601}),
            "between 0 and 600",
        ),
        (
            "get_message_batch",
            json!({"message_batch_id": {"id": ID}}),
            id_type,
        ),
        (
            "get_message_batch",
            json!({"id": ID}),
            "missing field `message_batch_id`",
        ),
        (
            "list_message_batches",
            json!({"limit": 0}),
            "between 1 and 1000",
        ),
        (
            "list_message_batches",
            json!({"limit": 5000}),
            "between 1 and 1000",
        ),
        (
            "list_message_batches",
            json!({"limit": "20"}),
            "limit must be a whole number",
        ),
        (
            "list_message_batches",
            json!({"after_id": 3}),
            "after_id must be a batch ID string",
        ),
        (
            "list_message_batches",
            json!({"before_id": false}),
            "before_id must be a batch ID string",
        ),
        (
            "list_message_batches",
            json!({"after_id": "a", "before_id": "b"}),
            "not both",
        ),
    ];
    for (tool, args, says) in cases {
        let r = call(&client, tool, args.clone()).await;
        let t = text(&r);
        assert!(is_error(&r), "{tool} {args}: {t}");
        assert!(t.contains(says), "{tool} {args}: {t}");
    }
    assert_eq!(hits(&up).await, 0, "a refused call reached the upstream");
}

#[tokio::test]
async fn a_10_mb_argument_is_refused_quickly_and_the_server_serves_on() {
    let up = upstream().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    // Over the 64 KiB a message may hold: refused before it is read, with a JSON-RPC error.
    for huge in ["a".repeat(10_000_000), "é".repeat(5_000_000)] {
        let mut params = rmcp::model::CallToolRequestParams::new("cancel_message_batch");
        params.arguments = Some(
            json!({"message_batch_id": huge})
                .as_object()
                .unwrap()
                .clone(),
        );
        let err = format!("{:?}", client.call_tool(params).await.unwrap_err());
        assert!(
            err.contains("refused unread"),
            "{}",
            &err[..err.len().min(300)]
        );
        // The answer does not echo the argument back.
        assert!(err.len() < 1000, "{} bytes", err.len());
    }
    // Under it, the tool says what the limit is.
    let r = call(
        &client,
        "cancel_message_batch",
        json!({"message_batch_id": "a".repeat(10_000)}),
    )
    .await;
    let t = text(&r);
    assert!(is_error(&r));
    assert!(t.contains("the limit is 256"), "{}", &t[..t.len().min(300)]);
    assert!(t.len() < 1000, "{} bytes", t.len());
    assert_eq!(hits(&up).await, 0);
    still_serving(&client, ID).await;
}

/// IDs made to change the request's path, query or target. Each is refused by every tool that
/// takes an ID (and by list's cursors), says that nothing was sent, and nothing was.
#[tokio::test]
async fn ids_that_could_change_the_url_are_refused_and_nothing_is_sent() {
    let up = upstream().await;
    let (client, _) = spawn(&base(&up), &[]).await;
    let hostile = [
        "msgbatch_a/b",
        "../../v1/messages/batches",
        "..",
        ".",
        "msgbatch_x/cancel?x=1",
        "msgbatch_x?limit=1000",
        "msgbatch_x#frag",
        "msgbatch_%2F..%2F",
        "msgbatch_%00",
        "msgbatch x",
        "msgbatch_\u{0}x",
        "msgbatch_é",
        "msgbatch_\u{ff0f}x",
        "msgbatch_\u{202e}x",
        "msgbatch_🦀",
        "msgbatch_x\r\nx-api-key: stolen",
        "msgbatch_x\\..\\y",
        "http://evil.example/x",
        "@evil.example",
        "msgbatch_x;y",
        "",
        "   ",
    ];
    for id in hostile {
        for (tool, args) in [
            (
                "cancel_message_batch",
                json!({"message_batch_id": id, "wait_seconds": 5}),
            ),
            ("get_message_batch", json!({"message_batch_id": id})),
            ("list_message_batches", json!({"after_id": id})),
            ("list_message_batches", json!({"before_id": id})),
        ] {
            let r = call(&client, tool, args).await;
            // Blank cursors mean "no cursor" for list: that call is allowed.
            if tool == "list_message_batches" && id.trim().is_empty() {
                continue;
            }
            let t = text(&r);
            assert!(is_error(&r), "{tool} {id:?}: {t}");
            assert!(t.contains("Nothing was sent"), "{tool} {id:?}: {t}");
        }
    }
    let sent: Vec<String> = up
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.to_string())
        .collect();
    // Only the two blank-cursor lists reached the upstream, on the plain list path.
    assert!(
        sent.iter()
            .all(|u| u.ends_with("/v1/messages/batches?limit=20")),
        "{sent:?}"
    );
    assert_eq!(sent.len(), 4, "{sent:?}");
}
