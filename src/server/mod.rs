//! The MCP surface: five tools over the Batches API and two prompts, served with rmcp.
//!
//! - `cancel_message_batch`: the job itself, with an optional wait for `ended`;
//! - `get_message_batch`: where a batch is now, and what that means;
//! - `list_message_batches`: how an agent finds the ID when the person did not give one;
//! - `cancel_message_batches`: "stop all my running batches" in one call ([`bulk`]);
//! - `get_message_batch_results`: what an ended batch's requests came to ([`results`]);
//! - a cancel with `wait_seconds` from a client with tasks answers a task ([`tasks`]);
//! - prompts `stop-batch` and `stop-all-running` ([`prompts`]).
//! - the skill `cancel-message-batch`, to clients that read skills over MCP ([`skills`]).
//!
//! Before either cancel tool sends anything, the person may be asked to confirm ([`confirm`]).
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
pub mod audit;
pub mod bulk;
pub mod bulk_report;
pub mod caller;
pub mod confirm;
mod guard;
pub mod origin;
pub mod params;
pub mod prompts;
pub mod report;
pub mod results;
pub mod schema;
pub mod sealed;
pub mod search_hints;
pub mod skills;
pub mod tasks;
pub mod wait;
pub mod waits;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::ErrorData;
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState, ToolCallContext};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    ContentBlock, GetSkillRequestParams, GetSkillResult, GetTaskParams, GetTaskResult,
    Implementation, ListResourcesResult, ListSkillsResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ResultType, ServerCapabilities, ServerConfig,
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
pub const INSTRUCTIONS: &str = "Cancel (stop, abort), follow and find Anthropic Message \
Batches; IDs look like msgbatch_... Which tool: stop one batch: cancel_message_batch; several, or \
\"all running\": cancel_message_batches, once with all the IDs; no ID given: list_message_batches \
first (only `in_progress` batches can be canceled); status and counts: get_message_batch; what \
finished, once ended: get_message_batch_results. A cancel is not immediate: the batch becomes \
`canceling`, then `ended`; pass wait_seconds to follow it.";

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
    /// Seals what a client carries between calls ([`sealed`]); shared by every clone.
    sealer: sealed::Sealer,
    /// Whether and how a person confirms each cancel ([`confirm`]).
    confirm: confirm::Settings,
    /// Longest a call is held waiting for `ended` ([`wait::DEFAULT_HOLD_SECS`]).
    hold_secs: u32,
    /// Tasks: their lifetime, and the ones cancelled here ([`tasks`]).
    tasks: tasks::Tasks,
    /// Where each cancel's audit line goes besides stderr ([`audit`]).
    audit: audit::Audit,
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
            // … and gets the words people say for it, for Claude Code's ToolSearch.
            tool_router: Arc::new(search_hints::with_search_hints(schema::portable_tools(
                Self::tool_router() + Self::bulk_tool_router() + Self::results_tool_router(),
            ))),
            prompt_router: Arc::new(Self::prompt_router()),
            sealer: sealed::Sealer::ephemeral(),
            confirm: confirm::Settings::default(),
            hold_secs: wait::DEFAULT_HOLD_SECS,
            tasks: tasks::Tasks::default(),
            audit: audit::Audit::stderr_only(),
        }
    }

    /// Writes every cancel's audit line to `audit` too (`MSGBATCH_AUDIT_LOG`).
    pub fn with_audit(mut self, audit: audit::Audit) -> Self {
        self.audit = audit;
        self
    }

    /// Applies the tool settings that tune waits and tasks (hidden ones included).
    pub fn configured(mut self, tools: &crate::config::ToolSettings) -> Self {
        self.hold_secs = tools.wait_hold_secs.unwrap_or(wait::DEFAULT_HOLD_SECS);
        self.tasks = tasks::Tasks::new(tools.task_ttl_secs);
        self
    }

    /// Confirms cancels as `policy` (`MSGBATCH_CONFIRM`) says, a form staying valid for `ttl`.
    pub fn with_confirm(mut self, policy: crate::config::Confirm, ttl: Duration) -> Self {
        self.confirm.policy = policy;
        self.confirm.ttl = ttl;
        self
    }

    /// For a transport that cannot carry a request to the client in the middle of a call
    /// (stateless HTTP): a 2025-11-25 client there is never sent a form it could not answer.
    pub fn without_pushed_requests(mut self) -> Self {
        self.confirm.can_push = false;
        self
    }

    /// Seals tokens with `sealer` (built from `MSGBATCH_REQUEST_STATE_KEY`) instead of the key
    /// made for this process.
    /// This server with another upstream client, and everything else shared with it: the
    /// settings, the routes, the slots for waiting calls, the tasks cancelled here, the audit
    /// file. `serve --http` gives each worker thread its own client (its own upstream
    /// connections) this way, while a task cancelled on one worker is cancelled for all.
    pub fn with_client(&self, client: BatchesClient) -> Self {
        Self {
            client,
            ..self.clone()
        }
    }

    pub fn with_sealer(mut self, sealer: sealed::Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    /// What seals and opens the tokens clients carry between calls.
    pub fn sealer(&self) -> &sealed::Sealer {
        &self.sealer
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
        title = "Cancel message batch",
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
        RequestState(request_state): RequestState,
        InputResponses(input_responses): InputResponses,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let id = match BatchId::parse(&p.message_batch_id) {
            Ok(id) => id,
            Err(e) => return error_result(e.to_string()).into(),
        };
        let wait_seconds = p.wait_seconds.unwrap_or(0);
        if wait_seconds > MAX_WAIT_SECONDS {
            return error_result(format!(
                "wait_seconds is {wait_seconds}; it must be between 0 and {MAX_WAIT_SECONDS}. \
                 Nothing was sent."
            ))
            .into();
        }
        let progress = ctx.meta.get_progress_token().map(|token| Progress {
            peer: ctx.peer.clone(),
            token,
        });
        let call = confirm::Call {
            tool: "cancel_message_batch",
            bulk: false,
            ids: std::slice::from_ref(&id),
            wait_seconds,
            request_state,
            input_responses,
        };
        let work = async {
            match self.confirm(&ctx, call).await {
                confirm::Gate::Answer(answer) => answer,
                // A client with tasks follows the cancel by polling, instead of holding this
                // call: only once the person said yes, like every other cancel.
                confirm::Gate::Go { note, .. } if wait_seconds > 0 && tasks::declared(&ctx) => {
                    // Boxed, as the form: a rare path kept out of every cancel's future.
                    Box::pin(self.cancel_as_task(&id, wait_seconds, note)).await
                }
                // One ID: the step is its cancel (a kept single batch is answered above).
                confirm::Gate::Go { note, .. } => {
                    let mut result = self.cancel(&id, wait_seconds, progress).await;
                    if let Some(note) = note {
                        add_note(&mut result, &note);
                    }
                    result.into()
                }
            }
        };
        self.until_cancelled(&ctx, work).await
    }

    #[tool(
        name = "get_message_batch",
        title = "Get message batch",
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
        title = "List message batches",
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
    /// The cancel, read for the single tool: the batch and whether the API refused because a
    /// cancel was already under way; or the answer, when there is nothing to follow.
    async fn cancel_first(&self, id: &BatchId) -> Result<(MessageBatch, bool), CallToolResult> {
        Ok(match audit::noted(id, self.cancel_once(id).await) {
            Cancel::Accepted(b) => (b, false),
            Cancel::AlreadyCanceling(b) => (b, true),
            Cancel::AlreadyEnded(batch) => {
                let report = BatchReport::new(batch, Context::Get);
                return Err(error_result(format!(
                    "Batch {id} has already ended, so there is nothing to cancel.\n\n{}",
                    report.text()
                )));
            }
            Cancel::Failed(e) => return Err(self.api_error(Operation::Cancel(id.as_str()), &e)),
        })
    }

    /// The cancel, followed as a task (see [`tasks`]): answered at once.
    /// `note` ends the answer's note, now or when the task completes.
    async fn cancel_as_task(
        &self,
        id: &BatchId,
        wait_seconds: u32,
        note: Option<String>,
    ) -> CallToolResponse {
        let with_note = |mut result: CallToolResult| {
            if let Some(note) = &note {
                add_note(&mut result, note);
            }
            CallToolResponse::from(result)
        };
        let (batch, refused) = match self.cancel_first(id).await {
            Ok(b) => b,
            Err(answer) => return with_note(answer),
        };
        if batch.processing_status == ProcessingStatus::Ended {
            return with_note(cancel_report(batch, Context::Canceled, refused));
        }
        let outcome = if refused {
            bulk_report::OutcomeKind::AlreadyCanceling
        } else {
            bulk_report::OutcomeKind::Canceling
        };
        let entry = tasks::token::Entry {
            id: id.as_str().to_owned(),
            outcome,
            reason: None,
        };
        let mut state = tasks::token::TaskState::new(
            tasks::token::Report::Single { refused },
            vec![entry],
            wait_seconds,
            self.tasks.ttl_secs_for(wait_seconds),
        );
        state.note = note;
        self.start_task(&state, wait::message(&batch))
    }

    /// Cancel, then (if asked) wait for `ended`.
    async fn cancel(
        &self,
        id: &BatchId,
        wait_seconds: u32,
        progress: Option<Progress>,
    ) -> CallToolResult {
        let (batch, refused) = match self.cancel_first(id).await {
            Ok(b) => b,
            Err(answer) => return answer,
        };
        if wait_seconds == 0 || batch.processing_status == ProcessingStatus::Ended {
            return cancel_report(batch, Context::Canceled, refused);
        }
        // Held until the wait ends (or the call is dropped); none left: answer now, saying so.
        let Some(_slot) = self.waits.try_begin() else {
            tracing::debug!(id = %id, limit = self.waits.limit(), "too many calls waiting");
            let mut report = BatchReport::new(batch, Context::Canceled);
            report.note = format!("{} {}", self.waits.busy_note(), report.note);
            return batch_result(report);
        };
        // Never held past what clients tolerate: the answer then says it timed out.
        let held = wait_seconds.min(self.hold_secs);
        let wait = Duration::from_secs(u64::from(held));
        // Boxed: the wait's state (two requests and a timer) would otherwise be part of every
        // cancel's future, which rmcp keeps on the heap while the call waits for a slot.
        let following = wait::until_ended(&self.client, id, batch, wait, progress.as_ref());
        match Box::pin(following).await {
            Ok(b) => waited_result(b, wait_seconds, held, refused),
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
                // At debug: the audit line (at info) records each cancel, with its request-id.
                tracing::debug!(id = %id, status = ?batch.processing_status.as_str(), "cancel accepted");
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
            tracing::info!(id = %id, status = ?batch.processing_status.as_str(), error = ?error.to_string(), "cancel refused");
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
    /// call the client cancelled. A panic in the work is answered as an error ([`guard`]).
    fn until_cancelled<'a, T: From<CallToolResult>>(
        &'a self,
        ctx: &'a RequestContext<RoleServer>,
        work: impl Future<Output = T> + 'a,
    ) -> impl Future<Output = T> + 'a {
        guard::until_cancelled(&ctx.id, ctx.ct.cancelled(), self.shutdown.cancelled(), work)
    }

    /// Whether `tool` changes batches: its annotations do not say it is read-only (as
    /// [`BatchServer::read_only`] decides). These are the calls that are audited, and that
    /// need the cancel scope.
    fn changes_batches(&self, tool: &str) -> bool {
        self.tool_router
            .get(tool)
            .is_some_and(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true))
    }

    fn api_error(&self, op: Operation<'_>, error: &ApiError) -> CallToolResult {
        tracing::warn!(error = ?error.to_string(), "API call failed");
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
        // Who asked, and (for a tool that cancels) the audit line this call will write.
        let caller = caller::Caller::of(&context);
        let changes = self.changes_batches(&request.name);
        let pending = self.audit.begin(&request, caller, changes);
        if let Some(c) = caller.filter(|c| changes && !c.may_cancel) {
            let text = caller::cancel_refusal(&request.name, &c.cancel_scope);
            if let Some(p) = pending {
                p.refused("insufficient_scope");
            }
            return Ok(error_result(text).into());
        }
        let call = ToolCallContext::new(self, request, context);
        let mut response = match pending {
            Some(p) => p.around(self.tool_router.call(call)).await,
            None => self.tool_router.call(call).await,
        };
        if let Ok(CallToolResponse::Complete(result)) = &mut response {
            self.origin.stamp(result);
        }
        response
    }

    /// `tasks/get`: the task's batches, retrieved now ([`tasks::poll`]).
    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.task_status(&request.task_id).await
    }

    /// `tasks/cancel`: stops following; the batch cancel stands.
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.cancel_following(&request.task_id)
    }

    /// Every tool the caller may call: one without the cancel scope is not shown the tools
    /// that change batches (and its list may be cached by its own client only).
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let may_cancel = caller::Caller::of(&context).is_none_or(|c| c.may_cancel);
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| may_cancel || !self.changes_batches(&t.name))
            .collect();
        let hints = context
            .protocol_version()
            .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28);
        // A list that depends on who asked is for that caller's cache only.
        let scope = match caller::Caller::of(&context) {
            Some(_) => CacheScope::Private,
            None => CacheScope::Public,
        };
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools,
            meta: None,
            next_cursor: None,
            ttl_ms: hints.then_some(0),
            cache_scope: hints.then_some(scope),
        })
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
        let mut config = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_tasks()
                .build(),
        )
        .with_server_info(
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                .with_title("Message Batches: cancel, inspect, list")
                .with_description(env!("CARGO_PKG_DESCRIPTION")),
        )
        .with_instructions(INSTRUCTIONS);
        skills::declare(&mut config.capabilities);
        config
    }

    /// The skill, to a client that declared the skills extension (see [`skills`]).
    async fn list_skills(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListSkillsResult, ErrorData> {
        Ok(skills::catalog()
            .map(|c| c.list_skills())
            .unwrap_or_default())
    }

    async fn get_skill(
        &self,
        request: GetSkillRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetSkillResult, ErrorData> {
        match skills::catalog() {
            Some(catalog) => catalog.get_skill(&request.uri),
            None => Err(ErrorData::invalid_params(
                format!("unknown skill {}", request.uri),
                None,
            )),
        }
    }

    /// The skill's file, listed only to a client that declared the skills extension: to any
    /// other this server has no resources (they install the skill with `install-skill`).
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let declared = skills::client_declares_skills(context.client_capabilities().as_ref());
        let listed = match skills::catalog() {
            Some(catalog) if declared => catalog.resources(),
            _ => Vec::new(),
        };
        Ok(ListResourcesResult::with_all_items(listed))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        skills::catalog()
            .and_then(|c| c.read_resource(&request.uri))
            .map(Into::into)
            .ok_or_else(|| ErrorData::resource_not_found(request.uri, None))
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

/// A single cancel's answer; a refusal while canceling reads as the cancel under way that it
/// is, and says so.
fn cancel_report(batch: MessageBatch, context: Context, refused: bool) -> CallToolResult {
    let mut report = BatchReport::new(batch, context);
    if refused {
        report.note.insert_str(
            0,
            "The API refused this cancel because one is already under way: the batch is \
             `canceling`. ",
        );
    }
    batch_result(report)
}

/// The answer of a cancel followed for `held` of the `asked` seconds (a task follows them
/// all): the batch as last seen, `timed_out` when it had not ended, and what to call next.
/// The waiting call and a task's `completed` result are this same answer.
pub(crate) fn waited_result(
    batch: MessageBatch,
    asked: u32,
    held: u32,
    refused: bool,
) -> CallToolResult {
    let ended = batch.processing_status.is_ended();
    let mut report = BatchReport::new(batch, Context::Waited { seconds: held });
    report.timed_out = Some(!ended);
    if !ended && held < asked {
        report.note.insert_str(
            0,
            &format!(
                "Waited {held} s, not the {asked} s asked: calls held longer are cut by clients \
                 and proxies. "
            ),
        );
    }
    if refused {
        report.note.insert_str(
            0,
            "The API refused this cancel because one is already under way: the batch is \
             `canceling`. ",
        );
    }
    batch_result(report)
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

/// Adds `note` at the end of a result's note: of its structured `note`, when it has one, and of
/// its text, whose last paragraph is that note (so the two stay the same words).
pub(crate) fn add_note(result: &mut CallToolResult, note: &str) {
    let append = |text: &mut String| {
        text.reserve(note.len() + 1);
        text.push(' ');
        text.push_str(note);
    };
    if let Some(ContentBlock::Text(first)) = result.content.first_mut() {
        append(&mut first.text);
    }
    if let Some(serde_json::Value::Object(map)) = result.structured_content.as_mut()
        && let Some(serde_json::Value::String(old)) = map.get_mut("note")
    {
        append(old);
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
        assert_eq!(names.len(), 5, "{names:?}");
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
