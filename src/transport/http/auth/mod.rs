//! Who may call `/mcp`, and what they may do: static bearer tokens, OAuth 2.1 access tokens
//! from the team's own identity provider (MCP authorization: this server is the resource
//! server), or both.
//!
//! - [`require`] (outermost on `/mcp`, before any body is read): a request needs
//!   `Authorization: Bearer` with one of `MSGBATCH_HTTP_TOKEN`'s tokens ([`static_tokens`]) or
//!   an access token from `MSGBATCH_OAUTH_ISSUER` for `MSGBATCH_PUBLIC_URL` ([`validate`], keys
//!   from [`jwks`]) that grants the read scope ([`scopes`]). Anything else is 401 with
//!   `WWW-Authenticate: Bearer` naming the metadata ([`metadata`]) and the scope; a token without
//!   the read scope is 403 `insufficient_scope`. The caller ([`Caller`]) goes into the
//!   request's extensions, which rmcp hands to the tools.
//! - [`step_up`] (innermost, once the body is read): a call of a tool that changes batches
//!   from a caller without the cancel scope is 403 `insufficient_scope` naming it, with its
//!   audit line; nothing is sent upstream.
//!
//! No token, and no part of one, reaches a log, an answer or an audit line.

mod jwks;
mod metadata;
mod scopes;
mod settings;
mod static_tokens;
mod validate;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::model::CallToolRequestParams;

pub use settings::OAuthArgs;
pub use static_tokens::Tokens;

use crate::server::audit::Audit;
use crate::server::caller::{Caller, Who};
use metadata::Metadata;
use scopes::ScopeNames;
use validate::Validator;

/// The authentication of `/mcp`, shared by every request.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    tokens: Tokens,
    oauth: Option<OAuth>,
    /// The tools that need the cancel scope.
    cancel_tools: Vec<String>,
    audit: Audit,
}

struct OAuth {
    validator: Validator,
    scopes: ScopeNames,
    metadata: Metadata,
}

impl Auth {
    /// Sets up the checks; with OAuth, starts fetching the issuer's keys in the background (a
    /// failure there is logged and retried when tokens come, never fatal).
    pub fn new(
        tokens: Tokens,
        oauth: &OAuthArgs,
        audit: Audit,
        cancel_tools: Vec<String>,
    ) -> Result<Self, String> {
        let oauth = match oauth.resolve()? {
            None => None,
            Some(c) => {
                let floor = Duration::from_secs(c.jwks_refresh_floor_secs);
                let scopes = ScopeNames {
                    read: c.read_scope.clone(),
                    cancel: c.cancel_scope.clone(),
                };
                Some(OAuth {
                    metadata: Metadata::new(
                        &c.public_url,
                        &c.issuer,
                        &[&scopes.read, &scopes.cancel],
                    ),
                    validator: Validator {
                        jwks: jwks::Jwks::new(&c.issuer, floor)?,
                        issuer: c.issuer,
                        audiences: c.audiences,
                    },
                    scopes,
                })
            }
        };
        let auth = Self(Arc::new(Inner {
            tokens,
            oauth,
            cancel_tools,
            audit,
        }));
        if auth.0.oauth.is_some() {
            let prefetch = auth.clone();
            tokio::spawn(async move {
                if let Some(o) = &prefetch.0.oauth {
                    // Any key ID: this only fills the cache.
                    let _ = o.validator.jwks.key("").await;
                }
            });
        }
        Ok(auth)
    }

    /// Whether any check is set (static tokens or OAuth).
    pub fn is_on(&self) -> bool {
        !self.0.tokens.is_empty() || self.0.oauth.is_some()
    }

    /// What the start-up log line says: counts and names, never tokens.
    pub fn summary(&self) -> (usize, Option<&str>) {
        (
            self.0.tokens.len(),
            self.0.oauth.as_ref().map(|o| o.validator.issuer.as_str()),
        )
    }

    /// Puts [`require`] in front of the routes so far (`/mcp`) and adds the metadata routes
    /// (public, as RFC 9728 wants).
    pub fn protect(&self, mut router: Router) -> Router {
        if self.is_on() {
            router = router.route_layer(from_fn_with_state(self.clone(), require));
        }
        if let Some(o) = &self.0.oauth {
            for path in metadata::PATHS {
                router = router.route(path, get(metadata::serve).with_state(o.metadata.clone()));
            }
        }
        router
    }
}

