//! The 2025-11-25 way to ask: the form goes to the client as an `elicitation/create` request in
//! the middle of the call, which waits for the person's answer (stdio; a session keeps the way
//! back open). No answer within the form's time counts as a decline.

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::ElicitRequestParams;
use rmcp::service::{RequestContext, ServiceError};

use super::answer::{Answer, Asked};

/// Shows `form` to the person and reads their answer. `Err` is a form that could not be shown
/// (the client refused the request, or the session broke): nothing is to be sent then either.
pub async fn ask(
    ctx: &RequestContext<RoleServer>,
    form: ElicitRequestParams,
    asked: Asked<'_>,
    timeout: Duration,
) -> Result<Answer, String> {
    match ctx
        .peer
        .create_elicitation_with_timeout(form, Some(timeout))
        .await
    {
        Ok(result) => Ok(Answer::read(&result, asked)),
        Err(ServiceError::Timeout { .. }) => Ok(Answer::TimedOut),
        Err(e) => {
            tracing::warn!(error = %e, "the confirmation form could not be shown");
            Err(e.to_string())
        }
    }
}
