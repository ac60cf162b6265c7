//! Serving MCP on stdio until the client goes away (one person's agent, one process).

use rmcp::ServiceExt;
use rmcp::transport::io::stdio_pipes;
use tokio_util::sync::CancellationToken;

use super::answers::Answers;
use super::backpressure::Throttled;
use super::bounded_lines::BoundedLines;
use super::shutdown::{self, EofSignal};
use crate::api::BatchesClient;
use crate::config::{Config, ToolSettings};
use crate::server::BatchServer;
use crate::server::sealed::Sealer;

/// How long, at the end, answers may take to reach a client that is slow to read them.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Settings(#[from] crate::server::sealed::KeyError),
    #[error("the MCP session could not start: {0}")]
    Start(String),
    #[error("the MCP session failed: {0}")]
    Run(String),
}

/// Serves MCP on stdin/stdout until stdin closes or a signal arrives.
pub async fn stdio(config: Config, tools: &ToolSettings) -> Result<(), ServeError> {
    let client = BatchesClient::new(&config);
    match client.ready() {
        Ok(()) => tracing::info!(base_url = %config.base_url, "serving MCP on stdio"),
        // Serve anyway: each tool call answers with this, where the person will see it.
        Err(e) => {
            tracing::warn!(base_url = %config.base_url, "serving, but no request can be sent: {e}")
        }
    }
    if let Some(warning) = config.start_warning() {
        tracing::warn!("{warning}");
    }
    let sealer = Sealer::from_setting(tools.request_state_key.as_ref())?;
    let shutdown = CancellationToken::new();
    let backlog = client.backlog();
    let audit = crate::server::audit::Audit::from_setting(tools.audit_log.as_deref())
        .map_err(ServeError::Start)?;
    let server = BatchServer::new(client)
        .read_only(tools.read_only)
        .configured(tools)
        .with_sealer(sealer)
        .with_confirm(tools.confirm, tools.confirm_ttl())
        .with_shutdown(shutdown.clone())
        .with_audit(audit);
    let (stdin, stdout) = stdio_pipes();
    let stdin = Throttled::new(BoundedLines::new(stdin), backlog);
    let (stdout, drained) = Answers::new(stdout);
    let transport = (EofSignal::new(stdin, shutdown.clone()), stdout);
    let running = tokio::select! {
        started = server.serve(transport) => match started {
            Ok(running) => running,
            // stdin closed before the session began: a normal way to stop.
            Err(_) if shutdown.is_cancelled() => return Ok(()),
            Err(e) => return Err(ServeError::Start(e.to_string())),
        },
        () = shutdown::signal() => return Ok(()),
        () = shutdown.cancelled() => return Ok(()),
    };
    let service_token = running.cancellation_token();
    tokio::select! {
        () = shutdown::signal() => shutdown.cancel(),
        () = shutdown.cancelled() => {}
    }
    // Tool calls see `shutdown` and end at once; then the serve loop closes.
    service_token.cancel();
    let ended = running
        .waiting()
        .await
        .map(|reason| tracing::debug!(?reason, "MCP session ended"))
        .map_err(|e| ServeError::Run(e.to_string()));
    // Answers already written reach stdout, unless the client stopped reading it.
    let _ = tokio::time::timeout(DRAIN_LIMIT, drained.wait()).await;
    ended
}
