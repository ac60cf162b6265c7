//! `get_message_batch_results`: what an ended batch's requests came to, summed up from its
//! results file (JSON Lines) as it streams, never the file itself.
//!
//! The batch is retrieved first (as the official SDKs do): one that has not ended has no
//! results yet, and the answer says so without downloading anything. Then the file is read
//! line by line ([`crate::api::results`]) into a [`summary::Summary`] of fixed size: counts by
//! type (checked against the batch's `request_counts`), errors grouped by type with examples,
//! usage, and the entries the caller asked for. Text and structured output stay within
//! [`MAX_ANSWER_BYTES`] and say when something was left out.

pub mod params;
pub mod summary;

use std::fmt::Write as _;
use std::ops::ControlFlow;

use rmcp::handler::server::common::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use super::advice::{self, Operation};
use super::{BatchServer, error_result, structured_result};
use crate::api::results::{End, ResultsError};
use crate::api::{BatchId, MessageBatch, RequestCounts};
use params::ResultsParams;
use summary::{Summary, TypeCounts};

/// The most bytes an answer's structured content takes (its text is shorter still). The
/// summary's own lists are bounded; this is the last guard, trimming listed entries first.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024;

const RESULTS_DESCRIPTION: &str = "Sum up an ended Message Batch's results: how many requests \
succeeded, errored, were canceled or expired (checked against the batch's counts), errors \
grouped by type with examples, and token usage. Pass result_type (e.g. \"errored\") or \
custom_id to list matching entries (custom_id, type, stop reason, usage; never the content), up \
to limit. Reads the whole results file without putting it in the context. Only for an `ended` \
batch.";

/// What `get_message_batch_results` answers.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResultsReport {
    pub message_batch_id: String,
    /// The batch's `request_counts`, as the API reports them.
    pub request_counts: RequestCounts,
    /// Whether the whole file was read.
    pub complete: bool,
    /// Whether the file's counts equal `request_counts` (false too when not all was read).
    pub counts_match: bool,
    #[serde(flatten)]
    pub summary: Summary,
    /// Whether entries or examples were left out to keep the answer within its budget.
    pub cut: bool,
    /// What the figures mean and what to do next.
    pub note: String,
}

