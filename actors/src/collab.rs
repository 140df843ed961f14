//! `Collab`: the entry point the server uses — finds or starts a workspace's hub and, through
//! it, a post's session. Hubs run on one arbiter; sessions are spread over several.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use uuid::Uuid;

use crate::post_session::{PostSession, SessionDeps};
use crate::workspace_hub::{GetSession, ShutdownAll, WorkspaceHub};

#[derive(Clone)]
pub struct Collab {
    inner: Arc<Inner>,
}

struct Inner {
    deps: SessionDeps,
    hubs: Mutex<HashMap<Uuid, Addr<WorkspaceHub>>>,
    hub_arbiter: ArbiterHandle,
    session_arbiters: Arc<Vec<ArbiterHandle>>,
    // Keeps the arbiters' threads alive as long as Collab lives.
    _arbiters: Vec<Arbiter>,
}

impl Collab {
    /// Must be called inside a running actix `System`. `threads` arbiters run sessions.
    pub fn new(deps: SessionDeps, threads: usize) -> Self {
        let arbiters: Vec<Arbiter> = (0..threads.max(1) + 1).map(|_| Arbiter::new()).collect();
        let hub_arbiter = arbiters[0].handle();
        let session_arbiters = Arc::new(arbiters[1..].iter().map(Arbiter::handle).collect());
        Self {
            inner: Arc::new(Inner {
                deps,
                hubs: Mutex::new(HashMap::new()),
                hub_arbiter,
                session_arbiters,
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
        self.hub(workspace_id).send(GetSession { post_id }).await
    }

    /// Flushes and stops every session (SIGTERM).
    pub async fn shutdown(&self) {
        let hubs: Vec<_> = self.inner.hubs.lock().unwrap().values().cloned().collect();
        for h in hubs {
            let _ = h.send(ShutdownAll).await;
        }
    }
}
