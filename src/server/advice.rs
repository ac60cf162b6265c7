//! Turns a failed API call into what the person (and the model acting for them) should read:
//! what happened, and what to do next. Every text here ends up in an `isError` tool result.

use crate::api::ApiError;
use crate::config::{DEFAULT_API_URL, REAL_API_URL};

/// Which tool was running, since advice depends on it (a cancel that timed out may still have
/// been applied; a list has no batch ID to get wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    Cancel(&'a str),
    Get(&'a str),
    List,
    /// Reading an ended batch's results file.
    Results(&'a str),
}

impl Operation<'_> {
    fn doing(&self) -> String {
        match self {
            Self::Cancel(id) => format!("Could not cancel batch {id}"),
            Self::Get(id) => format!("Could not get batch {id}"),
            Self::List => "Could not list message batches".to_owned(),
            Self::Results(id) => format!("Could not read the results of batch {id}"),
        }
    }

    /// For a cancel that no attempt could send: no connection was ever made.
    fn never_sent(&self) -> &'static str {
        match self {
            Self::Cancel(_) => {
                " No connection was made, so the cancel was not sent: the batch is as it was."
            }
            _ => "",
        }
    }

    /// For a cancel that failed in a way that leaves its effect unknown.
    fn maybe_applied(&self) -> &'static str {
        match self {
            Self::Cancel(_) => {
                " The cancel may or may not have reached the API: check with get_message_batch \
                 before trying again."
            }
            _ => "",
        }
    }
}

/// The text of the `isError` result for `error` during `op`. Counts of attempts come from the
/// error itself: an answer marked `x-should-retry: false`, or a wait cut short by a deadline,
/// was tried fewer times than the settings allow, and the text must not claim otherwise.
pub fn explain(op: Operation<'_>, error: &ApiError) -> String {
    let mut text = format!("{}: ", op.doing());
    text.push_str(&match error {
        ApiError::Config(e) => e.to_string(),
        ApiError::Status { status, .. } => status_advice(op, *status, error),
        ApiError::Connect {
            base_url,
            detail,
            sent_before,
        } => {
            let mut s = format!("could not connect to {base_url} ({detail}). ");
            if base_url == DEFAULT_API_URL {
                s.push_str(
                    "That is the default URL, served by the local simulator: start it with \
                     `msgbatch-mcp mock` in another terminal, or set MSGBATCH_API_URL=",
                );
                s.push_str(REAL_API_URL);
                s.push_str(" and ANTHROPIC_API_KEY to use the real API.");
            } else {
                s.push_str(
                    "Check MSGBATCH_API_URL, the network and any HTTPS_PROXY setting, then try \
                     again.",
                );
            }
            if *sent_before {
                s.push_str(op.maybe_applied());
            } else {
                s.push_str(op.never_sent());
            }
            s
        }
        ApiError::Timeout {
            base_url,
            secs,
            attempts,
        } => format!(
            "no answer from {base_url} within {secs} s ({}). The API may be slow or \
             unreachable: try again in a minute, or raise MSGBATCH_TIMEOUT_SECS.{}",
            attempts_made(*attempts),
            op.maybe_applied()
        ),
        ApiError::TooLarge { status, .. } | ApiError::Decode { status, .. } => format!(
            "{error}. This is not the Batches API answering as expected: check that \
             MSGBATCH_API_URL ends just before /messages (e.g. {REAL_API_URL}) and that no proxy \
             is answering in its place.{}",
            answered_but_unread(op, *status, error)
        ),
        ApiError::OtherBatch {
            base_url,
            requested,
            answered,
        } => other_batch(op, base_url, requested, answered),
        ApiError::Transport { .. } => format!(
            "{error}. Try again; if it keeps failing, check the network and proxy settings.{}",
            op.maybe_applied()
        ),
    });
    if let Some(id) = error.request_id() {
        text.push_str(&format!(" (request-id: {id})"));
    }
    text
}

/// What a success status with an unreadable body means for the operation. A 2xx in JSON is
/// the API accepting the request in a shape this version cannot read: a cancel must not be
/// called one that "may or may not have reached the API". A 2xx HTML page is another matter:
/// a captive portal or a proxy's sign-in page answers 200 without passing anything on.
fn answered_but_unread(op: Operation<'_>, status: u16, error: &ApiError) -> &'static str {
    let html = match error {
        ApiError::Decode {
            content_type,
            detail,
            ..
        } => content_type.contains("html") || detail.contains("HTML page"),
        _ => false,
    };
    match (op, status) {
        (Operation::Cancel(_), 200..=299) if html => {
            " The HTTP 200 came with an HTML page, which the API never sends: most likely a \
             proxy or a network sign-in page answered, and the cancel did not reach the API. \
             Call get_message_batch once the network is fixed to see the batch's status."
        }
        (Operation::Cancel(_), 200..=299) => {
            " The endpoint accepted the cancel request (HTTP 200), but its answer cannot be \
             read: call get_message_batch to see the batch's status."
        }
        _ => op.maybe_applied(),
    }
}

/// An answer about another batch than the one asked for: say so, with both IDs, and that
/// nothing is known about the one asked for (nor, for a cancel, was it canceled).
fn other_batch(op: Operation<'_>, base_url: &str, requested: &str, answered: &str) -> String {
    let consequence = match op {
        Operation::Cancel(_) => format!(
            "so nothing is known about batch {requested}, and nothing real was canceled: if \
             {requested} is a real batch, it is still running (and billing)"
        ),
        _ => format!("so nothing is known about batch {requested}"),
    };
    let default = if base_url == DEFAULT_API_URL {
        " (the default URL, the local sandbox mock)"
    } else {
        ""
    };
    format!(
        "the endpoint at {base_url}{default} answered for another batch, {answered}, not for \
         {requested}. A mock with canned answers does this (it answers every ID with its one \
         example batch), {consequence}. Tell the person this. To reach real batches, set \
         MSGBATCH_API_URL={REAL_API_URL} and ANTHROPIC_API_KEY in the MCP server's environment \
         and restart it; to try things out offline, run `msgbatch-mcp mock`, which keeps each \
         batch apart."
    )
}

/// "1 attempt", "3 attempts".
fn attempts_made(n: u32) -> String {
    if n == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{n} attempts")
    }
}

