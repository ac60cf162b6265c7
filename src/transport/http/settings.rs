//! The settings of `serve --http`, and the one check that stops it at start: no open door.
//!
//! Every setting comes from the environment (how containers and service managers configure a
//! process) and is mirrored by a flag. Tokens arrive as a [`RawSecret`] (whose parse cannot
//! fail, so clap never quotes them in an error) and are checked by [`HttpArgs::tokens`], whose
//! errors name the problem and which token, never a token's text; then they are kept in
//! [`Tokens`], whose `Debug` prints none.

use std::net::SocketAddr;

use clap::Args;

use super::auth::Tokens;
use crate::secret::RawSecret;

/// The fewest characters a token may have: a guessable token is no lock. `openssl rand -hex 32`
/// gives 64.
pub const MIN_TOKEN_CHARS: usize = 16;

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
    pub tokens: Option<RawSecret>,

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

    /// Seconds a kept-alive connection may stay idle between requests.
    #[arg(long = "idle-timeout-secs", default_value_t = 30, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout_secs: u64,

    /// Threads serving requests (default: one per CPU this process may use, which honours CPU
    /// affinity and container CPU limits). 1 serves everything from one thread.
    #[arg(long = "workers", env = "MSGBATCH_HTTP_WORKERS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Calls (requests to /mcp) served at once; more answer 503 with retry-after. Calls that
    /// wait (wait_seconds) may hold three quarters of them.
    #[arg(long = "max-in-flight", env = "MSGBATCH_HTTP_MAX_IN_FLIGHT",
          default_value_t = super::limits::MAX_IN_FLIGHT,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_in_flight: u32,

    /// Calls one client (one peer address) may have in flight at once (default: three quarters
    /// of --max-in-flight). Behind a proxy every call comes from its address: raise it there.
    #[arg(long = "max-per-client", env = "MSGBATCH_HTTP_MAX_PER_CLIENT", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_per_client: Option<u32>,

    /// Connections held at once (default: 4096, or fewer to stay 256 below the open-files
    /// limit, whose soft value is raised to the hard one at start). More wait in the kernel's
    /// queue until one closes.
    #[arg(long = "max-connections", env = "MSGBATCH_HTTP_MAX_CONNECTIONS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub max_connections: Option<u32>,

    /// Seconds a client has to send a request's head (from its first byte) and its body; a
    /// kept-alive connection may sit idle longer (--idle-timeout-secs) between requests.
    #[arg(long = "read-timeout-secs", env = "MSGBATCH_HTTP_READ_TIMEOUT_SECS",
          default_value_t = 10, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub read_timeout_secs: u64,

    /// OAuth (MSGBATCH_OAUTH_ISSUER, MSGBATCH_PUBLIC_URL, ...): see `auth`.
    #[command(flatten)]
    pub oauth: super::auth::OAuthArgs,
}

impl HttpArgs {
    /// The tokens, checked: none when `MSGBATCH_HTTP_TOKEN` (or `--token`) is not set at all.
    /// Set but holding no token (`""`, `","`, `" , "`), an unexpanded `${...}` placeholder, a
    /// token shorter than [`MIN_TOKEN_CHARS`] or one with characters a header cannot carry
    /// refuses to start: each would leave the server open, or locked with a guessable key,
    /// while its operator believes otherwise.
    pub fn tokens(&self) -> Result<Tokens, StartError> {
        let Some(raw) = &self.tokens else {
            return Ok(Tokens::default());
        };
        let given: Vec<&str> = raw
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if given.is_empty() {
            return Err(StartError::BadToken(TokenProblem::Empty));
        }
        for (i, t) in given.iter().enumerate() {
            let position = i + 1;
            let problem = if t.contains("${") {
                TokenProblem::Placeholder { position }
            } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
                TokenProblem::Characters { position }
            } else if t.len() < MIN_TOKEN_CHARS {
                TokenProblem::Short { position }
            } else {
                continue;
            };
            return Err(StartError::BadToken(problem));
        }
        given
            .join(",")
            .parse()
            .map_err(|_| StartError::BadToken(TokenProblem::Characters { position: 1 }))
    }

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
    #[error("cannot start {count} worker threads: {reason}. Try fewer with --workers.")]
    Workers { count: usize, reason: String },
    #[error("{0}")]
    StateKey(#[from] crate::server::sealed::KeyError),
    /// An OAuth or audit setting that cannot be used; the text says which and how to fix it.
    #[error("{0}")]
    Auth(String),
    #[error(
        "MSGBATCH_HTTP_TOKEN (or --token) {0}. Set it to one or more long random secrets, \
         comma-separated (e.g. `openssl rand -hex 32`), or unset it to serve on loopback \
         without a token."
    )]
    BadToken(TokenProblem),
}

