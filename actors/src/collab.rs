//! `Collab`: the entry point the server uses — finds or starts a workspace's hub and, through
//! it, a post's session. Hubs run on one arbiter. A session runs either on the thread that
//! asked for it first (the HTTP worker holding its first socket: the socket's frames and
//! the session's answers then pass no thread boundary) or, when the server is given a
//! number of session threads, spread over that many dedicated arbiters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use uuid::Uuid;

use crate::post_session::{PostSession, SessionDeps};
use crate::workspace_hub::{DeliverEvent, DiscardSessions, GetSession, ShutdownAll, WorkspaceHub};

#[derive(Clone)]
pub struct Collab {
    inner: Arc<Inner>,
}

struct Inner {
    deps: SessionDeps,
    hubs: Mutex<HashMap<Uuid, Addr<WorkspaceHub>>>,
    hub_arbiter: ArbiterHandle,
    session_arbiters: Arc<Vec<ArbiterHandle>>,
    /// Start sessions on the caller's arbiter (when it has one).
    colocate: bool,
    // Keeps the arbiters' threads alive as long as Collab lives.
    _arbiters: Vec<Arbiter>,
}

impl Collab {
    /// Must be called inside a running actix `System`. `Some(n)`: `n` dedicated arbiters run
    /// the sessions, spread by post id. `None`: a session runs on the arbiter of whoever
    /// first asked for it (one dedicated arbiter serves callers outside any arbiter).
    pub fn new(deps: SessionDeps, threads: Option<usize>) -> Self {
        let colocate = threads.is_none();
        let n = threads.unwrap_or(1).max(1);
        let arbiters: Vec<Arbiter> = (0..n + 1).map(|_| Arbiter::new()).collect();
        // The threads live as long as the system that started them: when it stops (the
        // process, or a test's server) this task is dropped and stops them too.
        struct StopOnDrop(Vec<ArbiterHandle>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                for a in &self.0 {
                    a.stop();
                }
            }
        }
        let guard = StopOnDrop(arbiters.iter().map(Arbiter::handle).collect());
        actix::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let hub_arbiter = arbiters[0].handle();
        let session_arbiters = Arc::new(arbiters[1..].iter().map(Arbiter::handle).collect());
        Self {
            inner: Arc::new(Inner {
                deps,
                hubs: Mutex::new(HashMap::new()),
                hub_arbiter,
                session_arbiters,
                colocate,
                _arbiters: arbiters,
            }),
        }
    }

    pub fn deps(&self) -> &SessionDeps {
        &self.inner.deps
    }

    pub fn hub(&self, workspace_id: Uuid) -> Addr<WorkspaceHub> {
        let mut hubs = self.inner.hubs.lock().unwrap();
        if let Some(h) = hubs.get(&workspace_id).filter(|h| h.connected()) {
            return h.clone();
        }
        let (deps, arbiters) = (self.inner.deps.clone(), self.inner.session_arbiters.clone());
        let addr = WorkspaceHub::start_in_arbiter(&self.inner.hub_arbiter, move |_| {
            WorkspaceHub::new(workspace_id, deps, arbiters)
        });
        hubs.insert(workspace_id, addr.clone());
        addr
    }

    pub async fn session(
        &self,
        workspace_id: Uuid,
        post_id: Uuid,
    ) -> Result<Addr<PostSession>, MailboxError> {
        let near = if self.inner.colocate {
            Arbiter::try_current()
        } else {
            None
        };
        self.hub(workspace_id)
            .send(GetSession { post_id, near })
            .await
    }

    /// Hands a committed event to the workspace's hub on this node, if it has one (no hub:
    /// nobody here is listening).
    pub fn deliver_event(&self, workspace_id: Uuid, event: Arc<str>) {
        let hub = self.inner.hubs.lock().unwrap().get(&workspace_id).cloned();
        if let Some(h) = hub.filter(|h| h.connected()) {
            h.do_send(DeliverEvent(event));
        }
    }

    /// Closes a deleted post's session on this node (if it has one), or every session of a
    /// deleted workspace (`post_id` None), without writing anything more for them.
    pub fn discard(&self, workspace_id: Uuid, post_id: Option<Uuid>, code: u16, reason: &str) {
        let hub = self.inner.hubs.lock().unwrap().get(&workspace_id).cloned();
        if let Some(h) = hub {
            h.do_send(DiscardSessions {
                post_id,
                code,
                reason: reason.to_string(),
            });
        }
        if post_id.is_none() {
            self.inner.hubs.lock().unwrap().remove(&workspace_id);
        }
    }

    /// Flushes and stops every session (SIGTERM), giving up after `deadline`: a document
    /// whose storage is gone must not keep the process alive.
    pub async fn shutdown(&self, deadline: std::time::Duration) {
        let hubs: Vec<_> = self.inner.hubs.lock().unwrap().values().cloned().collect();
        let all = async {
            for h in hubs {
                let _ = h.send(ShutdownAll).await;
            }
        };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!("live documents did not all flush before the shutdown deadline");
        }
    }
}
