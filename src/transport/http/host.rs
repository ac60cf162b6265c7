//! DNS rebinding, part 1: which `Host` headers `/mcp` answers (rmcp checks; this decides).
//!
//! A web page can make a browser send requests to a name that its attacker re-points at
//! 127.0.0.1; the request then carries the attacker's name in `Host`. So only loopback names
//! are accepted by default, and the public names of a deployment are added with
//! `MSGBATCH_ALLOWED_HOSTS` (an entry without a port accepts any port). rmcp answers any other
//! Host with 403 before the request reaches a tool.

use rmcp::transport::StreamableHttpServerConfig;

/// Always accepted: this machine.
pub const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Applies the allowed hosts to rmcp's config: loopback plus `extra`; `*` accepts any host.
pub fn apply(config: StreamableHttpServerConfig, extra: &[String]) -> StreamableHttpServerConfig {
    let extra: Vec<&str> = extra
        .iter()
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
        .collect();
    if extra.contains(&"*") {
        tracing::warn!(
            "MSGBATCH_ALLOWED_HOSTS=*: any Host header is accepted, so DNS rebinding is not \
             blocked by this server. Use it only behind a proxy that checks Host itself."
        );
        return config.disable_allowed_hosts();
    }
    config.with_allowed_hosts(LOOPBACK.into_iter().chain(extra).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_always_then_the_names_given() {
        let c = apply(
            StreamableHttpServerConfig::default(),
            &[" mcp.example.com ".into(), String::new()],
        );
        assert_eq!(
            c.allowed_hosts,
            ["localhost", "127.0.0.1", "::1", "mcp.example.com"]
        );
        let c = apply(StreamableHttpServerConfig::default(), &[]);
        assert_eq!(c.allowed_hosts, LOOPBACK);
    }

    #[test]
    fn a_star_accepts_any_host() {
        let c = apply(StreamableHttpServerConfig::default(), &["*".into()]);
        assert!(
            c.allowed_hosts.is_empty(),
            "rmcp reads an empty list as any host"
        );
    }
}
