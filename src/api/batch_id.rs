//! Batch IDs: checked before anything is sent.
//!
//! An ID ends up inside a URL path, so a caller's text must never be able to change which
//! resource is addressed (`../`, `?`, `#`, `%2F`, ...). Anthropic says the ID format may change,
//! so we do not insist on the `msgbatch_` prefix; we only accept the characters every real ID is
//! made of. The path segment is percent-encoded all the same, as a second line of defence.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest ID we accept. Real IDs are 33 characters; this leaves room for format changes.
pub const MAX_ID_LEN: usize = 256;

/// An example of a valid ID, used in schemas and error messages.
pub const EXAMPLE_ID: &str = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";

/// Characters escaped in a path segment: everything but the unreserved set of RFC 3986.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A batch ID that passed [`BatchId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchId(String);

/// Why an ID was refused. The `Display` text says what a valid ID looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatchId {
    #[error(
        "message_batch_id is empty. Pass the batch's ID, e.g. {EXAMPLE_ID}; \
         call list_message_batches to find it. Nothing was sent."
    )]
    Empty,
    #[error(
        "message_batch_id is {0} characters long; the limit is {MAX_ID_LEN}. \
         A batch ID looks like {EXAMPLE_ID}. Nothing was sent."
    )]
    TooLong(usize),
    #[error(
        "message_batch_id contains {0}, which no batch ID contains. A batch ID is made of \
         letters, digits, '_' and '-' only, e.g. {EXAMPLE_ID}. Nothing was sent."
    )]
    BadChar(String),
}

impl BatchId {
    /// Trims surrounding whitespace, then accepts 1..=256 characters of `A-Z a-z 0-9 _ -`.
    pub fn parse(raw: &str) -> Result<Self, InvalidBatchId> {
        let id = raw.trim();
        if id.is_empty() {
            return Err(InvalidBatchId::Empty);
        }
        let len = id.chars().count();
        if len > MAX_ID_LEN {
            return Err(InvalidBatchId::TooLong(len));
        }
        if let Some(bad) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(InvalidBatchId::BadChar(describe_char(bad)));
        }
        Ok(Self(id.to_owned()))
    }

    /// The ID as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID as one percent-encoded URL path segment.
    pub fn path_segment(&self) -> String {
        utf8_percent_encode(&self.0, SEGMENT).to_string()
    }
}

impl std::fmt::Display for BatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names a refused character so that control characters and spaces are visible in the message.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", c as u32),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_ids_and_trims() {
        assert_eq!(BatchId::parse(EXAMPLE_ID).unwrap().as_str(), EXAMPLE_ID);
        assert_eq!(
            BatchId::parse("  msgbatch_01Ab-cd\n").unwrap().as_str(),
            "msgbatch_01Ab-cd"
        );
    }

    #[test]
    fn refuses_empty_and_whitespace() {
        assert_eq!(BatchId::parse(""), Err(InvalidBatchId::Empty));
        assert_eq!(BatchId::parse(" \t\n"), Err(InvalidBatchId::Empty));
    }

    #[test]
    fn refuses_overlong() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            BatchId::parse(&long),
            Err(InvalidBatchId::TooLong(MAX_ID_LEN + 1))
        );
        assert!(BatchId::parse(&"a".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn refuses_path_and_query_characters() {
        for bad in [
            "../x", "a/b", "a?b", "a#b", "a%2Fb", "a b", "a\0b", "é", "a.b", "..",
        ] {
            let err = BatchId::parse(bad).unwrap_err();
            assert!(matches!(err, InvalidBatchId::BadChar(_)), "{bad:?}: {err}");
            assert!(err.to_string().contains(EXAMPLE_ID));
        }
    }

    /// The path the client requests for `segment`, as reqwest parses it (reqwest's `Url` is
    /// `url::Url`): its path segments, and whether a query or fragment appeared.
    fn cancel_url(segment: &str) -> url::Url {
        let built = format!("http://api.example/v1/messages/batches/{segment}/cancel");
        url::Url::parse(&built).unwrap_or_else(|e| panic!("{built:?} does not parse: {e}"))
    }

    fn segments(url: &url::Url) -> Vec<String> {
        url.path_segments()
            .map(|s| s.map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Strings made mostly of what matters in a URL, plus anything at all.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            3 => "[A-Za-z0-9_-]{1,6}",
            2 => prop::sample::select(vec![
                "/", ".", "..", "?", "#", "%", "%2F", "%2e", "%2E%2e", "\\", " ", "\0", "\t",
                "\n", "\r", "&", "=", ";", ":", "@", "+", "é", "\u{202e}", "\u{ff0f}", "🦀",
                "\u{85}", "\u{a0}",
            ])
            .prop_map(str::to_owned),
            1 => any::<String>(),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the caller sends, an ID that is accepted addresses exactly
        /// `/v1/messages/batches/<id>/cancel`: one segment for the ID, no query, no fragment.
        #[test]
        fn an_accepted_id_cannot_change_the_path(raw in prop_oneof![hostile(), any::<String>()]) {
            if let Ok(id) = BatchId::parse(&raw) {
                let url = cancel_url(&id.path_segment());
                prop_assert_eq!(url.path(), format!("/v1/messages/batches/{id}/cancel"));
                prop_assert_eq!(
                    segments(&url),
                    vec!["v1", "messages", "batches", id.as_str(), "cancel"]
                );
                prop_assert_eq!(url.query(), None);
                prop_assert_eq!(url.fragment(), None);
                prop_assert_eq!(url.host_str(), Some("api.example"));
            }
        }

        /// The encoding alone (the second line of defence) keeps any string to one segment that
        /// decodes back to it, with no query or fragment. The exception is a whole segment of
        /// `.` or `..`, which URL parsers resolve even when percent-encoded (WHATWG treats `%2e`
        /// as a dot): `parse` refuses `.` outright, as the SDKs refuse those segments.
        #[test]
        fn the_path_segment_alone_keeps_any_string_in_one_segment(raw in prop_oneof![hostile(), any::<String>()]) {
            prop_assume!(raw != "." && raw != "..");
            let segment = BatchId(raw.clone()).path_segment();
            let url = cancel_url(&segment);
            let got = segments(&url);
            prop_assert_eq!(got.len(), 5, "{:?} -> {:?}", raw, got);
            let decoded = percent_encoding::percent_decode_str(&got[3]).decode_utf8_lossy();
            prop_assert_eq!(decoded.as_ref(), raw.as_str());
            prop_assert_eq!(url.query(), None);
            prop_assert_eq!(url.fragment(), None);
        }
    }

    #[test]
    fn dot_segments_are_refused_because_encoding_cannot_neutralise_them() {
        for dots in [".", "..", "%2e", "%2E%2e", ".%2e"] {
            assert!(BatchId::parse(dots).is_err(), "{dots}");
        }
        // What would happen if they were not: the parser removes them.
        assert_eq!(
            cancel_url("..").path(),
            "/v1/messages/cancel",
            "URL parsing resolves `..`"
        );
        assert_eq!(cancel_url("%2e%2e").path(), "/v1/messages/cancel");
    }

    #[test]
    fn message_names_the_bad_character() {
        let msg = BatchId::parse("a b").unwrap_err().to_string();
        assert!(msg.contains("a space"), "{msg}");
        let msg = BatchId::parse("a\u{0}b").unwrap_err().to_string();
        assert!(msg.contains("U+0000"), "{msg}");
    }
}
