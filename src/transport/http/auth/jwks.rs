//! The issuer's signing keys: found through its metadata, fetched, cached, and refreshed when a
//! token names a key ID we do not know, at most once per floor.
//!
//! An IdP rotates keys by publishing the new one and signing with it: the first token with the
//! new `kid` makes us fetch the key set again. A flood of tokens with made-up key IDs costs at
//! most one fetch per floor ([`super::settings::OAuthArgs::jwks_refresh_floor_secs`]). When the
//! IdP cannot be reached, the keys we have stay in use (tokens it signed before keep working)
//! and unknown ones are refused; a successful fetch replaces the set, so a key the IdP withdrew
//! is dropped. Keys older than [`MAX_AGE`] are fetched again on the next token, also within
//! the floor.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

/// How long a fetched key set is trusted before it is fetched again (on the next token).
pub const MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// Largest metadata or key set we read.
const MAX_BYTES: usize = 256 * 1024;

/// One usable key: the algorithm it is for, and the key.
#[derive(Clone)]
pub struct Key {
    pub alg: Algorithm,
    pub decoding: DecodingKey,
}

/// Why no key could be had for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The issuer's keys were fetched and none has this ID.
    Unknown,
    /// The key is not known and the issuer's keys could not be fetched (why, without secrets).
    Unavailable(String),
}

/// The cache.
pub struct Jwks {
    client: reqwest::Client,
    issuer: String,
    floor: Duration,
    keys: RwLock<Fetched>,
    /// When the last fetch was tried, and how it failed; one fetch at a time.
    fetches: tokio::sync::Mutex<Fetches>,
}

/// The keys of the last successful fetch, and when it was.
#[derive(Default)]
struct Fetched {
    keys: Arc<HashMap<String, Key>>,
    fetched: Option<Instant>,
}

#[derive(Default)]
struct Fetches {
    tried: Option<Instant>,
    /// Why the last fetch failed, if it did.
    failure: Option<String>,
    jwks_uri: Option<Url>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

impl Jwks {
    pub fn new(issuer: &str, floor: Duration) -> Result<Self, String> {
        // Any crypto provider another part of the process installed first is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("msgbatch-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none());
        if Url::parse(issuer).is_ok_and(|u| super::settings::is_loopback(&u)) {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| format!("could not set up the HTTP client for the issuer: {e}"))?;
        Ok(Self {
            client,
            issuer: issuer.to_owned(),
            floor,
            keys: RwLock::new(Fetched::default()),
            fetches: tokio::sync::Mutex::new(Fetches::default()),
        })
    }

    /// The key `kid` if we have it, and whether the set it came from is still fresh.
    fn known(&self, kid: &str) -> (Option<Key>, bool) {
        match self.keys.read() {
            Ok(k) => (
                k.keys.get(kid).cloned(),
                k.fetched.is_some_and(|t| t.elapsed() < MAX_AGE),
            ),
            Err(_) => (None, false),
        }
    }