/// What is wrong with the tokens given; says which one (by position), never its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("is set but holds no token (it is empty, or only commas and spaces)")]
    Empty,
    #[error(
        "token {position} is an unexpanded placeholder (`${{...}}`): whatever launched this \
         server did not substitute it"
    )]
    Placeholder { position: usize },
    #[error(
        "token {position} holds characters other than visible ASCII (no spaces inside a token; \
         tokens are separated by commas)"
    )]
    Characters { position: usize },
    #[error("token {position} is shorter than {MIN_TOKEN_CHARS} characters, too easy to guess")]
    Short { position: usize },
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
pub fn check_exposure(
    addr: SocketAddr,
    tokens: &Tokens,
    args: &HttpArgs,
) -> Result<(), StartError> {
    let has_tokens = !tokens.is_empty()
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

    /// `check_exposure` as `serve` runs it: on the tokens as checked.
    fn exposure(addr: &str, a: &HttpArgs) -> Result<(), StartError> {
        check_exposure(addr.parse().unwrap(), &a.tokens()?, a)
    }

    #[test]
    fn loopback_needs_no_token() {
        for a in ["127.0.0.1:1", "[::1]:1"] {
            assert!(exposure(a, &args(None, false)).is_ok());
        }
    }

    #[test]
    fn open_address_without_token_is_refused_with_the_way_out() {
        let err = exposure("0.0.0.0:8000", &args(None, false)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("MSGBATCH_HTTP_TOKEN"), "{text}");
        assert!(text.contains("--allow-unauthenticated"), "{text}");
    }

    #[test]
    fn open_address_with_token_or_explicit_override_starts() {
        assert!(exposure("0.0.0.0:8000", &args(Some("s3cret-token-value"), false)).is_ok());
        assert!(exposure("0.0.0.0:8000", &args(None, true)).is_ok());
    }

    /// A token setting that would leave the server open or guessable refuses to start, on
    /// loopback too, and the error names the problem and the position, never a token.
    #[test]
    fn tokens_set_but_unusable_refuse_to_start_without_showing_them() {
        for (given, says) in [
            ("", "holds no token"),
            (",", "holds no token"),
            (" , ", "holds no token"),
            (
                "${MSGBATCH_HTTP_TOKEN}",
                "token 1 is an unexpanded placeholder",
            ),
            (
                "good-secret-0123456789,${TOKEN_2}",
                "token 2 is an unexpanded placeholder",
            ),
            (
                "good-secret-0123456789,second one",
                "token 2 holds characters",
            ),
            ("good-secret-0123456789,x", "token 2 is shorter than 16"),
            ("tok\u{e9}n-0123456789abcdef", "token 1 holds characters"),
        ] {
            for addr in ["127.0.0.1:8000", "0.0.0.0:8000"] {
                let text = exposure(addr, &args(Some(given), false))
                    .unwrap_err()
                    .to_string();
                assert!(text.contains(says), "{given:?}: {text}");
                assert!(text.contains("openssl rand"), "{text}");
                for part in given.split(',').filter(|p| p.trim().len() > 2) {
                    assert!(!text.contains(part.trim()), "{given:?} shown: {text}");
                }
            }
        }
        let ok = args(
            Some(" old-token-0123456789 , new-token-0123456789 ,, "),
            false,
        );
        let tokens = ok.tokens().unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.accepts(b"new-token-0123456789"));
        assert!(!format!("{ok:?}").contains("token-0123"));
    }

    #[tokio::test]
    async fn addresses_resolve_or_say_how() {
        assert!(resolve("127.0.0.1:0").await.unwrap().ip().is_loopback());
        let err = resolve("nonsense").await.unwrap_err().to_string();
        assert!(err.contains("host:port"), "{err}");
    }
}
