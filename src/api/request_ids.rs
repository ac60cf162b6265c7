//! The `request-id`s of the answers a piece of work received, for whoever needs to quote them
//! (the audit line of a cancel: `src/server/audit.rs`).
//!
//! The API's `request-id` header names one request to Anthropic support. An error already
//! carries it ([`super::ApiError::request_id`]); a success does not, and the batch object stays
//! exactly as the API sent it. So the client notes every answer's `request-id`, with the path it
//! answered, in a list that exists only while some work runs inside [`recording`] (a
//! task-local: nothing is kept, and nothing costs more than a lookup, outside it).

use std::future::Future;
use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;

/// Most answers noted for one piece of work (a bulk cancel of 100 batches, each with a retry
/// or a follow-up fetch, stays well under it).
const MAX_NOTED: usize = 1024;

/// One answer: the request's URL path and its `request-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    pub path: String,
    pub request_id: String,
}

tokio::task_local! {
    static NOTED: Arc<Mutex<Vec<Noted>>>;
}

/// Runs `work`, noting the `request-id` of every answer it receives.
pub async fn recording<F: Future>(work: F) -> F::Output {
    NOTED.scope(Arc::new(Mutex::new(Vec::new())), work).await
}

/// The `request-id` of the last answer to a request whose path ends with `suffix`, if the
/// current work is being recorded and one was noted.
pub fn last_ending_with(suffix: &str) -> Option<String> {
    NOTED
        .try_with(|noted| {
            let noted = noted.lock().ok()?;
            noted
                .iter()
                .rev()
                .find(|n| n.path.ends_with(suffix))
                .map(|n| n.request_id.clone())
        })
        .ok()
        .flatten()
}

/// Notes an answer's `request-id` (capped at 200 characters), if the work is being recorded.
pub(super) fn note(path: &str, headers: &HeaderMap) {
    let Some(id) = headers.get("request-id").and_then(|v| v.to_str().ok()) else {
        return;
    };
    let _ = NOTED.try_with(|noted| {
        if let Ok(mut noted) = noted.lock()
            && noted.len() < MAX_NOTED
        {
            noted.push(Noted {
                path: path.to_owned(),
                request_id: super::error::truncate(id, 200),
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_only_inside_recording() {
        let mut headers = HeaderMap::new();
        headers.insert("request-id", "req_1".parse().unwrap());
        note("/v1/messages/batches/a/cancel", &headers);
        assert_eq!(last_ending_with("/a/cancel"), None);
        let found = recording(async {
            note("/v1/messages/batches/a/cancel", &headers);
            headers.insert("request-id", "req_2".parse().unwrap());
            note("/v1/messages/batches/a", &headers);
            (
                last_ending_with("/batches/a/cancel"),
                last_ending_with("/batches/b/cancel"),
            )
        })
        .await;
        assert_eq!(found, (Some("req_1".to_owned()), None));
    }
}
