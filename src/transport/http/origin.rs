//! DNS rebinding, part 2: `Origin` validation, always on (rmcp checks; this decides).
//!
//! The MCP transport spec says servers MUST validate `Origin`. rmcp skips the check when its
//! list is empty, so it is enforced here even then: a request whose `Origin` is not in
//! `MSGBATCH_ALLOWED_ORIGINS` gets 403. Requests without an `Origin` (command-line agents,
//! server-side clients) pass: only browsers send one, and a browser page is what the check is for.

use rmcp::transport::StreamableHttpServerConfig;

/// Applies the allowed origins (scheme://host[:port], `:*` for any port) to rmcp's config.
pub fn apply(config: StreamableHttpServerConfig, allowed: &[String]) -> StreamableHttpServerConfig {
    let allowed = allowed
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .map(str::to_owned);
    config
        .with_allowed_origins(allowed)
        .enforce_origin_validation()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_origins_given_and_enforces_even_when_none() {
        let c = apply(
            StreamableHttpServerConfig::default(),
            &[" https://app.example.com:443/ ".into()],
        );
        assert_eq!(c.allowed_origins, ["https://app.example.com:443"]);
        // With no origin allowed, the check still runs (and refuses every Origin): proven end
        // to end in tests/http.rs, since rmcp keeps the switch private.
        assert!(
            apply(StreamableHttpServerConfig::default(), &[])
                .allowed_origins
                .is_empty()
        );
    }
}