fn status_advice(op: Operation<'_>, status: u16, error: &ApiError) -> String {
    let what = api_said(error);
    let tried = attempts_made(error.attempts().unwrap_or(1));
    match status {
        401 => format!(
            "the API refused the API key ({what}). ANTHROPIC_API_KEY is missing or not valid: \
             set a valid key in the MCP server's environment and restart the server."
        ),
        403 => format!(
            "the API key is not allowed to do this ({what}). Use a key from the workspace that \
             owns the batch, with permission to manage batches."
        ),
        404 => match op {
            Operation::List => format!(
                "the API found no such page ({what}). If you passed before_id or after_id, \
                 check that ID, or list again without it."
            ),
            _ => format!(
                "no such batch ({what}). Check the ID, or call list_message_batches to see the \
                 batches this API key can reach (batches belong to one workspace)."
            ),
        },
        402 => format!(
            "the API refused the request for a billing reason ({what}): the organization's \
             credit balance or payment method needs attention. A person with billing access \
             must fix it in the Anthropic Console (Settings > Billing), then try again."
        ),
        409 => format!(
            "the API reports a conflict with the batch's current state ({what}; {tried}). \
             Call get_message_batch to see where the batch is now, then decide whether to try \
             again."
        ),
        413 => format!(
            "the request was refused as too large ({what}). This server's requests carry no \
             body, so the limit is most likely that of a proxy or gateway in front of the API \
             (its answer may be an HTML page rather than the API's JSON): check MSGBATCH_API_URL \
             and any proxy settings."
        ),
        429 => format!(
            "the API is rate-limiting requests ({what}; {tried}). Wait a minute, then try \
             again.{}",
            op.maybe_applied()
        ),
        529 => format!(
            "the API is overloaded ({what}; {tried}). Try again in a few minutes.{}",
            op.maybe_applied()
        ),
        s if s >= 500 => format!(
            "the API is failing ({what}; {tried}). Try again later.{}",
            op.maybe_applied()
        ),
        // 408 and 409 are retried too: say so when they were.
        _ if error.attempts().unwrap_or(1) > 1 => {
            format!("the API refused the request ({what}; {tried}).")
        }
        _ => format!("the API refused the request ({what})."),
    }
}

