//! The results file of an ended batch: JSON Lines, one `{custom_id, result}` per request.
//!
//! Results are not stored; they are generated from the batch's facts ([`ResultsPlan`]) each
//! time they are asked for, deterministically (message IDs and token counts come from a hash of
//! the batch ID and the request's position), so two downloads of the same file are identical.
//!
//! They are written a chunk at a time as the client reads ([`ResultsStream`]), never rendered
//! whole: forty unread downloads of a big batch used to hold over a gigabyte.
//!
//! The real API promises no order ("Results are not guaranteed to be in the same order as
//! requests. Use the `custom_id` field to match results to requests."), so neither does this:
//! lines come in a fixed shuffle of the request order (an affine permutation derived from the
//! batch ID: no memory, the same every download), and a client that relies on order fails here
//! rather than in production.
//!
//! Shapes follow the real API: a `succeeded` result holds a Message; an `errored` one holds the
//! API's error envelope (`{"type":"error","error":{"type":…,"message":…}}`), which also fits the
//! sandbox spec's looser `ErroredResult` schema; `canceled` and `expired` hold nothing else.

use std::fmt::Write as _;

use axum::body::Bytes;
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

/// Bytes written per chunk of a results download: big enough to keep the writes few, small
/// enough that a download waiting on its reader holds little.
const CHUNK_BYTES: usize = 64 * 1024;

/// A results file as a sequence of chunks of whole lines, generated as they are asked for.
pub(crate) struct ResultsStream {
    plan: ResultsPlan,
    order: Shuffle,
    seed: u64,
    /// Position in the file (not the request index: see [`Shuffle`]).
    next: u64,
}

impl ResultsStream {
    pub(crate) fn new(plan: ResultsPlan) -> Self {
        let seed = hash_str(&plan.id);
        Self {
            order: Shuffle::new(plan.total, seed),
            seed,
            plan,
            next: 0,
        }
    }
}

impl Iterator for ResultsStream {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.next >= self.plan.total {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK_BYTES + 1024);
        let mut generated_id = String::new();
        while self.next < self.plan.total && out.len() < CHUNK_BYTES {
            let index = self.order.at(self.next);
            self.next += 1;
            write_line(&mut out, &self.plan, self.seed, index, &mut generated_id);
        }
        Some(Bytes::from(out))
    }
}

/// The whole JSON Lines file for `plan`, for tests; the server streams [`ResultsStream`].
#[cfg(test)]
pub(crate) fn render(plan: &ResultsPlan) -> Vec<u8> {
    ResultsStream::new(plan.clone())
        .flat_map(|c| c.to_vec())
        .collect()
}

/// Appends the line of request `index` (in processing order) to `out`.
fn write_line(
    out: &mut Vec<u8>,
    plan: &ResultsPlan,
    seed: u64,
    index: u64,
    generated_id: &mut String,
) {
    let meta = plan
        .requests
        .as_deref()
        .and_then(|r| usize::try_from(index).ok().and_then(|i| r.get(i)));
    let custom_id = match meta {
        Some(m) => &*m.custom_id,
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
                    model: meta.map_or(DEFAULT_MODEL, |m| &*m.model),
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
    if serde_json::to_writer(&mut *out, &Line { custom_id, result }).is_ok() {
        out.push(b'\n');
    }
}

/// A permutation of `0..n`: position `k` holds request `(a * k + b) mod n`, with `a` coprime to
/// `n` (so every request appears exactly once) and both derived from the batch's hash.
#[derive(Debug, Clone, Copy)]
struct Shuffle {
    n: u64,
    a: u64,
    b: u64,
}

impl Shuffle {
    fn new(n: u64, seed: u64) -> Self {
        if n <= 1 {
            return Self { n, a: 1, b: 0 };
        }
        // Start near n times the golden ratio's fraction (far from 1, so neighbours in the
        // request order land far apart) and step to the next value coprime to n.
        let mut a = ((u128::from(n) * 618_034 / 1_000_000) as u64).max(1) + mix(seed) % 7;
        while gcd(a % n, n) != 1 {
            a += 1;
        }
        Self {
            n,
            a: a % n,
            b: mix(seed ^ 0x5eed) % n,
        }
    }

    fn at(&self, k: u64) -> u64 {
        if self.n <= 1 {
            return k;
        }
        let i = (u128::from(self.a) * u128::from(k) + u128::from(self.b)) % u128::from(self.n);
        // Less than n, which is a u64.
        i as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
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

    /// The result type of each request, in request order (`request-00001` first), whatever the
    /// order of the lines.
    fn types(body: &[u8]) -> Vec<String> {
        let mut lines: Vec<(String, String)> = std::str::from_utf8(body)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let id = v["custom_id"].as_str().unwrap().to_owned();
                (id, v["result"]["type"].as_str().unwrap().to_owned())
            })
            .collect();
        lines.sort();
        lines.into_iter().map(|(_, t)| t).collect()
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
    fn lines_come_shuffled_each_request_once_in_chunks() {
        for n in [1u64, 2, 3, 10, 97, 1000, 5000] {
            let order = Shuffle::new(n, hash_str("msgbatch_x"));
            let mut seen: Vec<u64> = (0..n).map(|k| order.at(k)).collect();
            let in_request_order = seen.windows(2).all(|w| w[0] < w[1]);
            if n >= 3 {
                assert!(!in_request_order, "n={n}: {:?}", &seen[..3]);
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "a permutation of 0..{n}");
        }
        // A big file comes in several chunks of whole lines, none much over the chunk size.
        let chunks: Vec<Bytes> =
            ResultsStream::new(plan(5000, 5000, EndReason::Finished)).collect();
        assert!(chunks.len() > 5, "{}", chunks.len());
        for chunk in &chunks {
            assert!(chunk.len() < CHUNK_BYTES + 1024);
            assert!(chunk.ends_with(b"\n"));
        }
    }

    #[test]
    fn message_ids_look_real() {
        let id = message_id(42);
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("msg_01"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
