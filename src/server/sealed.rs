//! Sealed tokens: what the server hands a client to carry between calls, signed so that a
//! client (or anyone between) can neither forge nor alter it.
//!
//! Two things travel this way, and both must work on any instance behind a load balancer, so
//! neither is kept in memory here:
//! - the `requestState` of a confirmation round (2026-07-28 `input_required`): it binds the
//!   exact batches a person was asked about;
//! - a task's ID (the tasks extension): it names the batches being followed and the deadline.
//!
//! The codec is rmcp's [`RequestStateCodec`] (HMAC-SHA256, an expiry stamped in the token,
//! associated data mixed into the tag but not stored). Each [`Purpose`] and each caller-chosen
//! `binding` (a tool's name and arguments, say) go into the associated data: a token sealed for
//! one purpose or one binding does not open for another. Tokens are signed, not encrypted:
//! nothing secret goes into them.
//!
//! The key is `MSGBATCH_REQUEST_STATE_KEY` ([`StateKeys`]): one key of 32 bytes or more, or
//! `NEW,OLD` while rotating (tokens are sealed with the first and open with either). Without it,
//! a random key made at start serves a single instance; tokens then die with the process.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use crate::secret::StateKeys;

/// What a token is for: part of its associated data, so that one kind never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A confirmation round's `requestState`.
    Confirm,
    /// A task's ID.
    Task,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Confirm => b"msgbatch-mcp/confirm/v1",
            Self::Task => b"msgbatch-mcp/task/v1",
        }
    }
}

/// Why a token did not open. What a client is told says which, never more (rmcp's codec asks
/// that every failure to verify look the same from outside: [`SealError::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("it has expired")]
    Expired,
    #[error(
        "it does not verify: it was changed, made for other arguments, or sealed by a server \
         with another MSGBATCH_REQUEST_STATE_KEY"
    )]
    Invalid,
    #[error("it could not be prepared ({0})")]
    Internal(String),
}

/// Why `MSGBATCH_REQUEST_STATE_KEY` cannot be used. Names the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "MSGBATCH_REQUEST_STATE_KEY: key {index} of {count} is {len} bytes; each key must be at \
         least {min} bytes (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        index: usize,
        count: usize,
        len: usize,
        min: usize,
    },
    #[error("MSGBATCH_REQUEST_STATE_KEY: the same key is given twice")]
    Duplicate,
    #[error("MSGBATCH_REQUEST_STATE_KEY: more than {max} keys; give the new key, then the old one")]
    TooMany { max: usize },
    #[error("MSGBATCH_REQUEST_STATE_KEY could not be used ({0})")]
    Codec(String),
}

/// Seals and opens tokens. Cheap to clone (the codec is shared).
#[derive(Clone)]
pub struct Sealer {
    codec: Arc<RequestStateCodec>,
    /// Whether the key came from the setting (so other instances with the same setting open
    /// these tokens), or was made at start for this process alone.
    shared: bool,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// The most keys accepted at once: the new one and the one it replaces, plus one spare.
const MAX_KEYS: usize = 3;

impl Sealer {
    /// A sealer with the configured keys, or a random key when none is set.
    pub fn from_setting(keys: Option<&StateKeys>) -> Result<Self, KeyError> {
        match keys {
            Some(keys) if !keys.is_empty() => Self::with_keys(keys),
            _ => Ok(Self::ephemeral()),
        }
    }

    fn with_keys(keys: &StateKeys) -> Result<Self, KeyError> {
        let given = keys.expose();
        if given.len() > MAX_KEYS {
            return Err(KeyError::TooMany { max: MAX_KEYS });
        }
        let min = RequestStateCodec::MIN_KEY_LENGTH;
        for (i, k) in given.iter().enumerate() {
            if k.len() < min {
                return Err(KeyError::TooShort {
                    index: i + 1,
                    count: given.len(),
                    len: k.len(),
                    min,
                });
            }
        }
        // A key's ID is derived from the key itself, so that a token sealed with the old key
        // names it whatever its place in the list after a rotation.
        let ring: Vec<(String, Vec<u8>)> = given
            .iter()
            .map(|k| (key_id(k.as_bytes()), k.as_bytes().to_vec()))
            .collect();
        let active = ring[0].0.clone();
        let codec = RequestStateCodec::new_with_keyring(active, ring).map_err(|e| match e {
            RequestStateError::InvalidKeyring("duplicate key id") => KeyError::Duplicate,
            other => KeyError::Codec(other.to_string()),
        })?;
        Ok(Self {
            codec: Arc::new(codec),
            shared: true,
        })
    }

    /// A random key for this process alone.
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        // The OS's generator; it does not fail on the platforms this ships for. If it ever
        // did, a key from the clock and the process ID is still unguessable enough for tokens
        // that live minutes and that this process alone opens.
        if getrandom::fill(&mut key).is_err() {
            let seed = format!(
                "{:?}{}{:?}",
                std::time::SystemTime::now(),
                std::process::id(),
                std::thread::current().id()
            );
            key = Sha256::digest(seed.as_bytes()).into();
        }
        Self {
            codec: Arc::new(RequestStateCodec::new_unchecked(key.to_vec())),
            shared: false,
        }
    }

