//! The results file of an ended batch: JSON Lines, one `{custom_id, result}` per request.
//!
//! Results are not stored; they are generated from the batch's facts ([`ResultsPlan`]) each
//! time they are asked for, deterministically (message IDs and token counts come from a hash of
//! the batch ID and the request's position), so two downloads of the same file are identical.
//!
//! Shapes follow the real API: a `succeeded` result holds a Message; an `errored` one holds the
//! API's error envelope (`{"type":"error","error":{"type":…,"message":…}}`), which also fits the
//! sandbox spec's looser `ErroredResult` schema; `canceled` and `expired` hold nothing else.

use std::fmt::Write as _;

use serde::Serialize;

use super::store::{EndReason, ResultsPlan, is_errored};

/// The model named in results of batches that were not created over HTTP.
const DEFAULT_MODEL: &str = "claude-sonnet-4-20250514";

#[derive(Serialize)]
struct Line<'a> {
    custom_id: &'a str,
    result: Outcome<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outcome<'a> {
    Succeeded { message: Message<'a> },
    Errored { error: ErrorEnvelope<'a> },
    Canceled,
    Expired,
}

#[derive(Serialize)]
struct Message<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [TextBlock<'a>; 1],
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
    usage: Usage,
}

#[derive(Serialize)]
struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// The text of every simulated reply; the simulator does not run a model.
const REPLY_TEXT: &str = "This is a simulated reply from the msgbatch-mcp simulator.";
/// The message of every simulated errored request.
const ERROR_TEXT: &str =
    "Simulated error: every 10th request of a simulated batch fails, so that results are mixed.";

/// The whole JSON Lines file for `plan`, one line per request, in request order.
pub(crate) fn render(plan: &ResultsPlan) -> Vec<u8> {
    // A succeeded line is about 450 bytes; reserving avoids most regrowth on big batches.
    let capacity = usize::try_from(plan.total.saturating_mul(450)).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(capacity.min(64 * 1024 * 1024));
    let mut generated_id = String::new();
    let seed = hash_str(&plan.id);
    for index in 0..plan.total {
        let meta = plan
            .requests
            .as_deref()
            .and_then(|r| usize::try_from(index).ok().and_then(|i| r.get(i)));
        let custom_id = match meta {
            Some(m) => m.custom_id.as_str(),
            None => {
                generated_id.clear();
                let _ = write!(generated_id, "request-{:05}", index + 1);
                generated_id.as_str()
            }
        };
        let result = if index < plan.done {
            let h = mix(seed ^ index);
            if is_errored(index) {
                Outcome::Errored {
                    error: ErrorEnvelope {
                        kind: "error",
                        error: ErrorDetail {
                            kind: "invalid_request_error",
                            message: ERROR_TEXT,
                        },
                    },
                }
            } else {
                let max_tokens = meta.map_or(1024, |m| m.max_tokens);
                let wanted = 20 + h % 200;
                let (output_tokens, stop_reason) = if wanted > max_tokens {
                    (max_tokens, "max_tokens")
                } else {
                    (wanted, "end_turn")
                };
                Outcome::Succeeded {
                    message: Message {
                        id: message_id(h),
                        kind: "message",
                        role: "assistant",
                        model: meta.map_or(DEFAULT_MODEL, |m| m.model.as_str()),
                        content: [TextBlock {
                            kind: "text",
                            text: REPLY_TEXT,
                        }],
                        stop_reason,
                        stop_sequence: None,
                        usage: Usage {
                            input_tokens: 8 + (h >> 32) % 60,
                            output_tokens,
                        },
                    },
                }
            }
        } else {
            match plan.reason {
                EndReason::Expired => Outcome::Expired,
                // A finished batch has no unfinished request; treat the impossible as canceled.
                EndReason::Canceled | EndReason::Finished => Outcome::Canceled,
            }
        };
        // Writing plain structs into a Vec cannot fail; if it ever did, the line is skipped
        // rather than the whole answer lost.
        if serde_json::to_writer(&mut out, &Line { custom_id, result }).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// `msg_` and 24 letters and digits derived from `h`, shaped like a real message ID.
fn message_id(mut h: u64) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = String::with_capacity(28);
    id.push_str("msg_01");
    for i in 0..22 {
        if i % 8 == 0 {
            h = mix(h.wrapping_add(i));
        }
        id.push(char::from(ALPHABET[(h % 62) as usize]));
        h /= 62;
    }
    id
}

/// FNV-1a, enough to turn a batch ID into a seed.
fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// SplitMix64's finalizer: spreads the bits of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn plan(total: u64, done: u64, reason: EndReason) -> ResultsPlan {
        ResultsPlan {
            id: Arc::from("msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"),
            total,
            done,
            reason,
            requests: None,
        }
    }

    fn types(body: &[u8]) -> Vec<String> {
        std::str::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["result"]["type"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn one_line_per_request_with_the_outcome_of_each() {
        let body = render(&plan(12, 10, EndReason::Canceled));
        let t = types(&body);
        assert_eq!(t.len(), 12);
        assert_eq!(t.iter().filter(|t| *t == "succeeded").count(), 9);
        assert_eq!(t[9], "errored");
        assert_eq!(t[10..], ["canceled", "canceled"]);
        assert_eq!(
            render(&plan(12, 10, EndReason::Canceled)),
            body,
            "deterministic"
        );

        let t = types(&render(&plan(3, 1, EndReason::Expired)));
        assert_eq!(t, ["succeeded", "expired", "expired"]);
    }

    #[test]
    fn message_ids_look_real() {
        let id = message_id(42);
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("msg_01"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
