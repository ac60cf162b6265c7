//! rmcp's HTTP service behind an `Arc`, so that routing a request costs a reference count.
//!
//! axum clones a route's service for every request, once per layer around it, and rmcp's
//! `StreamableHttpService` clones itself again in `call`: each clone copies its whole config
//! (the allowed hosts and origins, as `Vec<String>`s). That was about six copies per request.
//! Here every clone is an `Arc` clone and the request goes straight to
//! [`StreamableHttpService::handle`], which is what rmcp's own `call` runs: same checks, same
//! answers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use rmcp::ServerHandler;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::SessionManager;

/// The one `StreamableHttpService`, shared by every request.
pub struct Shared<S, M>(Arc<StreamableHttpService<S, M>>);

impl<S, M> Shared<S, M> {
    pub fn new(service: StreamableHttpService<S, M>) -> Self {
        Self(Arc::new(service))
    }
}

impl<S, M> Clone for Shared<S, M> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S, M> tower_service::Service<Request> for Shared<S, M>
where
    S: ServerHandler + Send + 'static,
    M: SessionManager,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let service = Arc::clone(&self.0);
        Box::pin(async move { Ok(service.handle(request).await.into_response()) })
    }
}
