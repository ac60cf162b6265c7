//! The OAuth settings of `serve --http`: which issuer's tokens to accept, for which resource,
//! and the scope names that mean "look" and "cancel".

use clap::Args;
use url::Url;

/// `serve --http` OAuth options (flattened into [`super::super::HttpArgs`]).
#[derive(Debug, Clone, Default, Args)]
pub struct OAuthArgs {
    /// Accept OAuth access tokens (JWTs) from this issuer, e.g. https://idp.example.com/realms/team:
    /// its OpenID / RFC 8414 metadata gives the signing keys. Needs MSGBATCH_PUBLIC_URL.
    #[arg(
        long = "oauth-issuer",
        env = "MSGBATCH_OAUTH_ISSUER",
        value_name = "URL"
    )]
    pub issuer: Option<String>,

    /// The URL clients use for this server's MCP endpoint, e.g. https://mcp.example.com/mcp:
    /// the OAuth resource tokens must be issued for (their `aud`), and what discovery names.
    /// Behind a proxy this setting, never a request header, says what the public URL is.
    #[arg(long = "public-url", env = "MSGBATCH_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// The `aud` values to accept instead of the public URL, comma-separated, for an IdP that
    /// puts something else there (e.g. Entra ID's `api://<app id>`).
    #[arg(
        long = "oauth-audience",
        env = "MSGBATCH_OAUTH_AUDIENCE",
        value_delimiter = ',',
        value_name = "AUD"
    )]
    pub audience: Vec<String>,

    /// The scope that lets a caller look (get, list).
    #[arg(
        long = "oauth-read-scope",
        env = "MSGBATCH_OAUTH_READ_SCOPE",
        default_value = "batches:read"
    )]
    pub read_scope: String,

    /// The scope that lets a caller cancel, on top of the read scope.
    #[arg(
        long = "oauth-cancel-scope",
        env = "MSGBATCH_OAUTH_CANCEL_SCOPE",
        default_value = "batches:cancel"
    )]
    pub cancel_scope: String,

    /// Least seconds between two fetches of the issuer's keys that a token with an unknown key
    /// ID can cause.
    #[arg(
        long = "oauth-jwks-refresh-floor-secs",
        env = "MSGBATCH_OAUTH_JWKS_REFRESH_FLOOR_SECS",
        default_value_t = 30,
        hide = true
    )]
    pub jwks_refresh_floor_secs: u64,
}

/// The OAuth settings, checked.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub issuer: String,
    pub public_url: String,
    pub audiences: Vec<String>,
    pub read_scope: String,
    pub cancel_scope: String,
    pub jwks_refresh_floor_secs: u64,
}

impl OAuthArgs {
    /// The checked settings, `None` when OAuth is off, or a text saying what to fix.
    pub fn resolve(&self) -> Result<Option<OAuthConfig>, String> {
        let issuer = match self.issuer.as_deref().map(str::trim) {
            None | Some("") => return Ok(None),
            Some(i) => i.to_owned(),
        };
        check_url("MSGBATCH_OAUTH_ISSUER", &issuer)?;
        let Some(public_url) = self
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Err(
                "MSGBATCH_OAUTH_ISSUER is set but MSGBATCH_PUBLIC_URL is not: set it to the URL \
                 clients use for this server's MCP endpoint (e.g. https://mcp.example.com/mcp); \
                 tokens must be issued for it."
                    .to_owned(),
            );
        };
        check_url("MSGBATCH_PUBLIC_URL", public_url)?;
        let audiences: Vec<String> = self
            .audience
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        let audiences = if audiences.is_empty() {
            vec![public_url.to_owned()]
        } else {
            audiences
        };
        for (name, scope) in [
            ("MSGBATCH_OAUTH_READ_SCOPE", &self.read_scope),
            ("MSGBATCH_OAUTH_CANCEL_SCOPE", &self.cancel_scope),
        ] {
            if scope.is_empty()
                || !scope
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            {
                return Err(format!(
                    "{name} {scope:?} is not a scope name (visible ASCII, no spaces or quotes)."
                ));
            }
        }
        Ok(Some(OAuthConfig {
            issuer,
            public_url: public_url.to_owned(),
            audiences,
            read_scope: self.read_scope.clone(),
            cancel_scope: self.cancel_scope.clone(),
            jwks_refresh_floor_secs: self.jwks_refresh_floor_secs,
        }))
    }
}

/// An https URL, or http to this machine (a test IdP, a local proxy).
fn check_url(name: &str, url: &str) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("{name} {url:?} is not a URL ({e})."))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{name} {url:?} must not have a query or fragment."));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err(format!(
            "{name} {url:?} must be an https:// URL (http:// only to this machine)."
        )),
    }
}

pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(issuer: Option<&str>, public: Option<&str>) -> OAuthArgs {
        OAuthArgs {
            issuer: issuer.map(str::to_owned),
            public_url: public.map(str::to_owned),
            read_scope: "batches:read".into(),
            cancel_scope: "batches:cancel".into(),
            ..OAuthArgs::default()
        }
    }

    #[test]
    fn off_without_issuer_and_needs_the_public_url_with_one() {
        assert!(args(None, None).resolve().unwrap().is_none());
        let e = args(Some("https://idp.example"), None)
            .resolve()
            .unwrap_err();
        assert!(e.contains("MSGBATCH_PUBLIC_URL"), "{e}");
        let c = args(Some("https://idp.example"), Some("https://mcp.example/mcp"))
            .resolve()
            .unwrap()
            .unwrap();
        assert_eq!(c.audiences, ["https://mcp.example/mcp"]);
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        let e = args(Some("http://idp.example"), Some("https://mcp.example/mcp"))
            .resolve()
            .unwrap_err();
        assert!(e.contains("https://"), "{e}");
        assert!(
            args(
                Some("http://127.0.0.1:9"),
                Some("http://localhost:8000/mcp")
            )
            .resolve()
            .is_ok()
        );
    }
}
