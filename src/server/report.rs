//! What the tools answer: the batch object as structured content, plus a note that says what
//! its state means now, and the same information as text for clients that only read text.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::{BatchPage, ListParams, MessageBatch, ProcessingStatus};

/// Said of a `processing_status` this server does not know (a newer API's).
pub const UNKNOWN_STATUS: &str = "a status this server does not know; check the API docs";

/// Said while every request is still counted as `processing`: the real API reports the counts
/// only when the batch ends ("Requests start as `processing` and move to one of the other
/// statuses only once processing of the entire batch ends", the official SDKs' docs), so
/// "0 of N done" would be false, not merely early.
pub const COUNTS_AT_END: &str = "the API reports how requests ended only when the batch ends";

/// Batches a page holds when no `limit` is given (the API's default).
const DEFAULT_LIMIT: usize = 20;

/// Said after the number of unknown fields left out (past [`MAX_EXTRA_FIELDS`]).
///
/// [`MAX_EXTRA_FIELDS`]: crate::api::bounded::MAX_EXTRA_FIELDS
pub const EXTRA_DROPPED: &str = "more fields this server does not know were in the API's \
answer and are left out (only the first few unknown fields are kept).";

/// A batch, exactly as the API returned it, with a note for the reader.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BatchReport {
    #[serde(flatten)]
    pub batch: MessageBatch,
    /// After a wait for `ended`: true when the wait ran out first (the batch is as last seen;
    /// nothing failed). Absent when no wait was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
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

/// Room in a batch's text for all but its note: the status, counts and times lines (about 250
/// characters with a results URL) and what is appended after (the notice of which API answered
/// is about 400).
const TEXT_ROOM: usize = 1024;

/// The part of every note that explains cancellation: it is what people get wrong.
pub const NOT_IMMEDIATE: &str = "Cancellation is not immediate: the batch is `canceling`, and \
requests already being processed may still complete. Call get_message_batch (or \
cancel_message_batch with wait_seconds) to see when it is `ended`. A canceled batch still ends \
as `ended`, and its results may hold succeeded requests.";

impl BatchReport {
    pub fn new(batch: MessageBatch, context: Context) -> Self {
        let mut note = note(&batch, context);
        if batch.extra_dropped > 0 {
            let _ = write!(note, " {} {EXTRA_DROPPED}", batch.extra_dropped);
        }
        Self {
            batch,
            timed_out: None,
            note,
        }
    }

    /// The text block: status, counts, times, and the note.
    pub fn text(&self) -> String {
        let b = &self.batch;
        // One allocation for the whole text, and room for what is added after it (the notice
        // of which API answered, a refusal's preface): growing it step by step cost a call over
        // HTTP several reallocations and copies.
        let mut out = String::with_capacity(TEXT_ROOM + self.note.len());
        let _ = match b.processing_status.known() {
            Some(ProcessingStatus::InProgress) => writeln!(out, "Batch {} is in_progress.", b.id),
            Some(ProcessingStatus::Canceling) => writeln!(out, "Batch {} is canceling.", b.id),
            Some(ProcessingStatus::Ended) => writeln!(out, "Batch {} has ended.", b.id),
            None => writeln!(
                out,
                "Batch {} has status `{}` ({UNKNOWN_STATUS}).",
                b.id, b.processing_status
            ),
        };
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

/// Whether the counts say nothing yet: the batch has not ended and every request is still
/// counted as `processing`, which is how the real API reports a running batch.
pub fn counts_pending(b: &MessageBatch) -> bool {
    let c = &b.request_counts;
    !b.processing_status.is_ended() && c.total().is_some_and(|t| t > 0 && c.processing == t)
}

/// Said of request counts that cannot be a batch's ([`RequestCounts::total`] is `None`): shown
/// as they were sent, never added up into a number that means nothing.
///
/// [`RequestCounts::total`]: crate::api::RequestCounts::total
pub const ABSURD_COUNTS: &str = "counts no batch can have (a batch holds at most 100,000 \
requests): the API, or whatever answered in its place, sent numbers that cannot be right";

/// "Requests: 200 in all: 50 processing, 140 succeeded, 5 errored, 5 canceled, 0 expired.", or,
/// while the counts are pending, "Requests: 200 in all, counted as `processing` until ...".
pub fn counts_line(b: &MessageBatch) -> String {
    let c = &b.request_counts;
    let Some(total) = c.total() else {
        return format!(
            "Requests: {} processing, {} succeeded, {} errored, {} canceled, {} expired: \
             {ABSURD_COUNTS}.",
            c.processing, c.succeeded, c.errored, c.canceled, c.expired
        );
    };
    if counts_pending(b) {
        return format!(
            "Requests: {total} in all, each counted as `processing` until the batch ends ({COUNTS_AT_END})."
        );
    }
    format!(
        "Requests: {total} in all: {} processing, {} succeeded, {} errored, {} canceled, {} expired.",
        c.processing, c.succeeded, c.errored, c.canceled, c.expired
    )
}

fn note(b: &MessageBatch, context: Context) -> String {
    let c = &b.request_counts;
    let Some(status) = b.processing_status.known() else {
        return unknown_status_note(b, context);
    };
    match (status, context) {
        (ProcessingStatus::InProgress, Context::Get) => match (c.done(), c.total()) {
            (_, Some(total)) if counts_pending(b) => format!(
                "Still running. The counts are reported when the batch ends: until then all \
                 {total} requests are counted as `processing`, whatever has already run. It can \
                 be canceled with cancel_message_batch; if it does not finish it expires at {}.",
                b.expires_at
            ),
            (Some(done), Some(total)) => format!(
                "Still running: {done} of {total} requests are done. It can be canceled with \
                 cancel_message_batch; if it does not finish it expires at {}.",
                b.expires_at
            ),
            _ => format!(
                "Still running, with request {ABSURD_COUNTS}. It can be canceled with \
                 cancel_message_batch; if it does not finish it expires at {}.",
                b.expires_at
            ),
        },
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
            "Not ended yet (timed out): still `canceling` after waiting {seconds} s. Requests \
             already being processed may still complete. Call get_message_batch later to see \
             when it is `ended` (or cancel_message_batch again with wait_seconds: it is safe to \
             repeat); nothing more needs to be canceled."
        ),
        (ProcessingStatus::Ended, context) => ended_note(b, context),
    }
}

/// A status this server does not know: shown as it is, never guessed at.
fn unknown_status_note(b: &MessageBatch, context: Context) -> String {
    let status = &b.processing_status;
    let said = format!(
        "The API reports processing_status `{status}`, {UNKNOWN_STATUS} for what it means."
    );
    match context {
        Context::Get => said,
        Context::Canceled => format!(
            "The API accepted the cancel request and answered with the batch. {said} If it is \
             still running, call get_message_batch later to see when it is `ended`."
        ),
        Context::Waited { seconds } => format!(
            "The API accepted the cancel request; after waiting {seconds} s the batch is not \
             `ended`. {said} Call get_message_batch later to see when it is `ended`."
        ),
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
                "For which requests finished and how (errors by type, token usage), call \
                 get_message_batch_results; the file itself (JSON Lines, same API key): {url}"
            );
        }
        (None, None) => out.push_str("No results URL was given."),
    }
    out
}

