//! `cancel_message_batches`: "stop all my running batches" in one call, one approval and one
//! answer, instead of one tool call (and one batch object in the context) per batch.
//!
//! Every ID is checked before anything is sent: one invalid ID refuses the whole call. Repeats
//! collapse to one. Then one cancel per distinct ID, [`CONCURRENCY`] at a time, each through
//! the same [`BatchServer::cancel_once`] as the single tool, and each independent: a failure
//! is that ID's outcome and never stops the others. With `wait_seconds`, the batches are
//! followed together until all have ended, progress counting batches ended out of all.
//! A client cancel drops the whole future: cancels not yet sent are never sent.

use std::collections::HashSet;
use std::time::Duration;

use futures::stream::{self, FuturesUnordered, StreamExt as _};
use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResponse, CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::advice::{self, Operation};
use super::bulk_report::{BatchOutcome, BulkReport, OutcomeKind};
use super::confirm::{self, Gate, Step};
use super::params::{BulkCancelParams, MAX_BULK_IDS, MAX_WAIT_SECONDS};
use super::wait::{self, Progress};
use super::{BatchServer, Cancel, add_note, error_result, structured_result};
use crate::api::batch_id::EXAMPLE_ID;
use crate::api::types::Status;
use crate::api::{ApiError, BatchId, InvalidBatchId, MessageBatch};

/// Cancels in flight at once for one call. The client's connection pool and retry policy apply
/// to each as for a single cancel; four keeps a call of 100 IDs to a few seconds without
/// bursting into the API's rate limit on batch requests (50 a minute on the lowest tier).
pub const CONCURRENCY: usize = 4;

const BULK_DESCRIPTION: &str = "Cancel several Anthropic Message Batches in one call (1-100 \
IDs; a repeated ID counts once). A cancel cannot be undone: call list_message_batches first and \
pass only the IDs the person meant to stop. Each ID gets its own outcome (canceling, already \
canceling, already ended, not found, failed); one failure never stops the others, and one \
invalid ID refuses the whole call before anything is sent. Not immediate: batches become \
`canceling`, then `ended`; pass wait_seconds to wait for all to end. For one batch, use \
cancel_message_batch.";

