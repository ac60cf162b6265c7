//! The tools' inputs, as the model sees them in `inputSchema`.
//!
//! The doc comments become the schema descriptions: they are read by a model on every request,
//! so they are short and say exactly what to pass.

use schemars::JsonSchema;
use serde::Deserialize;

/// Longest `wait_seconds` accepted: ten minutes, well past the few seconds a cancel usually
/// takes to settle, and short enough that a client's own request timeout is the tighter bound.
pub const MAX_WAIT_SECONDS: u32 = 600;
/// Page size when `limit` is not given (the API's own default).
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page the API serves.
pub const MAX_LIMIT: u32 = 1000;

/// Input of `cancel_message_batch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct CancelParams {
    /// ID of the batch to cancel, e.g. "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF".
    pub message_batch_id: String,
    /// Seconds to wait for the batch to reach `ended` after the cancel (0-600; default 0: answer at once).
    #[serde(default)]
    #[schemars(range(min = 0, max = 600))]
    pub wait_seconds: Option<u32>,
}

/// Input of `get_message_batch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GetParams {
    /// ID of the batch, e.g. "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF".
    pub message_batch_id: String,
}

/// Input of `list_message_batches`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct ListParams {
    /// Batches per page, 1-1000 (default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    /// Page of batches newer than this ID (the `first_id` of the current page).
    #[serde(default)]
    pub before_id: Option<String>,
    /// Page of batches older than this ID (the `last_id` of the current page).
    #[serde(default)]
    pub after_id: Option<String>,
}
