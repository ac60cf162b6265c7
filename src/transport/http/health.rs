//! `GET /healthz`: 200 while the process serves. No token, no Host check, no upstream call.
//!
//! For load balancers and orchestrators, which probe each instance by its own address (so a Host
//! check would refuse them) and must not spend the Anthropic API's rate limit on probes. It says
//! the process is up, not that the upstream answers: a failing upstream is for the tool results
//! to explain, and taking every instance out of rotation because of it would help no one.

use axum::Json;
use serde_json::{Value, json};

pub async fn healthz() -> Json<Value> {
    Json(json!({
        "status": "ok",
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}
