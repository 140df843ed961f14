//! `WorkspaceHub`: one actor per active workspace. It starts and unloads the workspace's
//! post sessions, keeps presence (who has which post open), and fans the workspace's events
//! out to `/api/events` sockets on this node.
//!
//! Domain events reach the hub from the node's live outbox tail ([`DeliverEvent`]), in
//! commit order; presence travels on the bus topic `events:<workspace_id>`, so every node's
//! sockets see every node's viewers.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::ports::BusMessage;
use crate::post_session::{Discard, PostSession, SessionDeps, SessionOwner, Shutdown};
pub use crate::post_session::{PresenceChanged, SessionIdle};

/// What an event socket receives: one JSON event, shared between sockets.
pub type EventTx = mpsc::Sender<Arc<str>>;

/// Gets (starting it if needed) the session of a post.
#[derive(Message)]
#[rtype(result = "Addr<PostSession>")]
pub struct GetSession {
    pub post_id: Uuid,
    /// Where to start the session if it is not running: the asker's own thread.
    pub near: Option<ArbiterHandle>,
}

/// An event socket wants this workspace's events. `is_client` sockets only get events
/// marked client-visible.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub id: u64,
    pub tx: EventTx,
    pub is_client: bool,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub id: u64,
}

/// A post is gone, or this workspace is (`post_id` None): close the sessions at once with
/// `code` and write nothing more for them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DiscardSessions {
    pub post_id: Option<Uuid>,
    pub code: u16,
    pub reason: String,
}

/// A committed domain event for this workspace (read from the outbox by the node's live
/// tail, in commit order): fan it out to this node's event sockets.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DeliverEvent(pub Arc<str>);

/// Stops every session after flushing (server shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownAll;

struct Subscriber {
    tx: EventTx,
    is_client: bool,
}

pub struct WorkspaceHub {
    workspace_id: Uuid,
    deps: SessionDeps,
    arbiters: Arc<Vec<ArbiterHandle>>,
    sessions: HashMap<Uuid, Addr<PostSession>>,
    subscribers: HashMap<u64, Subscriber>,
}

/// Whether a client (the role) may see an event: only events whose data says so at the
/// top level (`client_visible: true` for post events; `visibility: "client"` for comment
/// events, which the server sets only for a client comment on a shared post), plus presence.
pub fn visible_to_clients(event: &serde_json::Value) -> bool {
    let data = &event["data"];
    // Notifications go to one user whatever their role; the socket checks it is theirs.
    event["type"] == "presence"
        || event["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("notification."))
        || data["client_visible"] == true
        || data["visibility"] == "client"
}

impl WorkspaceHub {
    pub fn new(workspace_id: Uuid, deps: SessionDeps, arbiters: Arc<Vec<ArbiterHandle>>) -> Self {
        Self {
            workspace_id,
            deps,
            arbiters,
            sessions: HashMap::new(),
            subscribers: HashMap::new(),
        }
    }

    fn fan_out(&mut self, raw: &[u8]) {
        let Ok(text) = std::str::from_utf8(raw) else {
            return;
        };
        let for_clients = self.subscribers.values().any(|s| s.is_client)
            && serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| visible_to_clients(&v));
        let shared: Arc<str> = text.into();
        self.subscribers.retain(|_, s| {
            if s.is_client && !for_clients {
                return true;
            }
            // A socket that cannot keep up is dropped; it reconnects with `?since=`.
            s.tx.try_send(shared.clone()).is_ok()
        });
    }
}

impl Actor for WorkspaceHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let bus = self.deps.bus.clone();
        let topic = format!("events:{}", self.workspace_id);
        ctx.wait(async move { bus.subscribe(&topic).await }.into_actor(self).map(|res, act, ctx| match res {
            Ok(stream) => {
                ctx.add_stream(stream);
            }
            Err(e) => tracing::warn!(workspace_id = %act.workspace_id, error = %e, "event bus unavailable"),
        }));
    }
}

