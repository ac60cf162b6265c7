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
    // Said once: one line on stderr, not a log line and then the same text again.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("msgbatch-mcp: "), "{stderr}");
}

/// What a cloned repository can plant where `install-skill --project` writes: links to the
/// person's files at `SKILL.md` or `SKILL.md.bak`, FIFOs, a folder linked out of the project.
/// Each is refused with a message naming the path, and nothing outside is read or changed.
#[cfg(unix)]
mod planted {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    struct Victim {
        _home: TempDir,
        repo: TempDir,
        bashrc: PathBuf,
        private_key: PathBuf,
    }

    const BASHRC: &str = "export SAFE=1\n";
    const PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n";

    fn victim() -> Victim {
        let home = TempDir::new().unwrap();
        let repo = TempDir::new().unwrap();
        let bashrc = home.path().join(".bashrc");
        let private_key = home.path().join("id_ed25519");
        std::fs::write(&bashrc, BASHRC).unwrap();
        std::fs::write(&private_key, PRIVATE_KEY).unwrap();
        std::fs::set_permissions(&private_key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::create_dir_all(skill_file(repo.path()).parent().unwrap()).unwrap();
        Victim {
            _home: home,
            repo,
            bashrc,
            private_key,
        }
    }

    /// Runs `install-skill --project` in the repository; a FIFO opened by mistake would block
    /// for ever, so a run that has not ended after a minute is killed and reported as hung.
    fn install_project(v: &Victim) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(["install-skill", "--project"])
            .current_dir(v.repo.path())
            .env("HOME", v._home.path())
            .env_remove("USERPROFILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the msgbatch-mcp binary runs");
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("install-skill hung (a FIFO opened?)");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }

    fn assert_untouched(v: &Victim) {
        assert_eq!(std::fs::read_to_string(&v.bashrc).unwrap(), BASHRC);
        assert_eq!(
            std::fs::read_to_string(&v.private_key).unwrap(),
            PRIVATE_KEY
        );
        let mode = std::fs::metadata(&v.private_key)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    fn assert_refused(out: &Output, what: &str, path: &Path) {
        let said = said(out);
        assert!(!out.status.success(), "succeeded: {said}");
        assert!(said.contains(what), "{said}");
        assert!(said.contains(&path.display().to_string()), "{said}");
        assert!(said.contains("install-skill again"), "{said}");
    }

    #[test]
    fn a_link_at_the_backup_is_not_written_through() {
        let v = victim();
        let skill = skill_file(v.repo.path());
        std::fs::write(&skill, "planted text\n").unwrap();
        let bak = skill.with_file_name("SKILL.md.bak");
        symlink(&v.bashrc, &bak).unwrap();
        let out = install_project(&v);
        assert_refused(&out, "is a symbolic link", &bak);
        assert_untouched(&v);
        assert_eq!(std::fs::read_to_string(&skill).unwrap(), "planted text\n");
        assert!(std::fs::symlink_metadata(&bak).unwrap().is_symlink());
    }

    #[test]
    fn a_link_at_the_skill_is_neither_read_nor_written_through() {
        let v = victim();
        let skill = skill_file(v.repo.path());
        symlink(&v.private_key, &skill).unwrap();
        let out = install_project(&v);
        assert_refused(&out, "is a symbolic link", &skill);
        assert_untouched(&v);
        let dir = skill.parent().unwrap();
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["SKILL.md"], "no copy of the key, no temporary file");
    }

    #[test]
    fn fifos_are_refused_without_hanging() {
        for at_backup in [false, true] {
            let v = victim();
            let skill = skill_file(v.repo.path());
            let fifo = if at_backup {
                std::fs::write(&skill, "my notes\n").unwrap();
                skill.with_file_name("SKILL.md.bak")
            } else {
                skill.clone()
            };
            let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            let out = install_project(&v);
            assert_refused(&out, "is not a regular file", &fifo);
            if at_backup {
                assert_eq!(std::fs::read_to_string(&skill).unwrap(), "my notes\n");
            }
        }
    }

    #[test]
    fn a_folder_linked_out_of_the_project_is_refused() {
        let v = victim();
        let claude = v.repo.path().join(".claude");
        std::fs::remove_dir_all(&claude).unwrap();
        symlink(v._home.path(), &claude).unwrap();
        let out = install_project(&v);
        assert_refused(&out, "outside the project", &claude);
        assert_untouched(&v);
        assert!(
            !v._home.path().join("skills").exists(),
            "nothing written in HOME"
        );
    }

    #[test]
    fn a_folder_linked_inside_the_project_is_used() {
        let v = victim();
        let claude = v.repo.path().join(".claude");
        std::fs::rename(&claude, v.repo.path().join("shared-claude")).unwrap();
        symlink("shared-claude", &claude).unwrap();
        let out = install_project(&v);
        assert!(out.status.success(), "{}", said(&out));
        let written = v
            .repo
            .path()
            .join("shared-claude/skills/cancel-message-batch/SKILL.md");
        assert_eq!(std::fs::read_to_string(written).unwrap(), SKILL_MD);
    }

    #[test]
    fn replacing_keeps_the_backup_no_wider_than_the_original() {
        let v = victim();
        let skill = skill_file(v.repo.path());
        std::fs::write(&skill, "my private notes\n").unwrap();
        std::fs::set_permissions(&skill, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = install_project(&v);
        assert!(out.status.success(), "{}", said(&out));
        let bak = skill.with_file_name("SKILL.md.bak");
        assert_eq!(std::fs::read_to_string(&bak).unwrap(), "my private notes\n");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&bak), 0o600);
        assert_eq!(std::fs::read_to_string(&skill).unwrap(), SKILL_MD);
        assert_eq!(mode(&skill) & !0o644, 0, "{:o}", mode(&skill));
        let names = std::fs::read_dir(skill.parent().unwrap()).unwrap().count();
        assert_eq!(
            names, 2,
            "SKILL.md and SKILL.md.bak, no temporary file left"
        );
    }
}
