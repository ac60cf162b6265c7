//! OAuth Protected Resource Metadata (RFC 9728): where a client learns which authorization
//! server issues tokens for this MCP endpoint, and which scopes there are.
//!
//! Served at `/.well-known/oauth-protected-resource/mcp` (the URL RFC 9728 §3.1 derives from
//! `https://host/mcp`) and at `/.well-known/oauth-protected-resource` (where clients that try
//! the root look). Every URL in it comes from the settings (`MSGBATCH_PUBLIC_URL`), never from
//! the request's headers, so a proxy in front (or a forged `Host`) cannot change it.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use url::Url;

/// The two paths the document is served at.
pub const PATHS: [&str; 2] = [
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource",
];

/// The document, computed once.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// The URL of the document for the public URL (for `resource_metadata` in challenges).
    pub url: String,
    document: Arc<Value>,
}

impl Metadata {
    pub fn new(public_url: &str, issuer: &str, scopes: &[&str]) -> Self {
        Self {
            url: metadata_url(public_url),
            document: Arc::new(json!({
                "resource": public_url,
                "authorization_servers": [issuer],
                "scopes_supported": scopes,
                "bearer_methods_supported": ["header"],
                "resource_name": "msgbatch-mcp: cancel, inspect and list Anthropic Message Batches",
            })),
        }
    }
}

/// RFC 9728 §3.1: the well-known path goes between the host and the resource's path.
pub fn metadata_url(public_url: &str) -> String {
    match Url::parse(public_url) {
        Ok(u) => {
            let path = u.path().trim_end_matches('/');
            format!(
                "{}/.well-known/oauth-protected-resource{path}",
                u.origin().ascii_serialization()
            )
        }
        Err(_) => public_url.to_owned(),
    }
}

/// `GET` of either path.
pub async fn serve(State(metadata): State<Metadata>) -> Response {
    (
        [(header::CACHE_CONTROL, "max-age=300")],
        Json(metadata.document.as_ref().clone()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_url_puts_the_well_known_part_before_the_path() {
        assert_eq!(
            metadata_url("https://mcp.example.com/mcp"),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://mcp.example.com:8443/"),
            "https://mcp.example.com:8443/.well-known/oauth-protected-resource"
        );
    }
}
