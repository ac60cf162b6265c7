//! The MCP surface: four tools over the Batches API and two prompts, served with rmcp.
//!
//! - `cancel_message_batch`: the job itself, with an optional wait for `ended`;
//! - `get_message_batch`: where a batch is now, and what that means;
//! - `list_message_batches`: how an agent finds the ID when the person did not give one;
//! - `cancel_message_batches`: "stop all my running batches" in one call ([`bulk`]);
//! - prompts `stop-batch` and `stop-all-running` ([`prompts`]).
//!
//! Every failure, from a bad argument to an unreachable API, is a tool result with
//! `isError: true` and a text that says what to do next ([`advice`]); nothing here ends the
//! server. Each call stops as soon as the client cancels it: the work future is dropped, which
//! drops any HTTP request in flight.
//!
//! Every result's text is capped ([`MAX_TEXT_CHARS`], [`MAX_ERROR_TEXT_CHARS`]) on top of the cap
//! on each string read from the upstream ([`crate::api::decode`]), and at most
//! [`waits::MAX_WAITING`] calls wait for a batch to end at once.

pub mod advice;
pub mod bulk;
pub mod bulk_report;
pub mod origin;
pub mod params;
pub mod prompts;
pub mod report;
pub mod schema;
pub mod wait;
pub mod waits;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use rmcp::ErrorData;
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ServerCapabilities, ServerConfig,
};
use rmcp::model::{CustomRequest, CustomResult, ErrorCode};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, prompt_handler, tool, tool_handler, tool_router};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::api::{
    ApiError, BatchId, BatchesClient, ListParams as ApiListParams, MessageBatch, ProcessingStatus,
};
use advice::Operation;
use origin::Origin;
use params::{CancelParams, DEFAULT_LIMIT, GetParams, ListParams, MAX_LIMIT, MAX_WAIT_SECONDS};
use report::{BatchReport, Context, ListReport};
use wait::Progress;
use waits::Waits;

/// The longest text a successful result carries: a full page of 1,000 batches is about 150,000
/// characters. Only an upstream sending junk reaches it.
pub const MAX_TEXT_CHARS: usize = 256 * 1024;
/// The longest text an `isError` result carries: advice is a paragraph, the API's own message at
/// most 500 characters of it.
pub const MAX_ERROR_TEXT_CHARS: usize = 4 * 1024;

/// What a model reads once, at connection: which tool to use when. Kept short on purpose: it
/// costs tokens in every conversation the server is part of.
pub const INSTRUCTIONS: &str = "Cancel, inspect and find Anthropic Message Batches. \
To stop a batch, call cancel_message_batch with its ID (msgbatch_...); to stop several, call \
cancel_message_batches once with all their IDs. If no ID was given, call list_message_batches \
first: only `in_progress` batches can be canceled. Cancellation is not \
immediate: the batch becomes `canceling`, then `ended`; follow it with get_message_batch or \
cancel_message_batch's wait_seconds.";

const CANCEL_DESCRIPTION: &str = "Cancel (stop, abort) an Anthropic Message Batch by its ID. \
Not immediate: the batch becomes `canceling`, requests already running may still complete, and \
it then ends as `ended`. Pass wait_seconds to wait for `ended`. Safe to repeat. Without an ID, \
call list_message_batches first.";

const GET_DESCRIPTION: &str = "Get a Message Batch's status and request counts, with what they \
mean: still running, canceling, or ended (with the results URL). Use it to follow a cancel.";

const LIST_DESCRIPTION: &str = "List Message Batches, newest first, marking those still \
`in_progress` (the ones that can be canceled). Use it to find a batch ID. Next page: \
after_id = last_id.";

/// The MCP server: a Batches API client and the tool router.
#[derive(Debug, Clone)]
pub struct BatchServer {
    client: BatchesClient,
    /// Cancelled when the process is shutting down: every call in flight ends at once.
    shutdown: CancellationToken,
    /// The slots for calls waiting for `ended`, shared by every clone (so every session).
    waits: Waits,
    /// Says, in every result, which API answered (see [`origin`]).
    origin: Origin,
    /// Shared, not copied, by every clone: the HTTP transport clones the server for every
    /// request, and copying the routes' maps (names, descriptions, schemas) each time cost more
    /// than anything else in that clone. Changed only while the server is set up.
    tool_router: Arc<ToolRouter<Self>>,
    prompt_router: Arc<PromptRouter<Self>>,
}

