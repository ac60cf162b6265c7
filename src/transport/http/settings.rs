//! The settings of `serve --http`, and the one check that stops it at start: no open door.
//!
//! Every setting comes from the environment (how containers and service managers configure a
//! process) and is mirrored by a flag. Tokens are kept in [`Tokens`], whose `Debug` prints none.

use std::net::SocketAddr;

use clap::Args;

use super::auth::Tokens;

/// `msgbatch-mcp serve` options. Without `--http` (or `MSGBATCH_HTTP_ADDR`), `serve` is stdio.
#[derive(Debug, Clone, Default, Args)]
pub struct HttpArgs {
    /// Serve MCP over Streamable HTTP at this address (e.g. 127.0.0.1:8000): MCP at /mcp, a
    /// health check at GET /healthz. Without it, `serve` speaks MCP on stdio.
    #[arg(long = "http", env = "MSGBATCH_HTTP_ADDR", value_name = "ADDR")]
    pub addr: Option<String>,

    /// Bearer tokens, comma-separated (several, to rotate): every /mcp request must carry
    /// `Authorization: Bearer <one of them>`. Prefer the environment variable over the flag.
    #[arg(
        long = "token",
        env = "MSGBATCH_HTTP_TOKEN",
        hide_env_values = true,
        value_name = "TOKENS"
    )]
    pub tokens: Option<Tokens>,

    /// Host names (or host:port) accepted in the Host header besides localhost, 127.0.0.1 and
    /// ::1, comma-separated: the public names of this server (`*` accepts any, not advised).
    #[arg(
        long = "allowed-hosts",
        env = "MSGBATCH_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "HOSTS"
    )]
    pub allowed_hosts: Vec<String>,

    /// Browser origins allowed to call, comma-separated, with scheme (e.g.
    /// https://app.example.com:443). A request with any other Origin gets 403; requests
    /// without an Origin (command-line agents) pass.
    #[arg(
        long = "allowed-origins",
        env = "MSGBATCH_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS"
    )]
    pub allowed_origins: Vec<String>,

    /// Serve on an address that is not loopback without a token: anyone who can reach it can
    /// use the Anthropic key behind it. Only behind something else that authenticates.
    #[arg(long = "allow-unauthenticated")]
    pub allow_unauthenticated: bool,

    /// Seconds a connection may stay idle, or take to send a request's headers or body.
    #[arg(long = "idle-timeout-secs", default_value_t = 30, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,

    /// Threads serving requests (default: one per CPU this process may use, which honours CPU
    /// affinity and container CPU limits). 1 serves everything from one thread.
    #[arg(long = "workers", env = "MSGBATCH_HTTP_WORKERS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Calls (requests to /mcp) served at once; more answer 503 with retry-after.
    #[arg(long = "max-in-flight", default_value_t = super::limits::MAX_IN_FLIGHT, hide = true,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_in_flight: u32,

    /// OAuth (MSGBATCH_OAUTH_ISSUER, MSGBATCH_PUBLIC_URL, ...): see `auth`.
    #[command(flatten)]
    pub oauth: super::auth::OAuthArgs,
}

impl HttpArgs {
    /// How many threads serve requests: `--workers`, or one per CPU this process may use.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// Why `serve --http` does not start. Each text says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "MSGBATCH_HTTP_ADDR {addr:?} is not an address to listen on ({reason}). Use host:port, e.g. 127.0.0.1:8000 or 0.0.0.0:8000."
    )]
    BadAddr { addr: String, reason: String },
    #[error(
        "refusing to serve on {addr} without a token: that address is reachable from other \
         machines, and anyone who reaches it could use the Anthropic key behind this server. Set \
         MSGBATCH_HTTP_TOKEN to a long random secret (e.g. `openssl rand -hex 32`; several, \
         comma-separated, to rotate) and give it to your agents as `Authorization: Bearer <token>`; \
         or listen on 127.0.0.1; or, only if something in front already authenticates every \
         request, pass --allow-unauthenticated."
    )]
    Unauthenticated { addr: SocketAddr },
    #[error("cannot listen on {addr}: {reason}. Is another server there? Pick another port.")]
    Bind { addr: String, reason: String },
    #[error("{0}")]
    StateKey(#[from] crate::server::sealed::KeyError),
    /// An OAuth or audit setting that cannot be used; the text says which and how to fix it.
    #[error("{0}")]
    Auth(String),
}

