//! Confirmation: before any cancel is sent, a person sees what it will stop and approves it, by
//! MCP elicitation (a form the client shows in the middle of the tool call).
//!
//! - [`policy`]: `MSGBATCH_CONFIRM` against what this client can do in this call;
//! - [`form`]: what the person sees (read from one `retrieve` per batch just before asking);
//! - [`pushed`]: the 2025-11-25 way (an `elicitation/create` request mid-call, on stdio);
//! - [`round`]: the 2026-07-28 way (`input_required` with a sealed `requestState`);
//! - [`answer`]: the person's answer, read the same way in both.
//!
//! Both cancel tools go through [`BatchServer::confirm`], which says what to send ([`Gate::Go`],
//! a list of [`Step`]s) or what to answer instead ([`Gate::Answer`]). A batch that has already
//! ended or is already canceling is not offered; the answer says why. Nothing here sends a
//! cancel: a declined, closed, timed-out or unreadable form sends nothing.

pub mod answer;
pub mod form;
pub mod policy;
pub mod pushed;
pub mod round;

use std::time::{Duration, SystemTime};

use futures::stream::{self, StreamExt as _};
use rmcp::RoleServer;
use rmcp::model::{CallToolResponse, CallToolResult, InputResponses};
use rmcp::service::RequestContext;

use super::advice::{self, Operation};
use super::bulk::CONCURRENCY;
use super::bulk_report::{BatchOutcome, OutcomeKind};
use super::report::{BatchReport, Context};
use super::{BatchServer, batch_result, error_result};
use crate::api::{ApiError, BatchId, MessageBatch, ProcessingStatus};
use crate::config::Confirm;
use answer::{Answer, Asked};
use policy::{Decision, Route};

/// How long a form stays valid when not set otherwise: long enough to read it, short enough
/// that an approval does not outlive the state of the batches it showed.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// How this server confirms cancels. Shared by every clone of the server.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub policy: Confirm,
    /// How long a form stays valid (pushed: the wait for the answer; round: the state's expiry).
    pub ttl: Duration,
    /// Whether the transport can carry a request to the client in the middle of a call (stdio
    /// can; stateless HTTP cannot: a 2025-11-25 client there cannot be asked).
    pub can_push: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            policy: Confirm::Auto,
            ttl: DEFAULT_TTL,
            can_push: true,
        }
    }
}

/// One cancel tool call, as the confirmation sees it.
pub(crate) struct Call<'a> {
    /// The tool's name (bound into the sealed state).
    pub tool: &'static str,
    /// Whether this is the several-batch tool (one form with a multi-select).
    pub bulk: bool,
    /// The distinct IDs, in the order given.
    pub ids: &'a [BatchId],
    pub wait_seconds: u32,
    /// A 2026-07-28 retry's `requestState` and `inputResponses`.
    pub request_state: Option<String>,
    pub input_responses: Option<InputResponses>,
}

impl Call<'_> {
    /// What the sealed state is bound to: the tool and its arguments, canonical (the parsed,
    /// distinct IDs in order and the wait), so that a state brought back with other IDs fails.
    fn binding(&self) -> Vec<u8> {
        let ids: Vec<&str> = self.ids.iter().map(BatchId::as_str).collect();
        format!("{}\n{}\n{}", self.tool, self.wait_seconds, ids.join(",")).into_bytes()
    }
}

/// One ID's part of the call after confirmation.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send the cancel.
    Cancel(BatchId),
    /// Send nothing; this is its outcome (kept, or not offered and why).
    Settled(BatchOutcome),
}

/// What the confirmation came to.
#[derive(Debug)]
pub(crate) enum Gate {
    /// Go on with these steps; `note` goes first in the answer's note.
    Go {
        steps: Vec<Step>,
        note: Option<String>,
    },
    /// Answer this, and send nothing.
    Answer(CallToolResponse),
}

impl Gate {
    fn answer(result: CallToolResult) -> Self {
        Self::Answer(result.into())
    }
}

/// The batches read just before asking: offered, or not offered with why.
struct Looked {
    offered: Vec<MessageBatch>,
    not_offered: Vec<BatchOutcome>,
    /// For one batch, the answer to give instead of a form when it is not offered.
    single_answer: Option<CallToolResult>,
}

