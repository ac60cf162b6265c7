//! Settings: where the API is, the key, and how patient to be.
//!
//! Every setting comes from the environment (that is how MCP clients pass configuration to a
//! stdio server) and is mirrored by a flag. A wrong URL or a missing key does not stop the
//! server: it starts, logs the problem, and every tool call answers with it, so that the person
//! sees the reason in their agent instead of a server that silently failed to connect. Only a
//! value that is not even of the right kind (`MSGBATCH_TIMEOUT_SECS=soon`) stops it at start,
//! with clap's message naming the setting on stderr.

use std::net::IpAddr;
use std::time::Duration;

use clap::Args;
use reqwest::Url;

use crate::secret::{ApiKey, BaseUrl, StateKeys};

/// The sandbox mock's base URL: the default, so that a first run talks to a local simulator.
pub const DEFAULT_API_URL: &str = "http://localhost:8080/rest/anthropic-message-batches-api/1.0.0";
/// The real API's base URL.
pub const REAL_API_URL: &str = "https://api.anthropic.com/v1";
/// Sent as `x-api-key` when no key is set and the base URL is on this machine, so that the
/// simulator and the sandbox mock (which want the header present) work without a real key; and
/// always to [`DEFAULT_API_URL`], in place of any key the person set (see [`Config::key_withheld`]).
pub const PLACEHOLDER_KEY: &str = "msgbatch-mcp-local-placeholder";

/// The API settings, as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
pub struct ApiSettings {
    /// Base URL of the Message Batches API, ending just before `/messages`.
    /// Real batches: https://api.anthropic.com/v1
    // The value is not echoed by --help: it may carry a gateway's user and password.
    #[arg(long = "api-url", env = "MSGBATCH_API_URL", default_value = DEFAULT_API_URL,
          hide_env_values = true)]
    pub api_url: String,

    /// Anthropic API key (sent as x-api-key). Prefer the environment variable over the flag.
    #[arg(long = "api-key", env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    pub api_key: Option<ApiKey>,

    /// An Anthropic OAuth access token instead of a key (sent as `Authorization: Bearer`, as the
    /// official SDKs do). Used only when ANTHROPIC_API_KEY is not set, as the SDKs choose.
    #[arg(
        long = "auth-token",
        env = "ANTHROPIC_AUTH_TOKEN",
        hide_env_values = true
    )]
    pub auth_token: Option<ApiKey>,

    /// Seconds one HTTP attempt may take.
    #[arg(long = "timeout-secs", env = "MSGBATCH_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout_secs: u64,

    /// Retries after a connection error, timeout, 408, 409, 429 or 5xx.
    #[arg(long = "max-retries", env = "MSGBATCH_MAX_RETRIES", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    pub max_retries: u32,

    /// Allow an http:// base URL to a host other than this machine (the key would travel in
    /// clear text).
    #[arg(long = "allow-insecure", env = "MSGBATCH_ALLOW_INSECURE", value_parser = parse_flag,
          default_value = "false")]
    pub allow_insecure: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_owned(),
            api_key: None,
            auth_token: None,
            timeout_secs: 30,
            max_retries: 2,
            allow_insecure: false,
        }
    }
}

/// An unexpanded `${...}` placeholder from an MCP host's configuration.
fn is_placeholder(value: &str) -> bool {
    value.starts_with("${") && value.ends_with('}')
}

/// Accepts the usual spellings of a boolean environment variable (`1`, `true`, `yes`, `on`).
fn parse_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!(
            "expected 1/0, true/false, yes/no or on/off, got {other:?}"
        )),
    }
}

