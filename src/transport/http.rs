//! Serving MCP over Streamable HTTP: `POST /mcp` (stateless) and `GET /healthz`, for a team.
//!
//! No session state: every request is served on its own (rmcp's `legacy_session_mode = false`),
//! so any number of instances can run behind any load balancer with nothing shared between
//! them. Older clients still `initialize` first; the answer is computed and nothing is kept.
//! A call that reports progress answers as an SSE stream (progress, then the result); one that
//! does not answers plain JSON.
//!
//! A request to `/mcp` passes, outermost first: the token check ([`auth`]), the body's size,
//! JSON budget and read timeout ([`body`]), the cancel scope's check ([`auth::step_up`]), the
//! cap on calls in flight, per client and for calls that wait ([`limits`]), then rmcp, which
//! checks Host ([`host`]) and Origin ([`origin`]) before any tool runs. `/healthz` ([`health`])
//! skips them all. Connections are spread over the worker threads ([`workers`]), each a
//! single-threaded runtime with its own upstream client, and served by hyper directly: at
//! most a bounded number, each with a small buffer and a short time to send a head ([`conn`]),
//! with hyper's header timeout closing idle keep-alive connections and a graceful stop per
//! connection. On SIGTERM or SIGINT the listener closes, calls in flight get [`GRACE`] to finish, the rest are cut short with an
//! answer that says so, and the process exits 0.

mod auth;
mod body;
mod conn;
mod health;
mod host;
mod limits;
mod origin;
mod refusals;
mod settings;
mod shared;
mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service as _;

pub use auth::{OAuthArgs, Tokens};
pub use settings::{HttpArgs, StartError};

use self::workers::Workers;
use super::shutdown;
use crate::api::BatchesClient;
use crate::config::{Config, ToolSettings};
use crate::server::BatchServer;
use crate::server::sealed::Sealer;

/// How long calls in flight may take to finish after SIGTERM before they are cut short.
pub const GRACE: Duration = Duration::from_secs(5);
/// How long, after that, the cut-short answers have to reach their clients.
const FLUSH: Duration = Duration::from_secs(1);

