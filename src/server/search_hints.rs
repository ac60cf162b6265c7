//! The words a person uses for each tool, in its `_meta` as `anthropic/searchHint`: what
//! Claude Code's ToolSearch matches besides the tool's name and description.
//!
//! Claude Code (2.1.332) gives the model MCP tools by name only; to call one, the model first
//! searches with `ToolSearch`, by exact name (`select:…`) or by keywords ("stop batch"). Its
//! keyword score, per query word: a whole word of the server or tool name 12, part of one 4–6;
//! a whole word of the search hint 4; a whole word of the description 2 (`ci/claude-code/README.md`
//! has the details). So the hint carries the verbs and nouns people say that the name does not
//! ("stop", "abort", "kill", "job", "status"), and each tool's hint leaves out the words meant to
//! rank another tool first (the singular cancel says "batch", the bulk one "batches"). Other
//! clients ignore the key. `ci/claude-code/scenarios/toolsearch-*.json` check the ranking with
//! the real Claude Code.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::MetaObject;

/// The `_meta` key Claude Code reads a tool's search hint from.
pub const SEARCH_HINT_KEY: &str = "anthropic/searchHint";

/// Each tool's search hint. Short: Claude Code reads at most 4,096 characters of it.
pub const SEARCH_HINTS: &[(&str, &str)] = &[
    (
        "cancel_message_batch",
        "stop, cancel, abort, kill or halt one running Anthropic message batch (a batch job) by its ID",
    ),
    (
        "cancel_message_batches",
        "stop, cancel or abort several or all running Anthropic message batches (jobs) in one call",
    ),
    (
        "get_message_batch",
        "status, progress and request counts of one Anthropic message batch; follow a cancel until it has ended",
    ),
    (
        "list_message_batches",
        "find, list or show Anthropic message batches and their IDs, newest first, running ones marked",
    ),
    (
        "get_message_batch_results",
        "results of an ended Anthropic message batch: what finished, succeeded, errored or was canceled",
    ),
];

/// Puts each tool's search hint into its `_meta` (keeping any other key there).
pub fn with_search_hints<S>(mut router: ToolRouter<S>) -> ToolRouter<S> {
    for route in router.map.values_mut() {
        let name = route.attr.name.as_ref();
        if let Some((_, hint)) = SEARCH_HINTS.iter().find(|(tool, _)| *tool == name) {
            let meta = route.attr.meta.get_or_insert_with(MetaObject::default);
            meta.0
                .insert(SEARCH_HINT_KEY.to_owned(), serde_json::Value::from(*hint));
        }
    }
    router
}