/// The bearer token of a request, if it has an `Authorization: Bearer …` header.
fn bearer(request: &Request) -> Option<&[u8]> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// The middleware in front of `/mcp`: see the module doc.
pub async fn require(State(auth): State<Auth>, mut request: Request, next: Next) -> Response {
    let inner = &*auth.0;
    let Some(presented) = bearer(&request) else {
        super::refusals::unauthorized(false);
        return auth.unauthorized(None);
    };
    let caller = if let Some(index) = inner.tokens.index_of(presented) {
        Caller {
            who: Who::StaticToken { index },
            client_id: None,
            may_cancel: true,
            cancel_scope: inner
                .oauth
                .as_ref()
                .map_or_else(String::new, |o| o.scopes.cancel.clone()),
        }
    } else if let Some(oauth) = &inner.oauth {
        let token = String::from_utf8_lossy(presented);
        match oauth.validator.validate(&token).await {
            Ok(claims) => {
                let grant = oauth.scopes.grant(&claims.scopes());
                let who = Who::OAuth {
                    sub: claims.sub.clone(),
                    email: claims.email.clone(),
                    preferred_username: claims.preferred_username.clone(),
                };
                if !grant.read {
                    tracing::info!(?who, "refused a token without the read scope (403)");
                    return auth.forbidden(
                        &oauth.scopes.read,
                        "the token does not grant the read scope",
                    );
                }
                Caller {
                    who,
                    client_id: claims.client(),
                    may_cancel: grant.cancel,
                    cancel_scope: oauth.scopes.cancel.clone(),
                }
            }
            Err(reason) => {
                // Counted, not logged one by one (a flood of bad tokens would flood the log).
                tracing::debug!(reason = %reason, "refused an invalid access token (401)");
                super::refusals::unauthorized(true);
                return auth.unauthorized(Some(&reason.to_string()));
            }
        }
    } else {
        super::refusals::unauthorized(true);
        return auth.unauthorized(Some("the bearer token is not one this server accepts"));
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The middleware inside the body check: a call that cancels needs the cancel scope.
pub async fn step_up(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    let Some(caller) = request
        .extensions()
        .get::<Caller>()
        .filter(|c| !c.may_cancel)
        .cloned()
    else {
        return next.run(request).await;
    };
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Read in full (and bounded) by the body check already: this only collects it again.
    let Ok(bytes) = axum::body::to_bytes(body, super::body::MAX_BODY_BYTES).await else {
        return (
            StatusCode::BAD_REQUEST,
            "Bad Request: the body could not be read.",
        )
            .into_response();
    };
    if let Some(call) = scopes::cancel_call(&bytes, &auth.0.cancel_tools) {
        let mut params = CallToolRequestParams::new(call.tool.clone());
        params.arguments = call.arguments;
        if let Some(line) = auth.0.audit.begin(&params, Some(&caller), true) {
            line.refused("insufficient_scope");
        }
        tracing::info!(tool = %call.tool, "refused a cancel without the cancel scope (403)");
        let scope = auth
            .0
            .oauth
            .as_ref()
            .map_or_else(|| caller.cancel_scope.clone(), |o| o.scopes.both());
        return auth.forbidden(
            &scope,
            &format!("{} needs the {} scope", call.tool, caller.cancel_scope),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

impl Auth {
    /// 401 (RFC 6750 §3, MCP authorization): no error code when no token was sent,
    /// `invalid_token` with the reason when one was; with OAuth, where to get a token.
    fn unauthorized(&self, reason: Option<&str>) -> Response {
        let mut challenge = String::from(r#"Bearer realm="msgbatch-mcp""#);
        if let Some(o) = &self.0.oauth {
            challenge.push_str(&format!(
                r#", resource_metadata="{}", scope="{}""#,
                o.metadata.url, o.scopes.read
            ));
        }
        if let Some(reason) = reason {
            challenge.push_str(&format!(
                r#", error="invalid_token", error_description="{}""#,
                quoted(reason)
            ));
        }
        let text = match (reason, &self.0.oauth) {
            (Some(r), _) => format!(
                "Unauthorized: {r}. Check the Authorization header your MCP client sends (its \
                 token may have expired or been rotated); sign in again if it is an OAuth token."
            ),
            (None, Some(o)) => format!(
                "Unauthorized: this MCP server needs an OAuth access token from {} (your MCP \
                 client finds how at {}), or a static token from whoever runs it.",
                o.validator.issuer, o.metadata.url
            ),
            (None, None) => "Unauthorized: this MCP server needs `Authorization: Bearer <token>`, \
                with a token from whoever runs it (claude mcp add --transport http ... --header \
                \"Authorization: Bearer <token>\")."
                .to_owned(),
        };
        answer(StatusCode::UNAUTHORIZED, &challenge, text)
    }

    /// 403 `insufficient_scope` naming the scope needed, so that a client can step up.
    fn forbidden(&self, scope: &str, why: &str) -> Response {
        let mut challenge = format!(
            r#"Bearer error="insufficient_scope", scope="{}""#,
            quoted(scope)
        );
        if let Some(o) = &self.0.oauth {
            challenge.push_str(&format!(r#", resource_metadata="{}""#, o.metadata.url));
        }
        challenge.push_str(&format!(r#", error_description="{}""#, quoted(why)));
        let text = format!(
            "Forbidden: {why}; nothing was sent. Sign in again asking for the scope {scope:?}, or \
             ask whoever runs this server for it."
        );
        answer(StatusCode::FORBIDDEN, &challenge, text)
    }
}

/// A value for a quoted-string in a header: no quote, backslash or control character.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

fn answer(status: StatusCode, challenge: &str, text: String) -> Response {
    let challenge = HeaderValue::from_str(challenge)
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"msgbatch-mcp\""));
    (
        status,
        [
            (header::WWW_AUTHENTICATE, challenge),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        Body::from(text),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_scheme_case_insensitively() {
        let req = |v: &str| {
            Request::builder()
                .header(header::AUTHORIZATION, v)
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(bearer(&req("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&req("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer(&req("Basic abc")), None);
        assert_eq!(bearer(&req("Bearer")), None);
    }

    #[test]
    fn the_challenge_says_bearer() {
        let auth = Auth::new(
            "t".parse().unwrap(),
            &OAuthArgs::default(),
            Audit::stderr_only(),
            Vec::new(),
        )
        .unwrap();
        for reason in [None, Some("the token has expired")] {
            let r = auth.unauthorized(reason);
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            let h = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
            assert!(h.starts_with("Bearer "), "{h}");
            assert_eq!(h.contains("invalid_token"), reason.is_some());
        }
        let r = auth.forbidden("batches:read batches:cancel", "x \"needs\" y");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let h = r.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(
            h.contains(r#"error="insufficient_scope", scope="batches:read batches:cancel""#),
            "{h}"
        );
        assert!(h.contains(r#"error_description="x needs y""#), "{h}");
    }
}
