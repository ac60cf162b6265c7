//! Checking an OAuth access token (a JWT, RFC 9068): signed by the issuer with an allowed
//! algorithm, issued by exactly the issuer, for this resource, and within its lifetime.
//!
//! The algorithm must be one of [`ALLOWED`] and the one the key is for: never `none` (which
//! jsonwebtoken does not even parse), never HMAC (no key of ours is a shared secret, so a token
//! "signed" with the issuer's public key as an HMAC secret finds no key to verify it). Each
//! failure has a reason for `error_description`, which names no part of the token.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::{Jwks, KeyError};

/// The signature algorithms accepted.
pub const ALLOWED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
/// Seconds of clock difference with the issuer tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// The claims we read. `aud`, `exp`, `iss`, `sub` are required (jsonwebtoken checks them).
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// A space-separated list (RFC 8693, RFC 9068).
    #[serde(default)]
    pub scope: Option<String>,
    /// A list or a space-separated string (Okta, Entra ID).
    #[serde(default)]
    pub scp: Option<StringOrList>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// RFC 9068; `azp` (OpenID, Keycloak), `appid`/`azp` (Entra ID), `cid` (Okta).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    #[serde(default)]
    pub cid: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl Claims {
    /// The scopes granted: `scope` if present, else `scp`.
    pub fn scopes(&self) -> Vec<String> {
        match (&self.scope, &self.scp) {
            (Some(s), _) | (None, Some(StringOrList::One(s))) => {
                s.split_whitespace().map(str::to_owned).collect()
            }
            (None, Some(StringOrList::Many(v))) => v.clone(),
            (None, None) => Vec::new(),
        }
    }

    /// The OAuth client the token was issued to.
    pub fn client(&self) -> Option<String> {
        [&self.client_id, &self.azp, &self.appid, &self.cid]
            .into_iter()
            .find_map(Clone::clone)
    }
}

/// Why a token is refused (the text is the `error_description`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    Malformed,
    Algorithm,
    NoKeyId,
    UnknownKey,
    KeysUnavailable,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    MissingClaim(String),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("the token is not a JWT this server can read"),
            Self::Algorithm => f.write_str("the token is not signed with RS256, ES256 or EdDSA"),
            Self::NoKeyId => f.write_str("the token names no signing key (kid)"),
            Self::UnknownKey => f.write_str("the token is signed with a key the issuer does not publish"),
            Self::KeysUnavailable => f.write_str(
                "the token is signed with a key this server does not know, and the issuer's keys cannot be fetched now",
            ),
            Self::Signature => f.write_str("the token's signature is not valid"),
            Self::Expired => f.write_str("the token has expired"),
            Self::NotYetValid => f.write_str("the token is not valid yet (nbf)"),
            Self::Issuer => f.write_str("the token is from another issuer"),
            Self::Audience => f.write_str("the token was not issued for this resource (aud)"),
            Self::MissingClaim(c) => write!(f, "the token has no {c} claim"),
        }
    }
}

/// Checks tokens against one issuer and resource.
pub struct Validator {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub jwks: Jwks,
}

impl Validator {
    pub async fn validate(&self, token: &str) -> Result<Claims, Invalid> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName => Invalid::Algorithm,
            // The header's one enumerated field is `alg`: an algorithm jsonwebtoken does not
            // even have (`none`) fails to parse as an unknown variant.
            ErrorKind::Json(j) if j.to_string().contains("unknown variant") => Invalid::Algorithm,
            _ => Invalid::Malformed,
        })?;
        if !ALLOWED.contains(&header.alg) {
            return Err(Invalid::Algorithm);
        }
        let kid = header.kid.as_deref().ok_or(Invalid::NoKeyId)?;
        let key = self.jwks.key(kid).await.map_err(|e| match e {
            KeyError::Unknown => Invalid::UnknownKey,
            KeyError::Unavailable(_) => Invalid::KeysUnavailable,
        })?;
        if key.alg != header.alg {
            return Err(Invalid::Algorithm);
        }
        let mut validation = Validation::new(key.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::InvalidSignature => Invalid::Signature,
                ErrorKind::ExpiredSignature => Invalid::Expired,
                ErrorKind::ImmatureSignature => Invalid::NotYetValid,
                ErrorKind::InvalidIssuer => Invalid::Issuer,
                ErrorKind::InvalidAudience => Invalid::Audience,
                ErrorKind::MissingRequiredClaim(c) => Invalid::MissingClaim(c.clone()),
                ErrorKind::InvalidAlgorithm => Invalid::Algorithm,
                _ => Invalid::Malformed,
            },
        )?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: serde_json::Value) -> Claims {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let c = claims(serde_json::json!({"sub": "a", "scope": "batches:read  batches:cancel"}));
        assert_eq!(c.scopes(), ["batches:read", "batches:cancel"]);
        let c = claims(serde_json::json!({"sub": "a", "scp": ["batches:read"]}));
        assert_eq!(c.scopes(), ["batches:read"]);
        let c = claims(serde_json::json!({"sub": "a", "scp": "batches:cancel"}));
        assert_eq!(c.scopes(), ["batches:cancel"]);
        let c = claims(serde_json::json!({"sub": "a", "azp": "claude"}));
        assert!(c.scopes().is_empty());
        assert_eq!(c.client().as_deref(), Some("claude"));
    }

    #[test]
    fn reasons_name_no_token() {
        for r in [
            Invalid::Expired,
            Invalid::Audience,
            Invalid::MissingClaim("sub".into()),
        ] {
            assert!(r.to_string().starts_with("the token"), "{r}");
        }
    }
}
