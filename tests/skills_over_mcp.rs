//! The skill served over MCP (SEP-2640): a client that declares the skills extension finds
//! `cancel-message-batch` with `skills/list`, gets its manifest with `skills/get` and reads the
//! very `skill.md` that `install-skill` writes; a client that does not declare it sees no
//! resources (it installs the skill by hand).

mod common;

use rmcp::model::{
    ClientCapabilities, ClientConfig, ExtensionCapabilities, GetSkillRequestParams,
    ReadResourceRequestParams, SKILLS_EXTENSION_ID,
};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};

const SKILL_MD: &str = include_str!("../skill.md");
const URI: &str = "skill://cancel-message-batch/SKILL.md";

/// A client that declares the skills extension, as Claude Code does.
#[derive(Clone)]
struct SkillsClient;

impl ClientHandler for SkillsClient {
    fn get_info(&self) -> ClientConfig {
        let mut extensions = ExtensionCapabilities::new();
        extensions.insert(SKILLS_EXTENSION_ID.to_owned(), serde_json::Map::new());
        let mut capabilities = ClientCapabilities::default();
        capabilities.extensions = Some(extensions);
        ClientConfig::new(
            capabilities,
            rmcp::model::Implementation::new("skills-test", "1"),
        )
    }
}

async fn spawn_skills_client() -> RunningService<RoleClient, SkillsClient> {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.env("MSGBATCH_API_URL", "http://127.0.0.1:9/v1")
        .env_remove("ANTHROPIC_API_KEY")
        .env("RUST_LOG", "warn");
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn msgbatch-mcp");
    SkillsClient.serve(transport).await.expect("initialize")
}

#[tokio::test]
async fn a_client_with_the_skills_extension_gets_the_installed_skill_word_for_word() {
    let client = spawn_skills_client().await;
    let info = client.peer_info().expect("server info");
    assert!(
        info.capabilities.supports_skills() && info.capabilities.resources.is_some(),
        "{:?}",
        info.capabilities
    );

    let listed = client.list_skills(None).await.expect("skills/list");
    let names: Vec<&str> = listed
        .skills
        .iter()
        .map(|s| s.frontmatter.name.as_str())
        .collect();
    assert_eq!(names, ["cancel-message-batch"]);
    let skill = &listed.skills[0];
    assert_eq!(skill.uri, URI);
    assert!(
        skill
            .frontmatter
            .description
            .contains("stop, cancel, abort"),
        "the description is what a model matches a request against: {}",
        skill.frontmatter.description
    );

    let got = client
        .get_skill(GetSkillRequestParams::new(URI))
        .await
        .expect("skills/get");
    assert_eq!(got.skill.uri, URI);

    let read = client
        .read_resource(ReadResourceRequestParams::new(URI))
        .await
        .expect("resources/read");
    let contents = serde_json::to_value(&read.contents[0]).expect("JSON");
    assert_eq!(contents["text"], SKILL_MD, "the served skill is skill.md");
    assert_eq!(contents["mimeType"], "text/markdown");

    let resources = client.list_all_resources().await.expect("resources/list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, [URI]);

    let unknown = client
        .get_skill(GetSkillRequestParams::new("skill://other/SKILL.md"))
        .await;
    assert!(unknown.is_err(), "{unknown:?}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_client_without_the_extension_lists_no_resources() {
    let (client, _) = common::spawn("http://127.0.0.1:9/v1", &[]).await;
    let resources = client.list_all_resources().await.expect("resources/list");
    assert!(resources.is_empty(), "{resources:?}");
    // Its tools and prompts are as before.
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "cancel_message_batch"));
    client.cancel().await.ok();
}

#[test]
fn the_served_skill_is_the_one_install_skill_writes() {
    let home = tempfile::TempDir::new().expect("temp dir");
    let out = std::process::Command::new(common::BIN)
        .arg("install-skill")
        .env("HOME", home.path())
        .output()
        .expect("run install-skill");
    assert!(out.status.success(), "{out:?}");
    let installed = std::fs::read_to_string(
        home.path()
            .join(".claude/skills/cancel-message-batch/SKILL.md"),
    )
    .expect("installed");
    assert_eq!(installed, SKILL_MD);
}
