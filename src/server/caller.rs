//! Who is calling, and what they may do, as the tools see it.
//!
//! The transport decides (for `serve --http`, `src/transport/http/auth/`: a static token or an
//! OAuth access token) and puts a [`Caller`] in the HTTP request's extensions; rmcp hands the
//! request's `http::request::Parts` to every handler in the [`RequestContext`]'s extensions, so
//! a tool reads the caller from there ([`Caller::of`]). No caller there (stdio, or HTTP without
//! any authentication) is the one local person the server runs for: they may call every tool.
//! This type lives beside the tools, not in the transport, so that the tools never import the
//! transport.

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use serde::Serialize;

use super::BatchServer;

/// The identity behind a request and its permission to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub who: Who,
    /// The OAuth client the token was issued to (`client_id`, `azp`, `appid` or `cid`).
    pub client_id: Option<String>,
    /// Whether the tools that change batches may be called (`batches:cancel`, or a static
    /// token, which has every permission).
    pub may_cancel: bool,
    /// The scope a cancel needs, named in refusals so that a client can ask for it.
    pub cancel_scope: String,
}

/// Who made a request, for the audit line. Never a token or any part of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Who {
    /// One of `MSGBATCH_HTTP_TOKEN`'s tokens, by its position in the list (0 is the first).
    StaticToken { index: usize },
    /// An OAuth access token's subject, with the names the IdP added, if any.
    #[serde(rename = "oauth")]
    OAuth {
        sub: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        preferred_username: Option<String>,
    },
    /// stdio, or HTTP with no authentication: whoever runs the server.
    Local,
}

impl Caller {
    /// The caller of the request `ctx` belongs to, if the transport named one.
    pub fn of(ctx: &RequestContext<RoleServer>) -> Option<&Caller> {
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
    }
}

/// What a tool that changes batches answers to a caller without the scope for it. The HTTP
/// layer answers such a call 403 before it gets here; this is the second line.
pub fn cancel_refusal(tool: &str, scope: &str) -> String {
    format!(
        "Forbidden: {tool} cancels batches, which needs the `{scope}` scope, and your access \
         token does not have it; nothing was sent. Sign in again asking for `{scope}`, or ask \
         whoever runs this server for it. get_message_batch and list_message_batches still work."
    )
}

impl BatchServer {
    /// The tools that change batches: those whose annotations do not say they are read-only
    /// (as [`BatchServer::read_only`] decides). The HTTP layer refuses calls to these without
    /// the cancel scope; `tools/list` hides them from such a caller.
    pub fn tools_that_change_batches(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true))
            .map(|t| t.name.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_serializes_without_secrets_and_with_what_is_known() {
        let who = Who::OAuth {
            sub: "u-1".into(),
            email: Some("ada@example.com".into()),
            preferred_username: None,
        };
        assert_eq!(
            serde_json::to_value(&who).unwrap(),
            serde_json::json!({"kind": "oauth", "sub": "u-1", "email": "ada@example.com"})
        );
        assert_eq!(
            serde_json::to_value(Who::StaticToken { index: 1 }).unwrap(),
            serde_json::json!({"kind": "static_token", "index": 1})
        );
    }

    #[test]
    fn the_cancel_tools_are_the_ones_that_change_batches() {
        let server = BatchServer::new(crate::api::BatchesClient::new(
            &crate::config::ApiSettings::default().resolve(),
        ));
        let mut names = server.tools_that_change_batches();
        names.sort();
        assert_eq!(names, ["cancel_message_batch", "cancel_message_batches"]);
    }
}
