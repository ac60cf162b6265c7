//! `msgbatch-mcp install-skill`, run as a person would: the built binary, a temporary HOME.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use msgbatch_mcp::skill::SKILL_MD;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_msgbatch-mcp");

/// Runs `msgbatch-mcp install-skill <args>` in `cwd`, with HOME set to `home` (or unset).
fn install_skill(home: Option<&Path>, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("install-skill")
        .args(args)
        .current_dir(cwd)
        // Nothing from the developer's environment may leak in: no real home, no Windows
        // fallback, no API settings.
        .env_remove("USERPROFILE")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("MSGBATCH_API_URL");
    match home {
        Some(home) => cmd.env("HOME", home),
        None => cmd.env_remove("HOME"),
    };
    cmd.output().expect("the msgbatch-mcp binary runs")
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn skill_file(root: &Path) -> PathBuf {
    root.join(".claude")
        .join("skills")
        .join("cancel-message-batch")
        .join("SKILL.md")
}

#[test]
fn installs_into_the_user_skills_folder_and_prints_where() {
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let out = install_skill(Some(home.path()), cwd.path(), &[]);
    assert!(out.status.success(), "install-skill failed: {}", said(&out));

    let path = skill_file(home.path());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), SKILL_MD);
    assert!(
        said(&out).contains(&path.display().to_string()),
        "the output does not name {}: {}",
        path.display(),
        said(&out)
    );
    assert!(!cwd.path().join(".claude").exists());

    // Again: still fine, same file.
    let again = install_skill(Some(home.path()), cwd.path(), &[]);
    assert!(
        again.status.success(),
        "second install failed: {}",
        said(&again)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), SKILL_MD);
}

#[test]
fn project_flag_installs_into_the_current_folder() {
    let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let out = install_skill(Some(home.path()), cwd.path(), &["--project"]);
    assert!(
        out.status.success(),
        "install-skill --project failed: {}",
        said(&out)
    );
    assert_eq!(
        std::fs::read_to_string(skill_file(cwd.path())).unwrap(),
        SKILL_MD
    );
    assert!(!home.path().join(".claude").exists());
}

#[test]
fn without_home_it_fails_and_says_why() {
    let cwd = TempDir::new().unwrap();
    let out = install_skill(None, cwd.path(), &[]);
    assert!(
        !out.status.success(),
        "install-skill without HOME succeeded: {}",
        said(&out)
    );
    let text = said(&out);
    assert!(
        text.contains("HOME") && text.contains("--project"),
        "{text}"
    );
}
