//! `msgbatch-mcp install-skill`: installs the Agent Skill that teaches an agent how to cancel a
//! Message Batch with this server's tools.
//!
//! The skill is the repository's `skill.md`, compiled into the binary. Claude Code reads skills
//! from `~/.claude/skills/<name>/SKILL.md` (every project of the user) and from
//! `.claude/skills/<name>/SKILL.md` (one project), so this writes
//! `<root>/.claude/skills/cancel-message-batch/SKILL.md`, with `<root>` the home folder (`$HOME`)
//! or, with `--project`, the current folder.
//!
//! Installing again is safe: an identical file is left as it is, and a different one (an older
//! version, or the person's own edits) is replaced after it is kept beside it as
//! `SKILL.md.bak`, and the outcome says so.
//!
//! `--project` writes into a folder that may come from a cloned repository, which can plant
//! anything there, so nothing is followed or opened blindly:
//! - a symbolic link at `SKILL.md` or `SKILL.md.bak` is refused, never followed (a planted
//!   `SKILL.md.bak -> ~/.bashrc` would have been overwritten, a planted
//!   `SKILL.md -> ~/.ssh/id_ed25519` copied into the repository); so is anything that is not a
//!   regular file (a FIFO is never opened, so it cannot hang the command);
//! - the existing file is read only when it could be identical (same size), opened with
//!   `O_NOFOLLOW | O_NONBLOCK` and checked again once open;
//! - the new text is written to a fresh temporary file in the same folder (mode 0644) and
//!   renamed into place; the previous file becomes `SKILL.md.bak` by a rename too, so it keeps
//!   its own mode and is never copied (a backup no more readable than the original);
//! - the folders `.claude`, `skills` and `cancel-message-batch` may be links only if they lead
//!   to a folder inside the project: a link out of it (`.claude -> ~`) is refused. Under the
//!   home folder (the default scope) links are followed: that folder is the person's own, and
//!   `~/.claude` kept in a dotfiles repository and linked is common.

use std::fmt;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// The skill's name: its frontmatter `name` and the folder it must live in.
pub const SKILL_NAME: &str = "cancel-message-batch";

/// The skill file (`skill.md` at the top of the repository), as installed.
pub const SKILL_MD: &str = include_str!("../skill.md");

/// Options of `msgbatch-mcp install-skill`.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallSkillArgs {
    /// Install into ./.claude/skills (this project only) instead of ~/.claude/skills (all your
    /// projects). An existing different SKILL.md is replaced and kept as SKILL.md.bak.
    #[arg(long)]
    pub project: bool,
}

/// What installing did to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// There was no skill file: it was written.
    Created,
    /// The same text was already there: nothing was written.
    Unchanged,
    /// A different file was there: it was saved as `backup`, then replaced.
    Replaced {
        /// Where the previous file's text now is.
        backup: PathBuf,
    },
}

/// Where the skill was installed, and what that did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The installed `SKILL.md`.
    pub path: PathBuf,
    /// What happened to it.
    pub outcome: Outcome,
}

impl fmt::Display for Installed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.outcome {
            Outcome::Created => write!(f, "Installed the {SKILL_NAME} skill at {path}"),
            Outcome::Unchanged => {
                write!(f, "The {SKILL_NAME} skill at {path} is already up to date")
            }
            Outcome::Replaced { backup } => write!(
                f,
                "Replaced a different {SKILL_NAME} skill at {path} (the previous file is saved \
                 as {})",
                backup.display()
            ),
        }
    }
}