/// What a call to a tool hidden by read-only mode answers (see [`BatchServer::read_only`]).
fn read_only_refusal(tool: &str) -> String {
    format!(
        "This msgbatch-mcp server is read-only (MSGBATCH_READ_ONLY): {tool} changes batches, so \
         it is disabled here and nothing was sent. Use get_message_batch or list_message_batches \
         to look; to cancel, ask whoever runs this server, or use a server that is not read-only."
    )
}

#[tool_router]
impl BatchServer {
    pub fn new(client: BatchesClient) -> Self {
        Self {
            origin: Origin::new(client.base_url()),
            client,
            shutdown: CancellationToken::new(),
            waits: Waits::default(),
            // Every tool's input schema goes through the one portable rewrite (see `schema`).
            tool_router: Arc::new(schema::portable_tools(
                Self::tool_router() + Self::bulk_tool_router(),
            )),
            prompt_router: Arc::new(Self::prompt_router()),
        }
    }

    /// Read-only mode (`MSGBATCH_READ_ONLY`): every tool whose annotations do not say it is
    /// read-only is neither listed nor callable (a call answers [`read_only_refusal`]), and
    /// every prompt that uses one of them is not offered ([`prompts::PROMPT_TOOLS`]). Decided
    /// by the annotation, not by name, so that a tool added later is covered without a change
    /// here: a tool with no `read_only_hint` counts as one that writes, as MCP's default says.
    pub fn read_only(mut self, read_only: bool) -> Self {
        if read_only {
            let writers: Vec<_> = self
                .tool_router
                .list_all()
                .into_iter()
                .filter(|t| {
                    let says_read_only = t.annotations.as_ref().and_then(|a| a.read_only_hint);
                    says_read_only != Some(true)
                })
                .map(|t| t.name)
                .collect();
            let router = Arc::make_mut(&mut self.tool_router);
            for name in writers {
                router.disable_route(name);
            }
            let prompts = Arc::make_mut(&mut self.prompt_router);
            for (prompt, tools) in prompts::PROMPT_TOOLS {
                if tools.iter().any(|t| router.is_disabled(t)) {
                    prompts.remove_route(prompt);
                }
            }
        }
        self
    }

    /// Shares `waits` (the bound on calls waiting for `ended`) with other servers: for a
    /// transport that builds a server per session instead of cloning one.
    pub fn with_waits(mut self, waits: Waits) -> Self {
        self.waits = waits;
        self
    }