impl BatchServer {
    /// Decides, and if need be asks the person, before a cancel tool sends anything.
    pub(crate) async fn confirm(&self, ctx: &RequestContext<RoleServer>, call: Call<'_>) -> Gate {
        let settings = self.confirm;
        let all = || call.ids.iter().cloned().map(Step::Cancel).collect();
        if settings.policy == Confirm::Never {
            return Gate::Go {
                steps: all(),
                note: None,
            };
        }
        if let Some(token) = call.request_state.as_deref() {
            return self.resume(&call, token);
        }
        let client = policy::Client::of(ctx);
        match policy::decide(settings.policy, client, settings.can_push) {
            Decision::Go => Gate::Go {
                steps: all(),
                note: None,
            },
            Decision::GoUnconfirmed(why) => {
                // Said once at info (each cancel's own line is the audit line; the answer says
                // it too): on a busy HTTP server the same long sentence per call was most of
                // the log. Each call's is at debug.
                if why.first_time() {
                    tracing::info!(
                        tool = call.tool,
                        reason = why.reason(),
                        "cancels go without confirmation (said once; \
                         RUST_LOG=msgbatch_mcp=debug shows each)"
                    );
                } else {
                    tracing::debug!(
                        tool = call.tool,
                        reason = why.reason(),
                        "cancel without confirmation"
                    );
                }
                Gate::Go {
                    steps: all(),
                    note: Some(policy::unconfirmed_note(why)),
                }
            }
            Decision::Refuse(why) => {
                tracing::info!(
                    tool = call.tool,
                    reason = why.reason(),
                    "cancel refused: no way to confirm"
                );
                Gate::answer(error_result(policy::refusal(why, call.tool)))
            }
            // Boxed: asking (reading the batches, the form, the wait for the answer) is most of
            // this future's size, and without the box every cancel's future, asked or not, would
            // carry it (rmcp moves that future into a box and a task: copies of every byte).
            Decision::Ask(route) => Box::pin(self.ask(ctx, &call, route)).await,
        }
    }

    async fn ask(&self, ctx: &RequestContext<RoleServer>, call: &Call<'_>, route: Route) -> Gate {
        let looked = self.look(call).await;
        if let Some(answer) = looked.single_answer {
            return Gate::answer(answer);
        }
        if looked.offered.is_empty() {
            // Several batches, none of them cancelable: nobody to ask, nothing to send.
            return Gate::Go {
                steps: settled_in_order(call.ids, &[], &looked.not_offered, None),
                note: Some(
                    "None of these batches could be canceled, so the person was not asked and \
                     nothing was sent."
                        .to_owned(),
                ),
            };
        }
        let now = SystemTime::now();
        let not_offered: Vec<form::NotOffered> = looked
            .not_offered
            .iter()
            .map(|o| form::NotOffered {
                id: o.message_batch_id.clone(),
                why: not_offered_why(o),
            })
            .collect();
        let request = if call.bulk {
            form::bulk(&looked.offered, &not_offered, now)
        } else {
            form::single(&looked.offered[0], now)
        };
        let ttl = self.confirm.ttl;
        match route {
            Route::Round => {
                let state = round::State {
                    expires_ms: 0,
                    offered: looked.offered,
                    not_offered: looked.not_offered,
                };
                match round::ask(&self.sealer, ttl, &call.binding(), request, state) {
                    Ok(input_required) => {
                        tracing::info!(tool = call.tool, "asking the person (input_required)");
                        Gate::Answer(input_required.into())
                    }
                    Err(e) => Gate::answer(error_result(format!(
                        "The confirmation form could not be prepared: {e}. Nothing was sent."
                    ))),
                }
            }
            Route::Push => {
                tracing::info!(tool = call.tool, "asking the person (elicitation/create)");
                let ids: Vec<String> = looked.offered.iter().map(|b| b.id.clone()).collect();
                let asked = asked(call, &ids);
                match pushed::ask(ctx, request, asked, ttl).await {
                    Ok(answer) => settle(call, looked.offered, looked.not_offered, answer),
                    Err(why) => Gate::answer(error_result(format!(
                        "The confirmation form could not be shown to the person ({why}), so \
                         nothing was sent. Tell the person; they can cancel in the Claude \
                         Console, or from a client that shows MCP forms."
                    ))),
                }
            }
        }
    }

    /// A 2026-07-28 retry: the state is opened (or refused), then the answer settles the call.
    fn resume(&self, call: &Call<'_>, token: &str) -> Gate {
        let opened = round::resume(
            &self.sealer,
            self.confirm.ttl,
            &call.binding(),
            token,
            call.input_responses.as_ref(),
        );
        match opened {
            Err(refused) => {
                tracing::info!(tool = call.tool, reason = %refused, "confirmation state refused");
                Gate::answer(error_result(refused.to_string()))
            }
            Ok((state, result)) => {
                let ids: Vec<String> = state.offered.iter().map(|b| b.id.clone()).collect();
                if ids.is_empty() {
                    return Gate::answer(error_result(
                        "The confirmation's requestState offers no batch. Nothing was sent."
                            .to_owned(),
                    ));
                }
                let answer = Answer::read(&result, asked(call, &ids));
                settle(call, state.offered, state.not_offered, answer)
            }
        }
    }

