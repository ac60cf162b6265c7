//! What the tools answer: the batch object as structured content, plus a note that says what
//! its state means now, and the same information as text for clients that only read text.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::{BatchPage, MessageBatch, ProcessingStatus};

/// A batch, exactly as the API returned it, with a note for the reader.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BatchReport {
    #[serde(flatten)]
    pub batch: MessageBatch,
    /// What this status means and what to do next.
    pub note: String,
}

/// A page of batches, exactly as the API returned it, with a note on what to do next.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListReport {
    #[serde(flatten)]
    pub page: BatchPage,
    /// Which batches can be canceled, and how to get the next page.
    pub note: String,
}

/// Why a batch report is being written: the same batch reads differently after a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// `get_message_batch`.
    Get,
    /// `cancel_message_batch` right after the cancel was accepted.
    Canceled,
    /// `cancel_message_batch` after waiting `wait_seconds` for the end.
    Waited { seconds: u32 },
}

/// The part of every note that explains cancellation: it is what people get wrong.
pub const NOT_IMMEDIATE: &str = "Cancellation is not immediate: the batch is `canceling`, and \
requests already being processed may still complete. Call get_message_batch (or \
cancel_message_batch with wait_seconds) to see when it is `ended`. A canceled batch still ends \
as `ended`, and its results may hold succeeded requests.";

impl BatchReport {
    pub fn new(batch: MessageBatch, context: Context) -> Self {
        let note = note(&batch, context);
        Self { batch, note }
    }

    /// The text block: status, counts, times, and the note.
    pub fn text(&self) -> String {
        let b = &self.batch;
        let state = match b.processing_status {
            ProcessingStatus::InProgress => "is in_progress",
            ProcessingStatus::Canceling => "is canceling",
            ProcessingStatus::Ended => "has ended",
        };
        let mut out = format!("Batch {} {state}.\n", b.id);
        out.push_str(&counts_line(b));
        out.push('\n');
        let _ = write!(out, "Created {}", b.created_at);
        if let Some(t) = &b.cancel_initiated_at {
            let _ = write!(out, "; cancel asked {t}");
        }
        match &b.ended_at {
            Some(t) => {
                let _ = write!(out, "; ended {t}");
            }
            None => {
                let _ = write!(out, "; expires {}", b.expires_at);
            }
        }
        out.push_str(".\n");
        if let Some(url) = &b.results_url {
            let _ = writeln!(out, "Results: {url}");
        }
        let _ = write!(out, "\n{}", self.note);
        out
    }
}

/// "Requests: 200 in all: 50 processing, 140 succeeded, 5 errored, 5 canceled, 0 expired."
pub fn counts_line(b: &MessageBatch) -> String {
    let c = &b.request_counts;
    format!(
        "Requests: {} in all: {} processing, {} succeeded, {} errored, {} canceled, {} expired.",
        c.total(),
        c.processing,
        c.succeeded,
        c.errored,
        c.canceled,
        c.expired
    )
}

fn note(b: &MessageBatch, context: Context) -> String {
    let c = &b.request_counts;
    match (b.processing_status, context) {
        (ProcessingStatus::InProgress, Context::Get) => format!(
            "Still running: {} of {} requests are done. It can be canceled with \
             cancel_message_batch; if it does not finish it expires at {}.",
            c.done(),
            c.total(),
            b.expires_at
        ),
        (ProcessingStatus::InProgress, _) => format!(
            "The API still reports `in_progress` after the cancel was sent. {NOT_IMMEDIATE}"
        ),
        (ProcessingStatus::Canceling, Context::Get) => format!(
            "A cancel was asked{}. {NOT_IMMEDIATE}",
            b.cancel_initiated_at
                .as_deref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default()
        ),
        (ProcessingStatus::Canceling, Context::Canceled) => NOT_IMMEDIATE.to_owned(),
        (ProcessingStatus::Canceling, Context::Waited { seconds }) => format!(
            "Not ended yet: still `canceling` after waiting {seconds} s. Requests already being \
             processed may still complete. Call get_message_batch later to see when it is \
             `ended`; nothing more needs to be canceled."
        ),
        (ProcessingStatus::Ended, context) => ended_note(b, context),
    }
}

fn ended_note(b: &MessageBatch, context: Context) -> String {
    let c = &b.request_counts;
    let mut out = match context {
        Context::Waited { .. } => "The cancel is complete: the batch has ended. ".to_owned(),
        // A cancel that found the batch ended before any cancel is answered as an error
        // (`already_ended` in the server), so here a cancel was asked: this one or an earlier one.
        Context::Canceled => "The batch has ended. ".to_owned(),
        Context::Get => "Ended: nothing is running any more. ".to_owned(),
    };
    if b.cancel_initiated_at.is_some() {
        let _ = write!(
            out,
            "The cancel stopped {} requests before they ran; {} succeeded and {} errored \
             before it took effect (succeeded requests are billed as usual). ",
            c.canceled, c.succeeded, c.errored
        );
    } else {
        let _ = write!(
            out,
            "{} succeeded, {} errored, {} canceled, {} expired. ",
            c.succeeded, c.errored, c.canceled, c.expired
        );
    }
    match (&b.archived_at, &b.results_url) {
        (Some(t), _) => {
            let _ = write!(
                out,
                "Its results were archived at {t} and can no longer be fetched."
            );
        }
        (None, Some(url)) => {
            let _ = write!(
                out,
                "Results (JSON Lines, one line per request, same API key): {url}"
            );
        }
        (None, None) => out.push_str("No results URL was given."),
    }
    out
}