/// Why the settings cannot be used to reach the API. Each text says how to fix it, and names
/// the URL only as [`BaseUrl::shown`] (without credentials).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "MSGBATCH_API_URL {url:?} is not a valid http(s) URL ({reason}). Set it to the base that \
         ends just before /messages, e.g. {REAL_API_URL} or {DEFAULT_API_URL}."
    )]
    BadUrl { url: String, reason: String },
    #[error(
        "MSGBATCH_API_URL {url} uses plain http:// to a host that is not this machine, so the API \
         key would travel in clear text. Use https:// (the real API is {REAL_API_URL}), or set \
         MSGBATCH_ALLOW_INSECURE=1 if you really mean it."
    )]
    Insecure { url: String },
    #[error(
        "ANTHROPIC_API_KEY is not set, and {url} is not on this machine, so nothing was sent. \
         Set ANTHROPIC_API_KEY in the MCP server's environment (e.g. `claude mcp add msgbatch \
         --env ANTHROPIC_API_KEY=sk-ant-... -- msgbatch-mcp`), or ANTHROPIC_AUTH_TOKEN to an \
         Anthropic OAuth access token, and restart the server."
    )]
    MissingKey { url: String },
    #[error(
        "ANTHROPIC_API_KEY contains characters that cannot be sent in an HTTP header (a pasted \
         quote or line break?). Set it to the key alone and restart the server."
    )]
    BadKey,
}

/// The settings, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The base URL, without a trailing slash. Formatting it shows it without credentials.
    pub base_url: BaseUrl,
    /// The key to send, or the reason no request may be sent.
    pub key: Result<ApiKey, ConfigError>,
    /// How `key` is sent: `x-api-key`, or `Authorization: Bearer` for an ANTHROPIC_AUTH_TOKEN.
    pub key_header: KeyHeader,
    /// Whether ANTHROPIC_AUTH_TOKEN is set but unused, because ANTHROPIC_API_KEY is set too
    /// (the key wins, as in the official SDKs).
    pub auth_token_shadowed: bool,
    /// Bound on one HTTP attempt.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Whether the base URL's host is this machine.
    pub is_loopback: bool,
    /// Whether a key was set but is not sent, because the base URL is the default mock URL.
    /// A person who exports `ANTHROPIC_API_KEY` for the official SDKs (whose default is the real
    /// API) would otherwise hand their real key to whatever listens on localhost:8080; nothing
    /// there needs it (the sandbox mock and the simulator accept any key).
    pub key_withheld: bool,
}

/// How the credential travels to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyHeader {
    /// `x-api-key: <ANTHROPIC_API_KEY>`.
    #[default]
    ApiKey,
    /// `Authorization: Bearer <ANTHROPIC_AUTH_TOKEN>`.
    Bearer,
}

impl Config {
    /// The warning to log at start, if the settings look like a mistake: a key set for the
    /// default mock URL usually means the person meant the real API; a key and an auth token
    /// both set means the token is not used.
    pub fn start_warning(&self) -> Option<String> {
        if self.auth_token_shadowed && !self.key_withheld {
            return Some(
                "ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are both set: the key is sent and the \
                 auth token is not, as in the official SDKs. Unset one of them."
                    .to_owned(),
            );
        }
        self.key_withheld.then(|| {
            format!(
                "ANTHROPIC_API_KEY is set, but MSGBATCH_API_URL is the default, the local mock \
                 {DEFAULT_API_URL}: the key is not sent there (a placeholder is), and the batches \
                 there are not your real ones. For real batches set \
                 MSGBATCH_API_URL={REAL_API_URL}."
            )
        })
    }
}

impl ApiSettings {
    /// Checks the settings. A bad URL or a missing key is kept in `key` as the error every tool
    /// call will answer with, rather than refusing to start.
    pub fn resolve(&self) -> Config {
        // Some MCP hosts pass a placeholder such as `${user_config.api_url}` through literally
        // when the user left the field empty: that means "not set".
        let api_url = match self.api_url.trim() {
            "" => DEFAULT_API_URL,
            u if is_placeholder(u) => DEFAULT_API_URL,
            u => u,
        };
        let base_url = BaseUrl::new(api_url.trim_end_matches('/'));
        let timeout = Duration::from_secs(self.timeout_secs);
        let (is_loopback, checked) = match check_url(&base_url, self.allow_insecure) {
            Ok(loopback) => (loopback, Ok(())),
            Err(e) => (false, Err(e)),
        };
        let set = |k: &Option<ApiKey>| {
            k.clone()
                .filter(|k| !k.is_empty() && !is_placeholder(k.expose()))
        };
        // As the official SDKs choose: the key if there is one, else the auth token.
        let (api_key, auth_token) = (set(&self.api_key), set(&self.auth_token));
        let auth_token_shadowed = api_key.is_some() && auth_token.is_some();
        let (given, mut key_header) = match (api_key, auth_token) {
            (Some(k), _) => (Some(k), KeyHeader::ApiKey),
            (None, Some(t)) => (Some(t), KeyHeader::Bearer),
            (None, None) => (None, KeyHeader::ApiKey),
        };
        let given = given.as_ref();
        let key_withheld = given.is_some() && is_default_url(base_url.expose());
        if key_withheld || given.is_none() {
            // The placeholder, if any, is a key.
            key_header = KeyHeader::ApiKey;
        }
        let key = checked.and_then(|()| match given {
            Some(_) if key_withheld => Ok(ApiKey::new(PLACEHOLDER_KEY)),
            Some(k) => Ok(k.clone()),
            _ if is_loopback => Ok(ApiKey::new(PLACEHOLDER_KEY)),
            _ => Err(ConfigError::MissingKey {
                url: base_url.shown().to_owned(),
            }),
        });
        Config {
            base_url,
            key,
            timeout,
            max_retries: self.max_retries,
            is_loopback,
            key_withheld,
            key_header,
            auth_token_shadowed,
        }
    }
}