/// Why the skill could not be installed. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// No usable home folder for the user scope.
    #[error(
        "HOME is not set (or is not an absolute path), so the user skills folder \
         ~/.claude/skills cannot be found. Set HOME to your home folder, or run \
         `msgbatch-mcp install-skill --project` inside your project to install into \
         ./.claude/skills instead."
    )]
    NoHome,

    /// The current folder, needed for `--project`, cannot be read.
    #[error(
        "cannot tell the current folder ({source}). cd into your project folder and run \
         `msgbatch-mcp install-skill --project` again, or leave out --project to install \
         into ~/.claude/skills."
    )]
    NoCurrentDir {
        /// The operating system's answer.
        source: io::Error,
    },

    /// The skill's folder cannot be created.
    #[error(
        "cannot create the folder {} ({source}). Check that you may write there and that no \
         file stands in the way, then run install-skill again.",
        path.display()
    )]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's answer.
        source: io::Error,
    },

    /// Something that is not a regular file is where `SKILL.md` or its backup goes.
    #[error(
        "{} exists but is not a regular file (a folder, a pipe or a device?), so nothing was \
         changed. Move it out of the way, then run install-skill again.",
        path.display()
    )]
    NotAFile {
        /// Where the skill file (or its backup) goes.
        path: PathBuf,
    },

    /// A symbolic link is where `SKILL.md` or its backup goes.
    #[error(
        "{} is a symbolic link (to {}), so nothing was changed: install-skill never writes \
         through a link, which could lead anywhere (a cloned repository can plant one to \
         overwrite or copy your files). Remove the link, then run install-skill again.",
        path.display(),
        target.display()
    )]
    Link {
        /// The link.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
    },

    /// With `--project`, one of the skill's folders is a link that leads out of the project.
    #[error(
        "{} is a link to {}, outside the project {}, so nothing was written (a cloned \
         repository can plant such a link to make install-skill write elsewhere). Remove the \
         link, or install for your user without --project, then run install-skill again.",
        path.display(),
        target.display(),
        root.display()
    )]
    LinkOutOfProject {
        /// The linked folder.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
        /// The project folder.
        root: PathBuf,
    },

    /// The existing `SKILL.md` cannot be read, so it cannot be compared or saved.
    #[error(
        "cannot read the existing {} ({source}), so it was left untouched. Check its \
         permissions, or move it away, then run install-skill again.",
        path.display()
    )]
    Read {
        /// The existing file.
        path: PathBuf,
        /// The operating system's answer.
        source: io::Error,
    },

    /// A file cannot be written.
    #[error(
        "cannot write {} ({source}). Check that you may write there and that the disk is not \
         full, then run install-skill again.",
        path.display()
    )]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The operating system's answer.
        source: io::Error,
    },
}

/// Installs the skill for the current user (`$HOME`) or, with `--project`, for the project in
/// the current folder, and returns the installed file's path.
///
/// Replacing a different file is reported on stderr; use [`install_with_outcome`] to word the
/// outcome yourself.
pub fn install(args: &InstallSkillArgs) -> Result<PathBuf, SkillError> {
    let installed = install_with_outcome(args)?;
    if let Outcome::Replaced { .. } = installed.outcome {
        eprintln!("msgbatch-mcp: {installed}");
    }
    Ok(installed.path)
}

/// Like [`install`], but returns what happened instead of reporting it.
pub fn install_with_outcome(args: &InstallSkillArgs) -> Result<Installed, SkillError> {
    let home = home_dir();
    // The current folder is only needed (and only an error) for the project scope.
    let cwd = if args.project {
        std::env::current_dir().map_err(|source| SkillError::NoCurrentDir { source })?
    } else {
        PathBuf::new()
    };
    install_at(args, home.as_deref(), &cwd)
}

/// Installs the skill under `home` (user scope) or `cwd` (`--project`): the testable core of
/// [`install`], which reads both from the environment.
pub fn install_at(
    args: &InstallSkillArgs,
    home: Option<&Path>,
    cwd: &Path,
) -> Result<Installed, SkillError> {
    let path = skill_path(args, home, cwd)?;
    let root = if args.project {
        cwd
    } else {
        home.unwrap_or(cwd)
    };
    make_folders(root, args.project)?;
    write_skill(&path, SKILL_MD)
}

/// Where the skill file goes: `<root>/.claude/skills/cancel-message-batch/SKILL.md`.
pub fn skill_path(
    args: &InstallSkillArgs,
    home: Option<&Path>,
    cwd: &Path,
) -> Result<PathBuf, SkillError> {
    let root = if args.project {
        cwd
    } else {
        home.filter(|h| h.is_absolute()).ok_or(SkillError::NoHome)?
    };
    Ok(root
        .join(".claude")
        .join("skills")
        .join(SKILL_NAME)
        .join("SKILL.md"))
}

/// The home folder: `$HOME`, or on Windows `%USERPROFILE%` when HOME is not set. Empty counts
/// as unset.
fn home_dir() -> Option<PathBuf> {
    let from = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    let home = from("HOME");
    #[cfg(windows)]
    let home = home.or_else(|| from("USERPROFILE"));
    home.map(PathBuf::from)
}

/// Creates `<root>/.claude/skills/cancel-message-batch`, one folder at a time, so that each one
/// that already exists can be checked: in the project scope a link must lead to a folder inside
/// the project (see the module doc).
fn make_folders(root: &Path, project: bool) -> Result<(), SkillError> {
    let mut dir = root.to_path_buf();
    for part in [".claude", "skills", SKILL_NAME] {
        dir.push(part);
        let create_error = |source| SkillError::CreateDir {
            path: dir.clone(),
            source,
        };
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                // Created meanwhile by someone else: checked like any other on the next run.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                other => other.map_err(create_error)?,
            },
            Err(e) => return Err(create_error(e)),
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&dir).unwrap_or_default();
                let leads_to = fs::canonicalize(&dir).map_err(create_error)?;
                if project {
                    let inside = fs::canonicalize(root).is_ok_and(|r| leads_to.starts_with(r));
                    if !inside {
                        return Err(SkillError::LinkOutOfProject {
                            path: dir,
                            target,
                            root: root.to_owned(),
                        });
                    }
                }
                if !leads_to.is_dir() {
                    return Err(create_error(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "a link to something that is not a folder is in the way",
                    )));
                }
            }
            Ok(_) => {
                return Err(create_error(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file is in the way",
                )));
            }
        }
    }
    Ok(())
}

