//! The Agent Skill (`skill.md`, the one `install-skill` writes) served over MCP: the skills
//! extension (SEP-2640, `io.modelcontextprotocol/skills`), through rmcp's [`SkillCatalog`].
//!
//! A client that declares the extension (Claude Code does, on sessions of protocol 2026-07-28)
//! lists it with `skills/list`, reads its manifest with `skills/get` and its file with
//! `resources/read skill://cancel-message-batch/SKILL.md`, and offers it to the model without
//! anyone running `install-skill`. `resources/list` names the file only to such clients: to
//! the others the server has no resources, and `install-skill` remains their way in.
//!
//! The catalog reads skills from a folder, and ours is compiled into the binary
//! ([`crate::skill::SKILL_MD`]), so it is written once into a fresh private folder under the
//! system's temporary folder, loaded (the catalog keeps every byte in memory, with its digest),
//! and the folder removed at once. Where that fails (no writable temporary folder) the server
//! runs without the skill and says so on stderr: nothing else depends on it.

use std::io::{self, Write as _};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rmcp::handler::server::skill_catalog::SkillCatalog;
use rmcp::model::{ClientCapabilities, SKILLS_EXTENSION_ID, ServerCapabilities};

use crate::skill::{SKILL_MD, SKILL_NAME};

/// The URI the skill's `SKILL.md` is served at.
pub fn skill_uri() -> String {
    format!("skill://{SKILL_NAME}/SKILL.md")
}

/// The process's one catalog (built on first use; `None` when it could not be built).
pub fn catalog() -> Option<Arc<SkillCatalog>> {
    static CATALOG: OnceLock<Option<Arc<SkillCatalog>>> = OnceLock::new();
    CATALOG
        .get_or_init(|| match load() {
            Ok(catalog) => Some(Arc::new(catalog)),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "the {SKILL_NAME} skill is not served over MCP (install it with \
                     `msgbatch-mcp install-skill`)"
                );
                None
            }
        })
        .clone()
}

/// Declares the skills extension, and the resources it rides on, when the skill can be served.
pub fn declare(capabilities: &mut ServerCapabilities) {
    if catalog().is_none() {
        return;
    }
    let skills = ServerCapabilities::builder()
        .enable_resources()
        .enable_skills()
        .build();
    capabilities.resources = skills.resources;
    capabilities
        .extensions
        .get_or_insert_with(Default::default)
        .extend(skills.extensions.unwrap_or_default());
}

/// Whether the client declared the skills extension in its capabilities.
pub fn client_declares_skills(capabilities: Option<&ClientCapabilities>) -> bool {
    capabilities
        .and_then(|c| c.extensions.as_ref())
        .is_some_and(|e| e.contains_key(SKILLS_EXTENSION_ID))
}

/// Writes the compiled-in skill into a fresh private folder, loads the catalog from it, and
/// removes the folder (the catalog holds the bytes).
fn load() -> io::Result<SkillCatalog> {
    // A new name each time, created (never reused: `create` fails on anything already there,
    // a planted link included) with mode 0700 where there are modes.
    let root = std::env::temp_dir().join(format!(
        "msgbatch-mcp-skill-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(&root)?;
    let loaded = (|| {
        let folder = root.join(SKILL_NAME);
        std::fs::create_dir(&folder)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(folder.join("SKILL.md"))?;
        file.write_all(SKILL_MD.as_bytes())?;
        drop(file);
        from_dir(&root)
    })();
    // The catalog holds every byte it serves: the folder is not needed once it is loaded.
    let removed = std::fs::remove_dir_all(&root);
    let catalog = loaded?;
    removed?;
    let listed = catalog.skills();
    if listed.len() != 1 || listed[0].frontmatter.name != SKILL_NAME {
        return Err(io::Error::other(format!(
            "the catalog read {} skill(s) from skill.md, expected {SKILL_NAME}",
            listed.len()
        )));
    }
    Ok(catalog)
}

fn from_dir(root: &Path) -> io::Result<SkillCatalog> {
    SkillCatalog::from_dir(root).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_serves_skill_md_byte_for_byte_at_its_uri() {
        let catalog = catalog().expect("the catalog loads");
        let skills = catalog.skills();
        assert_eq!(skills.len(), 1);
        assert_eq!(skills[0].uri, skill_uri());
        assert_eq!(skills[0].frontmatter.name, SKILL_NAME);
        let read = catalog.read_resource(&skill_uri()).expect("served");
        let text = serde_json::to_value(&read.contents[0]).unwrap();
        assert_eq!(text["text"], SKILL_MD);
        assert!(catalog.read_resource("skill://other/SKILL.md").is_none());
    }

    #[test]
    fn only_a_client_that_declares_the_extension_is_counted_as_one() {
        assert!(!client_declares_skills(None));
        assert!(!client_declares_skills(
            Some(&ClientCapabilities::default())
        ));
        let caps: ClientCapabilities = serde_json::from_value(serde_json::json!({
            "extensions": {SKILLS_EXTENSION_ID: {}}
        }))
        .unwrap();
        assert!(client_declares_skills(Some(&caps)));
    }
}
