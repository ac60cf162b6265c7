//! Creating a task after the cancel, and answering `tasks/get` / `tasks/cancel` from the API.
//!
//! Each `tasks/get` retrieves the task's batches once (at most [`bulk::CONCURRENCY`] at a
//! time) and answers by what the API says: `working` while a canceled batch is not `ended`
//! and the deadline has not passed, otherwise `completed` with the result the waiting call
//! would have given at that moment (a wait that ran out is `timed_out`, not an error). The
//! advised poll interval grows with the task's age, from 2 s to 10 s: never busier than the
//! waiting call's own polling (1 s, then doubling, to 10 s).

use futures::stream::{self, StreamExt as _};
use rmcp::ErrorData;
use rmcp::model::{
    CallToolResponse, CallToolResult, CreateTaskResult, DetailedTask, GetTaskResult, JsonObject,
    Task, TaskPayload, TaskStatus,
};

use super::token::{Report, TaskState, now_ms, rfc3339};
use crate::api::{ApiError, BatchId, MessageBatch};
use crate::server::advice::{self, Operation};
use crate::server::bulk::{self, CONCURRENCY};
use crate::server::bulk_report::{BatchOutcome, OutcomeKind};
use crate::server::{BatchServer, error_result, wait};

/// The advised gap between polls for a task `age_ms` old.
pub fn poll_interval_ms(age_ms: u64) -> u64 {
    (age_ms / 2).clamp(2_000, 10_000)
}

/// Said when following stops on `tasks/cancel`.
pub const CANCELLED_MESSAGE: &str = "Stopped following (tasks/cancel). The batch cancel itself \
stands: a cancel cannot be undone, and the batch goes on to `ended` by itself. Call \
get_message_batch to see where it is.";

impl BatchServer {
    /// The answer to a cancel call that is now followed as a task: the task, or, if its ID
    /// cannot be sealed, the state as it is now with the reason.
    pub(crate) fn start_task(&self, state: &TaskState, message: String) -> CallToolResponse {
        match state.seal(self.sealer()) {
            Ok(id) => {
                tracing::info!(
                    batches = state.entries.len(),
                    wait_seconds = state.wait_seconds,
                    "task created"
                );
                let task = task(&id, state, TaskStatus::Working, message, state.created_ms);
                CallToolResponse::Task(CreateTaskResult::new(task))
            }
            Err(e) => error_result(format!(
                "The cancel was sent, but this server could not create a task to follow it ({e}). \
                 Call get_message_batch to follow the batch."
            ))
            .into(),
        }
    }

    /// `tasks/get`.
    pub(crate) async fn task_status(&self, task_id: &str) -> Result<GetTaskResult, ErrorData> {
        let state = TaskState::open(self.sealer(), task_id)
            .map_err(|e| ErrorData::invalid_params(format!("Unknown task: {e}."), None))?;
        let now = now_ms();
        if self.tasks.is_cancelled(task_id) {
            let t = task(
                task_id,
                &state,
                TaskStatus::Cancelled,
                CANCELLED_MESSAGE.to_owned(),
                now,
            );
            return Ok(GetTaskResult::new(DetailedTask::new(
                t,
                TaskPayload::Cancelled,
            )));
        }
        let past = now >= state.deadline_ms;
        let ids: Vec<(usize, BatchId)> = state
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| has_batch(e.outcome))
            .filter_map(|(i, e)| BatchId::parse(&e.id).ok().map(|id| (i, id)))
            .collect();
        let fetched: Vec<(usize, Result<MessageBatch, ApiError>)> = stream::iter(ids)
            .map(|(i, id)| async move { (i, self.client.retrieve(&id).await) })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let (outcome, message) = match state.report {
            Report::Single { refused } => single(&state, refused, fetched, past),
            Report::Bulk { given } => many(&state, given, fetched, past),
        };
        let detailed = match outcome {
            Some(mut result) => {
                if let Some(note) = &state.note {
                    crate::server::add_note(&mut result, note);
                }
                self.origin.stamp(&mut result);
                let t = task(task_id, &state, TaskStatus::Completed, message, now);
                DetailedTask::new(
                    t,
                    TaskPayload::Completed {
                        result: as_object(&result)?,
                    },
                )
            }
            None => {
                let t = task(task_id, &state, TaskStatus::Working, message, now);
                DetailedTask::new(t, TaskPayload::Working)
            }
        };
        Ok(GetTaskResult::new(detailed))
    }

    /// `tasks/cancel`: stops following (this instance answers `cancelled` from now on).
    pub(crate) fn cancel_following(&self, task_id: &str) -> Result<(), ErrorData> {
        TaskState::open(self.sealer(), task_id)
            .map_err(|e| ErrorData::invalid_params(format!("Unknown task: {e}."), None))?;
        tracing::info!("task cancelled: following stops; the batch cancel stands");
        self.tasks.cancel(task_id);
        Ok(())
    }
}