/// "HTTP 404 not_found_error: No such batch".
fn api_said(error: &ApiError) -> String {
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    fn status(status: u16, kind: &str) -> ApiError {
        ApiError::Status {
            status,
            kind: Some(kind.into()),
            message: Some("msg".into()),
            request_id: Some("req_123".into()),
            attempts: 3,
        }
    }

    #[test]
    fn not_found_points_to_list_and_quotes_request_id() {
        let t = explain(
            Operation::Cancel("msgbatch_x"),
            &status(404, "not_found_error"),
        );
        assert!(t.starts_with("Could not cancel batch msgbatch_x: no such batch"));
        assert!(t.contains("list_message_batches"));
        assert!(t.contains("HTTP 404 not_found_error: msg"));
        assert!(t.ends_with("(request-id: req_123)"));
    }

    #[test]
    fn auth_errors_name_the_variable() {
        for (s, k) in [(401, "authentication_error"), (403, "permission_error")] {
            let t = explain(Operation::Get("b"), &status(s, k));
            assert!(t.contains("API key"), "{t}");
        }
        assert!(explain(Operation::Get("b"), &status(401, "x")).contains("ANTHROPIC_API_KEY"));
    }

    #[test]
    fn busy_api_says_try_later_and_cancel_may_have_applied() {
        for s in [429, 500, 529] {
            let t = explain(Operation::Cancel("b"), &status(s, "x"));
            assert!(t.contains("; 3 attempts)"), "{t}");
            assert!(t.contains("may or may not have reached"), "{t}");
        }
    }

    /// A cancel that never connected was never sent; one whose earlier attempt timed out
    /// after sending may have been applied.
    #[test]
    fn a_cancel_that_never_connected_says_it_was_not_sent() {
        let refused = |sent_before| ApiError::Connect {
            base_url: "https://api.example/v1".into(),
            detail: "invalid peer certificate: UnknownIssuer".into(),
            sent_before,
        };
        let t = explain(Operation::Cancel("b"), &refused(false));
        assert!(t.contains("the cancel was not sent"), "{t}");
        assert!(!t.contains("may or may not"), "{t}");
        let t = explain(Operation::Cancel("b"), &refused(true));
        assert!(t.contains("may or may not have reached"), "{t}");
        assert!(!t.contains("not sent"), "{t}");
        let t = explain(Operation::Get("b"), &refused(false));
        assert!(!t.contains("cancel"), "{t}");
    }

    #[test]
    fn refused_connection_to_default_url_says_how_to_start_the_simulator() {
        let e = ApiError::Connect {
            base_url: DEFAULT_API_URL.into(),
            detail: "Connection refused (os error 111)".into(),
            sent_before: false,
        };
        let t = explain(Operation::List, &e);
        assert!(t.contains("msgbatch-mcp mock"), "{t}");
        let e = ApiError::Connect {
            base_url: "https://proxy.example/v1".into(),
            detail: "refused".into(),
            sent_before: false,
        };
        let t = explain(Operation::List, &e);
        assert!(!t.contains("msgbatch-mcp mock"));
        assert!(t.contains("https://proxy.example/v1"));
    }

    #[test]
    fn an_answer_about_another_batch_names_both_ids_and_what_it_means() {
        let e = ApiError::OtherBatch {
            base_url: DEFAULT_API_URL.into(),
            requested: "msgbatch_01MyOwnBatch".into(),
            answered: "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF".into(),
        };
        let t = explain(Operation::Cancel("msgbatch_01MyOwnBatch"), &e);
        assert!(t.starts_with("Could not cancel batch msgbatch_01MyOwnBatch: the endpoint at "));
        assert!(t.contains("answered for another batch, msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"));
        assert!(t.contains(DEFAULT_API_URL), "{t}");
        assert!(t.contains("nothing real was canceled"), "{t}");
        assert!(t.contains(REAL_API_URL), "{t}");
        assert!(!t.contains("may or may not"), "{t}");
        let t = explain(Operation::Get("msgbatch_01MyOwnBatch"), &e);
        assert!(
            t.contains("nothing is known about batch msgbatch_01MyOwnBatch"),
            "{t}"
        );
        assert!(!t.contains("canceled"), "{t}");
    }

    #[test]
    fn billing_conflict_and_too_large_have_their_own_advice() {
        let t = explain(Operation::Get("b"), &status(402, "billing_error"));
        assert!(t.contains("billing") && t.contains("Console"), "{t}");
        let t = explain(Operation::Cancel("b"), &status(409, "conflict_error"));
        assert!(
            t.contains("conflict") && t.contains("get_message_batch"),
            "{t}"
        );
        assert!(t.contains("3 attempts"), "{t}");
        let html = ApiError::from_answer(413, None, "text/html", b"<html>413</html>");
        let t = explain(Operation::Cancel("b"), &html);
        assert!(t.contains("too large") && t.contains("proxy"), "{t}");
        assert!(t.contains("HTML page"), "{t}");
    }

    #[test]
    fn a_cancel_answered_200_is_never_one_that_may_not_have_arrived() {
        let e = ApiError::Decode {
            status: 200,
            content_type: "application/json".into(),
            expected: "a message batch",
            detail: "the JSON does not have the expected fields".into(),
        };
        let t = explain(Operation::Cancel("b"), &e);
        assert!(!t.contains("may or may not"), "{t}");
        assert!(t.contains("accepted the cancel request (HTTP 200)"), "{t}");
        // An HTML page with 200 is a portal or proxy, not the API accepting anything.
        let e = ApiError::Decode {
            status: 200,
            content_type: "text/html".into(),
            expected: "a message batch",
            detail: "the body looks like an HTML page".into(),
        };
        let t = explain(Operation::Cancel("b"), &e);
        assert!(t.contains("did not reach the API"), "{t}");
        assert!(!t.contains("accepted"), "{t}");
        let e = ApiError::TooLarge {
            status: 200,
            limit: 8,
        };
        assert!(!explain(Operation::Cancel("b"), &e).contains("may or may not"));
    }

    #[test]
    fn config_errors_pass_through() {
        let e = ApiError::Config(ConfigError::MissingKey {
            url: REAL_API_URL.into(),
        });
        assert!(explain(Operation::Get("b"), &e).contains("ANTHROPIC_API_KEY is not set"));
    }

    #[test]
    fn timeouts_name_the_url() {
        let e = ApiError::Timeout {
            base_url: "http://127.0.0.1:9".into(),
            secs: 3,
            attempts: 2,
        };
        let t = explain(Operation::Get("b"), &e);
        assert!(t.contains("no answer from http://127.0.0.1:9 within 3 s (2 attempts)"));
        let t = explain(Operation::Get("b"), &e.after_attempts(1));
        assert!(t.contains("within 3 s (1 attempt)"), "{t}");
    }
}
