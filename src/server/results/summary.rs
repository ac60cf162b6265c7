//! Summing a results file up as it streams: fixed-size state whatever the number of lines.
//!
//! Counts by result type, token usage and stop reasons of succeeded requests, errored requests
//! grouped by error type (with the first few custom IDs and messages of each), and the entries
//! that match the caller's filter, up to its limit. Every list here has a bound, so the summary
//! of 100,000 lines is as small as that of ten.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::api::results::{Line, ResultEntry, ResultType};

/// Error types kept apart; errors of any further type are only counted.
pub const MAX_ERROR_GROUPS: usize = 8;
/// Examples kept per error type.
pub const MAX_EXAMPLES: usize = 3;
/// Stop reasons kept apart; any further one counts under `other`.
const MAX_STOP_REASONS: usize = 8;

/// Lines by `result.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TypeCounts {
    pub succeeded: u64,
    pub errored: u64,
    pub canceled: u64,
    pub expired: u64,
    /// Lines with a type this server does not know.
    pub other: u64,
}

impl TypeCounts {
    pub fn total(&self) -> u64 {
        self.succeeded + self.errored + self.canceled + self.expired + self.other
    }
}

/// Tokens of all succeeded requests together (what the batch is billed for, at batch prices).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UsageTotals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

/// One errored request, as an example of its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErrorExample {
    pub custom_id: String,
    /// The API's error message, cut short; null if it gave none.
    pub message: Option<String>,
}

/// Errored requests of one error type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErrorGroup {
    /// The API error's type, e.g. `invalid_request_error`.
    pub error_type: String,
    pub count: u64,
    /// The first few, in the file's order (which is not the requests' order).
    pub examples: Vec<ErrorExample>,
}

/// One entry that matched `result_type` / `custom_id`: never the message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MatchedEntry {
    pub custom_id: String,
    /// `succeeded`, `errored`, `canceled` or `expired`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Succeeded only: why the model stopped (`end_turn`, `max_tokens`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// Succeeded only: input and output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Errored only: the error's type and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl MatchedEntry {
    fn new(e: &ResultEntry) -> Self {
        Self {
            custom_id: e.custom_id.clone(),
            kind: e.kind.as_str().to_owned(),
            stop_reason: e.stop_reason.clone(),
            input_tokens: e.usage.map(|u| u.input_tokens),
            output_tokens: e.usage.map(|u| u.output_tokens),
            error_type: e.error_type.clone(),
            error_message: e.error_message.clone(),
        }
    }
}

/// What to pick out of the file besides the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub result_type: Option<ResultType>,
    pub custom_id: Option<String>,
    pub limit: usize,
}

impl Filter {
    pub fn is_set(&self) -> bool {
        self.result_type.is_some() || self.custom_id.is_some()
    }

    fn matches(&self, e: &ResultEntry) -> bool {
        self.is_set()
            && self.result_type.as_ref().is_none_or(|t| *t == e.kind)
            && self.custom_id.as_ref().is_none_or(|c| *c == e.custom_id)
    }
}

/// The running summary.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Summary {
    /// Lines read (results and unreadable lines).
    pub lines_read: u64,
    /// Results by type.
    pub counts: TypeCounts,
    /// Lines that were not JSON, not a result, or too long to read.
    pub unreadable_lines: u64,
    /// The first unreadable line: its number and why.
    pub first_unreadable: Option<String>,
    /// Errored requests by error type, most frequent first.
    pub errors: Vec<ErrorGroup>,
    /// Errored requests of types past the first few kept apart.
    pub errors_of_other_types: u64,
    /// Succeeded requests by stop reason.
    pub stop_reasons: BTreeMap<String, u64>,
    /// Tokens of the succeeded requests.
    pub usage: UsageTotals,
    /// Entries matching the filter, in the file's order, up to the limit.
    pub matches: Vec<MatchedEntry>,
    /// All entries matching the filter (may be more than `matches` holds).
    pub matched: u64,
    #[serde(skip)]
    #[schemars(skip)]
    filter: Filter,
}

