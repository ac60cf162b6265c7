//! The audit trail: one JSON object a line for every call of a tool that cancels, and for every
//! one refused, saying who asked, for which batches, what came of it and the API's `request-id`.
//!
//! Each line goes to stderr (tracing, at info, target `msgbatch_mcp::audit`) and, with
//! `MSGBATCH_AUDIT_LOG=PATH`, is appended to that file: created `0600`, written with one `write`
//! per line and flushed at once, never rotated by us (logrotate's `copytruncate` works with an
//! append-mode file). Every value from a token or the upstream is a JSON string, escaped by
//! serde_json and capped in length, so no value can break a line or forge another.
//!
//! How the outcomes are gathered: a cancel tool's call runs inside [`Pending::around`], and every
//! cancel it makes goes through [`noted`], which adds that batch's outcome to the call's list (a
//! task-local: the cancels of one call run in its task, even the concurrent ones of a bulk
//! cancel). This keeps the hook into the tools to one line per place that cancels.

use std::fs::File;
use std::future::Future;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rmcp::model::{CallToolRequestParams, CallToolResponse, ErrorData};
use serde::Serialize;

use super::Cancel;
use super::caller::{Caller, Who};
use crate::api::{ApiError, BatchId, request_ids};

/// The longest any one value from a token, a request or the upstream may be in a line.
const MAX_VALUE_CHARS: usize = 200;
/// At most this many batch IDs are named in a refused call's line (a bulk cancel takes 100).
const MAX_IDS: usize = 100;

tokio::task_local! {
    static CANCELS: Arc<Mutex<Vec<BatchOutcome>>>;
}

/// Where audit lines go besides stderr. Cloned into every server; the file is shared.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    file: Option<Arc<Mutex<File>>>,
}

/// One batch's part in a cancel call.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BatchOutcome {
    pub id: String,
    /// `canceling`, `already_canceling`, `already_ended`, `not_found` or `failed`.
    pub outcome: &'static str,
    /// The HTTP status of a failed cancel, when the API answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `request-id` the API gave the cancel (what Anthropic support asks for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One line.
#[derive(Debug, Serialize)]
struct Line<'a> {
    time: String,
    event: &'static str,
    tool: String,
    who: &'a Who,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    batch_ids: Vec<String>,
    /// The call's outcome: the batches' one when they agree, `mixed` when not, `not_sent` when
    /// no cancel was sent (an invalid argument), `refused` when the caller may not cancel.
    outcome: &'static str,
    /// Why: `insufficient_scope` for a refusal, `interrupted` for a call that ended early.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    batches: Vec<BatchOutcome>,
}

/// A cancel call on its way: what its line will say about who and what.
#[derive(Debug)]
pub struct Pending {
    audit: Audit,
    tool: String,
    who: Who,
    client_id: Option<String>,
    asked: Vec<String>,
}

impl Audit {
    /// Where audit lines go as `MSGBATCH_AUDIT_LOG` says: stderr, and the file if one is set.
    /// Fails if that file cannot be opened for appending, with a text that names it and says
    /// how to fix it.
    /// Empty, or a `${...}` placeholder an MCP host left unexpanded (an MCPB user left the field
    /// blank), counts as unset.
    pub fn from_setting(path: Option<&Path>) -> Result<Self, String> {
        let unset = |p: &Path| {
            let s = p.to_string_lossy();
            let s = s.trim();
            s.is_empty() || (s.starts_with("${") && s.ends_with('}'))
        };
        match path {
            None => Ok(Self::stderr_only()),
            Some(p) if unset(p) => Ok(Self::stderr_only()),
            Some(path) => Self::to_file(path).map_err(|e| {
                format!(
                    "cannot open MSGBATCH_AUDIT_LOG {} for appending: {e}. Point it at a file \
                     this user may write (its directory must exist).",
                    path.display()
                )
            }),
        }
    }

    /// Lines to stderr only.
    pub fn stderr_only() -> Self {
        Self::default()
    }

    /// Lines to stderr and appended to `path`, which is created `0600` if it does not exist.
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        Ok(Self {
            file: Some(Arc::new(Mutex::new(file))),
        })
    }

    /// The line to be written for this call, if the tool is one that cancels (`cancels`).
    pub fn begin(
        &self,
        request: &CallToolRequestParams,
        caller: Option<&Caller>,
        cancels: bool,
    ) -> Option<Pending> {
        if !cancels {
            return None;
        }
        let (who, client_id) = match caller {
            Some(c) => (c.who.clone(), c.client_id.clone()),
            None => (Who::Local, None),
        };
        Some(Pending {
            audit: self.clone(),
            tool: capped(&request.name),
            who,
            client_id: client_id.as_deref().map(capped),
            asked: asked_ids(request.arguments.as_ref()),
        })
    }

    /// Writes one line: to stderr at info, and to the file if there is one. A failed write to
    /// the file is logged (without the line's values) and does not fail the call.
    fn write(&self, line: &Line<'_>) {
        let Ok(mut text) = serde_json::to_string(line) else {
            return;
        };
        tracing::info!(target: "msgbatch_mcp::audit", "{text}");
        if let Some(file) = &self.file {
            text.push('\n');
            let written = match file.lock() {
                Ok(mut f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
                Err(_) => Err(std::io::Error::other("the audit file's lock was poisoned")),
            };
            if let Err(e) = written {
                tracing::error!("could not append to MSGBATCH_AUDIT_LOG: {e}");
            }
        }
    }
}

