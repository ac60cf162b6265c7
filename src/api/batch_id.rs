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

    #[test]
    fn message_names_the_bad_character() {
        let msg = BatchId::parse("a b").unwrap_err().to_string();
        assert!(msg.contains("a space"), "{msg}");
        let msg = BatchId::parse("a\u{0}b").unwrap_err().to_string();
        assert!(msg.contains("U+0000"), "{msg}");
    }
}
