//! What every tool call runs inside: it ends at once when the client cancels the call or the
//! server shuts down, and a panic in it (a bug) is answered instead of leaving the client waiting.
//!
//! Both are plain futures, not `async fn`s. An `async fn` that takes a future by value keeps that
//! argument in its state beside the future it awaits (rustc stores an async fn's arguments apart
//! from its locals), so the two wrappers, as `async fn`s, held a tool's work three times: a
//! cancel's future was 8.5 KB where its work was 2.8 KB (`-Zprint-type-sizes`, a debug build),
//! and rmcp copies that future into a box and a task on every call.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::FutureExt as _;
use futures::future::CatchUnwind;
use rmcp::model::{CallToolResult, RequestId};
use tokio_util::sync::WaitForCancellationFuture;

/// A tool's work until it ends, the client cancels the call (`client_gone`) or the server shuts
/// down (`shutdown`), in that order of precedence.
pub(crate) fn until_cancelled<'a, T, F>(
    request: &'a RequestId,
    client_gone: WaitForCancellationFuture<'a>,
    shutdown: WaitForCancellationFuture<'a>,
    work: F,
) -> UntilCancelled<'a, F>
where
    T: From<CallToolResult>,
    F: Future<Output = T>,
{
    UntilCancelled {
        request,
        client_gone,
        shutdown,
        work: AnswerEvenOnPanic::new(work),
    }
}

pin_project_lite::pin_project! {
    /// See [`until_cancelled`].
    pub(crate) struct UntilCancelled<'a, F> {
        request: &'a RequestId,
        #[pin]
        client_gone: WaitForCancellationFuture<'a>,
        #[pin]
        shutdown: WaitForCancellationFuture<'a>,
        #[pin]
        work: AnswerEvenOnPanic<F>,
    }
}

impl<T, F> Future for UntilCancelled<'_, F>
where
    T: From<CallToolResult>,
    F: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.project();
        if this.client_gone.poll(cx).is_ready() {
            // rmcp sends no answer to a call the client cancelled; this is for the log.
            tracing::debug!(request = ?this.request, "call cancelled by the client");
            return Poll::Ready(T::from(super::error_result(
                "The call was cancelled by the client.".to_owned(),
            )));
        }
        if this.shutdown.poll(cx).is_ready() {
            return Poll::Ready(T::from(super::error_result(
                "The server is shutting down; the call was cut short.".to_owned(),
            )));
        }
        this.work.poll(cx)
    }
}

pin_project_lite::pin_project! {
    /// A tool's work, with a panic in it turned into an `isError` result. The panic's own message
    /// goes where Rust's default hook puts it, stderr: never stdout, which carries only the
    /// protocol.
    pub(crate) struct AnswerEvenOnPanic<F> {
        #[pin]
        work: CatchUnwind<AssertUnwindSafe<F>>,
    }
}

impl<F: Future> AnswerEvenOnPanic<F> {
    pub(crate) fn new(work: F) -> Self {
        Self {
            work: AssertUnwindSafe(work).catch_unwind(),
        }
    }
}

impl<T, F> Future for AnswerEvenOnPanic<F>
where
    T: From<CallToolResult>,
    F: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.project().work.poll(cx).map(|outcome| match outcome {
            Ok(result) => result,
            Err(panic) => T::from(panicked(&*panic)),
        })
    }
}

fn panicked(panic: &(dyn Any + Send)) -> CallToolResult {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a tool call panicked");
    super::error_result(
        "Internal error in msgbatch-mcp while handling this call (a bug: please report it with \
         the server's log). The server is still running; if this was a cancel, check the batch \
         with get_message_batch."
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    fn text(r: &CallToolResult) -> String {
        r.content[0]
            .as_text()
            .map(|t| t.text.clone())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_panicking_call_is_answered_with_an_error() {
        let r: CallToolResult = AnswerEvenOnPanic::new(async { panic!("boom") }).await;
        assert_eq!(r.is_error, Some(true));
        assert!(text(&r).starts_with("Internal error"), "{}", text(&r));
        assert!(!text(&r).contains("boom"), "{}", text(&r));
        let ok: CallToolResult =
            AnswerEvenOnPanic::new(async { super::super::error_result("fine".into()) }).await;
        assert_eq!(text(&ok), "fine");
    }

    /// The client's cancel wins over a shutdown, and both over work that never ends; work that
    /// ends is answered as it is.
    #[tokio::test]
    async fn the_client_then_the_shutdown_then_the_work() {
        let id = RequestId::Number(1);
        let (client, shutdown) = (CancellationToken::new(), CancellationToken::new());
        let never = std::future::pending::<CallToolResult>;
        shutdown.cancel();
        let r = until_cancelled(&id, client.cancelled(), shutdown.cancelled(), never()).await;
        assert!(text(&r).contains("shutting down"), "{}", text(&r));
        client.cancel();
        let r = until_cancelled(&id, client.cancelled(), shutdown.cancelled(), never()).await;
        assert!(text(&r).contains("cancelled by the client"), "{}", text(&r));
        let (client, shutdown) = (CancellationToken::new(), CancellationToken::new());
        let done = async { CallToolResult::success(Vec::new()) };
        let r = until_cancelled(&id, client.cancelled(), shutdown.cancelled(), done).await;
        assert_eq!(r.is_error, Some(false));
    }

    /// The point of the module: the wrappers add a few words to the work, not copies of it.
    #[test]
    fn the_work_is_held_once() {
        let id = RequestId::Number(1);
        let token = CancellationToken::new();
        let big = [0u8; 4096];
        let work = async move {
            tokio::task::yield_now().await;
            CallToolResult::success(vec![rmcp::model::ContentBlock::text(format!("{}", big[0]))])
        };
        let alone = std::mem::size_of_val(&work);
        let wrapped = until_cancelled(&id, token.cancelled(), token.cancelled(), work);
        assert!(
            std::mem::size_of_val(&wrapped) < alone + 1024,
            "{} bytes around {alone}",
            std::mem::size_of_val(&wrapped)
        );
    }
}
