//! The input of `get_message_batch_results`, and its checks before anything is sent.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use super::summary::Filter;
use crate::api::results::ResultType;
use crate::server::params::named;

/// Entries listed when `limit` is not given: enough to act on, few enough to read.
pub const DEFAULT_LIMIT: u32 = 10;
/// Most entries one answer lists (the answer's size stays within its budget).
pub const MAX_LIMIT: u32 = 50;

/// A result type to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WantedType {
    Succeeded,
    Errored,
    Canceled,
    Expired,
}

/// Input of `get_message_batch_results`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ResultsParams {
    /// ID of an ended batch, e.g. "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF".
    #[serde(deserialize_with = "crate::server::params::batch_id")]
    pub message_batch_id: String,
    /// List the entries of this type only.
    #[serde(default, deserialize_with = "result_type")]
    pub result_type: Option<WantedType>,
    /// List the entry with this custom_id only (letters, digits, '_' and '-', up to 64).
    #[serde(default, deserialize_with = "custom_id")]
    #[schemars(length(min = 1, max = 64))]
    pub custom_id: Option<String>,
    /// Most entries listed, 1-50 (default 10); the counts always cover the whole file.
    #[serde(default, deserialize_with = "limit")]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u32>,
}

impl ResultsParams {
    /// The filter, or why the arguments are wrong (nothing is sent then).
    pub fn filter(&self) -> Result<Filter, String> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!(
                "limit is {limit}; it must be between 1 and {MAX_LIMIT}. Nothing was sent."
            ));
        }
        let result_type = self.result_type.map(|t| match t {
            WantedType::Succeeded => ResultType::Succeeded,
            WantedType::Errored => ResultType::Errored,
            WantedType::Canceled => ResultType::Canceled,
            WantedType::Expired => ResultType::Expired,
        });
        let custom_id = match self.custom_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c)
                if c.len() <= 64
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                Some(c.to_owned())
            }
            Some(_) => {
                return Err(
                    "custom_id must be 1 to 64 letters, digits, '_' or '-' (the API's rule \
                     for custom IDs). Nothing was sent."
                        .to_owned(),
                );
            }
        };
        Ok(Filter {
            result_type,
            custom_id,
            limit: limit as usize,
        })
    }
}

fn result_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WantedType>, D::Error> {
    named(
        d,
        "result_type",
        "one of \"succeeded\", \"errored\", \"canceled\", \"expired\"",
    )
}

fn custom_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    named(d, "custom_id", "a string")
}

fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    named(d, "limit", "a whole number from 1 to 50")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(v: serde_json::Value) -> Result<Filter, String> {
        serde_json::from_value::<ResultsParams>(v).unwrap().filter()
    }

    #[test]
    fn arguments_are_checked_before_anything_is_sent() {
        let f = filter(json!({"message_batch_id": "x"})).unwrap();
        assert_eq!((f.limit, f.is_set()), (10, false));
        let f = filter(json!({"message_batch_id": "x", "result_type": "errored", "limit": 50}))
            .unwrap();
        assert_eq!(f.result_type, Some(ResultType::Errored));
        for bad in [json!({"limit": 0}), json!({"limit": 51})] {
            let mut v = bad;
            v["message_batch_id"] = json!("x");
            assert!(filter(v).unwrap_err().contains("between 1 and 50"));
        }
        let e = serde_json::from_value::<ResultsParams>(
            json!({"message_batch_id": "x", "result_type": "failed"}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("result_type must be one of"), "{e}");
        let e = filter(json!({"message_batch_id": "x", "custom_id": "a/b"})).unwrap_err();
        assert!(e.contains("Nothing was sent"), "{e}");
        let e =
            serde_json::from_value::<ResultsParams>(json!({"message_batch_id": "x", "limit": "5"}))
                .unwrap_err()
                .to_string();
        assert!(e.starts_with("limit must be"), "{e}");
    }
}