#[tool_router(router = results_tool_router, vis = "pub(super)")]
impl BatchServer {
    #[tool(
        name = "get_message_batch_results",
        title = "Get message batch results",
        description = RESULTS_DESCRIPTION,
        output_schema = schema_for_output::<ResultsReport>(),
        annotations(
            title = "Get message batch results",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn get_message_batch_results(
        &self,
        Parameters(p): Parameters<ResultsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let id = match BatchId::parse(&p.message_batch_id) {
            Ok(id) => id,
            Err(e) => return error_result(e.to_string()),
        };
        let filter = match p.filter() {
            Ok(f) => f,
            Err(msg) => return error_result(msg),
        };
        let work = async {
            let batch = match self.client.retrieve(&id).await {
                Ok(b) => b,
                Err(e) => return self.api_error(Operation::Get(id.as_str()), &e),
            };
            Box::pin(self.read_results(&id, batch, Summary::new(filter))).await
        };
        self.until_cancelled(&ctx, work).await
    }
}

impl BatchServer {
    async fn read_results(
        &self,
        id: &BatchId,
        batch: MessageBatch,
        mut summary: Summary,
    ) -> CallToolResult {
        if !batch.processing_status.is_ended() {
            return error_result(format!(
                "Batch {id} is `{}`, not ended: its results exist only once it has ended (every \
                 request then has one). Nothing was downloaded. Follow it with get_message_batch \
                 and call get_message_batch_results once it is `ended`.",
                batch.processing_status
            ));
        }
        if let Some(t) = &batch.archived_at {
            return error_result(format!(
                "Batch {id} ended, but its results were archived at {t} and can no longer be \
                 fetched. Its counts: {}.",
                counts_phrase(&batch.request_counts)
            ));
        }
        let Some(url) = batch.results_url.clone() else {
            return error_result(format!(
                "Batch {id} has ended, but the API gave no results_url, so there is nothing to \
                 read. Its counts: {}. Try get_message_batch again in a minute.",
                counts_phrase(&batch.request_counts)
            ));
        };
        let end = self
            .client
            .stream_results(id, &url, |line| {
                summary.add(line);
                ControlFlow::Continue(())
            })
            .await;
        summary.finish();
        let end = match end {
            Ok(end) => end,
            Err(ResultsError::Api(e)) => {
                return error_result(advice::explain(Operation::Results(id.as_str()), &e));
            }
            Err(e) => {
                return error_result(format!(
                    "Could not read the results of batch {id}: {e}. Nothing was downloaded. Its \
                     counts: {}.",
                    counts_phrase(&batch.request_counts)
                ));
            }
        };
        let report = ResultsReport::new(batch, summary, &end);
        let text = report.text();
        let mut result = structured_result(&report, text);
        if let End::Cut { .. } = end {
            result.is_error = Some(true);
        }
        result
    }
}

/// "40 succeeded, 5 errored, 55 canceled, 0 expired".
fn counts_phrase(c: &RequestCounts) -> String {
    format!(
        "{} succeeded, {} errored, {} canceled, {} expired",
        c.succeeded, c.errored, c.canceled, c.expired
    )
}

fn same_counts(file: &TypeCounts, api: &RequestCounts) -> bool {
    file.other == 0
        && api.processing == 0
        && (file.succeeded, file.errored, file.canceled, file.expired)
            == (api.succeeded, api.errored, api.canceled, api.expired)
}

impl ResultsReport {
    fn new(batch: MessageBatch, summary: Summary, end: &End) -> Self {
        let complete = *end == End::Complete;
        let counts_match = complete
            && summary.unreadable_lines == 0
            && same_counts(&summary.counts, &batch.request_counts);
        let mut report = Self {
            message_batch_id: batch.id,
            request_counts: batch.request_counts,
            complete,
            counts_match,
            summary,
            cut: false,
            note: String::new(),
        };
        report.note = report.note_for(end);
        report.fit();
        report
    }

    fn note_for(&self, end: &End) -> String {
        let mut note = String::new();
        match end {
            End::Complete => {}
            End::Cut { detail } => {
                let _ = write!(
                    note,
                    "The results stream broke after {} lines ({detail}): the figures cover only \
                     those. Call get_message_batch_results again to read it all. ",
                    self.summary.lines_read
                );
            }
            End::TooManyLines => {
                let _ = write!(
                    note,
                    "The file has more than {} lines, more than any batch has requests: reading \
                     stopped there, and it is not a results file this server can trust. ",
                    crate::api::results::MAX_LINES
                );
            }
        }
        if self.summary.unreadable_lines > 0 {
            let _ = write!(
                note,
                "{} lines could not be read (first: {}); they are not counted. ",
                self.summary.unreadable_lines,
                self.summary.first_unreadable.as_deref().unwrap_or("?")
            );
        }
        if self.counts_match {
            note.push_str("The file's counts equal the batch's request_counts. ");
        } else if *end == End::Complete {
            let c = &self.summary.counts;
            let _ = write!(
                note,
                "The file's counts ({} succeeded, {} errored, {} canceled, {} expired{}) differ \
                 from the batch's request_counts ({}): trust neither blindly; the file is what \
                 each request actually came to. ",
                c.succeeded,
                c.errored,
                c.canceled,
                c.expired,
                if c.other > 0 {
                    format!(", {} of unknown types", c.other)
                } else {
                    String::new()
                },
                counts_phrase(&self.request_counts)
            );
        }
        if self.summary.counts.succeeded > 0 {
            note.push_str("Succeeded requests are billed (at batch prices). ");
        }
        if self.summary.filter().is_set()
            && self.summary.matched as usize > self.summary.matches.len()
        {
            let _ = write!(
                note,
                "{} entries match; {} are listed (raise limit, up to {}, to see more). ",
                self.summary.matched,
                self.summary.matches.len(),
                params::MAX_LIMIT
            );
        } else if self.summary.filter().custom_id.is_some() && self.summary.matched == 0 {
            note.push_str("No entry has that custom_id. ");
        } else if !self.summary.filter().is_set() && self.summary.counts.errored > 0 {
            note.push_str("Pass result_type \"errored\" to list the errored requests. ");
        }
        note.trim_end().to_owned()
    }