/// Whether an outcome has a batch to retrieve.
fn has_batch(o: OutcomeKind) -> bool {
    matches!(
        o,
        OutcomeKind::Canceling | OutcomeKind::AlreadyCanceling | OutcomeKind::AlreadyEnded
    )
}

/// One batch: completed once ended (or past the deadline), with the waiting call's answer.
fn single(
    state: &TaskState,
    refused: bool,
    fetched: Vec<(usize, Result<MessageBatch, ApiError>)>,
    past: bool,
) -> (Option<CallToolResult>, String) {
    let id = state.entries.first().map_or("?", |e| e.id.as_str());
    match fetched.into_iter().next().map(|(_, r)| r) {
        Some(Ok(b)) if b.processing_status.is_ended() || past => {
            let message = wait::message(&b);
            let w = state.wait_seconds;
            (
                Some(crate::server::waited_result(b, w, w, refused)),
                message,
            )
        }
        Some(Ok(b)) => (None, wait::message(&b)),
        Some(Err(e)) if past => (
            Some(error_result(format!(
                "The cancel was accepted (the batch is canceling), but following it failed. {} \
                 Call get_message_batch to see where it is now.",
                advice::explain(Operation::Get(id), &e)
            ))),
            "following failed".to_owned(),
        ),
        Some(Err(e)) => (
            None,
            format!("could not read batch {id} this time ({e}); the next poll tries again"),
        ),
        None => (
            Some(error_result(format!(
                "Task for batch {id} holds no batch to follow. Call get_message_batch."
            ))),
            "nothing to follow".to_owned(),
        ),
    }
}

/// Several batches: completed once every canceled one has ended (or past the deadline).
fn many(
    state: &TaskState,
    given: u32,
    fetched: Vec<(usize, Result<MessageBatch, ApiError>)>,
    past: bool,
) -> (Option<CallToolResult>, String) {
    let mut outcomes: Vec<BatchOutcome> = state
        .entries
        .iter()
        .map(|e| {
            BatchOutcome::without_batch(&e.id, e.outcome, e.reason.clone().unwrap_or_default())
        })
        .collect();
    let mut still = 0usize;
    let mut unread = 0usize;
    let mut first_still = None;
    for (i, result) in fetched {
        let Some(o) = outcomes.get_mut(i) else {
            continue;
        };
        match result {
            Ok(b) => {
                o.update(&b);
                o.reason = None;
                if !b.processing_status.is_ended() {
                    still += 1;
                    first_still.get_or_insert_with(|| {
                        format!("{} {}", o.message_batch_id, wait::message(&b))
                    });
                }
            }
            Err(e) => {
                unread += 1;
                still += 1;
                o.reason = Some(format!(
                    "The cancel was accepted, but following it failed. {} Call \
                     get_message_batch to see where it is now.",
                    advice::explain(Operation::Get(&o.message_batch_id), &e)
                ));
            }
        }
    }
    let followed = state
        .entries
        .iter()
        .filter(|e| has_batch(e.outcome))
        .count();
    let mut message = format!("{} of {followed} batches ended", followed - still);
    if let Some(s) = first_still {
        message.push_str(&format!("; {s}"));
    }
    if unread > 0 {
        message.push_str(&format!("; {unread} could not be read this time"));
    }
    if still > 0 && !past {
        return (None, message);
    }
    let w = state.wait_seconds;
    (
        Some(bulk::bulk_result(outcomes, given as usize, w, w, None)),
        message,
    )
}

fn task(id: &str, state: &TaskState, status: TaskStatus, message: String, now: u64) -> Task {
    Task::new(id, status, rfc3339(state.created_ms), rfc3339(now))
        .with_status_message(message)
        .with_ttl_ms(state.ttl_ms())
        .with_poll_interval_ms(poll_interval_ms(now.saturating_sub(state.created_ms)))
}

fn as_object(result: &CallToolResult) -> Result<JsonObject, ErrorData> {
    match serde_json::to_value(result) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(ErrorData::internal_error(
            "could not write the task's result",
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_advised_from_2_to_10_seconds_as_the_task_ages() {
        assert_eq!(poll_interval_ms(0), 2_000);
        assert_eq!(poll_interval_ms(9_000), 4_500);
        assert_eq!(poll_interval_ms(600_000), 10_000);
    }
}
