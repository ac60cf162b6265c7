//! `serve --http` as an OAuth 2.1 resource server, end to end: the real binary, a real OpenID
//! provider (npm `oidc-provider`, OpenID Certified, run by `ci/oidc/provider.mjs` on loopback),
//! rmcp's Streamable HTTP client with the provider's access tokens, raw HTTP for what a client
//! sees on a refusal, and a wiremock upstream that records what reaches the API.
//!
//! The provider is installed into `.tools/oidc` by `ci/oidc/install.sh` (run from here when it
//! is missing: it needs node, npm and the npm registry once).

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, ID, Recorder, batch_json, call, hits_by, is_error, received, structured, text};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

type Client = RunningService<RoleClient, Recorder>;

/// The resource the tokens are for. Not where the server listens: the public URL comes from
/// the setting, never from the request.
const PUBLIC_URL: &str = "https://mcp.example.test/mcp";
const METADATA_URL: &str = "https://mcp.example.test/.well-known/oauth-protected-resource/mcp";

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The OpenID provider, killed when dropped.
struct Idp {
    child: Option<tokio::process::Child>,
    issuer: String,
}

impl Idp {
    async fn start() -> Self {
        let modules = root().join(".tools/oidc/node_modules");
        if !modules.join("oidc-provider/package.json").exists() {
            let ok = std::process::Command::new("bash")
                .arg(root().join("ci/oidc/install.sh"))
                .status()
                .expect("run ci/oidc/install.sh (needs bash, node, npm)")
                .success();
            assert!(
                ok,
                "ci/oidc/install.sh failed: the tests need npm oidc-provider"
            );
        }
        let mut child = tokio::process::Command::new("node")
            .arg(root().join("ci/oidc/provider.mjs"))
            .arg(&modules)
            .arg(PUBLIC_URL)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node ci/oidc/provider.mjs");
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), out.next_line())
            .await
            .expect("the provider starts")
            .unwrap()
            .expect("the provider prints its issuer");
        let issuer = line
            .strip_prefix("issuer ")
            .expect("issuer line")
            .to_owned();
        Self {
            child: Some(child),
            issuer,
        }
    }

    /// An access token from the token endpoint (client credentials, RFC 8707 resource).
    async fn token(&self, client: &str, scope: &str, resource: &str) -> String {
        let body = format!(
            "grant_type=client_credentials&scope={}&resource={}",
            enc(scope),
            enc(resource)
        );
        let answer: Value = http()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(format!("{client}-secret")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_owned()
    }

    /// A token with these claims, signed by the provider's current key.
    async fn mint(&self, claims: Value) -> String {
        let answer: Value = http()
            .post(format!("{}/test/mint", self.issuer))
            .json(&claims)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["token"].as_str().unwrap().to_owned()
    }

    /// A new signing key replaces the old one at the provider.
    async fn rotate(&self) {
        let r = http()
            .post(format!("{}/test/rotate", self.issuer))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
        // Nothing answers there any more.
        assert!(
            http()
                .get(format!("{}/jwks", self.issuer))
                .send()
                .await
                .is_err()
        );
    }
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// base64url without padding, for the hand-made tokens.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// `serve --http` with OAuth for [`PUBLIC_URL`], killed when dropped.
struct Server {
    _child: tokio::process::Child,
    url: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    async fn start(upstream: &str, issuer: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .env("MSGBATCH_API_URL", upstream)
            .env("ANTHROPIC_API_KEY", "sk-ant-upstream-key-0123456789")
            .env("MSGBATCH_OAUTH_ISSUER", issuer)
            .env("MSGBATCH_PUBLIC_URL", PUBLIC_URL)
            .env("MSGBATCH_OAUTH_JWKS_REFRESH_FLOOR_SECS", "0")
            .env_remove("MSGBATCH_HTTP_TOKEN")
            .env_remove("MSGBATCH_READ_ONLY")
            .env_remove("MSGBATCH_AUDIT_LOG")
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn serve --http");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err = child.stderr.take().unwrap();
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
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), out.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "no address line: {}",
                    String::from_utf8_lossy(&stderr.lock().unwrap())
                )
            });
        let url = line.rsplit(' ').next().unwrap().to_owned();
        Self {
            _child: child,
            url,
            stderr,
        }
    }

    fn base(&self) -> String {
        self.url.trim_end_matches("/mcp").to_owned()
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    async fn connect(&self, token: &str) -> Client {
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url.clone()).auth_header(token);
        Recorder::default()
            .serve(StreamableHttpClientTransport::with_client(http(), config))
            .await
            .expect("MCP initialize with an access token")
    }

    /// One raw JSON-RPC POST with `token` (if any): status, WWW-Authenticate, body.
    async fn post(&self, token: Option<&str>, body: &Value) -> (u16, String, String) {
        let mut req = http()
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, challenge, r.text().await.unwrap())
    }
}

