//! A `msgbatch-mcp serve --http` process for end-to-end tests, on a free loopback port, and
//! rmcp's Streamable HTTP client transport to reach it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::BIN;

/// A `serve --http` process; killed when dropped.
pub struct HttpInstance {
    _child: tokio::process::Child,
    /// `http://127.0.0.1:PORT/mcp`
    pub url: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl HttpInstance {
    /// Starts `serve --http 127.0.0.1:0` against `upstream` with `env`, and waits for the line
    /// that says where it listens.
    pub async fn start(upstream: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .env("MSGBATCH_API_URL", upstream)
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("MSGBATCH_HTTP_TOKEN")
            .env_remove("MSGBATCH_READ_ONLY")
            .env_remove("MSGBATCH_REQUEST_STATE_KEY")
            .env_remove("MSGBATCH_CONFIRM")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn msgbatch-mcp serve --http");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), out.next_line())
            .await
            .expect("the server says where it listens")
            .expect("read stdout")
            .unwrap_or_else(|| {
                panic!(
                    "no address line; stderr: {}",
                    String::from_utf8_lossy(&stderr.lock().unwrap())
                )
            });
        let url = line
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://") && u.ends_with("/mcp"))
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self {
            _child: child,
            url,
            stderr,
        }
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// rmcp's Streamable HTTP client transport to this instance.
    pub fn transport(&self) -> StreamableHttpClientTransport<reqwest::Client> {
        // The crate builds reqwest without a default TLS provider; plain http needs none, but
        // the builder insists on one being installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("reqwest client");
        StreamableHttpClientTransport::with_client(
            http,
            StreamableHttpClientTransportConfig::with_uri(self.url.clone()),
        )
    }
}