/// Serves until SIGTERM or SIGINT. Fails only at start (bad address, no token where one is
/// needed, port taken); `ready` is told the bound address once the server accepts connections.
pub async fn serve(
    args: &HttpArgs,
    config: Config,
    tools: &ToolSettings,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), StartError> {
    let requested = args.addr.as_deref().unwrap_or("127.0.0.1:8000");
    let tokens = args.tokens()?;
    let addr = settings::resolve(requested).await?;
    settings::check_exposure(addr, &tokens, args)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Bind {
            addr: requested.to_owned(),
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| StartError::Bind {
        addr: requested.to_owned(),
        reason: e.to_string(),
    })?;

    let workers = Workers::start(args.worker_threads()).map_err(|e| StartError::Workers {
        count: args.worker_threads(),
        reason: e.to_string(),
    })?;
    let client = BatchesClient::new(&config);
    if let Err(e) = client.ready() {
        // Serve anyway, as stdio does: each tool call answers with this.
        tracing::warn!(base_url = %config.base_url, "serving, but no request can be sent: {e}");
    }
    // Calls end at once when this is cancelled (after the grace period).
    let calls_stop = CancellationToken::new();
    let sealer = Sealer::from_setting(tools.request_state_key.as_ref())?;
    if !sealer.is_shared() {
        tracing::warn!(
            "MSGBATCH_REQUEST_STATE_KEY is not set: confirmations and tasks are sealed with a key \
             made at start, so they only complete on this instance and not after a restart. \
             Behind a load balancer, give every instance the same key (32+ bytes, e.g. \
             `openssl rand -hex 32`)."
        );
    }
    let audit = crate::server::audit::Audit::from_setting(tools.audit_log.as_deref())
        .map_err(StartError::Auth)?;
    let first = BatchServer::new(client)
        .read_only(tools.read_only)
        .configured(tools)
        .with_sealer(sealer)
        .with_confirm(tools.confirm, tools.confirm_ttl())
        // Stateless: a request to the client mid-call could not be answered (src/server/confirm/).
        .without_pushed_requests()
        .with_shutdown(calls_stop.clone())
        .with_audit(audit.clone());
    let auth = auth::Auth::new(
        tokens,
        &args.oauth,
        audit.clone(),
        first.tools_that_change_batches(),
    )
    .map_err(StartError::Auth)?;
    let rmcp_stop = CancellationToken::new();
    let mcp_config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(body::MAX_BODY_BYTES)
        .with_cancellation_token(rmcp_stop.clone());
    let mcp_config = host::apply(mcp_config, &args.allowed_hosts);
    let mcp_config = origin::apply(mcp_config, &args.allowed_origins);

    let idle = Duration::from_secs(args.idle_timeout_secs);
    let read_timeout = Duration::from_secs(args.read_timeout_secs);
    let in_flight = limits::InFlight::new(args.max_in_flight, args.max_per_client);
    let router = |prototype: BatchServer| {
        let mcp = shared::Shared::new(StreamableHttpService::new(
            move || Ok(prototype.clone()),
            Arc::new(NeverSessionManager::default()),
            mcp_config.clone(),
        ));
        // The body is read (within its own timeout) before the call takes a slot; a cancel
        // without the cancel scope is refused on that body, before it takes one either.
        let router = Router::new()
            .route_service("/mcp", mcp)
            .route_layer(from_fn_with_state(in_flight.clone(), limits::cap))
            .route_layer(from_fn_with_state(auth.clone(), auth::step_up))
            .route_layer(from_fn_with_state(
                body::BodyTimeout(read_timeout),
                body::check,
            ));
        auth.protect(router).route("/healthz", get(health::healthz))
    };
    // One server per worker, cloned for each request: the upstream client inside (its
    // connection pool and its cap on requests in flight) is that worker's own, so a call and
    // its upstream request never leave the worker's thread. Everything else (the sealing key,
    // the audit file, the tasks, the token checks, the caps on calls) is one for the process.
    let servers: Vec<BatchServer> = (1..workers.len())
        .map(|_| first.with_client(BatchesClient::new(&config)))
        .collect();
    let routers: Vec<Router> = std::iter::once(first).chain(servers).map(router).collect();

    let open_files = conn::raise_fd_limit();
    let max_connections = conn::max_connections(
        args.max_connections.and_then(|n| usize::try_from(n).ok()),
        open_files,
    );
    // Tokens are counted, never shown.
    let (tokens, oauth_issuer) = auth.summary();
    tracing::info!(
        url = %format!("http://{addr}/mcp"),
        tokens,
        oauth_issuer,
        max_connections,
        open_files,
        read_only = tools.read_only,
        extra_allowed_hosts = ?args.allowed_hosts,
        allowed_origins = ?args.allowed_origins,
        base_url = %config.base_url,
        "serving MCP over Streamable HTTP"
    );
    ready(addr);

    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        // hyper's one timer for a head starts when it waits for one: between requests too, so
        // it is the idle timeout; the head itself has `read_timeout` (conn::HeadTimed).
        .header_read_timeout(idle)
        .max_buf_size(conn::MAX_BUF)
        .keep_alive(true);
    let connections = TaskTracker::new();
    let stop_accepting = CancellationToken::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    let signal = shutdown::signal();
    tokio::pin!(signal);
    loop {
        // Past the cap, connections wait in the kernel's backlog, costing this process nothing.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors, most likely: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let _ = tcp.set_nodelay(true);
        let (worker, handle, seat) = workers.seat();
        let served = Connection {
            peer,
            router: routers[worker].clone(),
            http1: http1.clone(),
            read_timeout,
            stop: stop_accepting.clone(),
        };
        if worker == 0 {
            connections.spawn(async move {
                let _held = (slot, seat);
                served.serve(tcp).await;
            });
            continue;
        }
        // To another worker: the socket leaves this runtime's reactor and joins that one's.
        match tcp.into_std() {
            Ok(tcp) => {
                connections.spawn_on(
                    async move {
                        let _held = (slot, seat);
                        match tokio::net::TcpStream::from_std(tcp) {
                            Ok(tcp) => served.serve(tcp).await,
                            Err(e) => tracing::warn!("could not hand a connection over: {e}"),
                        }
                    },
                    handle,
                );
            }
            Err(e) => tracing::warn!("could not hand a connection over: {e}"),
        }
    }

    drop(listener);
    stop_accepting.cancel();
    connections.close();
    tracing::info!(
        connections = connections.len(),
        "stopped accepting; letting calls in flight finish"
    );
    if tokio::time::timeout(GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::info!("grace period over: cutting short the calls still in flight");
        calls_stop.cancel();
        if tokio::time::timeout(FLUSH, connections.wait())
            .await
            .is_err()
        {
            rmcp_stop.cancel();
            let _ = tokio::time::timeout(FLUSH, connections.wait()).await;
        }
    }
    workers.stop();
    Ok(())
}

/// One accepted connection and what serving it needs, all of it movable to its worker.
struct Connection {
    peer: SocketAddr,
    router: Router,
    http1: hyper::server::conn::http1::Builder,
    read_timeout: Duration,
    stop: CancellationToken,
}

impl Connection {
    /// Serves the connection's requests until the client closes it, it idles out, or the
    /// server stops (then the request in flight finishes first).
    async fn serve(self, tcp: tokio::net::TcpStream) {
        let Self {
            peer,
            router,
            http1,
            read_timeout,
            stop,
        } = self;
        let heads = Arc::new(conn::HeadState::default());
        let io = conn::HeadTimed::new(tcp, Arc::clone(&heads), read_timeout);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            heads.begin();
            request.extensions_mut().insert(conn::Peer(peer.ip()));
            let heads = Arc::clone(&heads);
            // A Router is always ready (its poll_ready answers Ready at once).
            let answer = router.clone().call(request);
            async move {
                let answer = answer.await;
                heads.end();
                answer
            }
        });
        let conn = http1.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served { tracing::debug!("connection ended: {e}"); }
                return;
            }
            () = stop.cancelled() => conn.as_mut().graceful_shutdown(),
        }
        let _ = conn.await;
    }
}
