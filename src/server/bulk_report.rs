//! What `cancel_message_batches` answers: one outcome per distinct ID, a tally, a summary line,
//! as structured content and as a compact text table.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::types::Status;
use crate::api::{MessageBatch, RequestCounts};

/// What became of one ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The cancel was accepted: the batch is `canceling` (or has ended since, when waited for).
    Canceling,
    /// A cancel had already been asked: the batch was `canceling` before this call.
    AlreadyCanceling,
    /// The batch had already ended: nothing to cancel.
    AlreadyEnded,
    /// No batch with this ID is visible to this API key.
    NotFound,
    /// The cancel failed; `reason` says why and what to do.
    Failed,
    /// Not canceled: the person kept it (left it unchecked in the confirmation form, or declined
    /// the form). Nothing was sent for it.
    Kept,
}

impl OutcomeKind {
    /// All kinds, in the order the summary names them.
    const ALL: [Self; 6] = [
        Self::Canceling,
        Self::AlreadyCanceling,
        Self::AlreadyEnded,
        Self::NotFound,
        Self::Failed,
        Self::Kept,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Canceling => "canceling",
            Self::AlreadyCanceling => "already canceling",
            Self::AlreadyEnded => "already ended",
            Self::NotFound => "not found",
            Self::Failed => "failed",
            Self::Kept => "kept",
        }
    }

    /// Whether this ID's cancel did not happen for a reason the person must look at.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::NotFound | Self::Failed)
    }
}

/// One ID's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchOutcome {
    /// The batch ID (trimmed), in the order first given.
    pub message_batch_id: String,
    /// What became of it.
    pub outcome: OutcomeKind,
    /// The batch's status as last seen (`in_progress`, `canceling`, `ended`, or a newer API's
    /// status as sent), or null when the batch could not be read.
    #[schemars(with = "Option<String>")]
    pub processing_status: Option<Status>,
    /// The batch's request counts as last seen, or null when the batch could not be read.
    pub request_counts: Option<RequestCounts>,
    /// RFC 3339 time processing ended, or null.
    pub ended_at: Option<String>,
    /// URL of the batch's results once it has ended, or null.
    pub results_url: Option<String>,
    /// For `not_found` and `failed`: what happened and what to do next. Also set when
    /// following an accepted cancel to `ended` failed. Otherwise null.
    pub reason: Option<String>,
}

impl BatchOutcome {
    /// An outcome with the batch as the API last described it.
    /// `id` is the one asked about (the batch's own is the same: the client checks that).
    pub fn with_batch(id: &str, outcome: OutcomeKind, batch: &MessageBatch) -> Self {
        Self {
            message_batch_id: id.to_owned(),
            outcome,
            processing_status: Some(batch.processing_status.clone()),
            request_counts: Some(batch.request_counts),
            ended_at: batch.ended_at.clone(),
            results_url: batch.results_url.clone(),
            reason: None,
        }
    }

    /// An outcome with no batch to show, only why.
    pub fn without_batch(id: &str, outcome: OutcomeKind, reason: String) -> Self {
        Self {
            message_batch_id: id.to_owned(),
            outcome,
            processing_status: None,
            request_counts: None,
            ended_at: None,
            results_url: None,
            reason: Some(reason),
        }
    }

    /// Updates the status and counts from a later look at the batch.
    pub fn update(&mut self, batch: &MessageBatch) {
        self.processing_status = Some(batch.processing_status.clone());
        self.request_counts = Some(batch.request_counts);
        self.ended_at = batch.ended_at.clone();
        self.results_url = batch.results_url.clone();
    }
}

/// How many IDs came to each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Tally {
    pub canceling: u32,
    pub already_canceling: u32,
    pub already_ended: u32,
    pub not_found: u32,
    pub failed: u32,
    /// Kept by the person in the confirmation form: nothing sent.
    pub kept: u32,
}

impl Tally {
    fn of(kind: OutcomeKind, outcomes: &[BatchOutcome]) -> u32 {
        outcomes.iter().filter(|o| o.outcome == kind).count() as u32
    }

    fn get(&self, kind: OutcomeKind) -> u32 {
        match kind {
            OutcomeKind::Canceling => self.canceling,
            OutcomeKind::AlreadyCanceling => self.already_canceling,
            OutcomeKind::AlreadyEnded => self.already_ended,
            OutcomeKind::NotFound => self.not_found,
            OutcomeKind::Failed => self.failed,
            OutcomeKind::Kept => self.kept,
        }
    }
}

