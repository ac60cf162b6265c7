//! Checking the body of `POST /messages/batches` the way the real API does, enough that a
//! client's mistakes surface here rather than only against the real service.
//!
//! The rules are the spec's (`CreateMessageBatchRequest`: 1..=10,000 requests, each with a
//! `custom_id` and `params` holding `model`, `max_tokens >= 1` and a non-empty `messages`) plus
//! the real API's documented ones the spec omits: a `custom_id` is 1..=64 of `A-Z a-z 0-9 _ -`
//! and unique within the batch. Message content may be a string or a list of blocks, as in the
//! Messages API. Other `params` (system, temperature, ...) are accepted and ignored.
//!
//! Messages name the offending field by its path (`requests.3.params.max_tokens: ...`), in the
//! style of the real API's validation errors; the first problem found is reported.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::store::RequestMeta;

/// Most requests in one batch.
pub(crate) const MAX_REQUESTS: usize = 10_000;
/// Longest `custom_id`.
const MAX_CUSTOM_ID: usize = 64;

/// The requests of a valid create body, or the message saying what is wrong with it.
pub(crate) fn create_body(body: &[u8]) -> Result<Vec<RequestMeta>, String> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| format!("The request body is not valid JSON: {e}."))?;
    let root = root
        .as_object()
        .ok_or("The request body must be a JSON object with a `requests` list.")?;
    let requests = field(root, "requests", "")?
        .as_array()
        .ok_or("requests: Input should be a valid list.")?;
    if requests.is_empty() {
        return Err("requests: List should have at least 1 item after validation, not 0.".into());
    }
    if requests.len() > MAX_REQUESTS {
        return Err(format!(
            "requests: List should have at most {MAX_REQUESTS} items after validation, not {}.",
            requests.len()
        ));
    }
    let mut seen = HashSet::with_capacity(requests.len());
    let mut out = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let meta = request_item(i, request)?;
        if !seen.insert(meta.custom_id.clone()) {
            return Err(format!(
                "requests.{i}.custom_id: '{}' is used by an earlier request; each custom_id must \
                 be unique within a batch.",
                meta.custom_id
            ));
        }
        out.push(meta);
    }
    Ok(out)
}

fn request_item(i: usize, request: &Value) -> Result<RequestMeta, String> {
    let at = format!("requests.{i}");
    let request = object(request, &at)?;

    let custom_id = string(
        field(request, "custom_id", &at)?,
        &format!("{at}.custom_id"),
    )?;
    let well_formed = (1..=MAX_CUSTOM_ID).contains(&custom_id.len())
        && custom_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !well_formed {
        return Err(format!(
            "{at}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
        ));
    }

    let at_params = format!("{at}.params");
    let params = object(field(request, "params", &at)?, &at_params)?;

    let model = string(
        field(params, "model", &at_params)?,
        &format!("{at_params}.model"),
    )?;
    if model.is_empty() {
        return Err(format!(
            "{at_params}.model: String should have at least 1 character."
        ));
    }

    let max_tokens = field(params, "max_tokens", &at_params)?;
    let max_tokens = match max_tokens.as_i64() {
        Some(n) if n >= 1 => n.unsigned_abs(),
        Some(_) => {
            return Err(format!(
                "{at_params}.max_tokens: Input should be greater than or equal to 1."
            ));
        }
        None => {
            return Err(format!(
                "{at_params}.max_tokens: Input should be a valid integer."
            ));
        }
    };

    let at_messages = format!("{at_params}.messages");
    let messages = field(params, "messages", &at_params)?
        .as_array()
        .ok_or_else(|| format!("{at_messages}: Input should be a valid list."))?;
    if messages.is_empty() {
        return Err(format!(
            "{at_messages}: List should have at least 1 item after validation, not 0."
        ));
    }
    for (j, message) in messages.iter().enumerate() {
        let at_message = format!("{at_messages}.{j}");
        let message = object(message, &at_message)?;
        match field(message, "role", &at_message)?.as_str() {
            Some("user" | "assistant") => {}
            _ => {
                return Err(format!(
                    "{at_message}.role: Input should be 'user' or 'assistant'."
                ));
            }
        }
        match field(message, "content", &at_message)? {
            Value::String(_) | Value::Array(_) => {}
            _ => {
                return Err(format!(
                    "{at_message}.content: Input should be a valid string or a list of content \
                     blocks."
                ));
            }
        }
    }

    Ok(RequestMeta {
        custom_id: custom_id.to_owned(),
        model: model.to_owned(),
        max_tokens,
    })
}

/// `object[name]`, or "`at.name`: Field required." (`at` empty at the root).
fn field<'a>(object: &'a Map<String, Value>, name: &str, at: &str) -> Result<&'a Value, String> {
    object.get(name).ok_or_else(|| {
        if at.is_empty() {
            format!("{name}: Field required.")
        } else {
            format!("{at}.{name}: Field required.")
        }
    })
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{at}: Input should be a valid object."))
}

fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{at}: Input should be a valid string."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        create_body(body.as_bytes()).unwrap_err()
    }

    const GOOD: &str = r#"{"requests":[{"custom_id":"a-1","params":{"model":"m","max_tokens":5,
        "messages":[{"role":"user","content":"hi"}]}}]}"#;

    #[test]
    fn accepts_a_valid_body() {
        let r = create_body(GOOD.as_bytes()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].custom_id.as_str(), r[0].max_tokens), ("a-1", 5));
    }

    #[test]
    fn names_the_field_at_fault() {
        assert!(err("{").contains("not valid JSON"));
        assert!(err("[]").contains("JSON object"));
        assert_eq!(err("{}"), "requests: Field required.");
        assert!(err(r#"{"requests":[]}"#).contains("at least 1 item"));
        let second = r#"{"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":1,
            "messages":[{"role":"user","content":"hi"}]}},{"custom_id":"b","params":{}}]}"#;
        assert_eq!(err(second), "requests.1.params.model: Field required.");
        let zero = GOOD.replace("\"max_tokens\":5", "\"max_tokens\":0");
        assert!(err(&zero).contains("requests.0.params.max_tokens: Input should be greater"));
        let empty = GOOD.replace(r#"[{"role":"user","content":"hi"}]"#, "[]");
        assert!(err(&empty).contains("requests.0.params.messages: List should have at least 1"));
        let bad_id = GOOD.replace("a-1", "a b");
        assert!(err(&bad_id).contains("requests.0.custom_id: String should match pattern"));
    }

    #[test]
    fn refuses_duplicate_custom_ids() {
        let item = r#"{"custom_id":"x","params":{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}}"#;
        let body = format!(r#"{{"requests":[{item},{item}]}}"#);
        assert!(err(&body).starts_with("requests.1.custom_id: 'x' is used by an earlier request"));
    }

    #[test]
    fn refuses_too_many_requests() {
        let item = r#"{"custom_id":"x","params":{}}"#;
        let items = vec![item; MAX_REQUESTS + 1].join(",");
        let body = format!(r#"{{"requests":[{items}]}}"#);
        assert!(err(&body).contains("at most 10000 items"));
    }
}