/// Whether `base_url` (already without a trailing slash) is the default mock URL. Only that
/// exact URL: any other one, loopback included, is one the person chose, and gets their key.
fn is_default_url(base_url: &str) -> bool {
    base_url.eq_ignore_ascii_case(DEFAULT_API_URL)
}

/// Checks that `url` is an http(s) URL we may send a key to; answers whether it is on loopback.
fn check_url(url: &BaseUrl, allow_insecure: bool) -> Result<bool, ConfigError> {
    let bad = |reason: &str| ConfigError::BadUrl {
        url: url.shown().to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url.expose()).map_err(|e| bad(&e.to_string()))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err(bad("it has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(loopback),
        "http" if loopback || allow_insecure => Ok(loopback),
        "http" => Err(ConfigError::Insecure {
            url: url.shown().to_owned(),
        }),
        other => Err(bad(&format!("scheme {other:?} is not http or https"))),
    }
}

/// How the tools are offered, whatever the transport.
#[derive(Debug, Clone, Default, Args)]
pub struct ToolSettings {
    /// Offer only the tools whose annotations say they change nothing (get, list): the others
    /// are neither listed nor callable. For shared deployments where some agents may look but
    /// not cancel.
    #[arg(long = "read-only", env = "MSGBATCH_READ_ONLY", value_parser = parse_flag,
          default_value = "false", global = true)]
    pub read_only: bool,

    /// Key that seals what clients carry between calls (a confirmation's requestState, a
    /// task's ID): 32+ bytes, the same on every instance behind a load balancer; `NEW,OLD`
    /// while rotating. Unset: a random key made at start, for this process alone.
    #[arg(
        long = "request-state-key",
        env = "MSGBATCH_REQUEST_STATE_KEY",
        hide_env_values = true,
        global = true
    )]
    pub request_state_key: Option<StateKeys>,

    /// Ask the person (a form, by MCP elicitation) before any cancel: `auto` asks when the
    /// client can show a form and otherwise goes ahead, saying so; `required` refuses to cancel
    /// for a client that cannot ask; `never` does not ask. See src/server/confirm/.
    #[arg(
        long = "confirm",
        env = "MSGBATCH_CONFIRM",
        value_enum,
        default_value = "auto",
        ignore_case = true,
        global = true
    )]
    pub confirm: Confirm,

    /// For tests only: how long a confirmation round stays valid, in seconds (default 300). 0
    /// seals a state that has already expired, so that a test sees an expired state without
    /// waiting on the clock.
    #[arg(long = "confirm-ttl-secs", env = "MSGBATCH_CONFIRM_TTL_SECS", hide = true,
          global = true, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub confirm_ttl_secs: Option<u64>,

    /// Longest a call is held open waiting for `ended` (default 50 s): a larger wait_seconds is
    /// cut to it, because claude.ai, Claude Desktop and proxies cut calls held about 60 s.
    /// Hidden: for operators whose clients wait longer, and for tests.
    #[arg(
        long = "wait-hold-secs",
        env = "MSGBATCH_WAIT_HOLD_SECS",
        hide = true,
        global = true
    )]
    pub wait_hold_secs: Option<u32>,

    /// A task ID's lifetime in seconds (default: its wait plus one hour). Hidden: for tests.
    #[arg(
        long = "task-ttl-secs",
        env = "MSGBATCH_TASK_TTL_SECS",
        hide = true,
        global = true
    )]
    pub task_ttl_secs: Option<u64>,

    /// Append one JSON line per cancel (and per refused cancel) to this file, created 0600;
    /// the same lines go to stderr at info in any case.
    #[arg(
        long = "audit-log",
        env = "MSGBATCH_AUDIT_LOG",
        value_name = "PATH",
        global = true
    )]
    pub audit_log: Option<std::path::PathBuf>,
}

