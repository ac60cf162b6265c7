//! The packaging files written by hand must agree with the binary and with each other: the
//! server's `tools/list`, the MCPB manifest's `tools` and the Agent Skill's text name the same
//! tools; the manifest's `prompts` are the server's `prompts/list`, word for word; the MCP
//! Registry entry (`server.json`) lists exactly the settings `msgbatch-mcp --help` reads from the
//! environment, with the same secrecy and defaults as `--help` and the manifest; every version is
//! Cargo's; `pyproject.toml` (the PyPI wheel) repeats Cargo's metadata. `server.json`'s tools and
//! the README's Tools table are `tools/list`; the README's Settings table has every setting any
//! command reads, and the manifest passes every setting of the stdio server. The lists are read
//! from the binary and the files, so a new setting or tool shows up here by itself.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

const MANIFEST: &str = include_str!("../manifest.json");
const SKILL: &str = include_str!("../skill.md");
const SERVER_JSON: &str = include_str!("../server.json");
const PYPROJECT: &str = include_str!("../pyproject.toml");
const README: &str = include_str!("../README.md");
const MCP_JSON_EXAMPLE: &str = include_str!("../examples/claude-code.mcp.json");

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
    assert_eq!(served.len(), 5, "{served:?}");

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

/// One `[env: NAME]` setting as `--help` shows it.
#[derive(Debug)]
struct HelpEnv {
    /// `hide_env_values`: clap prints `[env: NAME]` without `=`, for a value it must not show.
    hidden: bool,
    /// The option's `[default: …]`, when it shows one.
    default: Option<String>,
}

/// The environment variables `msgbatch-mcp <args> --help` says it reads. Run with an empty
/// environment, so clap shows no current values.
fn help_env(args: &[&str]) -> BTreeMap<String, HelpEnv> {
    let out = Command::new(common::BIN)
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .expect("run msgbatch-mcp --help");
    assert!(out.status.success(), "{args:?} --help failed");
    let help = String::from_utf8(out.stdout).expect("--help is UTF-8");
    let mut found = BTreeMap::new();
    let mut rest = help.as_str();
    while let Some(at) = rest.find("[env: ") {
        rest = &rest[at + "[env: ".len()..];
        let end = rest.find(']').expect("[env: …] is closed");
        let (name, hidden) = match rest[..end].split_once('=') {
            Some((name, _)) => (name, false),
            None => (&rest[..end], true),
        };
        // This option's default, if any, comes before the next option's `[env: `.
        let option = &rest[..rest.find("[env: ").unwrap_or(rest.len())];
        let default = option.find("[default: ").map(|d| {
            let v = &option[d + "[default: ".len()..];
            v[..v.find(']').expect("[default: …] is closed")].to_owned()
        });
        found.insert(name.to_owned(), HelpEnv { hidden, default });
    }
    found
}

fn server_json() -> Value {
    serde_json::from_str(SERVER_JSON).expect("server.json is JSON")
}

/// The PyPI package in server.json (the one `uvx msgbatch-mcp` runs).
fn pypi_package(server: &Value) -> &Value {
    let packages = server["packages"]
        .as_array()
        .expect("server.json lists packages");
    let pypi: Vec<&Value> = packages
        .iter()
        .filter(|p| p["registryType"] == "pypi")
        .collect();
    assert_eq!(
        pypi.len(),
        1,
        "one PyPI package in server.json: {packages:?}"
    );
    pypi[0]
}