    /// Ends every call in flight when `token` is cancelled (see [`crate::transport::shutdown`]).
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    #[tool(
        name = "cancel_message_batch",
        description = CANCEL_DESCRIPTION,
        output_schema = schema_for_output::<BatchReport>(),
        annotations(
            title = "Cancel message batch",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn cancel_message_batch(
        &self,
        Parameters(p): Parameters<CancelParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let id = match BatchId::parse(&p.message_batch_id) {
            Ok(id) => id,
            Err(e) => return error_result(e.to_string()),
        };
        let wait_seconds = p.wait_seconds.unwrap_or(0);
        if wait_seconds > MAX_WAIT_SECONDS {
            return error_result(format!(
                "wait_seconds is {wait_seconds}; it must be between 0 and {MAX_WAIT_SECONDS}. \
                 Nothing was sent."
            ));
        }
        let progress = ctx.meta.get_progress_token().map(|token| Progress {
            peer: ctx.peer.clone(),
            token,
        });
        self.until_cancelled(&ctx, self.cancel(&id, wait_seconds, progress))
            .await
    }

    #[tool(
        name = "get_message_batch",
        description = GET_DESCRIPTION,
        output_schema = schema_for_output::<BatchReport>(),
        annotations(
            title = "Get message batch",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn get_message_batch(
        &self,
        Parameters(p): Parameters<GetParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let id = match BatchId::parse(&p.message_batch_id) {
            Ok(id) => id,
            Err(e) => return error_result(e.to_string()),
        };
        let work = async {
            match self.client.retrieve(&id).await {
                Ok(batch) => batch_result(BatchReport::new(batch, Context::Get)),
                Err(e) => self.api_error(Operation::Get(id.as_str()), &e),
            }
        };
        self.until_cancelled(&ctx, work).await
    }

    #[tool(
        name = "list_message_batches",
        description = LIST_DESCRIPTION,
        output_schema = schema_for_output::<ListReport>(),
        annotations(
            title = "List message batches",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn list_message_batches(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let query = match list_query(&p) {
            Ok(q) => q,
            Err(msg) => return error_result(msg),
        };
        let work = async {
            match self.client.list(&query).await {
                Ok(page) => {
                    let report = ListReport::new(page, &query);
                    structured_result(&report, report.text())
                }
                Err(e) => self.api_error(Operation::List, &e),
            }
        };
        self.until_cancelled(&ctx, work).await
    }
}

/// What one cancel came to, read by the batch's state rather than by the form of the API's
/// answer: what the API answers to a cancel of a batch that is already canceling or ended is
/// not documented, so each answer it could give is mapped here (tests/cancel_answers.rs). Both
/// cancel tools start from it, so that they read the API's answers the same way; each then words
/// it for its own answer.
#[derive(Debug)]
pub(crate) enum Cancel {
    /// The API accepted the cancel and answered with the batch: `canceling`, still
    /// `in_progress`, or `ended` after a cancel (this one or an earlier one).
    Accepted(MessageBatch),
    /// The API refused (400 or 409), and the batch turned out to be `canceling`: an earlier
    /// cancel went through, which is what was asked.
    AlreadyCanceling(MessageBatch),
    /// The batch had ended before any cancel: refused (400 or 409) and then found `ended`, or
    /// answered 200 `ended` with no `cancel_initiated_at`. Nothing to cancel.
    AlreadyEnded(MessageBatch),
    /// The cancel failed, for this reason.
    Failed(ApiError),
}

impl BatchServer {
    /// Cancel, then (if asked) wait for `ended`.
    async fn cancel(
        &self,
        id: &BatchId,
        wait_seconds: u32,
        progress: Option<Progress>,
    ) -> CallToolResult {
        let (batch, refused) = match self.cancel_once(id).await {
            Cancel::Accepted(b) => (b, false),
            Cancel::AlreadyCanceling(b) => (b, true),
            Cancel::AlreadyEnded(batch) => {
                let report = BatchReport::new(batch, Context::Get);
                return error_result(format!(
                    "Batch {id} has already ended, so there is nothing to cancel.\n\n{}",
                    report.text()
                ));
            }
            Cancel::Failed(e) => return self.api_error(Operation::Cancel(id.as_str()), &e),
        };
        // A refusal while canceling reads as the cancel under way that it is, and says so.
        let report = |b, context| {
            let mut report = BatchReport::new(b, context);
            if refused {
                report.note.insert_str(
                    0,
                    "The API refused this cancel because one is already under way: the batch \
                     is `canceling`. ",
                );
            }
            batch_result(report)
        };
        if wait_seconds == 0 || batch.processing_status == ProcessingStatus::Ended {
            return report(batch, Context::Canceled);
        }
        // Held until the wait ends (or the call is dropped); none left: answer now, saying so.
        let Some(_slot) = self.waits.try_begin() else {
            tracing::debug!(id = %id, limit = self.waits.limit(), "too many calls waiting");
            let mut report = BatchReport::new(batch, Context::Canceled);
            report.note = format!("{} {}", self.waits.busy_note(), report.note);
            return batch_result(report);
        };
        let wait = Duration::from_secs(u64::from(wait_seconds));
        // Boxed: the wait's state (two requests and a timer) would otherwise be part of every
        // cancel's future, which rmcp keeps on the heap while the call waits for a slot.
        let following = wait::until_ended(&self.client, id, batch, wait, progress.as_ref());
        match Box::pin(following).await {
            Ok(b) => report(
                b,
                Context::Waited {
                    seconds: wait_seconds,
                },
            ),
            // The cancel itself was accepted: explain the failed poll as the fetch it was,
            // not as a cancel that "may or may not have reached the API".
            Err(e) => error_result(format!(
                "The cancel was accepted (the batch is canceling), but following it failed. {} \
                 Call get_message_batch to see where it is now.",
                advice::explain(Operation::Get(id.as_str()), &e)
            )),
        }
    }

    /// One cancel, read into a [`Cancel`]: the logic both cancel tools share.
    pub(crate) async fn cancel_once(&self, id: &BatchId) -> Cancel {
        // The cancel and the fetch that may explain a refusal stay within one call's worst case.
        let deadline = Instant::now() + self.client.worst_case();
        match self.client.cancel(id).await {
            // Accepted, but it had ended before any cancel: the cancel changed nothing.
            Ok(batch)
                if batch.processing_status == ProcessingStatus::Ended
                    && batch.cancel_initiated_at.is_none() =>
            {
                Cancel::AlreadyEnded(batch)
            }
            Ok(batch) => {
                tracing::info!(id = %id, status = %batch.processing_status, "cancel accepted");
                Cancel::Accepted(batch)
            }
            // Boxed, as the wait: a rare path, kept out of every call's future.
            Err(e) => Box::pin(self.cancel_refused(id, e, deadline)).await,
        }
    }

    /// A cancel the API refused. A 400 or 409 may mean that the batch is already canceling or
    /// has ended: fetch it, to answer by its state. Any other refusal, or one for a batch still
    /// `in_progress`, is the API's error as it is. The fetch gives up at `deadline` (the call's
    /// own bound): it only improves the answer, so it must not double the time the call can
    /// take.
    async fn cancel_refused(&self, id: &BatchId, error: ApiError, deadline: Instant) -> Cancel {
        let too_late =
            matches!(error.status(), Some(400 | 409)) && matches!(error, ApiError::Status { .. });
        if too_late && let Ok(batch) = self.client.retrieve_before(id, Some(deadline)).await {
            tracing::info!(id = %id, status = %batch.processing_status, error = %error, "cancel refused");
            match batch.processing_status.known() {
                Some(ProcessingStatus::Ended) => return Cancel::AlreadyEnded(batch),
                Some(ProcessingStatus::Canceling) => return Cancel::AlreadyCanceling(batch),
                Some(ProcessingStatus::InProgress) | None => {}
            }
        }
        Cancel::Failed(error)
    }

    /// Runs `work` unless the client cancels the call, or the server shuts down, first; then
    /// the work is dropped (and with it any request in flight). rmcp sends no answer to a
    /// call the client cancelled.
    async fn until_cancelled(
        &self,
        ctx: &RequestContext<RoleServer>,
        work: impl Future<Output = CallToolResult>,
    ) -> CallToolResult {
        tokio::select! {
            biased;
            () = ctx.ct.cancelled() => {
                tracing::debug!(request = ?ctx.id, "call cancelled by the client");
                error_result("The call was cancelled by the client.".to_owned())
            }
            () = self.shutdown.cancelled() => {
                error_result("The server is shutting down; the call was cut short.".to_owned())
            }
            result = answer_even_on_panic(work) => result,
        }
    }

    fn api_error(&self, op: Operation<'_>, error: &ApiError) -> CallToolResult {
        tracing::warn!(error = %error, "API call failed");
        error_result(advice::explain(op, error))
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for BatchServer {
    /// The router's `call_tool`, plus the one place where every tool result, success or error,
    /// is told which API answered ([`Origin::stamp`]); and, for a tool that read-only mode
    /// disabled, an answer that says so (the router would answer "tool not found", which would
    /// leave the model guessing; no API answered, so nothing is stamped).
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.tool_router.is_disabled(&request.name) {
            return Ok(error_result(read_only_refusal(&request.name)).into());
        }
        let call = ToolCallContext::new(self, request, context);
        let mut response = self.tool_router.call(call).await;
        if let Ok(CallToolResponse::Complete(result)) = &mut response {
            self.origin.stamp(result);
        }
        response
    }

    /// A request rmcp could not read as the method it names lands here as if the method were
    /// unknown. For the methods this server implements that take params, that is JSON-RPC's
    /// "Invalid params" (-32602, what MCP says for a malformed `tools/call`): the method exists,
    /// the params are what to fix. Anything else is "Method not found" (-32601), as before.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let shape = match request.method.as_str() {
            "tools/call" => "an object with a string `name` and an optional object `arguments`",
            "prompts/get" => "an object with a string `name` and optional string `arguments`",
            _ => {
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    request.method,
                    None,
                ));
            }
        };
        Err(ErrorData::invalid_params(
            format!("{}: params must be {shape}", request.method),
            None,
        ))
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                .with_title("Message Batches: cancel, inspect, list")
                .with_description(env!("CARGO_PKG_DESCRIPTION")),
        )
        .with_instructions(INSTRUCTIONS)
    }
}