/// Writes `text` to `path` (whose folder exists), leaving an identical file alone and keeping a
/// different one as `SKILL.md.bak`. Never follows a link at either path (see the module doc).
fn write_skill(path: &Path, text: &str) -> Result<Installed, SkillError> {
    let installed = |outcome| Installed {
        path: path.to_owned(),
        outcome,
    };
    let Some(existing) = regular_file(path)? else {
        put_in_place(path, text, None)?;
        return Ok(installed(Outcome::Created));
    };
    if existing.len() == text.len() as u64 && read_no_follow(path)? == text.as_bytes() {
        return Ok(installed(Outcome::Unchanged));
    }
    let backup = path.with_file_name("SKILL.md.bak");
    regular_file(&backup)?;
    put_in_place(path, text, Some(&backup))?;
    Ok(installed(Outcome::Replaced { backup }))
}

/// What is at `path`: nothing (`None`), or a regular file. A link (never followed) or anything
/// else is refused with the reason.
fn regular_file(path: &Path) -> Result<Option<fs::Metadata>, SkillError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SkillError::Read {
            path: path.to_owned(),
            source,
        }),
        Ok(meta) if meta.file_type().is_symlink() => Err(SkillError::Link {
            path: path.to_owned(),
            target: fs::read_link(path).unwrap_or_default(),
        }),
        Ok(meta) if !meta.is_file() => Err(SkillError::NotAFile {
            path: path.to_owned(),
        }),
        Ok(meta) => Ok(Some(meta)),
    }
}