    /// The key `kid`, fetching the key set again if it is unknown (or stale) and the floor
    /// allows. A known key never waits for a fetch: while one is under way (or fails), the
    /// keys we have answer.
    pub async fn key(&self, kid: &str) -> Result<Key, KeyError> {
        let mut fetches = match self.known(kid) {
            (Some(key), true) => return Ok(key),
            // Stale: this request refreshes the set, unless another one is at it already.
            (Some(key), false) => match self.fetches.try_lock() {
                Ok(f) => f,
                Err(_) => return Ok(key),
            },
            (None, _) => self.fetches.lock().await,
        };
        // Another request may have fetched while this one waited for the lock.
        if let (Some(key), true) = self.known(kid) {
            return Ok(key);
        }
        if fetches.tried.is_none_or(|t| t.elapsed() >= self.floor) {
            fetches.tried = Some(Instant::now());
            match self.fetch(&mut fetches).await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the OAuth issuer's signing keys");
                    if let Ok(mut k) = self.keys.write() {
                        *k = Fetched {
                            keys: Arc::new(keys),
                            fetched: Some(Instant::now()),
                        };
                    }
                    fetches.failure = None;
                }
                Err(e) => {
                    tracing::warn!("could not fetch the OAuth issuer's signing keys: {e}");
                    fetches.failure = Some(e);
                }
            }
        }
        let failure = fetches.failure.clone();
        drop(fetches);
        match (self.known(kid).0, failure) {
            (Some(key), _) => Ok(key),
            (None, Some(e)) => Err(KeyError::Unavailable(e)),
            (None, None) => Err(KeyError::Unknown),
        }
    }

    /// Fetches the key set (finding its URL in the issuer's metadata the first time).
    async fn fetch(&self, fetches: &mut Fetches) -> Result<HashMap<String, Key>, String> {
        let jwks_uri = match &fetches.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let u = self.discover().await?;
                fetches.jwks_uri = Some(u.clone());
                u
            }
        };
        let set: KeySet = self.get_json(jwks_uri.as_str()).await?;
        Ok(usable_keys(&set.keys))
    }

    /// The `jwks_uri` from the issuer's OpenID metadata, or its RFC 8414 metadata; the metadata
    /// must name exactly our issuer (RFC 8414 §3.3), or its keys are not the issuer's.
    async fn discover(&self) -> Result<Url, String> {
        let base = self.issuer.trim_end_matches('/');
        let mut urls = vec![format!("{base}/.well-known/openid-configuration")];
        if let Ok(u) = Url::parse(base) {
            let path = u.path().trim_end_matches('/');
            let origin = u.origin().ascii_serialization();
            urls.push(format!(
                "{origin}/.well-known/oauth-authorization-server{path}"
            ));
        }
        let mut failures = Vec::new();
        for url in urls {
            match self.get_json::<Metadata>(&url).await {
                Ok(m) if m.issuer == self.issuer => {
                    let jwks = Url::parse(&m.jwks_uri)
                        .map_err(|e| format!("the metadata's jwks_uri is not a URL ({e})"))?;
                    if jwks.scheme() != "https" && !super::settings::is_loopback(&jwks) {
                        return Err("the metadata's jwks_uri is not https".to_owned());
                    }
                    return Ok(jwks);
                }
                Ok(m) => {
                    failures.push(format!(
                        "{url} names issuer {:?}, not MSGBATCH_OAUTH_ISSUER {:?}",
                        crate::api::error::truncate(&m.issuer, 200),
                        self.issuer
                    ));
                }
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("; "))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {}", crate::api::client::root_cause(&e)))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("{url}: {}", crate::api::client::root_cause(&e)))?
        {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(format!("{url} answered more than {MAX_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url} is not the JSON expected ({e})"))
    }
}

/// The signing keys of a set that we can use: with a key ID, for signatures, for an algorithm
/// of the allowlist (RS256, ES256 on P-256, EdDSA on Ed25519). Any other key is skipped, and
/// so can never verify anything; an HMAC ("oct") key in particular.
pub fn usable_keys(keys: &[serde_json::Value]) -> HashMap<String, Key> {
    let mut usable = HashMap::new();
    for value in keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            (AlgorithmParameters::OctetKeyPair(okp), None | Some(KeyAlgorithm::EdDSA))
                if okp.curve == EllipticCurve::Ed25519 =>
            {
                Algorithm::EdDSA
            }
            _ => continue,
        };
        if let Ok(decoding) = DecodingKey::from_jwk(&jwk) {
            usable.insert(kid, Key { alg, decoding });
        }
    }
    usable
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    async fn idp() -> MockServer {
        let idp = MockServer::start().await;
        Mock::given(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": idp.uri(), "jwks_uri": format!("{}/jwks", idp.uri())
            })))
            .mount(&idp)
            .await;
        Mock::given(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "keys": [{"kty": "RSA", "kid": "k1", "n": N, "e": "AQAB"}]
            })))
            .mount(&idp)
            .await;
        idp
    }

    async fn jwks_fetches(idp: &MockServer) -> usize {
        let requests = idp.received_requests().await.unwrap();
        requests.iter().filter(|r| r.url.path() == "/jwks").count()
    }

    /// Unknown key IDs within the floor cost no fetch: a flood of made-up `kid`s is one fetch.
    #[tokio::test]
    async fn unknown_key_ids_fetch_at_most_once_per_floor() {
        let idp = idp().await;
        let jwks = Jwks::new(&idp.uri(), Duration::from_secs(3600)).unwrap();
        assert!(jwks.key("k1").await.is_ok());
        for n in 0..20 {
            let kid = format!("made-up-{n}");
            assert_eq!(jwks.key(&kid).await.err(), Some(KeyError::Unknown));
        }
        assert!(jwks.key("k1").await.is_ok());
        assert_eq!(jwks_fetches(&idp).await, 1);
    }

    /// With the IdP failing, the keys we have keep working; unknown ones are refused as
    /// unavailable (not as unknown: we could not ask).
    #[tokio::test]
    async fn an_unreachable_idp_leaves_the_known_keys() {
        let idp = idp().await;
        let jwks = Jwks::new(&idp.uri(), Duration::ZERO).unwrap();
        assert!(jwks.key("k1").await.is_ok());
        idp.reset().await;
        Mock::given(path("/jwks"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&idp)
            .await;
        assert!(matches!(jwks.key("k2").await, Err(KeyError::Unavailable(e)) if e.contains("503")));
        assert!(jwks.key("k1").await.is_ok());
    }

    /// Metadata naming another issuer is not this issuer's: its keys are never used.
    #[tokio::test]
    async fn metadata_must_name_exactly_our_issuer() {
        let idp = MockServer::start().await;
        Mock::given(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "issuer": "https://evil.example", "jwks_uri": format!("{}/jwks", idp.uri())
            })))
            .mount(&idp)
            .await;
        let jwks = Jwks::new(&idp.uri(), Duration::ZERO).unwrap();
        let err = jwks.key("k1").await.err();
        assert!(
            matches!(err, Some(KeyError::Unavailable(ref e)) if e.contains("evil.example")),
            "{err:?}"
        );
        assert_eq!(jwks_fetches(&idp).await, 0);
    }

    #[test]
    fn only_allowlisted_signing_keys_are_kept() {
        let keys = serde_json::json!([
            {"kty": "RSA", "kid": "rsa", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]);
        let usable = usable_keys(keys.as_array().unwrap());
        let mut kids: Vec<_> = usable.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ed", "rsa"]);
        assert_eq!(usable["rsa"].alg, Algorithm::RS256);
        assert_eq!(usable["ed"].alg, Algorithm::EdDSA);
    }
}
