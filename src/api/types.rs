//! The wire types of the Message Batches API, shared by the HTTP client, the MCP tools and the
//! embedded simulator so that all three agree on one shape.
//!
//! Nullable fields are `Option`s that serialize as `null` rather than being skipped: the real API
//! always sends them, the OpenAPI spec lists them as required, and a client reading our tool output
//! should see the same object the API returned.
//!
//! Forward compatible by design: a `processing_status` this version does not know is kept as the
//! string the API sent ([`Status::Other`]), and fields it does not know are kept in `extra` and
//! given back in the tool's structured output, so that a newer API never turns into a decode
//! failure, and nothing the API said is dropped.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a batch is in its life: `in_progress` -> (`canceling`) -> `ended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingStatus {
    /// Requests are still being processed.
    InProgress,
    /// A cancel was asked; requests already running may still complete.
    Canceling,
    /// Processing is over (finished, canceled or expired); results are available.
    Ended,
}

impl ProcessingStatus {
    /// The name the API uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Canceling => "canceling",
            Self::Ended => "ended",
        }
    }

    /// Whether a cancel request can still change anything.
    pub fn is_cancelable(self) -> bool {
        self == Self::InProgress
    }
}

impl std::fmt::Display for ProcessingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A batch's `processing_status` as the API sent it: one this version knows, or any other string
/// (a status added after this server was written), carried through as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Status {
    /// `in_progress`, `canceling` or `ended`.
    Known(ProcessingStatus),
    /// A status this server does not know, exactly as the API sent it.
    Other(String),
}

impl Status {
    /// The status, if this server knows it.
    pub fn known(&self) -> Option<ProcessingStatus> {
        match self {
            Self::Known(s) => Some(*s),
            Self::Other(_) => None,
        }
    }

    /// The name the API used.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(s) => s.as_str(),
            Self::Other(s) => s,
        }
    }

    /// Whether the batch has ended (an unknown status is not taken for an end).
    pub fn is_ended(&self) -> bool {
        self.known() == Some(ProcessingStatus::Ended)
    }

    /// Whether a cancel request can still change anything, as far as this server knows.
    pub fn is_cancelable(&self) -> bool {
        self.known().is_some_and(ProcessingStatus::is_cancelable)
    }
}

impl From<ProcessingStatus> for Status {
    fn from(s: ProcessingStatus) -> Self {
        Self::Known(s)
    }
}

impl From<String> for Status {
    fn from(s: String) -> Self {
        match s.as_str() {
            "in_progress" => Self::Known(ProcessingStatus::InProgress),
            "canceling" => Self::Known(ProcessingStatus::Canceling),
            "ended" => Self::Known(ProcessingStatus::Ended),
            _ => Self::Other(s),
        }
    }
}

impl From<Status> for String {
    fn from(s: Status) -> Self {
        match s {
            Status::Known(k) => k.as_str().to_owned(),
            Status::Other(o) => o,
        }
    }
}

impl PartialEq<ProcessingStatus> for Status {
    fn eq(&self, other: &ProcessingStatus) -> bool {
        self.known() == Some(*other)
    }
}

/// Longest unknown status shown in text; the structured content keeps it whole.
const MAX_SHOWN_STATUS: usize = 64;

/// For text: an unknown status comes from the upstream, so a hostile one is cut short.
impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Known(k) => f.write_str(k.as_str()),
            Self::Other(o) => f.write_str(&super::error::truncate(o, MAX_SHOWN_STATUS)),
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn statuses_round_trip_known_or_not() {
        for (wire, known) in [
            ("in_progress", Some(ProcessingStatus::InProgress)),
            ("canceling", Some(ProcessingStatus::Canceling)),
            ("ended", Some(ProcessingStatus::Ended)),
            ("paused", None),
        ] {
            let s: Status = serde_json::from_value(Value::from(wire)).unwrap();
            assert_eq!(s.known(), known);
            assert_eq!(s.to_string(), wire);
            assert_eq!(serde_json::to_value(&s).unwrap(), Value::from(wire));
        }
        let long: Status = serde_json::from_value(Value::from("x".repeat(10_000))).unwrap();
        assert!(long.to_string().chars().count() <= MAX_SHOWN_STATUS + 1);
        assert_eq!(long.as_str().len(), 10_000);
        assert!(!long.is_ended() && !long.is_cancelable());
    }
}

