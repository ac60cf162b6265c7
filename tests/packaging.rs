//! The three places that name the tools must agree: the server's `tools/list`, the MCPB
//! manifest's `tools`, and the Agent Skill's text. They are written by hand in three formats,
//! so this is what keeps them from drifting apart. The manifest's `prompts` are the server's
//! `prompts/list`, word for word. Also: the manifest's version is Cargo's.

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
    assert_eq!(served.len(), 4, "{served:?}");

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

/// The manifest's prompts are the served ones: same names, same arguments, and the same text
/// (the manifest's `${arguments.NAME}` filled in as a client would).
#[tokio::test]
async fn manifest_prompts_are_the_served_prompts_word_for_word() {
    let (client, _) = common::spawn("http://127.0.0.1:9/v1", &[]).await;
    let served = client.list_all_prompts().await.expect("prompts/list");
    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    let listed = manifest["prompts"]
        .as_array()
        .expect("manifest lists prompts");
    let mut names: Vec<&str> = served.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    let mut manifest_names: Vec<&str> = listed.iter().filter_map(|p| p["name"].as_str()).collect();
    manifest_names.sort_unstable();
    assert_eq!(
        manifest_names, names,
        "manifest.json prompts vs prompts/list"
    );
    for entry in listed {
        let name = entry["name"].as_str().expect("prompt name");
        let prompt = served.iter().find(|p| p.name == name).expect("served");
        let served_args: Vec<String> = prompt
            .arguments
            .iter()
            .flatten()
            .map(|a| a.name.clone())
            .collect();
        let manifest_args: Vec<String> = entry["arguments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        assert_eq!(manifest_args, served_args, "{name}: arguments");
        assert_eq!(
            entry["description"].as_str(),
            prompt.description.as_deref(),
            "{name}"
        );
        let mut text = entry["text"].as_str().expect("prompt text").to_owned();
        let mut params = rmcp::model::GetPromptRequestParams::new(name);
        if !served_args.is_empty() {
            let mut args = serde_json::Map::new();
            for a in &served_args {
                text = text.replace(&format!("${{arguments.{a}}}"), common::ID);
                args.insert(a.clone(), Value::from(common::ID));
            }
            params = params.with_arguments(args);
        }
        let rendered = client.get_prompt(params).await.expect("prompts/get");
        let rendered = rendered.messages[0]
            .content
            .as_text()
            .expect("text")
            .text
            .clone();
        assert_eq!(text, rendered, "{name}: manifest text vs rendered prompt");
    }
    client.cancel().await.ok();
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
