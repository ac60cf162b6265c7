//! The 2026-07-28 way to ask: the call answers `input_required` with the form and a sealed
//! `requestState`; the client shows the form and calls again with the person's answer and the
//! same state. Nothing is kept here between the two calls, so the second may reach another
//! instance (with the same `MSGBATCH_REQUEST_STATE_KEY`).
//!
//! The state is sealed ([`crate::server::sealed`], [`Purpose::Confirm`]) and bound to the tool
//! and its arguments; it carries the batches offered (as read just before asking) and its own
//! expiry. A state that was changed, that comes back with other arguments (other IDs), or that
//! has expired is refused, and nothing is sent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitResult, InputRequest, InputRequests,
    InputRequiredResult, InputResponses,
};
use serde::{Deserialize, Serialize};

use crate::api::MessageBatch;
use crate::server::bulk_report::BatchOutcome;
use crate::server::sealed::{Purpose, SealError, Sealer};

/// The key of the one input request (and of the answer the client sends back).
pub const INPUT_KEY: &str = "confirm_cancel";

/// What the state carries from the first call to the second.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Unix milliseconds from which it is refused. Checked here as well as by the codec, with
    /// `>=`, so that a TTL of 0 (the tests' setting) is expired at once.
    pub expires_ms: u64,
    /// The batches offered in the form, as read just before asking.
    pub offered: Vec<MessageBatch>,
    /// For several batches: those not offered, with why (reported in the final answer).
    pub not_offered: Vec<BatchOutcome>,
}

/// Why a second call is refused (nothing is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "The confirmation of this cancel has expired (a form is valid {0} s): nothing was sent. \
         If the person still wants it canceled, call the tool again (without requestState) to \
         ask them again."
    )]
    Expired(u64),
    #[error(
        "The confirmation's requestState was refused: {0}. Nothing was sent. A requestState is \
         valid only for the exact call it was made for (same tool, same batch IDs, same \
         wait_seconds), unchanged. Call the tool again without requestState to ask the person."
    )]
    Invalid(SealError),
    #[error(
        "The call carries the confirmation's requestState but no answer to its form \
         (inputResponses.{INPUT_KEY}): nothing was sent. Call the tool again without \
         requestState to ask the person."
    )]
    NoAnswer,
}

/// The first call's answer: the form, and the state to bring back.
pub fn ask(
    sealer: &Sealer,
    ttl: Duration,
    binding: &[u8],
    form: ElicitRequestParams,
    mut state: State,
) -> Result<InputRequiredResult, SealError> {
    state.expires_ms = now_ms().saturating_add(ttl.as_millis() as u64);
    // The codec's own expiry is a second guard; it is never shorter than a millisecond.
    let sealed = sealer.seal(
        Purpose::Confirm,
        binding,
        &state,
        ttl.max(Duration::from_millis(1)),
    )?;
    let mut requests = InputRequests::new();
    requests.insert(
        INPUT_KEY.to_owned(),
        InputRequest::Elicitation(ElicitRequest::new(form)),
    );
    Ok(InputRequiredResult::new(Some(requests), Some(sealed)))
}

/// The second call: opens the state (bound to `binding`) and reads the person's answer.
pub fn resume(
    sealer: &Sealer,
    ttl: Duration,
    binding: &[u8],
    token: &str,
    responses: Option<&InputResponses>,
) -> Result<(State, ElicitResult), Refused> {
    let state: State = match sealer.open(Purpose::Confirm, binding, token) {
        Ok(state) => state,
        Err(SealError::Expired) => return Err(Refused::Expired(ttl.as_secs())),
        Err(e) => return Err(Refused::Invalid(e)),
    };
    if now_ms() >= state.expires_ms {
        return Err(Refused::Expired(ttl.as_secs()));
    }
    let answer = responses
        .and_then(|r| r.get(INPUT_KEY))
        .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok())
        .ok_or(Refused::NoAnswer)?;
    Ok((state, answer))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ElicitationAction, ElicitationSchema};

    fn form() -> ElicitRequestParams {
        ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: "Cancel?".into(),
            requested_schema: ElicitationSchema::builder().build_unchecked(),
        }
    }

    fn state() -> State {
        State {
            expires_ms: 0,
            offered: Vec::new(),
            not_offered: Vec::new(),
        }
    }

    fn answer() -> InputResponses {
        [(
            INPUT_KEY.to_owned(),
            serde_json::to_value(ElicitResult::new(ElicitationAction::Decline)).unwrap(),
        )]
        .into()
    }

    #[test]
    fn a_state_opens_only_for_its_own_call_and_in_time() {
        let s = Sealer::ephemeral();
        let ttl = Duration::from_secs(60);
        let r = ask(&s, ttl, b"call-1", form(), state()).unwrap();
        let token = r.request_state.unwrap();
        assert!(r.input_requests.unwrap().contains_key(INPUT_KEY));
        let (_, got) = resume(&s, ttl, b"call-1", &token, Some(&answer())).unwrap();
        assert_eq!(got.action, ElicitationAction::Decline);
        assert!(matches!(
            resume(&s, ttl, b"call-2", &token, Some(&answer())),
            Err(Refused::Invalid(_))
        ));
        assert_eq!(
            resume(&s, ttl, b"call-1", &token, None).unwrap_err(),
            Refused::NoAnswer
        );
        // A TTL of 0 is expired at once, whatever the clock's resolution.
        let r = ask(&s, Duration::ZERO, b"call-1", form(), state()).unwrap();
        let token = r.request_state.unwrap();
        assert_eq!(
            resume(&s, Duration::ZERO, b"call-1", &token, Some(&answer())).unwrap_err(),
            Refused::Expired(0)
        );
    }
}