#[tool_router(router = bulk_tool_router, vis = "pub(super)")]
impl BatchServer {
    #[tool(
        name = "cancel_message_batches",
        title = "Cancel message batches",
        description = BULK_DESCRIPTION,
        output_schema = schema_for_output::<BulkReport>(),
        annotations(
            title = "Cancel message batches",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn cancel_message_batches(
        &self,
        Parameters(p): Parameters<BulkCancelParams>,
        RequestState(request_state): RequestState,
        InputResponses(input_responses): InputResponses,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let ids = match distinct_ids(&p.message_batch_ids) {
            Ok(ids) => ids,
            Err(msg) => return error_result(msg).into(),
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
        let given = p.message_batch_ids.len();
        let call = confirm::Call {
            tool: "cancel_message_batches",
            bulk: true,
            ids: &ids,
            wait_seconds,
            request_state,
            input_responses,
        };
        let work = async {
            match self.confirm(&ctx, call).await {
                Gate::Answer(answer) => answer,
                // A client with tasks gets one task for the whole set (see `tasks`), once the
                // person said which batches to cancel.
                Gate::Go { steps, note } if wait_seconds > 0 && super::tasks::declared(&ctx) => {
                    self.cancel_many_as_task(steps, given, wait_seconds, note)
                        .await
                }
                Gate::Go { steps, note } => {
                    let mut result = self.cancel_many(steps, given, wait_seconds, progress).await;
                    if let Some(note) = note {
                        add_note(&mut result, &note);
                    }
                    result.into()
                }
            }
        };
        self.until_cancelled(&ctx, work).await
    }
}

/// One distinct ID on its way through the call: its outcome so far, and the batch as last
/// seen (which following it to `ended` starts from).
struct Entry {
    id: BatchId,
    outcome: BatchOutcome,
    batch: Option<MessageBatch>,
}

impl Entry {
    /// One ID's [`Cancel`] as the outcome the person reads.
    fn new(id: BatchId, cancel: Cancel) -> Self {
        let (outcome, batch) = match cancel {
            // The API answered the cancel with a batch that had already ended.
            Cancel::Accepted(b) if b.processing_status.is_ended() => (
                BatchOutcome::with_batch(id.as_str(), OutcomeKind::AlreadyEnded, &b),
                Some(b),
            ),
            Cancel::Accepted(b) => (
                BatchOutcome::with_batch(id.as_str(), OutcomeKind::Canceling, &b),
                Some(b),
            ),
            Cancel::AlreadyCanceling(b) => (
                BatchOutcome::with_batch(id.as_str(), OutcomeKind::AlreadyCanceling, &b),
                Some(b),
            ),
            Cancel::AlreadyEnded(b) => (
                BatchOutcome::with_batch(id.as_str(), OutcomeKind::AlreadyEnded, &b),
                Some(b),
            ),
            Cancel::Failed(e) => {
                let kind = if matches!(e, ApiError::Status { status: 404, .. }) {
                    OutcomeKind::NotFound
                } else {
                    OutcomeKind::Failed
                };
                let reason = advice::explain(Operation::Cancel(id.as_str()), &e);
                (BatchOutcome::without_batch(id.as_str(), kind, reason), None)
            }
        };
        Self { id, outcome, batch }
    }

    fn ended(&self) -> bool {
        self.outcome
            .processing_status
            .as_ref()
            .is_some_and(Status::is_ended)
    }
}

impl BatchServer {
    /// Sends the cancels among `steps` (the others are settled already: kept by the person, or
    /// not offered), [`CONCURRENCY`] at a time; outcomes in the order the IDs were given
    /// (`buffered`, not `buffer_unordered`).
    async fn cancel_all(&self, steps: Vec<Step>) -> Vec<Entry> {
        stream::iter(steps)
            .map(|step| async move {
                match step {
                    Step::Cancel(id) => {
                        let cancel = super::audit::noted(&id, self.cancel_once(&id).await);
                        Some(Entry::new(id, cancel))
                    }
                    Step::Settled(outcome) => {
                        BatchId::parse(&outcome.message_batch_id)
                            .ok()
                            .map(|id| Entry {
                                id,
                                outcome,
                                batch: None,
                            })
                    }
                }
            })
            .buffered(CONCURRENCY)
            .filter_map(|e| async move { e })
            .collect()
            .await
    }

    /// The cancels, then one task that follows every batch still `canceling`; answered at
    /// once with the outcomes when there is none to follow.
    async fn cancel_many_as_task(
        &self,
        steps: Vec<Step>,
        given: usize,
        wait_seconds: u32,
        note: Option<String>,
    ) -> CallToolResponse {
        let entries = self.cancel_all(steps).await;
        let to_follow = entries
            .iter()
            .filter(|e| e.batch.is_some() && !e.ended())
            .count();
        if to_follow == 0 {
            let outcomes = entries.into_iter().map(|e| e.outcome).collect();
            let mut result = bulk_result(outcomes, given, 0, wait_seconds, None);
            if let Some(note) = &note {
                add_note(&mut result, note);
            }
            return result.into();
        }
        let sealed = entries
            .iter()
            .map(|e| super::tasks::token::Entry {
                id: e.id.as_str().to_owned(),
                outcome: e.outcome.outcome,
                reason: e.outcome.reason.clone(),
            })
            .collect();
        let mut state = super::tasks::token::TaskState::new(
            super::tasks::token::Report::Bulk {
                given: given as u32,
            },
            sealed,
            wait_seconds,
            self.tasks.ttl_secs_for(wait_seconds),
        );
        state.note = note;
        let ended = entries.iter().filter(|e| e.ended()).count();
        let all = entries.iter().filter(|e| e.batch.is_some()).count();
        self.start_task(&state, format!("{ended} of {all} batches ended"))
    }

    /// The cancels among `steps`, then (if asked) following them to `ended`.
    async fn cancel_many(
        &self,
        steps: Vec<Step>,
        given: usize,
        wait_seconds: u32,
        progress: Option<Progress>,
    ) -> CallToolResult {
        let sends = steps.iter().any(|s| matches!(s, Step::Cancel(_)));
        let mut entries = self.cancel_all(steps).await;
        let mut waited = 0;
        let mut busy = None;
        if wait_seconds > 0 && sends {
            // One slot of the server's bound on waiting calls, held for the whole wait: the
            // call, not each batch, is what waits.
            match self.waits.try_begin() {
                Some(_slot) => {
                    // Never held past what clients tolerate (see `wait::DEFAULT_HOLD_SECS`).
                    let held = wait_seconds.min(self.hold_secs);
                    let wait = Duration::from_secs(u64::from(held));
                    Box::pin(self.follow_all(&mut entries, wait, progress.as_ref())).await;
                    waited = held;
                }
                None => busy = Some(self.waits.busy_note()),
            }
        }
        let outcomes = entries.into_iter().map(|e| e.outcome).collect();
        bulk_result(outcomes, given, waited, wait_seconds, busy)
    }

    /// Follows every batch still `canceling` until all have ended or `wait` has passed, with
    /// progress as batches ended out of all the batches that exist. A batch whose follow-up
    /// fails keeps its last known state, with the failure as its reason.
    async fn follow_all(&self, entries: &mut [Entry], wait: Duration, progress: Option<&Progress>) {
        let all = entries.iter().filter(|e| e.batch.is_some()).count();
        let mut ended = entries.iter().filter(|e| e.ended()).count();
        let mut following: FuturesUnordered<_> = entries
            .iter_mut()
            .filter(|e| {
                !e.ended()
                    && matches!(
                        e.outcome.outcome,
                        OutcomeKind::Canceling | OutcomeKind::AlreadyCanceling
                    )
            })
            .filter_map(|e| {
                let batch = e.batch.clone()?;
                Some(async move {
                    let result = wait::until_ended(&self.client, &e.id, batch, wait, None).await;
                    (e, result)
                })
            })
            .collect();
        report_ended(progress, ended, all).await;
        while let Some((entry, result)) = following.next().await {
            match result {
                Ok(batch) => {
                    entry.outcome.update(&batch);
                    if entry.ended() {
                        ended += 1;
                        report_ended(progress, ended, all).await;
                    }
                    entry.batch = Some(batch);
                }
                // The cancel went through; only following it failed.
                Err(e) => {
                    tracing::warn!(id = %entry.id, error = ?e.to_string(), "following a cancel failed");
                    entry.outcome.reason = Some(format!(
                        "The cancel was accepted, but following it failed. {} Call \
                         get_message_batch to see where it is now.",
                        advice::explain(Operation::Get(entry.id.as_str()), &e)
                    ));
                }
            }
        }
    }
}

/// The bulk answer, after following the batches for `waited` of the `asked` seconds (0: not
/// followed): the waiting call and a task's `completed` result are this same answer. When
/// followed and some batch is not `ended`, it says `timed_out`.
pub(crate) fn bulk_result(
    outcomes: Vec<BatchOutcome>,
    given: usize,
    waited: u32,
    asked: u32,
    busy: Option<String>,
) -> CallToolResult {
    let mut report = BulkReport::new(outcomes, given, waited);
    if waited > 0 {
        let still = report.outcomes.iter().any(|o| {
            o.processing_status.is_some()
                && !o.processing_status.as_ref().is_some_and(Status::is_ended)
        });
        report.timed_out = Some(still);
        if still && waited < asked {
            report.note = format!(
                "Waited {waited} s, not the {asked} s asked: calls held longer are cut by \
                 clients and proxies. {}",
                report.note
            );
        }
    }
    if let Some(busy) = busy {
        report.note = format!("{busy} {}", report.note);
    }
    let text = report.text();
    let mut result = structured_result(&report, text);
    if report.all_failed() {
        result.is_error = Some(true);
    }
    result
}

/// Sends "k of n batches ended", when the client asked for progress.
async fn report_ended(progress: Option<&Progress>, ended: usize, all: usize) {
    // No batch to follow (every ID failed): nothing to report progress on.
    let Some(p) = progress.filter(|_| all > 0) else {
        return;
    };
    let param = ProgressNotificationParam::new(p.token.clone(), ended as f64)
        .with_total(all as f64)
        .with_message(format!("{ended} of {all} batches ended"));
    if let Err(e) = p.peer.notify_progress(param).await {
        tracing::debug!(error = %e, "progress notification not sent");
    }
}

/// Checks every ID and drops repeats (keeping the first), before anything is sent. One bad ID
/// refuses the call: the person's list is wrong, and canceling the rest of it could stop
/// batches they did not mean to.
fn distinct_ids(raw: &[String]) -> Result<Vec<BatchId>, String> {
    if raw.is_empty() {
        return Err(format!(
            "message_batch_ids is empty: pass 1 to {MAX_BULK_IDS} batch IDs, e.g. \
             [\"{EXAMPLE_ID}\"]. Call list_message_batches to find them. Nothing was sent."
        ));
    }
    if raw.len() > MAX_BULK_IDS {
        return Err(format!(
            "message_batch_ids has {} IDs; at most {MAX_BULK_IDS} are taken in one call. Split \
             them into calls of {MAX_BULK_IDS} or fewer. Nothing was sent: no batch was canceled.",
            raw.len()
        ));
    }
    let mut bad = Vec::new();
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        match BatchId::parse(r) {
            Ok(id) => {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            Err(e) => bad.push(format!("message_batch_ids[{i}] {}", short_reason(&e))),
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "{} of the {} IDs {} not valid batch IDs ({}). A batch ID is made of letters, \
             digits, '_' and '-', e.g. {EXAMPLE_ID}; call list_message_batches to find the \
             right ones. Nothing was sent: no batch was canceled.",
            bad.len(),
            raw.len(),
            if bad.len() == 1 { "is" } else { "are" },
            bad.join("; ")
        ));
    }
    Ok(ids)
}

fn short_reason(e: &InvalidBatchId) -> String {
    match e {
        InvalidBatchId::Empty => "is empty".to_owned(),
        InvalidBatchId::TooLong(n) => format!("is {n} characters long"),
        InvalidBatchId::BadChar(c) => format!("contains {c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn repeats_collapse_in_first_given_order() {
        let ids = distinct_ids(&strings(&["b", "a", " b ", "a", "c"])).unwrap();
        let ids: Vec<&str> = ids.iter().map(BatchId::as_str).collect();
        assert_eq!(ids, ["b", "a", "c"]);
    }

    #[test]
    fn one_bad_id_refuses_all_and_names_each() {
        let e = distinct_ids(&strings(&["ok_1", "../x", "", "ok_2"])).unwrap_err();
        assert!(
            e.starts_with("2 of the 4 IDs are not valid batch IDs"),
            "{e}"
        );
        assert!(e.contains("message_batch_ids[1] contains '.'"), "{e}");
        assert!(e.contains("message_batch_ids[2] is empty"), "{e}");
        assert!(
            e.ends_with("Nothing was sent: no batch was canceled."),
            "{e}"
        );
    }

    #[test]
    fn empty_and_too_many_are_refused() {
        assert!(distinct_ids(&[]).unwrap_err().contains("empty"));
        let many: Vec<String> = (0..101).map(|i| format!("msgbatch_{i}")).collect();
        let e = distinct_ids(&many).unwrap_err();
        assert!(
            e.starts_with("message_batch_ids has 101 IDs; at most 100"),
            "{e}"
        );
        assert_eq!(distinct_ids(&many[..100]).unwrap().len(), 100);
    }
}