impl Pending {
    /// The line for a call refused before anything was sent (`reason`: why).
    pub fn refused(self, reason: &'static str) {
        self.write("refused", Some(reason), Vec::new());
    }

    /// Runs the call, gathering its cancels, then writes its line. If the call is dropped
    /// before it ends (the client went away, the server is stopping), the line is written
    /// anyway, with the cancels answered so far and the reason `interrupted`: a cancel that was
    /// sent is never left out of the trail.
    pub async fn around<F>(self, call: F) -> Result<CallToolResponse, ErrorData>
    where
        F: Future<Output = Result<CallToolResponse, ErrorData>>,
    {
        let list = Arc::new(Mutex::new(Vec::new()));
        let mut guard = Unfinished {
            pending: Some(self),
            list: list.clone(),
        };
        let response = CANCELS
            .scope(list.clone(), request_ids::recording(call))
            .await;
        if let Some(pending) = guard.pending.take() {
            let batches = taken(&list);
            pending.write(overall(&batches), None, batches);
        }
        response
    }

    fn write(
        self,
        outcome: &'static str,
        reason: Option<&'static str>,
        batches: Vec<BatchOutcome>,
    ) {
        // Nowhere to go (`RUST_LOG` hides the audit target and no file is set): not built.
        if self.audit.file.is_none()
            && !tracing::enabled!(target: "msgbatch_mcp::audit", tracing::Level::INFO)
        {
            return;
        }
        let line = Line {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            event: "cancel",
            tool: self.tool,
            who: &self.who,
            client_id: self.client_id,
            batch_ids: self.asked,
            outcome,
            reason,
            batches,
        };
        self.audit.write(&line);
    }
}

/// Writes the line of a call dropped before it ended (see [`Pending::around`]).
struct Unfinished {
    pending: Option<Pending>,
    list: Arc<Mutex<Vec<BatchOutcome>>>,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            let batches = taken(&self.list);
            pending.write(overall(&batches), Some("interrupted"), batches);
        }
    }
}

fn taken(list: &Mutex<Vec<BatchOutcome>>) -> Vec<BatchOutcome> {
    list.lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}

/// The call's outcome: the batches' one when they agree, `mixed` when not, `not_sent` when none
/// was sent.
fn overall(batches: &[BatchOutcome]) -> &'static str {
    match batches.split_first() {
        None => "not_sent",
        Some((first, rest)) if rest.iter().all(|b| b.outcome == first.outcome) => first.outcome,
        Some(_) => "mixed",
    }
}

/// Adds `cancel`'s outcome for batch `id` to the current call's list (if it is being
/// collected), and hands it back: the one-line hook for every place that cancels.
pub(crate) fn noted(id: &BatchId, cancel: Cancel) -> Cancel {
    let _ = CANCELS.try_with(|list| {
        if let Ok(mut list) = list.lock() {
            list.push(outcome_of(id, &cancel));
        }
    });
    cancel
}

fn outcome_of(id: &BatchId, cancel: &Cancel) -> BatchOutcome {
    let (outcome, status) = match cancel {
        Cancel::Accepted(b) if b.processing_status.is_ended() => ("already_ended", None),
        Cancel::Accepted(_) => ("canceling", None),
        Cancel::AlreadyCanceling(_) => ("already_canceling", None),
        Cancel::AlreadyEnded(_) => ("already_ended", None),
        Cancel::Failed(e @ ApiError::Status { status: 404, .. }) => ("not_found", e.status()),
        Cancel::Failed(e) => ("failed", e.status()),
    };
    // The cancel's own request: its answer, success or refusal, was noted by the client.
    let request_id = request_ids::last_ending_with(&format!("/{}/cancel", id.as_str())).or_else(
        || match cancel {
            Cancel::Failed(e) => e.request_id().map(str::to_owned),
            _ => None,
        },
    );
    BatchOutcome {
        id: capped(id.as_str()),
        outcome,
        status,
        request_id: request_id.as_deref().map(capped),
    }
}

