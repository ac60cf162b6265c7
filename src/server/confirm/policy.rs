//! Whether a cancel is confirmed by a person, and how: `MSGBATCH_CONFIRM` read against what the
//! client can do in this call (its protocol era, its declared capabilities, the transport).

use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::RoleServer;
use rmcp::model::ProtocolVersion;
use rmcp::service::RequestContext;

use crate::config::Confirm;

/// How the person can be asked in this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// 2025-11-25 and older, on a transport that carries a request to the client mid-call
    /// (stdio): the form is pushed as `elicitation/create` and the call waits for the answer.
    Push,
    /// 2026-07-28: the call answers `input_required` with the form and a sealed `requestState`;
    /// the client calls again with the person's answer.
    Round,
}

/// Why the person cannot be asked in this call: said in the result, for the model and the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannotAsk {
    /// The client did not declare form elicitation.
    NoFormCapability,
    /// A 2025-11-25 (or older) client over stateless HTTP: the server keeps no session, so the
    /// client's answer to a request sent mid-call would have nowhere to go.
    StatelessLegacyHttp,
}

impl CannotAsk {
    /// True the first time this process meets this reason, false after.
    pub fn first_time(self) -> bool {
        static SEEN: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
        let i = match self {
            Self::NoFormCapability => 0,
            Self::StatelessLegacyHttp => 1,
        };
        // A load first: after the first time, no write to a line the workers share.
        !SEEN[i].load(Ordering::Relaxed) && !SEEN[i].swap(true, Ordering::Relaxed)
    }

    pub fn reason(self) -> &'static str {
        match self {
            Self::NoFormCapability => {
                "this client did not declare form elicitation, so it cannot show the person a \
                 confirmation form"
            }
            Self::StatelessLegacyHttp => {
                "this client speaks MCP 2025-11-25 or older over HTTP, where this server keeps no \
                 session and so cannot ask the person in the middle of a call (a client on \
                 protocol 2026-07-28 can be asked)"
            }
        }
    }
}

/// What to do before a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Ask the person this way first.
    Ask(Route),
    /// Cancel as asked, without asking (`never`).
    Go,
    /// Cancel as asked, and say in the result that nobody could be asked (`auto`).
    GoUnconfirmed(CannotAsk),
    /// Refuse: nothing is sent (`required`).
    Refuse(CannotAsk),
}

/// What the client can do in this call, read from the request (2026-07-28 carries its version and
/// capabilities in every request's `_meta`) or from the session's `initialize` (older eras).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// Protocol 2026-07-28 or later.
    pub stateless_era: bool,
    /// Declared form elicitation (an `elicitation` capability naming neither mode means form).
    pub form: bool,
}

impl Client {
    pub fn of(ctx: &RequestContext<RoleServer>) -> Self {
        let stateless_era = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let form = ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        Self {
            stateless_era,
            form,
        }
    }
}

/// The decision for `policy`, a client, and whether the transport can carry a request to the
/// client in the middle of a call (stdio can; stateless HTTP cannot).
pub fn decide(policy: Confirm, client: Client, can_push: bool) -> Decision {
    if policy == Confirm::Never {
        return Decision::Go;
    }
    let route = if client.stateless_era {
        client
            .form
            .then_some(Route::Round)
            .ok_or(CannotAsk::NoFormCapability)
    } else if !can_push {
        // Checked before the capability: stateless HTTP does not keep what a 2025-11-25 client
        // declared at `initialize`, so "did not declare" would be false.
        Err(CannotAsk::StatelessLegacyHttp)
    } else {
        client
            .form
            .then_some(Route::Push)
            .ok_or(CannotAsk::NoFormCapability)
    };
    match (route, policy) {
        (Ok(route), _) => Decision::Ask(route),
        (Err(why), Confirm::Required) => Decision::Refuse(why),
        (Err(why), _) => Decision::GoUnconfirmed(why),
    }
}

/// The note of a cancel sent without asking under `auto`.
pub fn unconfirmed_note(why: CannotAsk) -> String {
    format!(
        "No confirmation was possible: {}. The cancel was sent on the model's request, relying on \
         the client's own approval of this tool call.",
        why.reason()
    )
}

/// The answer of a cancel refused under `required`.
pub fn refusal(why: CannotAsk, tool: &str) -> String {
    format!(
        "Not canceled: this server is set to cancel only after a person confirms in a form \
         (MSGBATCH_CONFIRM=required), and {}. Nothing was sent. To cancel, use a client that \
         shows MCP forms (elicitation), such as Claude Code, on stdio or on protocol 2026-07-28; \
         or cancel in the Claude Console (Batches page) or with the API directly; or ask whoever \
         runs this server. Do not retry {tool} from this client.",
        why.reason()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY_FORM: Client = Client {
        stateless_era: false,
        form: true,
    };
    const MODERN_FORM: Client = Client {
        stateless_era: true,
        form: true,
    };
    const MODERN_NONE: Client = Client {
        stateless_era: true,
        form: false,
    };
    const LEGACY_NONE: Client = Client {
        stateless_era: false,
        form: false,
    };

    #[test]
    fn each_era_asks_its_own_way() {
        assert_eq!(
            decide(Confirm::Auto, LEGACY_FORM, true),
            Decision::Ask(Route::Push)
        );
        assert_eq!(
            decide(Confirm::Auto, MODERN_FORM, true),
            Decision::Ask(Route::Round)
        );
        // Stateless HTTP: the modern era is asked; the legacy one cannot be.
        assert_eq!(
            decide(Confirm::Required, MODERN_FORM, false),
            Decision::Ask(Route::Round)
        );
        assert_eq!(
            decide(Confirm::Auto, LEGACY_FORM, false),
            Decision::GoUnconfirmed(CannotAsk::StatelessLegacyHttp)
        );
    }

    #[test]
    fn the_policy_decides_what_happens_when_nobody_can_be_asked() {
        for client in [MODERN_NONE, LEGACY_NONE] {
            assert_eq!(
                decide(Confirm::Auto, client, true),
                Decision::GoUnconfirmed(CannotAsk::NoFormCapability)
            );
            assert_eq!(
                decide(Confirm::Required, client, true),
                Decision::Refuse(CannotAsk::NoFormCapability)
            );
        }
        for client in [MODERN_NONE, LEGACY_NONE, MODERN_FORM, LEGACY_FORM] {
            assert_eq!(decide(Confirm::Never, client, true), Decision::Go);
        }
        let text = refusal(CannotAsk::NoFormCapability, "cancel_message_batch");
        assert!(text.contains("Nothing was sent"), "{text}");
        assert!(text.contains("MSGBATCH_CONFIRM=required"), "{text}");
    }
}