    /// Whether tokens sealed here open on other instances configured with the same key.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Seals `value` for `purpose`, bound to `binding` (e.g. a tool name and its arguments: the
    /// same bytes must be given to [`Sealer::open`]), valid for `ttl`.
    pub fn seal<T: Serialize>(
        &self,
        purpose: Purpose,
        binding: &[u8],
        value: &T,
        ttl: Duration,
    ) -> Result<String, SealError> {
        let ad = associated_data(purpose, binding);
        self.codec
            .seal_json_with(value, &SealOptions::new().associated_data(&ad).ttl(ttl))
            .map_err(|e| SealError::Internal(e.to_string()))
    }

    /// Opens a token sealed by [`Sealer::seal`] with the same `purpose` and `binding`.
    pub fn open<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        binding: &[u8],
        token: &str,
    ) -> Result<T, SealError> {
        let ad = associated_data(purpose, binding);
        match self.codec.open_json_with(token, &ad) {
            Ok(v) => Ok(v),
            Err(RequestStateError::Expired) => Err(SealError::Expired),
            Err(e) => {
                tracing::debug!(error = %e, "a sealed token did not open");
                Err(SealError::Invalid)
            }
        }
    }
}

fn associated_data(purpose: Purpose, binding: &[u8]) -> Vec<u8> {
    let label = purpose.label();
    let mut ad = Vec::with_capacity(label.len() + 1 + binding.len());
    ad.extend_from_slice(label);
    ad.push(0);
    ad.extend_from_slice(binding);
    ad
}

/// A key's ID: 16 hex digits of its SHA-256 (what a token names; it says nothing usable about
/// the key).
fn key_id(key: &[u8]) -> String {
    Sha256::digest(key)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "0123456789abcdef0123456789abcdef-one";
    const K2: &str = "0123456789abcdef0123456789abcdef-two";

    fn sealer(raw: &str) -> Sealer {
        Sealer::from_setting(Some(&StateKeys::new(raw))).unwrap()
    }

    #[test]
    fn a_token_opens_with_its_purpose_and_binding_only() {
        let s = sealer(K1);
        assert!(s.is_shared());
        let t = s
            .seal(
                Purpose::Confirm,
                b"ids",
                &vec!["a", "b"],
                Duration::from_secs(60),
            )
            .unwrap();
        let back: Vec<String> = s.open(Purpose::Confirm, b"ids", &t).unwrap();
        assert_eq!(back, ["a", "b"]);
        assert_eq!(
            s.open::<Vec<String>>(Purpose::Confirm, b"other ids", &t),
            Err(SealError::Invalid)
        );
        assert_eq!(
            s.open::<Vec<String>>(Purpose::Task, b"ids", &t),
            Err(SealError::Invalid)
        );
    }

    #[test]
    fn a_changed_byte_or_another_key_does_not_verify() {
        let s = sealer(K1);
        let t = s
            .seal(Purpose::Task, b"", &1u32, Duration::from_secs(60))
            .unwrap();
        let mut bytes = t.clone().into_bytes();
        let i = bytes.len() - 3;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        assert_eq!(
            s.open::<u32>(Purpose::Task, b"", &changed),
            Err(SealError::Invalid)
        );
        assert_eq!(
            sealer(K2).open::<u32>(Purpose::Task, b"", &t),
            Err(SealError::Invalid)
        );
        assert_eq!(
            Sealer::ephemeral().open::<u32>(Purpose::Task, b"", &t),
            Err(SealError::Invalid)
        );
    }

    #[test]
    fn rotation_opens_tokens_of_the_old_key() {
        let old = sealer(K1);
        let t = old
            .seal(Purpose::Task, b"", &7u32, Duration::from_secs(60))
            .unwrap();
        let rotated = sealer(&format!("{K2},{K1}"));
        assert_eq!(rotated.open::<u32>(Purpose::Task, b"", &t), Ok(7));
        // And what the rotated server seals, the old one no longer opens.
        let t2 = rotated
            .seal(Purpose::Task, b"", &8u32, Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            old.open::<u32>(Purpose::Task, b"", &t2),
            Err(SealError::Invalid)
        );
        assert_eq!(sealer(K2).open::<u32>(Purpose::Task, b"", &t2), Ok(8));
    }

    #[test]
    fn an_expired_token_says_so() {
        let s = sealer(K1);
        let t = s
            .seal(Purpose::Task, b"", &1u32, Duration::from_millis(1))
            .unwrap();
        // The codec compares against the clock in milliseconds; a zero-length wait would race.
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            s.open::<u32>(Purpose::Task, b"", &t),
            Err(SealError::Expired)
        );
    }

    #[test]
    fn bad_keys_are_named_without_their_value() {
        let e = Sealer::from_setting(Some(&StateKeys::new("short-secret"))).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("at least 32 bytes"), "{text}");
        assert!(!text.contains("short-secret"), "{text}");
        let e = Sealer::from_setting(Some(&StateKeys::new(&format!("{K1},{K1}")))).unwrap_err();
        assert_eq!(e, KeyError::Duplicate);
        assert!(!format!("{:?}", StateKeys::new(K1)).contains(K1));
        // Unset, empty, or a placeholder a launcher did not expand: a key made at start.
        for raw in ["", " , ", "${MSGBATCH_REQUEST_STATE_KEY}"] {
            let s = Sealer::from_setting(Some(&StateKeys::new(raw))).unwrap();
            assert!(!s.is_shared(), "{raw:?}");
        }
        assert!(!Sealer::from_setting(None).unwrap().is_shared());
    }
}