/// The most requests a batch can hold (the API's documented limit: 100,000 requests or 256 MB).
/// Counts that add up to more are not a batch's, whatever sent them.
pub const MAX_BATCH_REQUESTS: u64 = 100_000;

/// Tallies of a batch's requests by state. They always add up to the number of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestCounts {
    /// Requests still being processed.
    pub processing: u64,
    /// Requests that completed successfully.
    pub succeeded: u64,
    /// Requests that ended in an error.
    pub errored: u64,
    /// Requests that were canceled before they ran.
    pub canceled: u64,
    /// Requests that expired before they ran.
    pub expired: u64,
}

impl RequestCounts {
    /// All requests in the batch, or `None` when the counts cannot be a batch's: they add up
    /// to more than [`MAX_BATCH_REQUESTS`] (or past `u64`, which unchecked would wrap, or panic
    /// in a debug build). The counts come from the network: callers say so rather than show a
    /// sum that means nothing.
    pub fn total(&self) -> Option<u64> {
        [self.succeeded, self.errored, self.canceled, self.expired]
            .into_iter()
            .try_fold(self.processing, u64::checked_add)
            .filter(|&t| t <= MAX_BATCH_REQUESTS)
    }

    /// Requests that are no longer processing, whatever their outcome (`None` as for
    /// [`total`](Self::total)).
    pub fn done(&self) -> Option<u64> {
        self.total().map(|t| t - self.processing)
    }
}

/// A Message Batch object, exactly as the API returns it (decoded by [`super::bounded`], which
/// bounds what unknown fields it keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MessageBatch {
    /// Unique batch ID, e.g. `msgbatch_013Zva2CMHLNnXjNJJKqJ2EF`.
    pub id: String,
    /// Always `message_batch`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `in_progress`, `canceling` or `ended`; a newer API may send another status, given here as
    /// it was sent.
    #[schemars(with = "String")]
    pub processing_status: Status,
    /// Requests by state.
    pub request_counts: RequestCounts,
    /// RFC 3339 time the batch was created.
    pub created_at: String,
    /// RFC 3339 time the batch expires (24 h after creation) if it has not ended.
    pub expires_at: String,
    /// RFC 3339 time the results stopped being available, or null.
    pub archived_at: Option<String>,
    /// RFC 3339 time a cancel was asked, or null.
    pub cancel_initiated_at: Option<String>,
    /// RFC 3339 time processing ended, or null while it runs.
    pub ended_at: Option<String>,
    /// URL of the JSON Lines results, set once the batch has ended.
    pub results_url: Option<String>,
    /// Fields this server does not know (a newer API's), kept as the API sent them: the first
    /// few, within [`super::bounded::MAX_EXTRA_FIELDS`] and `MAX_EXTRA_VALUES`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Unknown fields the answer had past that budget, skipped (not part of the batch object).
    #[serde(skip)]
    pub extra_dropped: usize,
}

/// One page of `GET /messages/batches`, newest first (decoded by [`super::bounded`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct BatchPage {
    /// The batches on this page, newest first.
    pub data: Vec<MessageBatch>,
    /// Whether there are more batches after this page (pass `last_id` as `after_id`).
    pub has_more: bool,
    /// ID of the first batch on this page (use as `before_id` for the previous page).
    pub first_id: Option<String>,
    /// ID of the last batch on this page (use as `after_id` for the next page).
    pub last_id: Option<String>,
    /// Fields this server does not know (a newer API's), kept as the API sent them (within
    /// the same budget as a batch's).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Batches the answer had past [`super::bounded::MAX_PAGE_ITEMS`], or past the `limit`
    /// asked for, skipped (not part of the page object).
    #[serde(skip)]
    pub items_dropped: usize,
}

/// The answer to `DELETE /messages/batches/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedBatch {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Query parameters of the list endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_id: Option<String>,
}