impl ToolSettings {
    /// How long a confirmation form stays valid (`--confirm-ttl-secs`, for tests; 5 min).
    pub fn confirm_ttl(&self) -> Duration {
        Duration::from_secs(self.confirm_ttl_secs.unwrap_or(300))
    }
}

/// `MSGBATCH_CONFIRM`: whether a person confirms each cancel (what each value does is decided in
/// `server::confirm::policy`; the setting lives here, with the other settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Confirm {
    /// Ask whenever the client declared form elicitation; otherwise go ahead and say so.
    #[default]
    Auto,
    /// Never cancel without a person's confirmation: refuse for a client that cannot ask.
    Required,
    /// Never ask (the behaviour before confirmation existed).
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, key: Option<&str>) -> ApiSettings {
        ApiSettings {
            api_url: url.to_owned(),
            api_key: key.map(ApiKey::new),
            ..ApiSettings::default()
        }
    }

    #[test]
    fn default_url_is_loopback_and_gets_a_placeholder_key() {
        let c = ApiSettings::default().resolve();
        assert!(c.is_loopback);
        assert_eq!(c.key.unwrap().expose(), PLACEHOLDER_KEY);
        assert_eq!(c.base_url, DEFAULT_API_URL);
    }

    #[test]
    fn a_key_set_for_the_default_url_is_withheld_and_warned_about() {
        for url in [DEFAULT_API_URL, &format!("{DEFAULT_API_URL}/")] {
            let c = settings(url, Some("sk-ant-REAL")).resolve();
            assert_eq!(c.key.as_ref().unwrap().expose(), PLACEHOLDER_KEY, "{url}");
            assert!(c.key_withheld);
            let warning = c.start_warning().expect("a warning");
            assert!(warning.contains("not sent"), "{warning}");
            assert!(warning.contains(REAL_API_URL), "{warning}");
            assert!(!warning.contains("sk-ant-REAL"), "{warning}");
        }
        // Any other URL gets the key as given, loopback included.
        for url in [
            "http://127.0.0.1:8080/rest/anthropic-message-batches-api/1.0.0",
            "http://localhost:4010",
            REAL_API_URL,
        ] {
            let c = settings(url, Some("sk-ant-REAL")).resolve();
            assert_eq!(c.key.as_ref().unwrap().expose(), "sk-ant-REAL", "{url}");
            assert!(!c.key_withheld && c.start_warning().is_none(), "{url}");
        }
        // No key set: the placeholder, and nothing to warn about.
        let c = ApiSettings::default().resolve();
        assert!(!c.key_withheld && c.start_warning().is_none());
    }

    #[test]
    fn real_api_without_key_is_refused() {
        let c = settings("https://api.anthropic.com/v1/", None).resolve();
        assert_eq!(c.base_url, REAL_API_URL);
        let err = c.key.unwrap_err();
        assert!(matches!(err, ConfigError::MissingKey { .. }));
        assert!(err.to_string().contains("ANTHROPIC_API_KEY"));
    }

    #[test]
    fn empty_key_counts_as_none() {
        let c = settings(REAL_API_URL, Some("  ")).resolve();
        assert!(c.key.is_err());
    }

    #[test]
    fn unexpanded_placeholders_count_as_unset() {
        let c = settings(
            "${user_config.api_url}",
            Some("${user_config.anthropic_api_key}"),
        )
        .resolve();
        assert_eq!(c.base_url, DEFAULT_API_URL);
        assert_eq!(c.key.unwrap().expose(), PLACEHOLDER_KEY);
        let c = settings(REAL_API_URL, Some("${ANTHROPIC_API_KEY}")).resolve();
        assert!(matches!(c.key, Err(ConfigError::MissingKey { .. })));
    }

    #[test]
    fn an_auth_token_is_sent_as_bearer_only_without_a_key() {
        let mut s = settings(REAL_API_URL, None);
        s.auth_token = Some(ApiKey::new("sk-ant-oat01-TOKEN"));
        let c = s.resolve();
        assert_eq!(c.key.as_ref().unwrap().expose(), "sk-ant-oat01-TOKEN");
        assert_eq!(c.key_header, KeyHeader::Bearer);
        assert!(c.start_warning().is_none());
        // Both set: the key wins, as in the official SDKs, and the start says so.
        s.api_key = Some(ApiKey::new("sk-ant-KEY"));
        let c = s.resolve();
        assert_eq!(c.key.as_ref().unwrap().expose(), "sk-ant-KEY");
        assert_eq!(c.key_header, KeyHeader::ApiKey);
        let w = c.start_warning().unwrap();
        assert!(
            w.contains("ANTHROPIC_AUTH_TOKEN") && !w.contains("TOKEN\""),
            "{w}"
        );
        assert!(!w.contains("sk-ant"), "{w}");
        // For the default mock URL the token is withheld like a key: a placeholder key goes.
        let mut s = settings(DEFAULT_API_URL, None);
        s.auth_token = Some(ApiKey::new("sk-ant-oat01-TOKEN"));
        let c = s.resolve();
        assert_eq!(c.key.unwrap().expose(), PLACEHOLDER_KEY);
        assert_eq!(c.key_header, KeyHeader::ApiKey);
        assert!(c.key_withheld);
    }

    #[test]
    fn given_key_is_used() {
        let c = settings(REAL_API_URL, Some("sk-ant-x")).resolve();
        assert_eq!(c.key.unwrap().expose(), "sk-ant-x");
    }

    #[test]
    fn plain_http_to_remote_host_is_refused_unless_allowed() {
        let c = settings("http://example.com/v1", Some("k")).resolve();
        assert!(matches!(c.key, Err(ConfigError::Insecure { .. })));
        let mut s = settings("http://example.com/v1", Some("k"));
        s.allow_insecure = true;
        assert!(s.resolve().key.is_ok());
    }

    #[test]
    fn loopback_forms_are_recognised() {
        for url in [
            "http://127.0.0.1:9/v1",
            "http://[::1]:9",
            "http://LOCALHOST:1",
        ] {
            assert!(settings(url, None).resolve().is_loopback, "{url}");
        }
    }

    #[test]
    fn garbage_urls_are_refused_with_advice() {
        for url in ["not a url", "ftp://x/y", "http://x/?a=b"] {
            let err = settings(url, Some("k")).resolve().key.unwrap_err();
            assert!(err.to_string().contains(REAL_API_URL), "{url}: {err}");
        }
    }

    #[test]
    fn error_texts_name_the_url_without_credentials() {
        for url in [
            "http://gwuser:GATEWAY-TOKEN-123@gateway.example/v1",
            "https://gwuser:GATEWAY-TOKEN-123@gateway.example/v1",
            "https://gwuser:GATEWAY-TOKEN-123@gateway example/v1",
            "ftp://gwuser:GATEWAY-TOKEN-123@gateway.example/v1",
        ] {
            let c = settings(url, None).resolve();
            let err = c.key.unwrap_err().to_string();
            assert!(err.contains("[redacted]@gateway"), "{err}");
            for shown in [err, c.base_url.to_string(), format!("{:?}", c.base_url)] {
                assert!(!shown.contains("gwuser"), "{shown}");
                assert!(!shown.contains("GATEWAY-TOKEN-123"), "{shown}");
            }
        }
    }

    #[test]
    fn flag_parser_accepts_common_spellings() {
        assert_eq!(parse_flag("1"), Ok(true));
        assert_eq!(parse_flag("YES"), Ok(true));
        assert_eq!(parse_flag("0"), Ok(false));
        assert!(parse_flag("maybe").is_err());
    }
}