impl ListReport {
    /// `query` is what was asked: a page fetched with `before_id` goes on with
    /// `before_id=first_id`, as the official SDKs page backwards; and a page that holds the very
    /// batch given as the cursor is a canned answer (a real API pages past the cursor), on which
    /// paging would loop forever, so no next page is offered.
    ///
    /// A page longer than the `limit` asked for (20 when none was) is cut to it, and its
    /// cursors moved to the batches kept, so that paging on misses none; the note says so.
    pub fn new(mut page: BatchPage, query: &ListParams) -> Self {
        let asked = query.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
        let sent = page.data.len() + page.items_dropped;
        if page.data.len() > asked {
            page.items_dropped += page.data.len() - asked;
            page.data.truncate(asked);
            page.first_id = page.data.first().map(|b| b.id.clone());
            page.last_id = page.data.last().map(|b| b.id.clone());
            page.has_more = true;
        }
        let paged_back = query.before_id.is_some();
        let cursor = query.before_id.as_deref().or(query.after_id.as_deref());
        let canned = cursor.filter(|c| page.data.iter().any(|b| b.id == *c));
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
                 cancel_message_batch, or together with one cancel_message_batches call."
            ),
        };
        let unknown = page
            .data
            .iter()
            .filter(|b| b.processing_status.known().is_none())
            .count();
        if unknown > 0 {
            let _ = write!(
                note,
                " {unknown} of them {} a processing_status this server does not know (shown as \
                 the API sent it); check the API docs for what it means.",
                if unknown == 1 { "has" } else { "have" }
            );
        }
        if page.items_dropped > 0 {
            let _ = write!(
                note,
                " The API sent {sent} batches where {asked} were asked for: only the first \
                 {asked} are shown."
            );
        }
        let extra: usize = page.data.iter().map(|b| b.extra_dropped).sum();
        if extra > 0 {
            let _ = write!(note, " {extra} {EXTRA_DROPPED}");
        }
        if page.data.iter().any(counts_pending) {
            let _ = write!(
                note,
                " Request counts of a running batch are reported when it ends: until then every \
                 request is counted as `processing`."
            );
        }
        let next = if paged_back {
            page.first_id.as_ref().map(|id| ("before_id", id))
        } else {
            page.last_id.as_ref().map(|id| ("after_id", id))
        };
        if let Some(c) = canned {
            let _ = write!(
                note,
                " This page holds the batch given as the cursor ({c}), which the API never \
                 returns: the endpoint answers with a canned page whatever is asked (a mock), so \
                 paging on would loop. Do not page on."
            );
        } else if page.has_more
            && let Some((cursor, id)) = next
        {
            let _ = write!(note, " More batches: call again with {cursor}=\"{id}\".");
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
            let unknown = if b.processing_status.known().is_none() {
                " (unknown status)"
            } else {
                ""
            };
            let _ = write!(
                out,
                "- {} {}{unknown} (created {}): ",
                b.id, b.processing_status, b.created_at
            );
            let _ = match (c.done(), c.total()) {
                (_, Some(total)) if counts_pending(b) => {
                    writeln!(out, "{total} requests, counted when it ends{mark}")
                }
                (Some(done), Some(total)) => writeln!(
                    out,
                    "{done}/{total} done, {} succeeded, {} errored, {} canceled{mark}",
                    c.succeeded, c.errored, c.canceled,
                ),
                _ => writeln!(out, "request counts that cannot be right{mark}"),
            };
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
            processing_status: status.into(),
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
            extra: Default::default(),
            extra_dropped: 0,
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
        assert!(r.note.contains("5 succeeded and 1 errored"), "{}", r.note);
        assert!(
            r.note.contains("call get_message_batch_results"),
            "{}",
            r.note
        );
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
            extra: Default::default(),
            items_dropped: 0,
        };
        let r = ListReport::new(page.clone(), &ListParams::default());
        let text = r.text();
        assert_eq!(text.matches("[can cancel]").count(), 1, "{text}");
        assert!(r.note.contains("after_id=\"b\""));
        // Paging backwards goes on backwards, from the first ID.
        let back = ListParams {
            before_id: Some("z".into()),
            ..ListParams::default()
        };
        let r = ListReport::new(page.clone(), &back);
        assert!(r.note.contains("before_id=\"a\""), "{}", r.note);
        assert!(!r.note.contains("after_id"), "{}", r.note);
        // A page holding the cursor's own batch is canned: no next page is offered.
        let canned = ListParams {
            after_id: Some("msgbatch_x".into()),
            ..ListParams::default()
        };
        let r = ListReport::new(page, &canned);
        assert!(r.note.contains("canned page"), "{}", r.note);
        assert!(!r.note.contains("More batches"), "{}", r.note);
    }

    /// The real API's way: every request under `processing` until the end.
    fn running_the_real_way(status: ProcessingStatus) -> MessageBatch {
        let mut b = batch(status);
        b.request_counts = RequestCounts {
            processing: 100,
            ..RequestCounts::default()
        };
        b
    }

    #[test]
    fn counts_held_until_the_end_are_never_read_as_none_done() {
        for (status, context) in [
            (ProcessingStatus::InProgress, Context::Get),
            (ProcessingStatus::Canceling, Context::Get),
            (ProcessingStatus::Canceling, Context::Canceled),
            (ProcessingStatus::Canceling, Context::Waited { seconds: 5 }),
        ] {
            let r = BatchReport::new(running_the_real_way(status), context);
            let text = r.text();
            assert!(!text.contains("0 of 100"), "{text}");
            assert!(text.contains("100 in all"), "{text}");
            assert!(text.contains("when the batch ends"), "{text}");
        }
        let r = BatchReport::new(
            running_the_real_way(ProcessingStatus::InProgress),
            Context::Get,
        );
        assert!(
            r.note.contains("counts are reported when the batch ends"),
            "{}",
            r.note
        );
        let page = BatchPage {
            data: vec![running_the_real_way(ProcessingStatus::InProgress)],
            has_more: false,
            first_id: None,
            last_id: None,
            extra: Default::default(),
            items_dropped: 0,
        };
        let text = ListReport::new(page, &ListParams::default()).text();
        assert!(!text.contains("0/100"), "{text}");
        assert!(
            text.contains("100 requests, counted when it ends  [can cancel]"),
            "{text}"
        );
        assert!(text.contains("reported when it ends"), "{text}");
    }

    #[test]
    fn an_unknown_status_is_shown_as_it_is_and_noted() {
        let mut b = batch(ProcessingStatus::InProgress);
        b.processing_status = crate::api::Status::from("paused".to_owned());
        for context in [
            Context::Get,
            Context::Canceled,
            Context::Waited { seconds: 2 },
        ] {
            let r = BatchReport::new(b.clone(), context);
            let text = r.text();
            assert!(
                text.contains("Batch msgbatch_x has status `paused`"),
                "{text}"
            );
            assert!(
                r.note
                    .contains("`paused`, a status this server does not know"),
                "{}",
                r.note
            );
            assert!(!text.contains("may or may not"), "{text}");
        }
        let v = serde_json::to_value(BatchReport::new(b.clone(), Context::Get)).unwrap();
        assert_eq!(v["processing_status"], "paused");
        let page = BatchPage {
            data: vec![b],
            has_more: false,
            first_id: None,
            last_id: None,
            extra: Default::default(),
            items_dropped: 0,
        };
        let r = ListReport::new(page, &ListParams::default());
        assert!(
            r.text().contains("msgbatch_x paused (unknown status)"),
            "{}",
            r.text()
        );
        assert!(r.note.contains("does not know"), "{}", r.note);
    }
}
