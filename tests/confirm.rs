//! Confirmation by elicitation, end to end: the built binary, rmcp's client with a form handler
//! standing in for the person, and a wiremock upstream that records every request (so that
//! "nothing was sent" is checked where it counts: no POST reached the API).
//!
//! Both eras: 2025-11-25 (`initialize`; the form is pushed as `elicitation/create` mid-call, on
//! stdio) and 2026-07-28 (`server/discover`; the call answers `input_required` and the client
//! calls again with the answer and the sealed `requestState`), on stdio and over HTTP.

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use common::serve_http::HttpInstance;
use common::{BIN, batch_json, hits_by, id_in_path, is_error, received, structured, text};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData, Implementation,
    InputResponses, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

const RUN1: &str = "msgbatch_run1";
const RUN2: &str = "msgbatch_run2";
const ENDED: &str = "msgbatch_ended1";
const CANCELING: &str = "msgbatch_canceling1";
const GONE: &str = "msgbatch_gone1";
const KEY: &str = "confirm-test-key-0123456789abcdef0123456789";

/// What the person does with the form.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// Accepts as shown (every checkbox as it comes).
    Accept,
    /// Accepts with only these batches left checked.
    Only(&'static [&'static str]),
    /// Unchecks the one batch, then accepts.
    Uncheck,
    Decline,
    /// Closes the form.
    Close,
    /// Never answers.
    Hang,
}

/// The person's client: declares form elicitation (or not), records every form it is shown.
#[derive(Clone)]
struct Person {
    reply: Reply,
    can_show_forms: bool,
    forms: Arc<Mutex<Vec<Value>>>,
}

impl Person {
    fn new(reply: Reply) -> Self {
        Self {
            reply,
            can_show_forms: true,
            forms: Arc::default(),
        }
    }

    fn without_forms() -> Self {
        Self {
            can_show_forms: false,
            ..Self::new(Reply::Decline)
        }
    }

    fn forms(&self) -> Vec<Value> {
        self.forms.lock().unwrap().clone()
    }
}

/// The answer a person gives to `form`.
fn reply_to(reply: Reply, form: &Value) -> ElicitResult {
    let props = &form["requestedSchema"]["properties"];
    match reply {
        Reply::Accept if props.get("batches").is_some() => {
            ElicitResult::new(ElicitationAction::Accept)
                .with_content(json!({ "batches": props["batches"]["default"] }))
        }
        Reply::Accept => ElicitResult::new(ElicitationAction::Accept)
            .with_content(json!({ "confirm": props["confirm"]["default"] })),
        Reply::Only(ids) => {
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "batches": ids }))
        }
        Reply::Uncheck => {
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "confirm": false }))
        }
        Reply::Decline => ElicitResult::new(ElicitationAction::Decline),
        Reply::Close => ElicitResult::new(ElicitationAction::Cancel),
        Reply::Hang => unreachable!("a person who never answers gives no answer"),
    }
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let caps: ClientCapabilities = if self.can_show_forms {
            serde_json::from_value(json!({ "elicitation": { "form": {} } })).unwrap()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(caps, Implementation::new("confirm-test", "1.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let form = serde_json::to_value(&request).unwrap();
        self.forms.lock().unwrap().push(form.clone());
        if matches!(self.reply, Reply::Hang) {
            std::future::pending::<()>().await;
        }
        Ok(reply_to(self.reply, &form))
    }
}

type Client = RunningService<RoleClient, Person>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    /// 2025-11-25: `initialize`, forms pushed mid-call.
    Legacy,
    /// 2026-07-28: `server/discover`, forms by `input_required`.
    Modern,
}

async fn connect<T, E, A>(person: &Person, transport: T, era: Era) -> Client
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    match era {
        Era::Legacy => person.clone().serve(transport).await.expect("initialize"),
        Era::Modern => person
            .clone()
            .serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("discover"),
    }
}

/// The server on stdio, as the person's agent starts it.
async fn stdio(up: &str, env: &[(&str, &str)], person: &Person, era: Era) -> Client {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env("MSGBATCH_API_URL", up)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("MSGBATCH_CONFIRM")
        .env_remove("MSGBATCH_READ_ONLY")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn msgbatch-mcp");
    connect(person, transport, era).await
}