/// Checks the list arguments before anything is sent.
fn list_query(p: &ListParams) -> Result<ApiListParams, String> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(format!(
            "limit is {limit}; it must be between 1 and {MAX_LIMIT}. Nothing was sent."
        ));
    }
    let cursor = |name: &str, v: &Option<String>| -> Result<Option<String>, String> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => BatchId::parse(raw)
                .map(|id| Some(id.as_str().to_owned()))
                .map_err(|e| e.to_string().replacen("message_batch_id", name, 1)),
        }
    };
    let before_id = cursor("before_id", &p.before_id)?;
    let after_id = cursor("after_id", &p.after_id)?;
    if before_id.is_some() && after_id.is_some() {
        return Err(
            "Pass before_id or after_id, not both: before_id pages to newer batches, after_id \
             to older ones. Nothing was sent."
                .to_owned(),
        );
    }
    Ok(ApiListParams {
        limit: Some(limit),
        before_id,
        after_id,
    })
}

fn batch_result(report: BatchReport) -> CallToolResult {
    let text = report.text();
    structured_result(&report, text)
}

/// Structured content plus a readable text block (not the JSON again: the text is for people
/// and text-only clients, the structure for programs).
///
/// Built from `success` rather than `CallToolResult::structured`, which would first render the
/// whole value as JSON text for a content block that we replace at once.
fn structured_result<T: Serialize>(value: &T, text: String) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(v) => {
            let text = capped(text, MAX_TEXT_CHARS);
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(v);
            result
        }
        Err(e) => error_result(format!("Internal error while preparing the answer: {e}")),
    }
}