impl Summary {
    pub fn new(filter: Filter) -> Self {
        Self {
            filter,
            ..Self::default()
        }
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Takes one line in.
    pub fn add(&mut self, line: Line) {
        self.lines_read += 1;
        let entry = match line {
            Line::Entry(e) => e,
            Line::Unreadable { number, reason } => {
                self.unreadable(|| format!("line {number}: {reason}"));
                return;
            }
            Line::TooLong { number } => {
                self.unreadable(|| {
                    format!(
                        "line {number}: longer than {} MiB, skipped unread",
                        crate::api::results::MAX_LINE_BYTES / (1024 * 1024)
                    )
                });
                return;
            }
        };
        match &entry.kind {
            ResultType::Succeeded => {
                self.counts.succeeded += 1;
                if let Some(u) = entry.usage {
                    let t = &mut self.usage;
                    t.input_tokens = t.input_tokens.saturating_add(u.input_tokens);
                    t.output_tokens = t.output_tokens.saturating_add(u.output_tokens);
                    t.cache_creation_input_tokens = t
                        .cache_creation_input_tokens
                        .saturating_add(u.cache_creation_input_tokens.unwrap_or(0));
                    t.cache_read_input_tokens = t
                        .cache_read_input_tokens
                        .saturating_add(u.cache_read_input_tokens.unwrap_or(0));
                }
                let reason = entry.stop_reason.as_deref().unwrap_or("none");
                if let Some(n) = self.stop_reasons.get_mut(reason) {
                    *n += 1;
                } else if self.stop_reasons.len() < MAX_STOP_REASONS {
                    self.stop_reasons.insert(reason.to_owned(), 1);
                } else {
                    *self.stop_reasons.entry("other".to_owned()).or_default() += 1;
                }
            }
            ResultType::Errored => {
                self.counts.errored += 1;
                self.group_error(&entry);
            }
            ResultType::Canceled => self.counts.canceled += 1,
            ResultType::Expired => self.counts.expired += 1,
            ResultType::Other(_) => self.counts.other += 1,
        }
        if self.filter.matches(&entry) {
            self.matched += 1;
            if self.matches.len() < self.filter.limit {
                self.matches.push(MatchedEntry::new(&entry));
            }
        }
    }

    fn unreadable(&mut self, why: impl FnOnce() -> String) {
        self.unreadable_lines += 1;
        if self.first_unreadable.is_none() {
            self.first_unreadable = Some(why());
        }
    }

    fn group_error(&mut self, e: &ResultEntry) {
        let kind = e.error_type.as_deref().unwrap_or("unknown");
        let group = match self.errors.iter_mut().position(|g| g.error_type == kind) {
            Some(i) => &mut self.errors[i],
            None if self.errors.len() < MAX_ERROR_GROUPS => {
                self.errors.push(ErrorGroup {
                    error_type: kind.to_owned(),
                    count: 0,
                    examples: Vec::new(),
                });
                let last = self.errors.len() - 1;
                &mut self.errors[last]
            }
            None => {
                self.errors_of_other_types += 1;
                return;
            }
        };
        group.count += 1;
        if group.examples.len() < MAX_EXAMPLES {
            group.examples.push(ErrorExample {
                custom_id: e.custom_id.clone(),
                message: e.error_message.clone(),
            });
        }
    }

    /// Done reading: groups most frequent first.
    pub fn finish(&mut self) {
        self.errors.sort_by_key(|g| std::cmp::Reverse(g.count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::results::Usage;

    fn entry(id: &str, kind: ResultType) -> Line {
        let errored = kind == ResultType::Errored;
        let ok = kind == ResultType::Succeeded;
        Line::Entry(ResultEntry {
            custom_id: id.to_owned(),
            kind,
            stop_reason: ok.then(|| "end_turn".to_owned()),
            usage: ok.then_some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                ..Usage::default()
            }),
            error_type: errored.then(|| format!("type_{}", id.len() % 10)),
            error_message: errored.then(|| format!("failed {id}")),
        })
    }

    #[test]
    fn the_state_stays_bounded_however_many_lines() {
        let mut s = Summary::new(Filter {
            result_type: Some(ResultType::Errored),
            custom_id: None,
            limit: 5,
        });
        for i in 0..50_000 {
            let kind = match i % 4 {
                0 => ResultType::Succeeded,
                1 => ResultType::Errored,
                2 => ResultType::Canceled,
                _ => ResultType::Expired,
            };
            s.add(entry(&format!("r{}", "x".repeat(i % 13)), kind));
        }
        s.add(Line::TooLong { number: 50_001 });
        s.finish();
        assert_eq!(s.counts.total(), 50_000);
        assert_eq!(s.counts.errored, 12_500);
        assert_eq!(s.usage.input_tokens, 125_000);
        assert!(s.errors.len() <= MAX_ERROR_GROUPS);
        assert!(s.errors.iter().all(|g| g.examples.len() <= MAX_EXAMPLES));
        let grouped: u64 = s.errors.iter().map(|g| g.count).sum();
        assert_eq!(grouped + s.errors_of_other_types, 12_500);
        assert!(s.errors.windows(2).all(|w| w[0].count >= w[1].count));
        assert_eq!((s.matches.len(), s.matched), (5, 12_500));
        assert_eq!(s.unreadable_lines, 1);
        assert!(
            s.first_unreadable
                .unwrap()
                .starts_with("line 50001: longer than")
        );
    }

    #[test]
    fn a_custom_id_finds_its_entry_only() {
        let mut s = Summary::new(Filter {
            custom_id: Some("b".into()),
            limit: 10,
            ..Filter::default()
        });
        for id in ["a", "b", "c"] {
            s.add(entry(id, ResultType::Succeeded));
        }
        assert_eq!(s.matched, 1);
        assert_eq!(s.matches[0].custom_id, "b");
        assert_eq!(s.matches[0].stop_reason.as_deref(), Some("end_turn"));
        // No filter: no entries, only the summary.
        let mut s = Summary::new(Filter {
            limit: 10,
            ..Filter::default()
        });
        s.add(entry("a", ResultType::Succeeded));
        assert!(s.matches.is_empty());
    }
}