/// An upstream whose batches' state is in their ID: `ended`, `canceling`, `gone` (404), or
/// running; a cancel answers `canceling`.
async fn upstream() -> wiremock::MockServer {
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(|req: &wiremock::Request| {
            let Some(id) = id_in_path(req.url.path()) else {
                return wiremock::ResponseTemplate::new(404);
            };
            if id.contains("gone") {
                return wiremock::ResponseTemplate::new(404).set_body_json(json!({
                    "type": "error",
                    "error": {"type": "not_found_error", "message": "Not found"}
                }));
            }
            let status = if req.method.as_str() == "POST" {
                "canceling"
            } else if id.contains("ended") {
                "ended"
            } else if id.contains("canceling") {
                "canceling"
            } else {
                "in_progress"
            };
            wiremock::ResponseTemplate::new(200).set_body_json(batch_json(id, status))
        })
        .mount(&up)
        .await;
    up
}

fn base(up: &wiremock::MockServer) -> String {
    format!("{}/v1", up.uri())
}

/// The IDs the upstream received a cancel for, in order.
async fn cancels(up: &wiremock::MockServer) -> Vec<String> {
    received(up)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .filter_map(|r| id_in_path(r.url.path()).map(str::to_owned))
        .collect()
}

fn params(name: &str, args: Value) -> CallToolRequestParams {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(map)
}

async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    client
        .call_tool(params(name, args))
        .await
        .expect("tools/call answered")
}

fn single(id: &str) -> Value {
    json!({ "message_batch_id": id })
}

fn bulk(ids: &[&str]) -> Value {
    json!({ "message_batch_ids": ids })
}

/// The first round of a 2026-07-28 call: the `input_required` answer.
async fn first_round(client: &Client, name: &str, args: Value) -> (Value, String) {
    match client
        .call_tool_once(params(name, args))
        .await
        .expect("first round")
    {
        CallToolResponse::InputRequired(r) => {
            let requests = serde_json::to_value(r.input_requests.expect("a form")).unwrap();
            (requests, r.request_state.expect("a requestState"))
        }
        other => panic!("expected input_required, got {other:?}"),
    }
}

/// The second round, with `answer` to the form and `state` as given.
async fn second_round(
    client: &Client,
    name: &str,
    args: Value,
    state: &str,
    answer: ElicitResult,
) -> CallToolResult {
    let responses: InputResponses = [(
        "confirm_cancel".to_owned(),
        serde_json::to_value(answer).unwrap(),
    )]
    .into();
    match client
        .call_tool_once(
            params(name, args)
                .with_request_state(state.to_owned())
                .with_input_responses(responses),
        )
        .await
        .expect("second round")
    {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a final result, got {other:?}"),
    }
}

fn accept_one() -> ElicitResult {
    ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "confirm": true }))
}

// --- 2025-11-25 on stdio: the form is pushed mid-call ------------------------------------

#[tokio::test]
async fn legacy_stdio_accept_shows_the_batch_then_cancels_it() {
    let up = upstream().await;
    let person = Person::new(Reply::Accept);
    let client = stdio(&base(&up), &[], &person, Era::Legacy).await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(cancels(&up).await, [RUN1]);
    assert_eq!(hits_by(&up, "GET").await, 1, "one retrieve before asking");
    let forms = person.forms();
    assert_eq!(forms.len(), 1);
    eprintln!(
        "single form (2025-11-25, as the client receives it):\n{}",
        serde_json::to_string_pretty(&forms[0]).unwrap()
    );
    let message = forms[0]["message"].as_str().unwrap();
    let first = message.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("Cancel batch {RUN1} (10 requests, created "))
            && first.ends_with(" ago)?"),
        "{first}"
    );
    assert!(
        message.contains("counts every request as processing"),
        "{message}"
    );
    assert!(!message.contains("0 done"), "{message}");
    assert!(
        message.contains("may still complete, and those are billed"),
        "{message}"
    );
    assert!(
        text(&r).contains("The person confirmed this cancel"),
        "{}",
        text(&r)
    );
    assert_eq!(structured(&r)["processing_status"], "canceling");
    client.cancel().await.ok();
}