impl StreamHandler<BusMessage> for WorkspaceHub {
    fn handle(&mut self, msg: BusMessage, _ctx: &mut Context<Self>) {
        self.fan_out(&msg);
    }
}

impl Handler<GetSession> for WorkspaceHub {
    type Result = MessageResult<GetSession>;

    fn handle(&mut self, msg: GetSession, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.sessions.get(&msg.post_id).filter(|a| a.connected()) {
            return MessageResult(addr.clone());
        }
        // On the asker's thread if it has one that is still running (see `Collab`); else
        // spread documents over the dedicated arbiters. A document stays on one thread.
        let spread = &self.arbiters[(msg.post_id.as_u128() % self.arbiters.len() as u128) as usize];
        let arbiter = match &msg.near {
            Some(near) if near.spawn(async {}) => near,
            _ => spread,
        };
        let hub = ctx.address();
        let owner = SessionOwner {
            idle: hub.clone().recipient(),
            presence: hub.recipient(),
        };
        let (post_id, deps) = (msg.post_id, self.deps.clone());
        let addr =
            PostSession::start_in_arbiter(arbiter, move |_| PostSession::new(post_id, owner, deps));
        self.sessions.insert(msg.post_id, addr.clone());
        MessageResult(addr)
    }
}

impl Handler<SessionIdle> for WorkspaceHub {
    type Result = ();

    fn handle(&mut self, msg: SessionIdle, _ctx: &mut Context<Self>) {
        if self.sessions.get(&msg.post_id) == Some(&msg.addr) {
            self.sessions.remove(&msg.post_id);
            msg.addr.do_send(Shutdown);
        }
    }
}

impl Handler<PresenceChanged> for WorkspaceHub {
    type Result = ();

    fn handle(&mut self, msg: PresenceChanged, ctx: &mut Context<Self>) {
        let event = serde_json::json!({
            "id": Uuid::now_v7(),
            "type": "presence",
            "workspace_id": self.workspace_id,
            "data": { "post_id": msg.post_id, "node_id": self.deps.node_id, "users": msg.users },
            "at": chrono::Utc::now(),
        });
        let bytes = serde_json::to_vec(&event).unwrap_or_default();
        let bus = self.deps.bus.clone();
        let topic = format!("events:{}", self.workspace_id);
        // Published on the bus, this node's hub included, so every node sees it once.
        ctx.spawn(
            async move {
                let _ = bus.publish(&topic, bytes).await;
            }
            .into_actor(self),
        );
    }
}

impl Handler<Subscribe> for WorkspaceHub {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) {
        self.subscribers.insert(
            msg.id,
            Subscriber {
                tx: msg.tx,
                is_client: msg.is_client,
            },
        );
    }
}

impl Handler<Unsubscribe> for WorkspaceHub {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Context<Self>) {
        self.subscribers.remove(&msg.id);
    }
}

impl Handler<DeliverEvent> for WorkspaceHub {
    type Result = ();

    fn handle(&mut self, msg: DeliverEvent, _ctx: &mut Context<Self>) {
        self.fan_out(msg.0.as_bytes());
    }
}

impl Handler<DiscardSessions> for WorkspaceHub {
    type Result = ();

    fn handle(&mut self, msg: DiscardSessions, _ctx: &mut Context<Self>) {
        let doomed: Vec<Addr<PostSession>> = match msg.post_id {
            Some(id) => self.sessions.remove(&id).into_iter().collect(),
            None => self.sessions.drain().map(|(_, a)| a).collect(),
        };
        for s in doomed {
            s.do_send(Discard {
                code: msg.code,
                reason: msg.reason.clone(),
            });
        }
    }
}

impl Handler<ShutdownAll> for WorkspaceHub {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: ShutdownAll, _ctx: &mut Context<Self>) -> Self::Result {
        let sessions: Vec<_> = self.sessions.drain().map(|(_, a)| a).collect();
        // Event sockets end too (their queue closes), so the HTTP server can stop at once.
        self.subscribers.clear();
        Box::pin(async move {
            for s in sessions {
                let _ = s.send(Shutdown).await;
            }
        })
    }
}
