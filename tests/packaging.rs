//! The three places that name the tools must agree: the server's `tools/list`, the MCPB
//! manifest's `tools`, and the Agent Skill's text. They are written by hand in three formats,
//! so this is what keeps them from drifting apart. Also: the manifest's version is Cargo's.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

const MANIFEST: &str = include_str!("../manifest.json");
const SKILL: &str = include_str!("../skill.md");

async fn served_tools() -> BTreeSet<String> {
    // A closed port: listing tools sends nothing upstream.
    let (client, _) = common::spawn("http://127.0.0.1:9/v1", &[]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.ok();
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn manifest_skill_and_server_name_the_same_tools() {
    let served = served_tools().await;
    assert_eq!(served.len(), 3, "{served:?}");

    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    let listed: BTreeSet<String> = manifest["tools"]
        .as_array()
        .expect("manifest lists tools")
        .iter()
        .map(|t| t["name"].as_str().expect("tool name").to_owned())
        .collect();
    assert_eq!(listed, served, "manifest.json tools vs tools/list");

    for name in &served {
        assert!(
            SKILL.contains(name.as_str()),
            "skill.md never mentions {name}"
        );
    }
    // Any tool-looking name the skill mentions must exist.
    for word in SKILL.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        // `mcp__msgbatch__cancel_message_batch` is how Claude Code shows a tool.
        let tool = word.rsplit("__").next().unwrap_or(word);
        if tool.ends_with("_message_batch") || tool.ends_with("_message_batches") {
            assert!(
                served.contains(tool),
                "skill.md names {tool}, which is not served"
            );
        }
    }
}

#[test]
fn manifest_version_is_the_crate_version() {
    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["name"], "msgbatch-mcp");
}

#[test]
fn skill_frontmatter_names_the_skill() {
    let front = SKILL
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---"))
        .map(|(front, _)| front)
        .expect("skill.md starts with YAML frontmatter");
    assert!(
        front
            .lines()
            .any(|l| l.trim() == "name: cancel-message-batch"),
        "{front}"
    );
}