/// The answer of `cancel_message_batches`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BulkReport {
    /// One outcome per distinct ID, in the order the IDs were first given.
    pub outcomes: Vec<BatchOutcome>,
    /// How many IDs came to each outcome.
    pub counts: Tally,
    /// IDs given, repeats included.
    pub ids_given: u32,
    /// IDs given more than once (each was canceled once).
    pub repeated: u32,
    /// Seconds waited for the batches to reach `ended` (0: not waited).
    pub waited_seconds: u32,
    /// After a wait: true when it ran out before every canceled batch ended (nothing failed;
    /// the batches are as last seen). Absent when no wait was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    /// One line: how many IDs came to each outcome, e.g. "3 canceling, 1 already ended, 1 not found".
    pub summary: String,
    /// What this means and what to do next.
    pub note: String,
}

impl BulkReport {
    pub fn new(outcomes: Vec<BatchOutcome>, ids_given: usize, waited_seconds: u32) -> Self {
        let counts = Tally {
            canceling: Tally::of(OutcomeKind::Canceling, &outcomes),
            already_canceling: Tally::of(OutcomeKind::AlreadyCanceling, &outcomes),
            already_ended: Tally::of(OutcomeKind::AlreadyEnded, &outcomes),
            not_found: Tally::of(OutcomeKind::NotFound, &outcomes),
            failed: Tally::of(OutcomeKind::Failed, &outcomes),
            kept: Tally::of(OutcomeKind::Kept, &outcomes),
        };
        let summary = OutcomeKind::ALL
            .iter()
            .filter(|k| counts.get(**k) > 0)
            .map(|k| format!("{} {}", counts.get(*k), k.label()))
            .collect::<Vec<_>>()
            .join(", ");
        let ids_given = ids_given as u32;
        let repeated = ids_given.saturating_sub(outcomes.len() as u32);
        let note = note(&outcomes, &counts, waited_seconds);
        Self {
            outcomes,
            counts,
            ids_given,
            repeated,
            waited_seconds,
            timed_out: None,
            summary,
            note,
        }
    }

    /// Every ID failed (not found or failed): the call as a whole is an error.
    pub fn all_failed(&self) -> bool {
        self.outcomes.iter().all(|o| o.outcome.is_failure())
    }

    /// The text block: the summary, one table row per ID, the reasons, the note.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} batch{}: {}.",
            self.outcomes.len(),
            if self.outcomes.len() == 1 { "" } else { "es" },
            self.summary
        );
        if self.repeated > 0 {
            let _ = write!(
                out,
                " ({} IDs given; {} repeated, each canceled once.)",
                self.ids_given, self.repeated
            );
        }
        out.push_str("\n\n| batch | outcome | status | requests |\n|---|---|---|---|\n");
        for o in &self.outcomes {
            let status = o
                .processing_status
                .as_ref()
                .map_or("-".to_owned(), Status::to_string);
            let counts = o
                .request_counts
                .as_ref()
                .map_or("-".to_owned(), counts_cell);
            let _ = writeln!(
                out,
                "| {} | {} | {status} | {counts} |",
                o.message_batch_id,
                o.outcome.label()
            );
        }
        let reasons: Vec<&BatchOutcome> = self
            .outcomes
            .iter()
            .filter(|o| o.reason.is_some())
            .collect();
        if !reasons.is_empty() {
            out.push('\n');
            for o in reasons {
                let _ = writeln!(
                    out,
                    "- {}: {}",
                    o.message_batch_id,
                    o.reason.as_deref().unwrap_or_default()
                );
            }
        }
        let _ = write!(out, "\n{}", self.note);
        out
    }
}