#[test]
fn server_json_lists_exactly_the_settings_help_reads_from_the_environment() {
    // `msgbatch-mcp` with no arguments is the stdio server the registry entry starts: its
    // settings are the top-level options.
    let help = help_env(&[]);
    assert!(
        help.contains_key("ANTHROPIC_API_KEY") && help.contains_key("MSGBATCH_API_URL"),
        "--help's environment variables: {help:?}"
    );
    let server = server_json();
    let package = pypi_package(&server);
    let vars = package["environmentVariables"]
        .as_array()
        .expect("environmentVariables");
    let mut listed = BTreeSet::new();
    for var in vars {
        let name = var["name"].as_str().expect("variable name");
        assert!(listed.insert(name.to_owned()), "{name} listed twice");
        let Some(seen) = help.get(name) else {
            panic!("server.json lists {name}, which `msgbatch-mcp --help` does not read");
        };
        let description = var["description"].as_str().unwrap_or_default();
        assert!(description.len() >= 20, "{name} needs a description: {var}");
        // A secret's value is one --help never shows. (--help also hides values that are not
        // secrets as such, e.g. a base URL that may carry credentials.)
        if var["isSecret"] == true {
            assert!(seen.hidden, "{name} is secret but --help shows its value");
        }
        if let (Some(ours), Some(theirs)) = (var["default"].as_str(), &seen.default) {
            assert_eq!(ours, theirs, "{name}: default differs from --help's");
        }
        if let Some(theirs) = &seen.default {
            assert!(
                var["default"].is_string(),
                "{name}: --help shows default {theirs}, server.json none"
            );
        }
        // A server that starts with no settings must not ask for any.
        assert_ne!(var["isRequired"], true, "{name} is not required to start");
    }
    let missing: Vec<&String> = help.keys().filter(|n| !listed.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "`msgbatch-mcp --help` reads {missing:?} from the environment; list them in server.json"
    );
    // Keys and tokens are secrets: clients must store them as such.
    for var in vars {
        let name = var["name"].as_str().unwrap_or_default();
        if name.ends_with("_KEY") || name.ends_with("_TOKEN") {
            assert_eq!(var["isSecret"], true, "{name} must be marked isSecret");
        }
    }
    assert!(listed.contains("ANTHROPIC_API_KEY"));
}

#[test]
fn server_json_and_the_mcpb_manifest_treat_each_setting_alike() {
    let server = server_json();
    let vars: BTreeMap<&str, &Value> = pypi_package(&server)["environmentVariables"]
        .as_array()
        .expect("environmentVariables")
        .iter()
        .map(|v| (v["name"].as_str().expect("name"), v))
        .collect();
    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    let env = manifest["server"]["mcp_config"]["env"]
        .as_object()
        .expect("manifest mcp_config.env");
    assert!(!env.is_empty());
    for (name, value) in env {
        let var = vars
            .get(name.as_str())
            .unwrap_or_else(|| panic!("manifest.json sets {name}, server.json does not list it"));
        let key = value
            .as_str()
            .and_then(|v| v.strip_prefix("${user_config."))
            .and_then(|v| v.strip_suffix('}'))
            .unwrap_or_else(|| panic!("manifest env {name} = {value}: not a user_config value"));
        let config = &manifest["user_config"][key];
        assert_eq!(
            config["sensitive"].as_bool().unwrap_or(false),
            var["isSecret"].as_bool().unwrap_or(false),
            "{name}: sensitive in manifest.json vs isSecret in server.json"
        );
        if let Some(default) = config["default"].as_str().filter(|d| !d.is_empty()) {
            assert_eq!(var["default"], default, "{name}: defaults differ");
        }
    }
}