/// Resolves the address to listen on (`host:port`, a name such as `localhost` allowed).
pub async fn resolve(addr: &str) -> Result<SocketAddr, StartError> {
    let bad = |reason: String| StartError::BadAddr {
        addr: addr.to_owned(),
        reason,
    };
    let mut found = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| bad(e.to_string()))?;
    found
        .next()
        .ok_or_else(|| bad("it resolves to no address".to_owned()))
}

/// The one setting that refuses to start: a non-loopback address with no token, unless the
/// operator said, explicitly, that something else authenticates.
pub fn check_exposure(addr: SocketAddr, args: &HttpArgs) -> Result<(), StartError> {
    let has_tokens = args.tokens.as_ref().is_some_and(|t| !t.is_empty())
        || args
            .oauth
            .issuer
            .as_deref()
            .is_some_and(|i| !i.trim().is_empty());
    if has_tokens || addr.ip().is_loopback() {
        return Ok(());
    }
    if args.allow_unauthenticated {
        tracing::warn!(
            %addr,
            "SERVING WITHOUT AUTHENTICATION on an address other machines can reach \
             (--allow-unauthenticated): anyone who reaches it can use the Anthropic key behind \
             this server. Make sure something in front authenticates every request."
        );
        return Ok(());
    }
    Err(StartError::Unauthenticated { addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tokens: Option<&str>, allow: bool) -> HttpArgs {
        HttpArgs {
            tokens: tokens.map(|t| t.parse().unwrap()),
            allow_unauthenticated: allow,
            ..HttpArgs::default()
        }
    }

    /// `--workers` wins; without it, one per CPU this process may use (at least one).
    #[test]
    fn workers_are_as_asked_or_one_per_cpu() {
        let asked = HttpArgs {
            workers: Some(3),
            ..HttpArgs::default()
        };
        assert_eq!(asked.worker_threads(), 3);
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(HttpArgs::default().worker_threads(), cpus);
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            http: HttpArgs,
        }
        use clap::Parser as _;
        assert!(Cli::try_parse_from(["serve", "--workers", "0"]).is_err());
        let parsed = Cli::try_parse_from(["serve", "--workers", "2"]).unwrap();
        assert_eq!(parsed.http.worker_threads(), 2);
    }

    #[test]
    fn loopback_needs_no_token() {
        for a in ["127.0.0.1:1", "[::1]:1"] {
            assert!(check_exposure(a.parse().unwrap(), &args(None, false)).is_ok());
        }
    }

    #[test]
    fn open_address_without_token_is_refused_with_the_way_out() {
        let err = check_exposure("0.0.0.0:8000".parse().unwrap(), &args(None, false)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("MSGBATCH_HTTP_TOKEN"), "{text}");
        assert!(text.contains("--allow-unauthenticated"), "{text}");
        // An empty token list is no token.
        assert!(
            check_exposure("0.0.0.0:8000".parse().unwrap(), &args(Some(" , "), false)).is_err()
        );
    }

    #[test]
    fn open_address_with_token_or_explicit_override_starts() {
        let open = "0.0.0.0:8000".parse().unwrap();
        assert!(check_exposure(open, &args(Some("s3cret-token-value"), false)).is_ok());
        assert!(check_exposure(open, &args(None, true)).is_ok());
    }

    #[tokio::test]
    async fn addresses_resolve_or_say_how() {
        assert!(resolve("127.0.0.1:0").await.unwrap().ip().is_loopback());
        let err = resolve("nonsense").await.unwrap_err().to_string();
        assert!(err.contains("host:port"), "{err}");
    }
}