/// "10 processing", "4 succeeded, 6 canceled": the non-zero counts, out of the total.
fn counts_cell(c: &RequestCounts) -> String {
    let parts: Vec<String> = [
        (c.processing, "processing"),
        (c.succeeded, "succeeded"),
        (c.errored, "errored"),
        (c.canceled, "canceled"),
        (c.expired, "expired"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    match c.total() {
        _ if parts.is_empty() => "0".to_owned(),
        Some(total) => format!("{total}: {}", parts.join(", ")),
        None => format!("counts that cannot be right: {}", parts.join(", ")),
    }
}

/// One line of what finished across the ended batches (from their counts), and where the detail is.
fn finished_line(outcomes: &[BatchOutcome]) -> String {
    let mut sum = crate::api::RequestCounts::default();
    for c in outcomes
        .iter()
        .filter(|o| o.processing_status.as_ref().is_some_and(Status::is_ended))
        .filter_map(|o| o.request_counts.as_ref())
    {
        sum.succeeded += c.succeeded;
        sum.errored += c.errored;
        sum.canceled += c.canceled;
        sum.expired += c.expired;
    }
    format!(
        "In all: {} succeeded, {} errored, {} canceled, {} expired; for the detail of one batch, \
         call get_message_batch_results with its ID.",
        sum.succeeded, sum.errored, sum.canceled, sum.expired
    )
}

fn note(outcomes: &[BatchOutcome], counts: &Tally, waited: u32) -> String {
    let mut note = String::new();
    let stopping = counts.canceling + counts.already_canceling;
    if stopping > 0 {
        let still = outcomes
            .iter()
            .filter(|o| {
                !o.outcome.is_failure()
                    && !o.processing_status.as_ref().is_some_and(Status::is_ended)
            })
            .count();
        if waited > 0 {
            if still == 0 {
                let _ = write!(
                    note,
                    "After waiting, every canceled batch has ended: `canceled` counts the \
                     requests the cancel stopped, `succeeded` ones ran and are billed. {} ",
                    finished_line(outcomes)
                );
            } else {
                let _ = write!(
                    note,
                    "After waiting {waited} s, {still} batch(es) are still `canceling`: requests \
                     already being processed may still complete. Call get_message_batch later \
                     to see when they are `ended`; nothing more needs to be canceled. "
                );
            }
        } else {
            note.push_str(
                "Cancellation is not immediate: the canceled batches are `canceling`, and \
                 requests already being processed may still complete. Each ends as `ended`; \
                 follow them with get_message_batch, or call again with wait_seconds. ",
            );
        }
    }
    if counts.already_ended > 0 {
        note.push_str("An already ended batch had nothing left to cancel. ");
    }
    if counts.kept > 0 {
        note.push_str(
            "The batches marked kept were not canceled and nothing was sent for them: the person \
             kept them in the confirmation form. ",
        );
    }
    if counts.not_found + counts.failed > 0 {
        note.push_str(
            "The IDs marked not found or failed were not canceled: see the reasons above. \
             Repeating the call is safe (a batch already canceling stays so).",
        );
    }
    note.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ProcessingStatus;

    fn batch(id: &str, status: ProcessingStatus) -> MessageBatch {
        MessageBatch {
            id: id.into(),
            kind: "message_batch".into(),
            processing_status: status.into(),
            request_counts: RequestCounts {
                processing: 10,
                ..Default::default()
            },
            created_at: "2026-11-28T10:00:00Z".into(),
            expires_at: "2026-11-29T10:00:00Z".into(),
            archived_at: None,
            cancel_initiated_at: None,
            ended_at: None,
            results_url: None,
            extra: Default::default(),
            extra_dropped: 0,
        }
    }

    #[test]
    fn summary_table_and_reasons() {
        let r = BulkReport::new(
            vec![
                BatchOutcome::with_batch(
                    "a",
                    OutcomeKind::Canceling,
                    &batch("a", ProcessingStatus::Canceling),
                ),
                BatchOutcome::with_batch(
                    "b",
                    OutcomeKind::Canceling,
                    &batch("b", ProcessingStatus::Canceling),
                ),
                BatchOutcome::with_batch(
                    "c",
                    OutcomeKind::AlreadyEnded,
                    &batch("c", ProcessingStatus::Ended),
                ),
                BatchOutcome::without_batch("d", OutcomeKind::NotFound, "no such batch".into()),
            ],
            5,
            0,
        );
        assert_eq!(r.summary, "2 canceling, 1 already ended, 1 not found");
        assert_eq!(r.repeated, 1);
        assert!(!r.all_failed());
        let t = r.text();
        assert!(
            t.starts_with(
                "4 batches: 2 canceling, 1 already ended, 1 not found. (5 IDs given; 1 repeated"
            ),
            "{t}"
        );
        assert!(
            t.contains("| a | canceling | canceling | 10: 10 processing |"),
            "{t}"
        );
        assert!(t.contains("| d | not found | - | - |"), "{t}");
        assert!(t.contains("- d: no such batch"), "{t}");
        assert!(t.contains("not immediate"), "{t}");
    }

    #[test]
    fn all_failing_is_all_failed() {
        let r = BulkReport::new(
            vec![
                BatchOutcome::without_batch("d", OutcomeKind::NotFound, "x".into()),
                BatchOutcome::without_batch("e", OutcomeKind::Failed, "y".into()),
            ],
            2,
            0,
        );
        assert!(r.all_failed());
        assert_eq!(r.summary, "1 not found, 1 failed");
    }
}