#[test]
fn server_json_names_this_version_package_and_transport() {
    let server = server_json();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        server["version"], version,
        "server.json version vs Cargo.toml"
    );
    let package = pypi_package(&server);
    assert_eq!(
        package["version"], version,
        "PyPI package version vs Cargo.toml"
    );
    assert_eq!(package["identifier"], env!("CARGO_PKG_NAME"));
    assert_eq!(package["transport"]["type"], "stdio");
    assert_eq!(package["runtimeHint"], "uvx");

    // Reverse-DNS name io.github.<owner>/<name>, the owner being the repository's.
    let name = server["name"].as_str().expect("name");
    let repository = env!("CARGO_PKG_REPOSITORY");
    let owner = repository
        .strip_prefix("https://github.com/")
        .and_then(|r| r.split('/').next())
        .expect("Cargo.toml repository is on GitHub");
    assert_eq!(
        name,
        format!("io.github.{owner}/{}", env!("CARGO_PKG_NAME"))
    );
    assert_eq!(server["repository"]["url"], repository);
    // The registry proves a PyPI package is this server's by finding this line in the
    // package's README (its PyPI description).
    assert!(
        README.contains(&format!("mcp-name: {name}")),
        "README.md must contain `mcp-name: {name}`"
    );
    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    assert_eq!(server["title"], manifest["display_name"]);
    let description = server["description"].as_str().expect("description");
    assert!(
        (1..=100).contains(&description.chars().count()),
        "the registry takes 1-100 characters: {description}"
    );
}

/// `key = "value"` in `[section]` of a TOML file whose strings have no escapes.
fn toml_string(toml: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
        } else if let Some((k, v)) = line.split_once('=')
            && inside
            && k.trim() == key
        {
            return v
                .trim()
                .strip_prefix('"')?
                .strip_suffix('"')
                .map(str::to_owned);
        }
    }
    None
}

#[test]
fn pyproject_repeats_cargo_and_takes_its_version_from_it() {
    let field = |section: &str, key: &str| {
        toml_string(PYPROJECT, section, key)
            .unwrap_or_else(|| panic!("pyproject.toml lacks [{section}] {key}"))
    };
    assert_eq!(field("project", "name"), env!("CARGO_PKG_NAME"));
    assert_eq!(
        field("project", "description"),
        env!("CARGO_PKG_DESCRIPTION")
    );
    assert_eq!(field("project", "license"), env!("CARGO_PKG_LICENSE"));
    assert_eq!(field("tool.maturin", "bindings"), "bin");
    assert_eq!(
        field("project.urls", "Repository"),
        env!("CARGO_PKG_REPOSITORY")
    );
    // No version of its own: maturin takes Cargo's, so the wheel and the crate cannot differ.
    assert_eq!(toml_string(PYPROJECT, "project", "version"), None);
    assert!(
        PYPROJECT
            .lines()
            .any(|l| l.replace(' ', "") == "dynamic=[\"version\"]"),
        "pyproject.toml must declare dynamic = [\"version\"]"
    );
}