/// Runs a tool's work, turning a panic (a bug) into an `isError` result, so that the call is
/// answered instead of leaving the client waiting forever. The panic's own message goes where
/// Rust's default hook puts it, stderr: never stdout, which carries only the protocol.
async fn answer_even_on_panic(work: impl Future<Output = CallToolResult>) -> CallToolResult {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a tool call panicked");
            error_result(
                "Internal error in msgbatch-mcp while handling this call (a bug: please report \
                 it with the server's log). The server is still running; if this was a cancel, \
                 check the batch with get_message_batch."
                    .to_owned(),
            )
        }
    }
}

fn error_result(text: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(capped(text, MAX_ERROR_TEXT_CHARS))])
}

/// `text` cut to at most `max` characters (and a note saying so): every result text goes
/// through here, so no answer from the upstream, however built, floods the model's context.
fn capped(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    if let Some((i, _)) = text.char_indices().nth(max) {
        text.truncate(i);
        text.push_str("… [cut: the rest of this text is not shown]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_call_is_answered_with_an_error() {
        let r = answer_even_on_panic(async { panic!("boom") }).await;
        assert_eq!(r.is_error, Some(true));
        let text = r.content[0].as_text().map(|t| t.text.clone()).unwrap();
        assert!(text.starts_with("Internal error"), "{text}");
        assert!(!text.contains("boom"), "{text}");
        let ok = answer_even_on_panic(async { error_result("fine".into()) }).await;
        assert_eq!(ok.content[0].as_text().unwrap().text, "fine");
    }

    #[test]
    fn result_texts_are_capped() {
        let long = "é".repeat(MAX_TEXT_CHARS * 2);
        let r = error_result(long.clone());
        let t = &r.content[0].as_text().unwrap().text;
        assert!(
            t.chars().count() < MAX_ERROR_TEXT_CHARS + 100,
            "{}",
            t.len()
        );
        assert!(t.ends_with("not shown]"));
        let r = structured_result(&1, long);
        let t = &r.content[0].as_text().unwrap().text;
        assert!(t.chars().count() < MAX_TEXT_CHARS + 100, "{}", t.len());
        assert_eq!(capped("short".into(), 5), "short");
    }

    #[test]
    fn list_query_defaults_and_bounds() {
        let q = list_query(&ListParams::default()).unwrap();
        assert_eq!(q.limit, Some(20));
        for bad in [0, 1001] {
            let p = ListParams {
                limit: Some(bad),
                ..Default::default()
            };
            assert!(list_query(&p).unwrap_err().contains("between 1 and 1000"));
        }
    }

    #[test]
    fn list_query_checks_cursors() {
        let p = ListParams {
            after_id: Some("../x".into()),
            ..Default::default()
        };
        let err = list_query(&p).unwrap_err();
        assert!(err.starts_with("after_id contains '.'"), "{err}");
        let p = ListParams {
            after_id: Some("a".into()),
            before_id: Some("b".into()),
            ..Default::default()
        };
        assert!(list_query(&p).unwrap_err().contains("not both"));
        let p = ListParams {
            after_id: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(list_query(&p).unwrap().after_id, None);
    }

    #[test]
    fn read_only_keeps_exactly_the_tools_annotated_read_only() {
        let server = BatchServer::new(BatchesClient::new(
            &crate::config::ApiSettings::default().resolve(),
        ));
        let all = server.tool_router.list_all();
        let readers: Vec<_> = all
            .iter()
            .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
            .map(|t| t.name.to_string())
            .collect();
        let server = server.read_only(true);
        let left: Vec<_> = server
            .tool_router
            .list_all()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(left, readers);
        assert!(!left.iter().any(|n| n == "cancel_message_batch"));
        assert!(server.tool_router.is_disabled("cancel_message_batch"));
        // Both prompts are about canceling: neither is offered.
        assert!(server.prompt_router.list_all().is_empty());
        assert!(read_only_refusal("cancel_message_batch").contains("nothing was sent"));
    }

    #[test]
    fn tools_declare_names_annotations_and_output_schemas() {
        let server = BatchServer::new(BatchesClient::new(
            &crate::config::ApiSettings::default().resolve(),
        ));
        let tools = server.tool_router.list_all();
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        let cancel = tools
            .iter()
            .find(|t| t.name == "cancel_message_batch")
            .unwrap();
        let a = cancel.annotations.as_ref().unwrap();
        assert_eq!(a.title.as_deref(), Some("Cancel message batch"));
        assert_eq!(a.read_only_hint, Some(false));
        assert_eq!(a.destructive_hint, Some(true));
        assert_eq!(a.idempotent_hint, Some(true));
        assert_eq!(a.open_world_hint, Some(true));
        // The bulk cancel is exactly as destructive as the single one (read-only mode hides both).
        let bulk = tools
            .iter()
            .find(|t| t.name == "cancel_message_batches")
            .unwrap();
        let b = bulk.annotations.as_ref().unwrap();
        assert_eq!(b.title.as_deref(), Some("Cancel message batches"));
        assert_eq!(
            (
                b.read_only_hint,
                b.destructive_hint,
                b.idempotent_hint,
                b.open_world_hint
            ),
            (
                a.read_only_hint,
                a.destructive_hint,
                a.idempotent_hint,
                a.open_world_hint
            )
        );
        let out = serde_json::to_value(bulk.output_schema.as_ref().unwrap()).unwrap();
        assert!(out["properties"]["outcomes"].is_object(), "{out}");
        assert!(out["properties"]["summary"].is_object(), "{out}");
        let out = serde_json::to_value(cancel.output_schema.as_ref().unwrap()).unwrap();
        assert!(out["properties"]["note"].is_object(), "{out}");
        assert!(out["properties"]["processing_status"].is_object(), "{out}");
        let input = serde_json::to_value(&cancel.input_schema).unwrap();
        assert!(
            input["properties"]["message_batch_id"]["description"]
                .as_str()
                .unwrap()
                .contains("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF")
        );
        assert_eq!(input["required"], serde_json::json!(["message_batch_id"]));
    }
}
