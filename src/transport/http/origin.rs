//! DNS rebinding, part 2: `Origin` validation, always on (rmcp checks; this decides).
//!
//! The MCP transport spec says servers MUST validate `Origin`; rmcp skips the check unless given
//! a list, so it always gets one: pages served from this machine (`http(s)://localhost`,
//! `127.0.0.1`, `[::1]`, any port, as the official conformance suite expects) plus
//! `MSGBATCH_ALLOWED_ORIGINS`. A request with any other `Origin` gets 403: a page on another
//! site, even one whose name was re-pointed at this machine. Requests without an `Origin`
//! (command-line agents, server-side clients) pass: only browsers send one, and a browser page
//! is what the check is for.

use rmcp::transport::StreamableHttpServerConfig;

/// Always allowed: pages served from this machine, on any port.
pub const LOOPBACK: [&str; 6] = [
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://[::1]:*",
    "https://[::1]:*",
];

/// Applies the allowed origins (loopback, plus `extra` as scheme://host[:port], `:*` for any
/// port) to rmcp's config, with the check on.
pub fn apply(config: StreamableHttpServerConfig, extra: &[String]) -> StreamableHttpServerConfig {
    let extra = extra
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty());
    config
        .with_allowed_origins(LOOPBACK.into_iter().chain(extra).map(str::to_owned))
        .enforce_origin_validation()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_pages_always_then_the_origins_given() {
        let c = apply(
            StreamableHttpServerConfig::default(),
            &[" https://app.example.com:443/ ".into()],
        );
        assert_eq!(c.allowed_origins.len(), LOOPBACK.len() + 1);
        assert_eq!(
            c.allowed_origins.last().map(String::as_str),
            Some("https://app.example.com:443")
        );
        // The check is on whatever the list: rmcp keeps the switch private, so the refusal of
        // a foreign Origin is proven end to end in tests/http.rs.
        let c = apply(StreamableHttpServerConfig::default(), &[]);
        assert_eq!(c.allowed_origins, LOOPBACK);
    }
}
