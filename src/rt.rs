//! Tasks on an actix thread whose leftovers are dropped inside a Tokio runtime.
//!
//! An actix thread (an HTTP worker, the system's own) runs its tasks on a `LocalSet` that is
//! torn down *before* the thread's runtime, outside any runtime context. A task still running
//! then — an open socket's loop, a request cut off by the shutdown timeout, a background
//! loop — is dropped there, and whatever it held that spawns on drop panics: a pooled sqlx
//! connection ("this functionality requires a Tokio context"), lettre's SMTP pool. A second
//! such panic while unwinding aborts the process (seen at a test server's shutdown).
//!
//! [`Entered`] wraps a future and, when dropped, enters the runtime it was created on before
//! dropping what it holds; [`spawn`] spawns a task wrapped so, and [`entered`] is the
//! middleware that wraps every request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tokio::runtime::Handle;

/// A future dropped inside the runtime it was made on (see the module docs).
pub struct Entered<F> {
    fut: Option<Pin<Box<F>>>,
    rt: Handle,
}

impl<F> Entered<F> {
    /// Wraps `fut`; must be called on a runtime thread.
    pub fn new(fut: F) -> Self {
        Self {
            fut: Some(Box::pin(fut)),
            rt: Handle::current(),
        }
    }
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let fut = self
            .fut
            .as_mut()
            .expect("an Entered future is polled only until it completes");
        let out = fut.as_mut().poll(cx);
        if out.is_ready() {
            self.fut = None;
        }
        out
    }
}

impl<F> Drop for Entered<F> {
    fn drop(&mut self) {
        if let Some(fut) = self.fut.take() {
            // Entering a runtime that is already shutting down is allowed: whatever the drop
            // spawns is then cancelled by that shutdown instead of panicking here.
            let _inside = self.rt.enter();
            drop(fut);
        }
    }
}

/// `actix_web::rt::spawn`, with the task dropped inside its runtime if it is cut off.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    actix_web::rt::spawn(Entered::new(fut))
}

/// Middleware: every request's future is dropped inside the worker's runtime, also when the
/// shutdown timeout cuts it off.
pub async fn entered(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    Entered::new(next.call(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// Records whether a runtime context existed when it was dropped.
    struct Probe(Arc<AtomicBool>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0
                .store(Handle::try_current().is_ok(), Ordering::SeqCst);
        }
    }

    fn cut_off_task(wrap: bool) -> bool {
        let seen = Arc::new(AtomicBool::new(false));
        let probe = Probe(seen.clone());
        let rt = actix_web::rt::Runtime::new().unwrap();
        rt.block_on(async move {
            let task = async move {
                let _held = probe;
                std::future::pending::<()>().await;
            };
            if wrap {
                spawn(task);
            } else {
                actix_web::rt::spawn(task);
            }
            tokio::task::yield_now().await;
        });
        // The runtime (and its LocalSet with the still-pending task) goes away here, as an
        // HTTP worker's does at shutdown.
        drop(rt);
        seen.load(Ordering::SeqCst)
    }

    #[test]
    fn a_task_cut_off_at_shutdown_is_dropped_inside_its_runtime() {
        assert!(
            !cut_off_task(false),
            "the premise: a bare task is dropped outside any runtime"
        );
        assert!(cut_off_task(true));
    }
}
