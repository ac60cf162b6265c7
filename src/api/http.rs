//! The process's one `reqwest::Client`, built off the start-up path when that is slow.
//!
//! For an https base URL, building the client loads the platform's CA roots: rustls's platform
//! verifier reads and parses every certificate under /etc/ssl/certs, eagerly, when the client is
//! built (about 3 ms here, which was half of spawn -> `initialize` answered). So for https the
//! client is built on a short-lived thread while the main thread answers `initialize`; the
//! first request waits for it if it is not ready yet (an agent's first call comes much later).
//! An http base URL loads no roots (`tls_certs_only` with none), and is built at once.
//!
//! A base URL on this machine never goes through a proxy (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`): plain http is allowed to loopback only because the request never leaves the
//! machine, and a proxy would carry the key (in clear text, for http) somewhere else.

use std::time::Duration;

use tokio::sync::watch;

use super::client::{CONNECT_TIMEOUT, MAX_IN_FLIGHT, root_cause};
use super::error::ApiError;
use crate::config::Config;

/// The client, or why it could not be built, once it is.
type Built = Option<Result<reqwest::Client, ApiError>>;

/// A handle on the HTTP client being built.
#[derive(Debug, Clone)]
pub struct Http {
    built: watch::Receiver<Built>,
    /// The base URL as shown (without credentials), for error texts.
    base_url: String,
}

impl Http {
    /// Starts building the client for `config` (see the module doc).
    pub fn start(config: &Config) -> Self {
        Self::start_with(config, build)
    }

    /// As [`Http::start`], with the function that builds the client given (a test can hold
    /// the build back, to see a request wait for it).
    fn start_with<F>(config: &Config, build: F) -> Self
    where
        F: Fn(&Config) -> Result<reqwest::Client, ApiError> + Clone + Send + 'static,
    {
        let (tx, built) = watch::channel(None);
        if config.base_url.is_https() {
            let config = config.clone();
            let build = move || tx.send_replace(Some(build(&config)));
            // If no thread can be started, build here: slower to start, but the same client.
            if let Err(e) = std::thread::Builder::new()
                .name("http-client".to_owned())
                .spawn(build.clone())
            {
                tracing::debug!("building the HTTP client inline: {e}");
                build();
            }
        } else {
            tx.send_replace(Some(build(config)));
        }
        Self {
            built,
            base_url: config.base_url.shown().to_owned(),
        }
    }

    /// The client once built, or why it could not be: answers at once unless it is still being
    /// built.
    pub async fn get(&self) -> Result<reqwest::Client, ApiError> {
        let mut built = self.built.clone();
        // An error here means the builder thread ended without a result: it panicked.
        let built = built.wait_for(Option::is_some).await.ok();
        match built.as_deref() {
            Some(Some(result)) => result.clone(),
            _ => Err(ApiError::Transport {
                base_url: self.base_url.clone(),
                detail: "could not set up the HTTP client".to_owned(),
            }),
        }
    }

    /// Why no client can be built, if that is known already.
    pub fn failed(&self) -> Option<ApiError> {
        match &*self.built.borrow() {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }
}

/// Builds the process's HTTP client. Only an https base URL loads the platform's CA roots.
fn build(config: &Config) -> Result<reqwest::Client, ApiError> {
    // Any crypto provider another part of the process installed first is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("msgbatch-mcp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none());
    if !config.base_url.is_https() {
        builder = builder.tls_certs_only(Vec::new());
    }
    if config.is_loopback {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| ApiError::Transport {
        base_url: config.base_url.shown().to_owned(),
        detail: format!("could not set up the HTTP client: {}", root_cause(&e)),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::ApiSettings;

    fn config(url: &str) -> Config {
        ApiSettings {
            api_url: url.to_owned(),
            api_key: Some(crate::secret::ApiKey::new("k")),
            ..ApiSettings::default()
        }
        .resolve()
    }

    /// An http client loads no roots, so it builds on any machine, at once. (What the https
    /// one can do depends on the roots it is given: tests/https.rs gives it a test CA, another
    /// CA, and none.)
    #[tokio::test]
    async fn an_http_client_is_built_at_once() {
        let http = Http::start(&config("http://127.0.0.1:9/v1"));
        assert!(http.built.borrow().is_some(), "built before start returned");
        assert!(http.get().await.is_ok());
        assert!(http.failed().is_none());
    }

    /// For https the client is built on another thread; a request made before it is ready
    /// waits for it, and then gets it (rather than failing, or building a second one).
    #[tokio::test]
    async fn the_first_request_waits_for_the_https_client_being_built() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let builds = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = builds.clone();
        let plain = config("http://127.0.0.1:9/v1");
        let http = Http::start_with(&config("https://127.0.0.1:9/v1"), move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = gate.lock().map(|g| g.recv());
            build(&plain)
        });
        assert!(http.failed().is_none());
        let mut first = Box::pin(http.get());
        assert!(
            futures::poll!(&mut first).is_pending(),
            "answered before the client was built"
        );
        release.send(()).unwrap();
        assert!(first.await.is_ok());
        assert!(http.get().await.is_ok());
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