#[tokio::test]
async fn legacy_stdio_decline_and_closed_form_send_nothing() {
    for (reply, said) in [
        (Reply::Decline, "declined"),
        (Reply::Close, "closed the confirmation form"),
        (Reply::Uncheck, "left every batch unchecked"),
    ] {
        let up = upstream().await;
        let person = Person::new(reply);
        let client = stdio(&base(&up), &[], &person, Era::Legacy).await;
        let r = call(&client, "cancel_message_batch", single(RUN1)).await;
        assert!(!is_error(&r), "{reply:?}: {}", text(&r));
        let t = text(&r);
        assert!(t.contains(said), "{reply:?}: {t}");
        assert!(t.contains("no cancel was sent"), "{t}");
        assert!(t.contains("do not call the cancel tool again"), "{t}");
        assert_eq!(person.forms().len(), 1);
        assert_eq!(
            hits_by(&up, "POST").await,
            0,
            "{reply:?}: a cancel was sent"
        );
        assert_eq!(structured(&r)["processing_status"], "in_progress");
        client.cancel().await.ok();
    }
}

#[tokio::test]
async fn legacy_stdio_a_form_that_times_out_is_a_decline() {
    let up = upstream().await;
    // A person who never answers a form valid for 0 s: it times out at once, no waiting.
    let person = Person::new(Reply::Hang);
    let client = stdio(
        &base(&up),
        &[("MSGBATCH_CONFIRM_TTL_SECS", "0")],
        &person,
        Era::Legacy,
    )
    .await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("no answer in time"), "{}", text(&r));
    assert_eq!(hits_by(&up, "POST").await, 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn legacy_stdio_bulk_cancels_only_the_checked_and_offers_no_ended_batch() {
    let up = upstream().await;
    let person = Person::new(Reply::Only(&[RUN2]));
    let client = stdio(&base(&up), &[], &person, Era::Legacy).await;
    let r = call(
        &client,
        "cancel_message_batches",
        bulk(&[RUN1, ENDED, RUN2, CANCELING, GONE]),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(
        cancels(&up).await,
        [RUN2],
        "only the checked batch is canceled"
    );
    let forms = person.forms();
    assert_eq!(forms.len(), 1, "one form for the whole call");
    eprintln!(
        "bulk form (2025-11-25, as the client receives it):\n{}",
        serde_json::to_string_pretty(&forms[0]).unwrap()
    );
    let field = &forms[0]["requestedSchema"]["properties"]["batches"];
    let offered: Vec<&str> = field["items"]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["const"].as_str().unwrap())
        .collect();
    assert_eq!(offered, [RUN1, RUN2], "only running batches are offered");
    assert_eq!(field["default"], json!([RUN1, RUN2]), "all checked");
    let message = forms[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Cancel 2 batches (20 requests in all; oldest created "),
        "{message}"
    );
    assert!(
        message.contains(&format!("{ENDED}: it has already ended")),
        "{message}"
    );
    assert!(
        message.contains(&format!("{CANCELING}: a cancel is already under way")),
        "{message}"
    );
    let s = structured(&r);
    let outcomes: Vec<(&str, &str)> = s["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["message_batch_id"].as_str().unwrap(),
                o["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (RUN1, "kept"),
            (ENDED, "already_ended"),
            (RUN2, "canceling"),
            (CANCELING, "already_canceling"),
            (GONE, "not_found")
        ]
    );
    let t = text(&r);
    assert!(
        t.contains(&format!("kept (left unchecked, nothing sent): {RUN1}")),
        "{t}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn an_ended_batch_is_not_offered_and_nobody_is_asked() {
    let up = upstream().await;
    let person = Person::new(Reply::Accept);
    let client = stdio(&base(&up), &[], &person, Era::Legacy).await;
    let r = call(&client, "cancel_message_batch", single(ENDED)).await;
    assert!(text(&r).contains("already ended"), "{}", text(&r));
    assert!(
        text(&r).contains("the person was not asked"),
        "{}",
        text(&r)
    );
    let r = call(&client, "cancel_message_batches", bulk(&[ENDED, CANCELING])).await;
    assert!(
        text(&r).contains("the person was not asked"),
        "{}",
        text(&r)
    );
    assert!(person.forms().is_empty());
    assert_eq!(hits_by(&up, "POST").await, 0);
    client.cancel().await.ok();
}

// --- policy --------------------------------------------------------------------------------

#[tokio::test]
async fn required_refuses_a_client_that_cannot_show_forms_and_sends_nothing() {
    let up = upstream().await;
    let person = Person::without_forms();
    let client = stdio(
        &base(&up),
        &[("MSGBATCH_CONFIRM", "required")],
        &person,
        Era::Legacy,
    )
    .await;
    for (tool, args) in [
        ("cancel_message_batch", single(RUN1)),
        ("cancel_message_batches", bulk(&[RUN1, RUN2])),
    ] {
        let r = call(&client, tool, args).await;
        assert!(is_error(&r), "{}", text(&r));
        let t = text(&r);
        assert!(t.contains("MSGBATCH_CONFIRM=required"), "{t}");
        assert!(t.contains("did not declare form elicitation"), "{t}");
        assert!(t.contains("Nothing was sent"), "{t}");
        assert!(
            t.contains("Claude Console"),
            "says what to use instead: {t}"
        );
    }
    assert_eq!(received(&up).await.len(), 0, "not even a retrieve");
    client.cancel().await.ok();
}

#[tokio::test]
async fn auto_without_forms_cancels_and_says_nobody_could_confirm() {
    let up = upstream().await;
    let person = Person::without_forms();
    let client = stdio(&base(&up), &[], &person, Era::Modern).await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("No confirmation was possible"),
        "{}",
        text(&r)
    );
    assert!(
        structured(&r)["note"]
            .as_str()
            .unwrap()
            .contains("No confirmation was possible")
    );
    assert_eq!(cancels(&up).await, [RUN1]);
    client.cancel().await.ok();
}

#[tokio::test]
async fn never_cancels_without_asking_even_a_client_that_can() {
    let up = upstream().await;
    let person = Person::new(Reply::Decline);
    let client = stdio(
        &base(&up),
        &[("MSGBATCH_CONFIRM", "never")],
        &person,
        Era::Legacy,
    )
    .await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(person.forms().is_empty());
    assert!(!text(&r).contains("confirm"), "{}", text(&r));
    assert_eq!(cancels(&up).await, [RUN1]);
    client.cancel().await.ok();
}

#[tokio::test]
async fn read_only_never_asks() {
    let up = upstream().await;
    let person = Person::new(Reply::Accept);
    let client = stdio(
        &base(&up),
        &[
            ("MSGBATCH_READ_ONLY", "1"),
            ("MSGBATCH_CONFIRM", "required"),
        ],
        &person,
        Era::Legacy,
    )
    .await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(is_error(&r));
    assert!(text(&r).contains("read-only"), "{}", text(&r));
    let r = call(&client, "get_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(person.forms().is_empty());
    assert_eq!(hits_by(&up, "POST").await, 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn every_tool_has_a_title_and_exact_annotations() {
    let up = upstream().await;
    let client = stdio(&base(&up), &[], &Person::new(Reply::Decline), Era::Legacy).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 5);
    for t in &tools {
        assert!(
            t.title.as_deref().is_some_and(|s| !s.is_empty()),
            "{}",
            t.name
        );
        let a = t.annotations.as_ref().expect("annotations");
        assert_eq!(a.title, t.title, "{}", t.name);
        assert!(
            a.title.as_deref().is_some_and(|s| !s.is_empty()),
            "{}",
            t.name
        );
        let cancel = t.name.starts_with("cancel_");
        assert_eq!(a.read_only_hint, Some(!cancel), "{}", t.name);
        assert_eq!(a.destructive_hint, Some(cancel), "{}", t.name);
        assert_eq!(a.idempotent_hint, Some(true), "{}", t.name);
    }
    client.cancel().await.ok();
}

// --- 2026-07-28: input_required with a sealed requestState ---------------------------------

#[tokio::test]
async fn modern_stdio_accept_and_decline() {
    let up = upstream().await;
    let person = Person::new(Reply::Accept);
    let client = stdio(&base(&up), &[], &person, Era::Modern).await;
    // rmcp's client drives the round itself: the form reaches the handler, then the retry.
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(person.forms().len(), 1);
    assert_eq!(cancels(&up).await, [RUN1]);
    client.cancel().await.ok();

    let up = upstream().await;
    let person = Person::new(Reply::Decline);
    let client = stdio(&base(&up), &[], &person, Era::Modern).await;
    let r = call(&client, "cancel_message_batches", bulk(&[RUN1, RUN2])).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("declined"), "{}", text(&r));
    assert_eq!(structured(&r)["counts"]["kept"], 2);
    assert_eq!(hits_by(&up, "POST").await, 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn modern_http_bulk_subset_decline_and_closed_form() {
    let up = upstream().await;
    let server = HttpInstance::start(&base(&up), &[]).await;
    let person = Person::new(Reply::Only(&[RUN1]));
    let client = connect(&person, server.transport(), Era::Modern).await;
    let r = call(
        &client,
        "cancel_message_batches",
        bulk(&[RUN1, RUN2, ENDED]),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(cancels(&up).await, [RUN1]);
    let forms = person.forms();
    assert_eq!(forms.len(), 1);
    eprintln!(
        "bulk form (2026-07-28 input_required, as the client receives it):\n{}",
        serde_json::to_string_pretty(&forms[0]).unwrap()
    );
    let kinds: Vec<&str> = structured(&r)["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["canceling", "kept", "already_ended"]);
    client.cancel().await.ok();

    for reply in [Reply::Decline, Reply::Close] {
        let up = upstream().await;
        let server = HttpInstance::start(&base(&up), &[]).await;
        let person = Person::new(reply);
        let client = connect(&person, server.transport(), Era::Modern).await;
        let r = call(&client, "cancel_message_batch", single(RUN1)).await;
        assert!(!is_error(&r), "{reply:?}: {}", text(&r));
        assert!(text(&r).contains("no cancel was sent"), "{}", text(&r));
        assert_eq!(hits_by(&up, "POST").await, 0, "{reply:?}");
        client.cancel().await.ok();
    }
}

#[tokio::test]
async fn legacy_http_cannot_be_asked_auto_says_so_and_required_refuses() {
    let up = upstream().await;
    let server = HttpInstance::start(&base(&up), &[]).await;
    let person = Person::new(Reply::Decline);
    let client = connect(&person, server.transport(), Era::Legacy).await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("No confirmation was possible: this client speaks MCP 2025-11-25"),
        "{}",
        text(&r)
    );
    assert!(person.forms().is_empty());
    assert_eq!(cancels(&up).await, [RUN1]);
    client.cancel().await.ok();

    let up = upstream().await;
    let server = HttpInstance::start(&base(&up), &[("MSGBATCH_CONFIRM", "required")]).await;
    let client = connect(&person, server.transport(), Era::Legacy).await;
    let r = call(&client, "cancel_message_batch", single(RUN1)).await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("protocol 2026-07-28 can be asked"),
        "{}",
        text(&r)
    );
    assert_eq!(received(&up).await.len(), 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_changed_byte_other_ids_or_an_expired_state_are_refused_and_send_nothing() {
    let up = upstream().await;
    let server = HttpInstance::start(&base(&up), &[("MSGBATCH_REQUEST_STATE_KEY", KEY)]).await;
    let person = Person::new(Reply::Accept);
    let client = connect(&person, server.transport(), Era::Modern).await;
    let (requests, state) = first_round(&client, "cancel_message_batch", single(RUN1)).await;
    eprintln!(
        "single form (2026-07-28 inputRequests, as the client receives it):\n{}",
        serde_json::to_string_pretty(&requests).unwrap()
    );
    assert_eq!(requests["confirm_cancel"]["method"], "elicitation/create");

    // One byte changed, in the middle of the state.
    let mut bytes = state.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(bytes).unwrap();
    let r = second_round(
        &client,
        "cancel_message_batch",
        single(RUN1),
        &changed,
        accept_one(),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("requestState was refused"),
        "{}",
        text(&r)
    );
    assert!(text(&r).contains("Nothing was sent"), "{}", text(&r));

    // The same state, replayed for another batch.
    let r = second_round(
        &client,
        "cancel_message_batch",
        single(RUN2),
        &state,
        accept_one(),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("same batch IDs"), "{}", text(&r));
    // And for the several-batch tool with the same ID.
    let r = second_round(
        &client,
        "cancel_message_batches",
        bulk(&[RUN1]),
        &state,
        accept_one(),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert_eq!(
        hits_by(&up, "POST").await,
        0,
        "a refused state sent a cancel"
    );

    // The untouched state still completes: the refusals above were for what was changed.
    let r = second_round(
        &client,
        "cancel_message_batch",
        single(RUN1),
        &state,
        accept_one(),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(cancels(&up).await, [RUN1]);
    client.cancel().await.ok();

    // A state sealed already expired (TTL 0: no waiting on the clock).
    let up = upstream().await;
    let server = HttpInstance::start(&base(&up), &[("MSGBATCH_CONFIRM_TTL_SECS", "0")]).await;
    let client = connect(&person, server.transport(), Era::Modern).await;
    let (_, state) = first_round(&client, "cancel_message_batch", single(RUN1)).await;
    let r = second_round(
        &client,
        "cancel_message_batch",
        single(RUN1),
        &state,
        accept_one(),
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(text(&r).contains("has expired"), "{}", text(&r));
    assert_eq!(hits_by(&up, "POST").await, 0);
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_round_started_on_one_instance_completes_on_another_with_the_same_key() {
    let up = upstream().await;
    let env = [("MSGBATCH_REQUEST_STATE_KEY", KEY)];
    let a = HttpInstance::start(&base(&up), &env).await;
    let b = HttpInstance::start(&base(&up), &env).await;
    assert_ne!(a.url, b.url);
    let person = Person::new(Reply::Accept);
    let on_a = connect(&person, a.transport(), Era::Modern).await;
    let on_b = connect(&person, b.transport(), Era::Modern).await;
    let args = bulk(&[RUN1, RUN2]);
    let (requests, state) = first_round(&on_a, "cancel_message_batches", args.clone()).await;
    let everything = ElicitResult::new(ElicitationAction::Accept)
        .with_content(json!({ "batches": requests["confirm_cancel"]["params"]["requestedSchema"]["properties"]["batches"]["default"] }));
    let r = second_round(
        &on_b,
        "cancel_message_batches",
        args.clone(),
        &state,
        everything.clone(),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(cancels(&up).await, [RUN1, RUN2]);
    assert!(
        b.stderr_text().contains("confirmation answered"),
        "{}",
        b.stderr_text()
    );
    assert!(!a.stderr_text().contains("confirmation answered"));
    eprintln!(
        "two instances: round started on {} and completed on {}:\n{}",
        a.url,
        b.url,
        text(&r)
    );

    // An instance with another key refuses the same state, and sends nothing.
    let other = HttpInstance::start(
        &base(&up),
        &[(
            "MSGBATCH_REQUEST_STATE_KEY",
            "another-key-0123456789abcdef0123456789ab",
        )],
    )
    .await;
    let on_other = connect(&person, other.transport(), Era::Modern).await;
    let r = second_round(
        &on_other,
        "cancel_message_batches",
        args,
        &state,
        everything,
    )
    .await;
    assert!(is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("another MSGBATCH_REQUEST_STATE_KEY"),
        "{}",
        text(&r)
    );
    assert_eq!(hits_by(&up, "POST").await, 2);

    // Rotation: an instance given `NEW,OLD` opens what the old key sealed.
    let rotated_key = format!("new-key-0123456789abcdef0123456789abcdef,{KEY}");
    let rotated =
        HttpInstance::start(&base(&up), &[("MSGBATCH_REQUEST_STATE_KEY", &rotated_key)]).await;
    let on_rotated = connect(&person, rotated.transport(), Era::Modern).await;
    let (_, fresh) = first_round(&on_a, "cancel_message_batches", bulk(&[RUN1])).await;
    let r = second_round(
        &on_rotated,
        "cancel_message_batches",
        bulk(&[RUN1]),
        &fresh,
        ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "batches": [RUN1] })),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(hits_by(&up, "POST").await, 3);
    for c in [on_a, on_b, on_other, on_rotated] {
        c.cancel().await.ok();
    }
}