fn ping() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})
}

fn cancel_call() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": "cancel_message_batch", "arguments": {"message_batch_id": ID}}})
}

async fn upstream() -> wiremock::MockServer {
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(batch_json(ID, "canceling"))
                .insert_header("request-id", "req_011CancelAudit"),
        )
        .mount(&up)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(batch_json(ID, "in_progress")),
        )
        .mount(&up)
        .await;
    up
}

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn discovery_scopes_step_up_and_the_audit_file() {
    let idp = Idp::start().await;
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let server = Server::start(
        &common::base(&up),
        &idp.issuer,
        &[
            ("MSGBATCH_AUDIT_LOG", audit.to_str().unwrap()),
            ("MSGBATCH_HTTP_TOKEN", "static-token-0f3c9a7d5e21b4c8"),
        ],
    )
    .await;

    // Discovery, at the path RFC 9728 derives and at the root, naming the settings' URLs.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let doc: Value = http()
            .get(format!("{}{path}", server.base()))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(doc["resource"], PUBLIC_URL, "{path}");
        assert_eq!(doc["authorization_servers"], json!([idp.issuer]), "{path}");
        assert_eq!(
            doc["scopes_supported"],
            json!(["batches:read", "batches:cancel"])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }

    // No token: 401 saying where to get one.
    let (status, challenge, _) = server.post(None, &ping()).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{METADATA_URL}""#)),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="batches:read""#), "{challenge}");

    // A read token: sees and calls only the tools that look.
    let read = idp.token("reader", "batches:read", PUBLIC_URL).await;
    let reader = server.connect(&read).await;
    let tools = reader.list_all_tools().await.unwrap();
    assert_eq!(
        tool_names(&tools),
        [
            "get_message_batch",
            "get_message_batch_results",
            "list_message_batches"
        ]
    );
    let r = call(
        &reader,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert_eq!(structured(&r)["id"], ID, "{}", text(&r));
    // Its cancel is 403 insufficient_scope naming the scope, and nothing is sent upstream.
    let (status, challenge, body) = server.post(Some(&read), &cancel_call()).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="batches:read batches:cancel""#),
        "{challenge}"
    );
    assert!(challenge.contains(METADATA_URL), "{challenge}");
    assert_eq!(hits_by(&up, "POST").await, 0);

    // A cancel token: sees the cancel tools and cancels.
    let cancel = idp
        .token("operator", "batches:read batches:cancel", PUBLIC_URL)
        .await;
    let operator = server.connect(&cancel).await;
    let tools = operator.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 5, "{:?}", tool_names(&tools));
    let r = call(
        &operator,
        "cancel_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(structured(&r)["processing_status"], "canceling");
    assert_eq!(hits_by(&up, "POST").await, 1);

    // The static token still works beside OAuth, and is audited by its index.
    let by_token = server.connect("static-token-0f3c9a7d5e21b4c8").await;
    let r = call(
        &by_token,
        "cancel_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert!(!is_error(&r), "{}", text(&r));

    // The upstream got our key, never a caller's token.
    for request in received(&up).await {
        assert_eq!(
            request.headers["x-api-key"],
            "sk-ant-upstream-key-0123456789"
        );
        assert!(request.headers.get("authorization").is_none());
    }

    // The audit file: one line per cancel and per refused cancel, 0600.
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["outcome"], "refused");
    assert_eq!(lines[0]["reason"], "insufficient_scope");
    assert_eq!(lines[0]["who"], json!({"kind": "oauth", "sub": "reader"}));
    assert_eq!(lines[0]["client_id"], "reader");
    assert_eq!(lines[0]["batch_ids"], json!([ID]));
    assert_eq!(lines[1]["outcome"], "canceling");
    assert_eq!(lines[1]["who"]["sub"], "operator");
    assert_eq!(lines[1]["batches"][0]["request_id"], "req_011CancelAudit");
    assert_eq!(lines[2]["who"], json!({"kind": "static_token", "index": 0}));
    for line in &lines {
        assert_eq!(line["tool"], "cancel_message_batch");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&audit).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    // The audit lines reach stderr too; no token does, at RUST_LOG=trace.
    let log = server.log();
    assert!(log.contains("req_011CancelAudit"), "{log}");
    for secret in [
        &read,
        &cancel,
        "static-token-0f3c9a7d5e21b4c8",
        "sk-ant-upstream-key",
    ] {
        assert!(!log.contains(secret), "a token reached the log");
        assert!(!text.contains(secret), "a token reached the audit file");
    }
    // A JWT's signature part is the secret bit: not even that.
    let signature = read.rsplit('.').next().unwrap();
    assert!(!log.contains(signature));
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_reason_and_never_echoed() {
    let idp = Idp::start().await;
    let up = upstream().await;
    let server = Server::start(&common::base(&up), &idp.issuer, &[]).await;
    let good = idp
        .token("operator", "batches:read batches:cancel", PUBLIC_URL)
        .await;
    let claims = |over: Value| {
        let mut c = json!({"iss": idp.issuer, "aud": PUBLIC_URL, "sub": "mallory",
                           "iat": now(), "exp": now() + 300, "scope": "batches:read batches:cancel"});
        for (k, v) in over.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let [header, payload, _] = <[&str; 3]>::try_from(good.split('.').collect::<Vec<_>>()).unwrap();
    let kid: Value = serde_json::from_slice(&decode_part(header)).unwrap();
    let kid = kid["kid"].as_str().unwrap().to_owned();
    let jwks = http()
        .get(format!("{}/jwks", idp.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut hmac_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hmac_header.kid = Some(kid.clone());

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong audience",
            idp.token("operator", "batches:read", "https://other.example.test/mcp")
                .await,
            "not issued for this resource",
        ),
        (
            "wrong issuer",
            idp.mint(claims(json!({"iss": "https://evil.example.test"})))
                .await,
            "another issuer",
        ),
        (
            "expired",
            idp.mint(claims(json!({"iat": now() - 900, "exp": now() - 600})))
                .await,
            "expired",
        ),
        (
            "alg none",
            format!(
                "{}.{payload}.",
                b64(format!(r#"{{"alg":"none","kid":"{kid}"}}"#).as_bytes())
            ),
            "not signed with RS256, ES256 or EdDSA",
        ),
        (
            "HMAC with the public key",
            jsonwebtoken::encode(
                &hmac_header,
                &claims(json!({})),
                &jsonwebtoken::EncodingKey::from_secret(jwks.as_bytes()),
            )
            .unwrap(),
            "not signed with RS256, ES256 or EdDSA",
        ),
        (
            "signature of another payload",
            format!(
                "{header}.{}.{}",
                b64(claims(json!({})).to_string().as_bytes()),
                good.rsplit('.').next().unwrap()
            ),
            "signature is not valid",
        ),
        (
            "not a JWT",
            "opaque-0123456789abcdef".to_owned(),
            "not a JWT",
        ),
    ];
    for (what, token, reason) in &cases {
        let (status, challenge, body) = server.post(Some(token), &ping()).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{what}: {challenge}"
        );
        assert!(challenge.contains(reason), "{what}: {challenge}");
        assert!(body.contains(reason), "{what}: {body}");
        assert!(
            !challenge.contains(token.as_str()) && !body.contains(token.as_str()),
            "{what}"
        );
    }
    // The good one passes, through the same door.
    let (status, _, body) = server.post(Some(&good), &ping()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        received(&up).await.len(),
        0,
        "no refused token reached the API"
    );
    let log = server.log();
    for (what, token, _) in &cases {
        assert!(
            !log.contains(token.as_str()),
            "{what}: the token reached the log"
        );
    }
    assert!(!log.contains(&good));
}

fn decode_part(part: &str) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let v = A.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_an_unreachable_idp_leaves_the_known_keys() {
    let mut idp = Idp::start().await;
    let up = upstream().await;
    let server = Server::start(&common::base(&up), &idp.issuer, &[]).await;
    let first = idp.token("reader", "batches:read", PUBLIC_URL).await;
    assert_eq!(server.post(Some(&first), &ping()).await.0, 200);

    // The IdP rotates: a token with the new key ID makes the server fetch the keys again.
    idp.rotate().await;
    let second = idp.token("reader", "batches:read", PUBLIC_URL).await;
    let (status, _, body) = server.post(Some(&second), &ping()).await;
    assert_eq!(status, 200, "{body}");
    // The old key left the IdP's set, so it left ours.
    let (status, challenge, _) = server.post(Some(&first), &ping()).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("a key the issuer does not publish"),
        "{challenge}"
    );

    // One more rotation, whose key the server has never seen; then the IdP goes away.
    idp.rotate().await;
    let unseen = idp.token("reader", "batches:read", PUBLIC_URL).await;
    idp.stop().await;
    // The key it knows still works...
    let reader = server.connect(&second).await;
    let r = call(
        &reader,
        "get_message_batch",
        json!({"message_batch_id": ID}),
    )
    .await;
    assert_eq!(structured(&r)["id"], ID, "{}", text(&r));
    // ...and one it cannot fetch is refused, saying why.
    let (status, challenge, _) = server.post(Some(&unseen), &ping()).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("cannot be fetched now"), "{challenge}");
}