impl ListReport {
    pub fn new(page: BatchPage) -> Self {
        let running = page
            .data
            .iter()
            .filter(|b| b.processing_status.is_cancelable())
            .count();
        let mut note = match running {
            0 => "None of these batches can be canceled (none is `in_progress`).".to_owned(),
            1 => "1 batch on this page is `in_progress` and can be canceled with \
                  cancel_message_batch."
                .to_owned(),
            n => format!(
                "{n} batches on this page are `in_progress` and can be canceled with \
                 cancel_message_batch."
            ),
        };
        if page.has_more
            && let Some(last) = &page.last_id
        {
            let _ = write!(note, " More batches: call again with after_id=\"{last}\".");
        }
        Self { page, note }
    }

    /// One line per batch, cancelable ones marked, then the note.
    pub fn text(&self) -> String {
        if self.page.data.is_empty() {
            return format!("No batches on this page.\n{}", self.note);
        }
        let mut out = format!("{} batches, newest first:\n", self.page.data.len());
        for b in &self.page.data {
            let c = &b.request_counts;
            let mark = if b.processing_status.is_cancelable() {
                "  [can cancel]"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "- {} {} (created {}): {}/{} done, {} succeeded, {} errored, {} canceled{mark}",
                b.id,
                b.processing_status,
                b.created_at,
                c.done(),
                c.total(),
                c.succeeded,
                c.errored,
                c.canceled,
            );
        }
        out.push_str(&self.note);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RequestCounts;

    fn batch(status: ProcessingStatus) -> MessageBatch {
        MessageBatch {
            id: "msgbatch_x".into(),
            kind: "message_batch".into(),
            processing_status: status,
            request_counts: RequestCounts {
                processing: 3,
                succeeded: 5,
                errored: 1,
                canceled: 1,
                expired: 0,
            },
            created_at: "2026-11-28T10:00:00Z".into(),
            expires_at: "2026-11-29T10:00:00Z".into(),
            archived_at: None,
            cancel_initiated_at: None,
            ended_at: None,
            results_url: None,
        }
    }

    #[test]
    fn canceling_note_says_not_immediate() {
        let r = BatchReport::new(batch(ProcessingStatus::Canceling), Context::Canceled);
        assert!(r.note.contains("not immediate"));
        assert!(r.note.contains("may still complete"));
        assert!(r.text().contains("Batch msgbatch_x is canceling."));
        assert!(r.text().contains("10 in all: 3 processing"));
    }

    #[test]
    fn ended_after_cancel_counts_what_the_cancel_did() {
        let mut b = batch(ProcessingStatus::Ended);
        b.request_counts.processing = 0;
        b.cancel_initiated_at = Some("t1".into());
        b.ended_at = Some("t2".into());
        b.results_url = Some("http://x/results".into());
        let r = BatchReport::new(b, Context::Waited { seconds: 5 });
        assert!(r.note.starts_with("The cancel is complete"), "{}", r.note);
        assert!(r.note.contains("stopped 1 requests"));
        assert!(r.note.contains("http://x/results"));
    }

    #[test]
    fn waited_but_not_ended_says_so() {
        let r = BatchReport::new(
            batch(ProcessingStatus::Canceling),
            Context::Waited { seconds: 3 },
        );
        assert!(r.note.contains("Not ended yet"));
    }

    #[test]
    fn structured_output_keeps_nulls_and_adds_note() {
        let r = BatchReport::new(batch(ProcessingStatus::InProgress), Context::Get);
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["ended_at"].is_null());
        assert!(v.as_object().unwrap().contains_key("archived_at"));
        assert_eq!(v["type"], "message_batch");
        assert!(v["note"].as_str().unwrap().contains("Still running"));
    }

    #[test]
    fn list_marks_cancelable_batches_and_next_page() {
        let page = BatchPage {
            data: vec![
                batch(ProcessingStatus::InProgress),
                batch(ProcessingStatus::Ended),
            ],
            has_more: true,
            first_id: Some("a".into()),
            last_id: Some("b".into()),
        };
        let r = ListReport::new(page);
        let text = r.text();
        assert_eq!(text.matches("[can cancel]").count(), 1, "{text}");
        assert!(r.note.contains("after_id=\"b\""));
    }
}