#[test]
fn readme_installs_first_and_shows_the_shipped_mcp_json() {
    let install = README
        .find("\n## Install\n")
        .expect("README has an Install section");
    let first_section = README.find("\n## ").expect("README has sections");
    assert_eq!(
        install, first_section,
        "Install is the README's first section"
    );
    let section = &README[install + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    for needle in [
        "uvx msgbatch-mcp",
        "claude mcp add msgbatch -- uvx msgbatch-mcp",
        "cargo install msgbatch-mcp",
        MCP_JSON_EXAMPLE.trim(),
    ] {
        assert!(section.contains(needle), "Install lacks {needle}");
    }
    let example: Value = serde_json::from_str(MCP_JSON_EXAMPLE).expect("example is JSON");
    assert_eq!(example["mcpServers"]["msgbatch"]["command"], "uvx");
    assert_eq!(
        example["mcpServers"]["msgbatch"]["args"],
        serde_json::json!([env!("CARGO_PKG_NAME")])
    );
    // The two commands for a fresh clone stay as they are.
    assert!(README.contains("cargo run --release -- demo"));
    assert!(README.contains("\ncargo test "));
}

/// The tools `tools/list` serves, whole (name, annotations, `_meta`).
async fn served_tool_list() -> Vec<rmcp::model::Tool> {
    let (client, _) = common::spawn("http://127.0.0.1:9/v1", &[]).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.ok();
    tools
}

/// The first column of each row of the first table under `## {heading}` in the README: the
/// names it lists (without their backquotes).
fn readme_table_names(heading: &str) -> BTreeSet<String> {
    let start = README
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has a {heading} section"));
    let section = &README[start + heading.len() + 5..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its |---| line
        .filter_map(|l| l.split('|').nth(1))
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

#[tokio::test]
async fn server_json_and_the_readme_list_every_served_tool() {
    let tools = served_tool_list().await;
    let served: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();

    let server = server_json();
    let listed = server["_meta"]["io.modelcontextprotocol.registry/publisher-provided"]["tools"]
        .as_array()
        .expect("server.json lists the tools in _meta publisher-provided");
    let names: BTreeSet<String> = listed
        .iter()
        .map(|t| t["name"].as_str().expect("tool name").to_owned())
        .collect();
    assert_eq!(names, served, "server.json tools vs tools/list");
    for entry in listed {
        let tool = tools
            .iter()
            .find(|t| t.name == entry["name"].as_str().unwrap_or_default())
            .expect("served");
        let title = tool.annotations.as_ref().and_then(|a| a.title.as_deref());
        assert_eq!(entry["title"].as_str(), title, "{}: title", tool.name);
        assert!(
            entry["description"].as_str().is_some_and(|d| d.len() >= 20),
            "{}: server.json needs a description",
            tool.name
        );
    }

    assert_eq!(
        readme_table_names("Tools"),
        served,
        "README's Tools table vs tools/list"
    );
}

#[test]
fn the_readme_settings_table_has_every_setting_any_command_reads() {
    let mut read = BTreeSet::new();
    for args in [
        &[][..],
        &["serve"],
        &["mock"],
        &["demo"],
        &["install-skill"],
    ] {
        read.extend(help_env(args).into_keys());
    }
    assert!(read.contains("MSGBATCH_HTTP_TOKEN"), "{read:?}");
    let table = readme_table_names("Settings");
    let missing: Vec<&String> = read.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "README's Settings table lacks {missing:?}, which --help says the binary reads"
    );
}

#[test]
fn the_mcpb_manifest_passes_every_setting_of_the_stdio_server() {
    let manifest: Value = serde_json::from_str(MANIFEST).expect("manifest.json is JSON");
    let env = manifest["server"]["mcp_config"]["env"]
        .as_object()
        .expect("manifest mcp_config.env");
    let passed: BTreeSet<String> = env.keys().cloned().collect();
    let read: BTreeSet<String> = help_env(&[]).into_keys().collect();
    assert_eq!(
        passed, read,
        "manifest.json's mcp_config.env vs what `msgbatch-mcp --help` reads"
    );
    // Each setting's form in Claude Desktop matches its type in server.json.
    let server = server_json();
    for var in pypi_package(&server)["environmentVariables"]
        .as_array()
        .expect("environmentVariables")
    {
        let name = var["name"].as_str().expect("name");
        let key = env[name]
            .as_str()
            .and_then(|v| v.strip_prefix("${user_config."))
            .and_then(|v| v.strip_suffix('}'))
            .unwrap_or_else(|| panic!("manifest env {name}: not a user_config value"));
        let config = &manifest["user_config"][key];
        // The registry's `format` defaults to "string".
        let format = var["format"].as_str().unwrap_or("string");
        assert_eq!(
            config["type"].as_str(),
            Some(format),
            "{name}: user_config type vs server.json format"
        );
        assert!(
            config["title"].is_string() && config["description"].is_string(),
            "{name}"
        );
        assert_ne!(config["required"], true, "{name} is not required to start");
    }
}

#[tokio::test]
async fn every_tool_carries_the_words_claude_codes_tool_search_matches() {
    for tool in served_tool_list().await {
        let hint = tool
            .meta
            .as_ref()
            .and_then(|m| m.0.get("anthropic/searchHint"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{} has no _meta anthropic/searchHint", tool.name));
        assert!(hint.contains("message batch"), "{}: {hint}", tool.name);
        if tool.name == "cancel_message_batch" {
            for word in ["stop", "cancel", "abort"] {
                assert!(hint.contains(word), "{hint}");
            }
        }
    }
}
