//! Which API answered: every tool result's text says so when the base URL is not the Anthropic
//! API, so that a person is never told about a simulator's or a mock's batches as if they were
//! their own.
//!
//! Done in one place, [`Origin::stamp`], called on every tool result (success or error, whatever
//! the tool, including tools added later) from the server's `call_tool`. Against
//! `api.anthropic.com` nothing is added: the answer is the real thing, and tokens cost.

use std::sync::Arc;

use reqwest::Url;
use rmcp::model::{CallToolResult, ContentBlock};

use crate::config::{DEFAULT_API_URL, REAL_API_URL};

/// The host of the real API.
pub const ANTHROPIC_HOST: &str = "api.anthropic.com";

/// The notice for one base URL, worked out once when the server is built.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    notice: Option<Arc<str>>,
}

impl Origin {
    pub fn new(base_url: &str) -> Self {
        Self {
            notice: notice(base_url).map(Arc::from),
        }
    }

    /// Adds the notice, as its own paragraph, to the end of the result's first text block (a
    /// text block of its own if there is none), and to the end of its structured `note` when it
    /// has one: a client that hands the model the structure alone (Claude Code does so with a
    /// task's result) must not lose it.
    pub fn stamp(&self, result: &mut CallToolResult) {
        let Some(notice) = &self.notice else {
            return;
        };
        if let Some(serde_json::Value::String(note)) = result
            .structured_content
            .as_mut()
            .and_then(|v| v.get_mut("note"))
        {
            // The same separator as in the text, whose last paragraph is the note: the text
            // then still carries the structured note word for word.
            if !note.is_empty() {
                note.push_str("\n\n");
            }
            note.push_str(notice);
        }
        let first_text = result.content.iter_mut().find_map(|c| match c {
            ContentBlock::Text(t) => Some(t),
            _ => None,
        });
        match first_text {
            Some(t) => {
                t.text.push_str("\n\n");
                t.text.push_str(notice);
            }
            None => result.content.push(ContentBlock::text(notice.to_string())),
        }
    }
}

/// What to tell the person about `base_url`, or `None` when it is the Anthropic API. A URL that
/// does not parse is not the Anthropic API either.
pub fn notice(base_url: &str) -> Option<String> {
    let is_anthropic = Url::parse(base_url).ok().is_some_and(|u| {
        u.scheme() == "https"
            && u.host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(ANTHROPIC_HOST))
    });
    if is_anthropic {
        return None;
    }
    let which = if base_url == DEFAULT_API_URL {
        " (the default URL: the local simulator, `msgbatch-mcp mock`, or the sandbox mock)"
    } else {
        ""
    };
    Some(format!(
        "Tell the person: this server is set to use {base_url}{which}, which is not the Anthropic \
         API but a simulator, a sandbox mock or a gateway. The batches there are not their \
         batches at Anthropic unless it is a gateway to the real API. For real batches, set \
         MSGBATCH_API_URL={REAL_API_URL}."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_api_gets_nothing_extra() {
        assert_eq!(notice(REAL_API_URL), None);
        assert_eq!(notice("https://API.anthropic.com/v1"), None);
    }

    #[test]
    fn anything_else_is_named_and_said_not_to_be_the_anthropic_api() {
        for url in [
            DEFAULT_API_URL,
            "http://127.0.0.1:4010",
            "https://gateway.example/anthropic/v1",
            "https://api.anthropic.com.evil.example/v1",
            "http://api.anthropic.com/v1",
            "not a url",
        ] {
            let n = notice(url).unwrap_or_else(|| panic!("{url}"));
            assert!(n.contains(url), "{n}");
            assert!(n.contains("not the Anthropic API"), "{n}");
            assert!(n.starts_with("Tell the person"), "{n}");
        }
        assert!(
            notice(DEFAULT_API_URL)
                .unwrap()
                .contains("msgbatch-mcp mock")
        );
    }

    #[test]
    fn stamping_appends_to_the_text_of_successes_and_errors() {
        let origin = Origin::new("http://127.0.0.1:9/v1");
        for mut r in [
            CallToolResult::success(vec![ContentBlock::text("Batch x is canceling.")]),
            CallToolResult::error(vec![ContentBlock::text("Could not cancel")]),
            CallToolResult::success(vec![]),
        ] {
            origin.stamp(&mut r);
            let text = r.content[0].as_text().unwrap().text.clone();
            assert!(text.contains("http://127.0.0.1:9/v1"), "{text}");
            assert_eq!(r.content.len(), 1);
        }
        let mut r = CallToolResult::success(vec![ContentBlock::text("fine")]);
        Origin::new(REAL_API_URL).stamp(&mut r);
        assert_eq!(r.content[0].as_text().unwrap().text, "fine");
    }

    #[test]
    fn stamping_ends_the_structured_note_too() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("Batch x is canceling.")]);
        r.structured_content = Some(serde_json::json!({"note": "Not immediate.", "id": "x"}));
        Origin::new("http://127.0.0.1:9/v1").stamp(&mut r);
        let s = r.structured_content.as_ref().unwrap();
        let note = s["note"].as_str().unwrap();
        assert!(note.starts_with("Not immediate.\n\n"), "{note}");
        assert!(note.contains("http://127.0.0.1:9/v1"), "{note}");
        assert_eq!(s["id"], "x");
        // The real API: nothing added, to the structure either.
        let mut r = CallToolResult::success(vec![]);
        r.structured_content = Some(serde_json::json!({"note": "Not immediate."}));
        Origin::new(REAL_API_URL).stamp(&mut r);
        assert_eq!(r.structured_content.unwrap()["note"], "Not immediate.");
    }
}