    /// Keeps the structured content within [`MAX_ANSWER_BYTES`]: listed entries go first, then
    /// examples. Bounded lists make this a guard that real files do not reach.
    fn fit(&mut self) {
        let size = |r: &Self| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
        while size(self) > MAX_ANSWER_BYTES {
            self.cut = true;
            if self.summary.matches.pop().is_some() {
                continue;
            }
            if let Some(g) = self
                .summary
                .errors
                .iter_mut()
                .rev()
                .find(|g| !g.examples.is_empty())
            {
                g.examples.pop();
                continue;
            }
            break;
        }
        if self.cut {
            self.note
                .push_str(" Some entries or examples were left out to keep this answer short.");
        }
    }

    /// The text block: one line of counts, usage, errors by type, the entries, the note.
    pub fn text(&self) -> String {
        let s = &self.summary;
        let c = &s.counts;
        let mut out = format!(
            "Results of batch {}{}: {} succeeded, {} errored, {} canceled, {} expired",
            self.message_batch_id,
            if self.complete { "" } else { " (partial)" },
            c.succeeded,
            c.errored,
            c.canceled,
            c.expired
        );
        if c.other > 0 {
            let _ = write!(out, ", {} of unknown types", c.other);
        }
        let _ = writeln!(out, " ({} lines read).", s.lines_read);
        if c.succeeded > 0 {
            let u = &s.usage;
            let _ = write!(
                out,
                "Tokens of the succeeded requests: {} input, {} output",
                u.input_tokens, u.output_tokens
            );
            if u.cache_read_input_tokens + u.cache_creation_input_tokens > 0 {
                let _ = write!(
                    out,
                    ", {} cache write, {} cache read",
                    u.cache_creation_input_tokens, u.cache_read_input_tokens
                );
            }
            let reasons: Vec<String> = s
                .stop_reasons
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            let _ = writeln!(out, ". Stop reasons: {}.", reasons.join(", "));
        }
        if !s.errors.is_empty() {
            out.push_str("Errors by type:\n");
            for g in &s.errors {
                let examples: Vec<String> = g
                    .examples
                    .iter()
                    .map(|e| match &e.message {
                        Some(m) => {
                            format!("{} ({})", e.custom_id, crate::api::error::truncate(m, 120))
                        }
                        None => e.custom_id.clone(),
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "- {} × {}: e.g. {}",
                    g.error_type,
                    g.count,
                    examples.join("; ")
                );
            }
            if s.errors_of_other_types > 0 {
                let _ = writeln!(out, "- {} more of other types", s.errors_of_other_types);
            }
        }
        if s.filter().is_set() {
            let _ = writeln!(
                out,
                "Matching entries: {} ({} listed):",
                s.matched,
                s.matches.len()
            );
            for m in &s.matches {
                let _ = write!(out, "- {} {}", m.custom_id, m.kind);
                if let Some(r) = &m.stop_reason {
                    let _ = write!(out, ", stop {r}");
                }
                if let (Some(i), Some(o)) = (m.input_tokens, m.output_tokens) {
                    let _ = write!(out, ", {i} in / {o} out tokens");
                }
                if let Some(t) = &m.error_type {
                    let _ = write!(out, ", {t}");
                }
                if let Some(msg) = &m.error_message {
                    let _ = write!(out, ": {}", crate::api::error::truncate(msg, 160));
                }
                out.push('\n');
            }
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }
}
