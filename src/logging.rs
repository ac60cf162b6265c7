//! Logs go to stderr, never stdout: stdout carries the MCP protocol and nothing else.
//!
//! `RUST_LOG` filters as usual. The default shows this crate's info and everything's warnings.
//! No log line anywhere formats the API key: it lives in [`crate::secret::ApiKey`], whose
//! formatting is redacted, and in a header value marked sensitive.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "msgbatch_mcp=info,warn";

/// Installs the stderr subscriber, filtered by `RUST_LOG` or else by `default_filter`. Safe to
/// call twice (the second call does nothing).
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .try_init();
}
