//! The benchmarks' upstream handler, shared by `benches/http.rs` and `benches/mcp.rs` (each
//! includes it with `#[path]`): `POST .../messages/batches/{id}/cancel` answered at once with a
//! fixed batch that echoes the ID.

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

/// The batch every cancel answers, with `id` in it.
pub fn batch_json(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"message_batch","processing_status":"canceling","request_counts":{{"processing":100,"succeeded":50,"errored":0,"canceled":0,"expired":0}},"ended_at":null,"created_at":"2026-11-28T10:00:00Z","expires_at":"2026-11-29T10:00:00Z","archived_at":null,"cancel_initiated_at":"2026-11-28T10:05:00Z","results_url":null}}"#
    )
}

/// The cancel route's handler.
pub async fn cancel(Path(id): Path<String>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        batch_json(&id),
    )
}