    /// One `retrieve` per batch, just before asking; the ended and canceling ones are not
    /// offered.
    async fn look(&self, call: &Call<'_>) -> Looked {
        let read: Vec<(BatchId, Result<MessageBatch, ApiError>)> = stream::iter(call.ids.to_vec())
            .map(|id| async move {
                let got = self.client.retrieve(&id).await;
                (id, got)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut looked = Looked {
            offered: Vec::new(),
            not_offered: Vec::new(),
            single_answer: None,
        };
        for (id, got) in read {
            let kind = match &got {
                Ok(b) => match b.processing_status.known() {
                    Some(ProcessingStatus::Ended) => Some(OutcomeKind::AlreadyEnded),
                    Some(ProcessingStatus::Canceling) => Some(OutcomeKind::AlreadyCanceling),
                    // In progress, or a status this server does not know: offered, shown as sent.
                    _ => None,
                },
                Err(ApiError::Status { status: 404, .. }) => Some(OutcomeKind::NotFound),
                Err(_) => Some(OutcomeKind::Failed),
            };
            if !call.bulk {
                looked.single_answer = kind.map(|_| self.single_not_offered(&id, got.as_ref()));
                if let Ok(b) = got
                    && looked.single_answer.is_none()
                {
                    looked.offered.push(b);
                }
                continue;
            }
            match (kind, got) {
                (None, Ok(b)) => looked.offered.push(b),
                (Some(kind), Ok(b)) => {
                    looked
                        .not_offered
                        .push(BatchOutcome::with_batch(id.as_str(), kind, &b));
                }
                (Some(kind), Err(e)) => {
                    let reason = advice::explain(Operation::Get(id.as_str()), &e);
                    looked.not_offered.push(BatchOutcome::without_batch(
                        id.as_str(),
                        kind,
                        short(reason),
                    ));
                }
                (None, Err(_)) => {}
            }
        }
        looked
    }

    /// The answer for one batch that is not offered: nobody is asked, nothing is sent.
    fn single_not_offered(
        &self,
        id: &BatchId,
        got: Result<&MessageBatch, &ApiError>,
    ) -> CallToolResult {
        match got {
            Ok(b) if b.processing_status.is_ended() => {
                let report = BatchReport::new(b.clone(), Context::Get);
                error_result(format!(
                    "Batch {id} has already ended, so there is nothing to cancel: nothing was \
                     sent and the person was not asked.\n\n{}",
                    report.text()
                ))
            }
            Ok(b) => {
                let mut report = BatchReport::new(b.clone(), Context::Get);
                report.note = format!(
                    "A cancel is already under way (the batch is `canceling`), so no new cancel \
                     was sent and the person was not asked. {}",
                    report.note
                );
                batch_result(report)
            }
            Err(e) => {
                tracing::warn!(error = %e, "retrieve before confirming failed");
                error_result(format!(
                    "Before asking the person to confirm, the batch could not be read; nothing \
                     was sent. {}",
                    advice::explain(Operation::Get(id.as_str()), e)
                ))
            }
        }
    }
}

fn asked<'a>(call: &Call<'_>, ids: &'a [String]) -> Asked<'a> {
    match (call.bulk, ids.first()) {
        (false, Some(id)) => Asked::Single(id),
        _ => Asked::Bulk(ids),
    }
}

/// What the person's answer means for the call.
fn settle(
    call: &Call<'_>,
    offered: Vec<MessageBatch>,
    not_offered: Vec<BatchOutcome>,
    answer: Answer,
) -> Gate {
    tracing::info!(tool = call.tool, answer = ?answer, "confirmation answered");
    match answer {
        Answer::Accept(chosen) if !chosen.is_empty() => {
            let kept: Vec<&str> = offered
                .iter()
                .map(|b| b.id.as_str())
                .filter(|id| !chosen.iter().any(|c| c == id))
                .collect();
            let note = if !call.bulk {
                "The person confirmed this cancel in a form before it was sent.".to_owned()
            } else if kept.is_empty() {
                format!(
                    "The person confirmed all {} batches offered in a form before the cancels \
                     were sent.",
                    chosen.len()
                )
            } else {
                format!(
                    "The person confirmed {} of the {} batches offered in a form; kept (left \
                     unchecked, nothing sent): {}.",
                    chosen.len(),
                    offered.len(),
                    kept.join(", ")
                )
            };
            Gate::Go {
                steps: settled_in_order(call.ids, &offered, &not_offered, Some(&chosen)),
                note: Some(note),
            }
        }
        Answer::Unreadable(why) => Gate::answer(error_result(format!(
            "The confirmation form's answer could not be read ({why}), so nothing was sent. Call \
             the tool again to ask the person again."
        ))),
        nothing => {
            let text = answer::nothing_sent(&nothing);
            if call.bulk {
                Gate::Go {
                    steps: settled_in_order(call.ids, &offered, &not_offered, None),
                    note: Some(text),
                }
            } else {
                match offered.into_iter().next() {
                    Some(b) => {
                        let mut report = BatchReport::new(b, Context::Get);
                        report.note = text;
                        Gate::answer(batch_result(report))
                    }
                    None => Gate::answer(CallToolResult::success(vec![
                        rmcp::model::ContentBlock::text(text),
                    ])),
                }
            }
        }
    }
}

/// Every ID in the order given: canceled if `chosen` names it, kept if it was offered, else its
/// not-offered outcome.
fn settled_in_order(
    ids: &[BatchId],
    offered: &[MessageBatch],
    not_offered: &[BatchOutcome],
    chosen: Option<&[String]>,
) -> Vec<Step> {
    ids.iter()
        .filter_map(|id| {
            if chosen.is_some_and(|c| c.iter().any(|c| c == id.as_str())) {
                return Some(Step::Cancel(id.clone()));
            }
            if let Some(b) = offered.iter().find(|b| b.id == id.as_str()) {
                return Some(Step::Settled(BatchOutcome::with_batch(
                    id.as_str(),
                    OutcomeKind::Kept,
                    b,
                )));
            }
            not_offered
                .iter()
                .find(|o| o.message_batch_id == id.as_str())
                .cloned()
                .map(Step::Settled)
        })
        .collect()
}

/// Why a batch is not offered, for the form.
fn not_offered_why(o: &BatchOutcome) -> String {
    match o.outcome {
        OutcomeKind::AlreadyEnded => "it has already ended; there is nothing to cancel".to_owned(),
        OutcomeKind::AlreadyCanceling => "a cancel is already under way (canceling)".to_owned(),
        OutcomeKind::NotFound => "no such batch is visible to this API key".to_owned(),
        _ => "it could not be read just now".to_owned(),
    }
}

/// A reason kept short enough to travel in a sealed state.
fn short(mut reason: String) -> String {
    const MAX: usize = 400;
    if let Some((i, _)) = reason.char_indices().nth(MAX) {
        reason.truncate(i);
        reason.push('…');
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[&str]) -> Vec<BatchId> {
        raw.iter().map(|r| BatchId::parse(r).unwrap()).collect()
    }

    fn call<'a>(tool: &'static str, ids: &'a [BatchId], wait_seconds: u32) -> Call<'a> {
        Call {
            tool,
            bulk: tool.ends_with('s'),
            ids,
            wait_seconds,
            request_state: None,
            input_responses: None,
        }
    }

    #[test]
    fn the_binding_changes_with_the_tool_the_ids_and_the_wait() {
        let ab = ids(&["msgbatch_a", "msgbatch_b"]);
        let ba = ids(&["msgbatch_b", "msgbatch_a"]);
        let a = ids(&["msgbatch_a"]);
        let base = call("cancel_message_batches", &ab, 0).binding();
        assert_eq!(base, call("cancel_message_batches", &ab, 0).binding());
        for other in [
            call("cancel_message_batches", &ba, 0),
            call("cancel_message_batches", &a, 0),
            call("cancel_message_batches", &ab, 5),
            call("cancel_message_batch", &ab, 0),
        ] {
            assert_ne!(base, other.binding());
        }
    }

    #[test]
    fn steps_keep_the_given_order_and_cancel_only_the_chosen() {
        let given = ids(&["msgbatch_a", "msgbatch_gone", "msgbatch_b"]);
        let batch = |id: &str| -> MessageBatch {
            serde_json::from_value(serde_json::json!({
                "id": id, "type": "message_batch", "processing_status": "in_progress",
                "request_counts": {"processing": 1, "succeeded": 0, "errored": 0,
                                   "canceled": 0, "expired": 0},
                "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
                "archived_at": null, "cancel_initiated_at": null, "ended_at": null,
                "results_url": null
            }))
            .unwrap()
        };
        let offered = [batch("msgbatch_a"), batch("msgbatch_b")];
        let gone = BatchOutcome::without_batch("msgbatch_gone", OutcomeKind::NotFound, "x".into());
        let chosen = ["msgbatch_b".to_owned()];
        let steps = settled_in_order(&given, &offered, &[gone], Some(&chosen));
        let shown: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Cancel(id) => format!("cancel {id}"),
                Step::Settled(o) => format!("{:?} {}", o.outcome, o.message_batch_id),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "Kept msgbatch_a",
                "NotFound msgbatch_gone",
                "cancel msgbatch_b"
            ]
        );
        // Nothing chosen: nothing is canceled.
        let steps = settled_in_order(&given, &offered, &[], None);
        assert!(steps.iter().all(|s| matches!(s, Step::Settled(_))));
    }
}
