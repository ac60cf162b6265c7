//! The tools' inputs, as the model sees them in `inputSchema`.
//!
//! The doc comments become the schema descriptions: they are read by a model on every request,
//! so they are short and say exactly what to pass.

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Longest `wait_seconds` accepted: ten minutes, well past the few seconds a cancel usually
/// takes to settle, and short enough that a client's own request timeout is the tighter bound.
pub const MAX_WAIT_SECONDS: u32 = 600;
/// Page size when `limit` is not given (the API's own default).
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page the API serves.
pub const MAX_LIMIT: u32 = 1000;
/// Most IDs one `cancel_message_batches` call takes: "all my running batches" is rarely more
/// than a few dozen, and one answer for 100 batches is already a long read.
pub const MAX_BULK_IDS: usize = 100;

/// Input of `cancel_message_batch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct CancelParams {
    /// ID of the batch to cancel, e.g. "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF".
    #[serde(deserialize_with = "batch_id")]
    pub message_batch_id: String,
    /// Seconds to wait for the batch to reach `ended` after the cancel (0-600; default 0: answer at once).
    #[serde(default, deserialize_with = "wait_seconds")]
    #[schemars(range(min = 0, max = 600))]
    pub wait_seconds: Option<u32>,
}

/// Input of `cancel_message_batches`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct BulkCancelParams {
    /// IDs of the batches to cancel (1-100; a repeated ID counts once), e.g. ["msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"]. Only the batches the person meant.
    #[serde(deserialize_with = "batch_ids")]
    #[schemars(length(min = 1, max = 100))]
    pub message_batch_ids: Vec<String>,
    /// Seconds to wait for all of them to reach `ended` after the cancels (0-600; default 0: answer at once).
    #[serde(default, deserialize_with = "wait_seconds")]
    #[schemars(range(min = 0, max = 600))]
    pub wait_seconds: Option<u32>,
}

/// Input of `get_message_batch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GetParams {
    /// ID of the batch, e.g. "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF".
    #[serde(deserialize_with = "batch_id")]
    pub message_batch_id: String,
}

/// Input of `list_message_batches`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct ListParams {
    /// Batches per page, 1-1000 (default 20).
    #[serde(default, deserialize_with = "limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    /// Page of batches newer than this ID (the `first_id` of the current page).
    #[serde(default, deserialize_with = "before_id")]
    pub before_id: Option<String>,
    /// Page of batches older than this ID (the `last_id` of the current page).
    #[serde(default, deserialize_with = "after_id")]
    pub after_id: Option<String>,
}

/// Deserializes one argument, naming it in the error. serde's own text ("invalid type: null,
/// expected a string") does not say which argument was wrong, and the model needs that to fix
/// its call. rmcp turns the error into an `isError` result.
pub(crate) fn named<'de, D, T>(d: D, field: &str, what: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map_err(|e| D::Error::custom(format!("{field} must be {what} ({e})")))
}

pub(crate) fn batch_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    named(
        d,
        "message_batch_id",
        "a string such as \"msgbatch_013Zva2CMHLNnXjNJJKqJ2EF\"",
    )
}

fn batch_ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    named(
        d,
        "message_batch_ids",
        "a list of batch ID strings such as [\"msgbatch_013Zva2CMHLNnXjNJJKqJ2EF\"]",
    )
}

fn wait_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    named(d, "wait_seconds", "a whole number of seconds from 0 to 600")
}

fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    named(d, "limit", "a whole number from 1 to 1000")
}

fn before_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    named(d, "before_id", "a batch ID string")
}

fn after_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    named(d, "after_id", "a batch ID string")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err<T: for<'de> Deserialize<'de> + std::fmt::Debug>(v: serde_json::Value) -> String {
        serde_json::from_value::<T>(v).unwrap_err().to_string()
    }

    #[test]
    fn type_errors_name_the_argument() {
        let e = err::<CancelParams>(json!({"message_batch_id": null}));
        assert!(e.starts_with("message_batch_id must be a string"), "{e}");
        let e = err::<CancelParams>(json!({"message_batch_id": "x", "wait_seconds": "ten"}));
        assert!(e.starts_with("wait_seconds must be a whole number"), "{e}");
        assert!(e.contains("\"ten\""), "{e}");
        let e = err::<GetParams>(json!({"message_batch_id": 5}));
        assert!(e.starts_with("message_batch_id must be"), "{e}");
        let e = err::<ListParams>(json!({"limit": -3}));
        assert!(e.starts_with("limit must be") && e.contains("-3"), "{e}");
        let e = err::<BulkCancelParams>(json!({"message_batch_ids": "msgbatch_x"}));
        assert!(e.starts_with("message_batch_ids must be a list"), "{e}");
        let e = err::<BulkCancelParams>(json!({"message_batch_ids": [1]}));
        assert!(e.starts_with("message_batch_ids must be a list"), "{e}");
        let e = err::<ListParams>(json!({"after_id": 3}));
        assert!(e.starts_with("after_id must be"), "{e}");
    }

    #[test]
    fn missing_and_null_optionals_are_fine() {
        let p: CancelParams = serde_json::from_value(json!({"message_batch_id": "x"})).unwrap();
        assert_eq!(p.wait_seconds, None);
        let p: CancelParams =
            serde_json::from_value(json!({"message_batch_id": "x", "wait_seconds": null})).unwrap();
        assert_eq!(p.wait_seconds, None);
        let p: BulkCancelParams =
            serde_json::from_value(json!({"message_batch_ids": ["x"], "wait_seconds": null}))
                .unwrap();
        assert_eq!(p.wait_seconds, None);
        let p: ListParams = serde_json::from_value(json!({})).unwrap();
        assert_eq!(p.limit, None);
        let e = err::<GetParams>(json!({}));
        assert!(e.contains("missing field `message_batch_id`"), "{e}");
    }
}