/// The batch IDs a cancel call names, as given (escaped in the line, capped in number and
/// length): `message_batch_id` or `message_batch_ids`.
fn asked_ids(arguments: Option<&serde_json::Map<String, serde_json::Value>>) -> Vec<String> {
    let Some(args) = arguments else {
        return Vec::new();
    };
    let one = args.get("message_batch_id").and_then(|v| v.as_str());
    let many = args
        .get("message_batch_ids")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str());
    one.into_iter()
        .chain(many)
        .take(MAX_IDS)
        .map(capped)
        .collect()
}

fn capped(s: &str) -> String {
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_unexpanded_audit_path_is_unset() {
        for raw in ["", "  ", "${user_config.audit_log}"] {
            let a = Audit::from_setting(Some(Path::new(raw))).unwrap();
            assert!(a.file.is_none(), "{raw:?}");
        }
        let err = Audit::from_setting(Some(Path::new("/nonexistent-dir/x/audit.log"))).unwrap_err();
        assert!(
            err.contains("MSGBATCH_AUDIT_LOG /nonexistent-dir/x/audit.log"),
            "{err}"
        );
    }

    fn request(args: serde_json::Value) -> CallToolRequestParams {
        let mut r = CallToolRequestParams::new("cancel_message_batches");
        r.arguments = args.as_object().cloned();
        r
    }

    fn caller() -> Caller {
        Caller {
            who: Who::OAuth {
                sub: "user\n{\"forged\":1}".into(),
                email: Some("ada@example.com".into()),
                preferred_username: None,
            },
            client_id: Some("claude".into()),
            may_cancel: false,
            cancel_scope: "batches:cancel".into(),
        }
    }

    /// The file gets one parseable object a line, 0600, and a value holding a line break cannot
    /// make a second line.
    #[tokio::test]
    async fn lines_are_appended_one_object_each_to_a_0600_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        let args = serde_json::json!({"message_batch_ids": ["msgbatch_a", "msgbatch_b"]});
        let c = caller();
        audit
            .begin(&request(args.clone()), Some(&c), true)
            .unwrap()
            .refused("insufficient_scope");
        let pending = audit.begin(&request(args), Some(&c), true).unwrap();
        let response = pending
            .around(async {
                let a = BatchId::parse("msgbatch_a").unwrap();
                let _ = noted(
                    &a,
                    Cancel::Failed(ApiError::from_answer(
                        404,
                        Some("req_1".into()),
                        "application/json",
                        b"{}",
                    )),
                );
                Ok(CallToolResponse::Complete(
                    rmcp::model::CallToolResult::success(vec![]),
                ))
            })
            .await;
        assert!(response.is_ok());
        assert!(
            audit
                .begin(&request(serde_json::json!({})), None, false)
                .is_none()
        );

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["outcome"], "refused");
        assert_eq!(lines[0]["reason"], "insufficient_scope");
        assert_eq!(lines[0]["who"]["sub"], "user\n{\"forged\":1}");
        assert_eq!(lines[0]["client_id"], "claude");
        assert_eq!(
            lines[0]["batch_ids"],
            serde_json::json!(["msgbatch_a", "msgbatch_b"])
        );
        assert_eq!(lines[1]["outcome"], "not_found");
        assert_eq!(lines[1]["batches"][0]["request_id"], "req_1");
        assert_eq!(lines[1]["batches"][0]["status"], 404);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }

    /// A call dropped mid-way (the client went away) still leaves its line, with what was
    /// answered so far.
    #[tokio::test]
    async fn a_call_dropped_before_it_ends_is_still_audited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let audit = Audit::to_file(&path).unwrap();
        let args = serde_json::json!({"message_batch_ids": ["msgbatch_a", "msgbatch_b"]});
        let pending = audit.begin(&request(args), None, true).unwrap();
        let call = pending.around(async {
            let a = BatchId::parse("msgbatch_a").unwrap();
            let _ = noted(
                &a,
                Cancel::Failed(ApiError::from_answer(404, None, "application/json", b"{}")),
            );
            std::future::pending::<()>().await;
            Ok(CallToolResponse::Complete(
                rmcp::model::CallToolResult::success(vec![]),
            ))
        });
        let mut call = Box::pin(call);
        assert!(futures::poll!(&mut call).is_pending());
        drop(call);
        let text = std::fs::read_to_string(&path).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["reason"], "interrupted", "{text}");
        assert_eq!(line["outcome"], "not_found");
        assert_eq!(line["who"], serde_json::json!({"kind": "local"}));
    }

    #[test]
    fn long_values_are_capped() {
        let long = "x".repeat(10_000);
        assert!(capped(&long).chars().count() <= MAX_VALUE_CHARS + 1);
        let ids = asked_ids(serde_json::json!({"message_batch_ids": vec!["a"; 1000]}).as_object());
        assert_eq!(ids.len(), MAX_IDS);
    }
}
