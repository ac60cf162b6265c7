//! The wire types of the Message Batches API, shared by the HTTP client, the MCP tools and the
//! embedded simulator so that all three agree on one shape.
//!
//! Nullable fields are `Option`s that serialize as `null` rather than being skipped: the real API
//! always sends them, the OpenAPI spec lists them as required, and a client reading our tool output
//! should see the same object the API returned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// All requests in the batch.
    pub fn total(&self) -> u64 {
        self.processing + self.succeeded + self.errored + self.canceled + self.expired
    }

    /// Requests that are no longer processing, whatever their outcome.
    pub fn done(&self) -> u64 {
        self.total() - self.processing
    }
}

/// A Message Batch object, exactly as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MessageBatch {
    /// Unique batch ID, e.g. `msgbatch_013Zva2CMHLNnXjNJJKqJ2EF`.
    pub id: String,
    /// Always `message_batch`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `in_progress`, `canceling` or `ended`.
    pub processing_status: ProcessingStatus,
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
}

/// One page of `GET /messages/batches`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BatchPage {
    /// The batches on this page, newest first.
    pub data: Vec<MessageBatch>,
    /// Whether there are more batches after this page (pass `last_id` as `after_id`).
    pub has_more: bool,
    /// ID of the first batch on this page (use as `before_id` for the previous page).
    pub first_id: Option<String>,
    /// ID of the last batch on this page (use as `after_id` for the next page).
    pub last_id: Option<String>,
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