/// Reads the regular file at `path` without following a link and without blocking on a FIFO
/// (either could have replaced the file since it was checked), and checks it again once open.
fn read_no_follow(path: &Path) -> Result<Vec<u8>, SkillError> {
    let read_error = |source| SkillError::Read {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(SkillError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut bytes = Vec::new();
    // Only ever called for a file of the skill's size: read no more than one byte past it.
    file.take(meta.len().saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    Ok(bytes)
}

/// Writes `text` to a new temporary file beside `path`, then, if `backup` is given, renames the
/// current `path` to it, then renames the temporary file to `path`. A rename replaces a link
/// or file at its destination without following it. On failure the previous file is put back
/// where it can be, and the temporary file is removed.
fn put_in_place(path: &Path, text: &str, backup: Option<&Path>) -> Result<(), SkillError> {
    let write_error = |to: &Path| {
        let to = to.to_owned();
        move |source| SkillError::Write { path: to, source }
    };
    let tmp = path.with_file_name(format!(
        ".SKILL.md.{}.{:08x}.tmp",
        std::process::id(),
        fastrand::u32(..)
    ));
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        // create_new: a link or anything else already at the temporary name is an error, never
        // followed or truncated.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o644);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    let result = written.map_err(write_error(path)).and_then(|()| {
        if let Some(backup) = backup {
            fs::rename(path, backup).map_err(write_error(backup))?;
        }
        fs::rename(&tmp, path).map_err(|e| {
            if let Some(backup) = backup {
                let _ = fs::rename(backup, path);
            }
            write_error(path)(e)
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use tempfile::TempDir;

    fn user() -> InstallSkillArgs {
        InstallSkillArgs { project: false }
    }

    fn project() -> InstallSkillArgs {
        InstallSkillArgs { project: true }
    }

    fn expected_path(root: &Path) -> PathBuf {
        root.join(".claude/skills/cancel-message-batch/SKILL.md")
    }

    #[test]
    fn user_scope_installs_under_home() {
        let (home, cwd) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let got = install_at(&user(), Some(home.path()), cwd.path()).unwrap();
        assert_eq!(got.path, expected_path(home.path()));
        assert_eq!(got.outcome, Outcome::Created);
        assert_eq!(fs::read_to_string(&got.path).unwrap(), SKILL_MD);
        assert!(
            !cwd.path().join(".claude").exists(),
            "the project folder is left alone"
        );
        assert!(
            got.to_string()
                .starts_with("Installed the cancel-message-batch skill at ")
        );
    }

    #[test]
    fn project_scope_installs_under_the_current_folder_without_home() {
        let cwd = TempDir::new().unwrap();
        let got = install_at(&project(), None, cwd.path()).unwrap();
        assert_eq!(got.path, expected_path(cwd.path()));
        assert_eq!(fs::read_to_string(&got.path).unwrap(), SKILL_MD);
    }

    #[test]
    fn installing_again_leaves_an_identical_file_alone() {
        let home = TempDir::new().unwrap();
        install_at(&user(), Some(home.path()), Path::new("")).unwrap();
        let again = install_at(&user(), Some(home.path()), Path::new("")).unwrap();
        assert_eq!(again.outcome, Outcome::Unchanged);
        assert!(again.to_string().contains("already up to date"), "{again}");
        let dir = expected_path(home.path()).parent().unwrap().to_owned();
        let names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["SKILL.md"], "no backup for an identical file");
    }

    #[test]
    fn a_different_file_is_replaced_and_kept_as_a_backup() {
        let home = TempDir::new().unwrap();
        let path = expected_path(home.path());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "my own notes\n").unwrap();

        let got = install_at(&user(), Some(home.path()), Path::new("")).unwrap();
        let backup = path.with_file_name("SKILL.md.bak");
        assert_eq!(
            got.outcome,
            Outcome::Replaced {
                backup: backup.clone()
            }
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), SKILL_MD);
        assert_eq!(fs::read_to_string(&backup).unwrap(), "my own notes\n");
        let said = got.to_string();
        assert!(
            said.contains("Replaced") && said.contains("SKILL.md.bak"),
            "{said}"
        );
    }

    #[test]
    fn no_home_fails_and_says_what_to_do() {
        let err = install_at(&user(), None, Path::new("/tmp")).unwrap_err();
        assert!(matches!(err, SkillError::NoHome));
        let msg = err.to_string();
        assert!(msg.contains("HOME") && msg.contains("--project"), "{msg}");
    }

    #[test]
    fn a_relative_home_is_refused() {
        let err = install_at(&user(), Some(Path::new("relative/home")), Path::new("")).unwrap_err();
        assert!(matches!(err, SkillError::NoHome), "{err}");
    }

    #[test]
    fn a_file_in_the_way_of_the_folder_is_reported_with_its_path() {
        let home = TempDir::new().unwrap();
        fs::write(home.path().join(".claude"), "not a folder").unwrap();
        let err = install_at(&user(), Some(home.path()), Path::new("")).unwrap_err();
        assert!(matches!(err, SkillError::CreateDir { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(".claude") && msg.contains("install-skill again"),
            "{msg}"
        );
    }

    #[test]
    fn a_folder_where_the_file_goes_is_reported() {
        let home = TempDir::new().unwrap();
        fs::create_dir_all(expected_path(home.path())).unwrap();
        let err = install_at(&user(), Some(home.path()), Path::new("")).unwrap_err();
        assert!(matches!(err, SkillError::NotAFile { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("SKILL.md exists but is not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn the_flag_parses() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: InstallSkillArgs,
        }
        assert!(!Cli::try_parse_from(["x"]).unwrap().args.project);
        assert!(
            Cli::try_parse_from(["x", "--project"])
                .unwrap()
                .args
                .project
        );
        assert!(Cli::try_parse_from(["x", "--force"]).is_err());
    }

    /// The same rules as the Agent Skills validator (skills-ref), so that `cargo test` catches
    /// a broken skill.md even where the Python validator is not installed.
    #[test]
    fn the_skill_file_follows_the_agent_skills_rules() {
        let rest = SKILL_MD
            .strip_prefix("---\n")
            .expect("starts with YAML frontmatter");
        let (frontmatter, body) = rest.split_once("\n---\n").expect("frontmatter is closed");
        let meta: serde_yaml::Mapping = serde_yaml::from_str(frontmatter).unwrap();
        let allowed = [
            "name",
            "description",
            "license",
            "compatibility",
            "metadata",
            "allowed-tools",
        ];
        for key in meta.keys() {
            let key = key.as_str().unwrap();
            assert!(
                allowed.contains(&key),
                "frontmatter key {key:?} is not allowed"
            );
        }
        let text = |k: &str| meta.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        assert_eq!(text("name"), SKILL_NAME);
        let description = text("description");
        assert!(!description.trim().is_empty() && description.chars().count() <= 1024);
        for word in ["stop", "cancel", "abort", "kill", "msgbatch_"] {
            assert!(description.contains(word), "description lacks {word:?}");
        }
        assert!(text("compatibility").chars().count() <= 500);
        for tool in [
            "list_message_batches",
            "get_message_batch",
            "cancel_message_batch",
        ] {
            assert!(body.contains(tool), "body does not mention {tool}");
        }
        assert!(
            body.contains(r#"curl -sS -X POST "$MSGBATCH_API_URL/messages/batches/$ID/cancel""#)
        );
    }
}
