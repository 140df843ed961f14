//! `GET /api/events?ticket=…[&since=<event id>]`: the JSON event stream for every workspace
//! the user belongs to.
//!
//! The socket subscribes to its workspaces' hubs first, then replays from the outbox what
//! came after `since` (a reconnecting client loses nothing that committed), then streams
//! live; anything delivered by the replay is not sent again. Clients (the role) only get
//! events marked client-visible, and of those with a post only the posts shared with them.
//!
//! Access is kept true while open (see [`super::guard`]): the socket closes at its token's
//! expiry unless renewed in band (`{"type":"auth","token":…}` → `{"type":"auth.ok",…}`),
//! closes 4401 when the user's sessions end, drops a workspace the user left (4403 once none
//! is left) and narrows to client-visible events on a demotion to client.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_http::ws::{CloseCode, CloseReason};
use actix_web::{web, HttpRequest, HttpResponse};
use copydesk_actors::protocol::close;
use copydesk_actors::workspace_hub::{visible_to_clients, Subscribe, Unsubscribe, WorkspaceHub};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::guard::{self, Bucket, Closing, Periodic, SocketAccess};
use crate::access::{RecheckSignal, Scope};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::http::upgrade;
use crate::http::websocket::{WsMessage, WsSocket};
use crate::roles::Role;
use crate::state::AppState;
use crate::store::entities::{events, posts, workspace_members};

static NEXT_SUB: AtomicU64 = AtomicU64::new(1);

/// Replay at most this many events; older gaps need the REST activity feed.
const MAX_REPLAY: u64 = 1000;

#[derive(Deserialize)]
pub struct EventsQuery {
    pub ticket: Option<String>,
    pub token: Option<String>,
    pub since: Option<Uuid>,
}

/// What a client may send on the event stream.
#[derive(Deserialize)]
#[serde(tag = "type")]
enum ClientMessage {
    #[serde(rename = "auth")]
    Auth { token: String },
}

/// The wire shape of a stored event.
pub fn event_json(e: &events::Model) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "type": e.event_type,
        "workspace_id": e.workspace_id,
        "data": e.data,
        "actor_id": e.actor_id,
        "at": e.created_at,
    })
}

fn reason(code: u16, text: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(text.to_string()),
    })
}

/// The workspaces a socket streams: for each, whether the user is a client there and, if
/// so, the posts shared with them.
struct View {
    user_id: Uuid,
    workspaces: HashMap<Uuid, Option<HashSet<Uuid>>>,
}

impl View {
    async fn load(state: &AppState, user_id: Uuid) -> Result<Self, ApiError> {
        let memberships = workspace_members::Entity::find()
            .filter(workspace_members::Column::UserId.eq(user_id))
            .all(&state.db)
            .await?;
        let mut workspaces = HashMap::new();
        for m in memberships {
            let shared = if Role::parse(&m.role) == Some(Role::Client) {
                let ids: Vec<Uuid> = posts::Entity::find()
                    .select_only()
                    .column(posts::Column::Id)
                    .filter(posts::Column::WorkspaceId.eq(m.workspace_id))
                    .filter(posts::Column::ClientVisible.eq(true))
                    .into_tuple()
                    .all(&state.db)
                    .await?;
                Some(ids.into_iter().collect())
            } else {
                None
            };
            workspaces.insert(m.workspace_id, shared);
        }
        Ok(Self {
            user_id,
            workspaces,
        })
    }

    fn scope(&self) -> Scope {
        Scope::Workspaces(self.workspaces.keys().copied().collect())
    }

    /// Whether the user may see `event` (and keeps the shared-post sets current from it).
    fn admits(&mut self, event: &serde_json::Value) -> bool {
        let Some(ws) = event["workspace_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
        else {
            return false;
        };
        let Some(entry) = self.workspaces.get_mut(&ws) else {
            return false;
        };
        // A notification is for one user (the `Recipient` audience), whatever their role.
        if event["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("notification."))
        {
            return event["data"]["user_id"].as_str() == Some(self.user_id.to_string().as_str());
        }
        let Some(shared) = entry else {
            return true;
        };
        let data = &event["data"];
        let post = data["post_id"]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok());
        if let Some(p) = post {
            match data["client_visible"].as_bool() {
                Some(true) => {
                    shared.insert(p);
                }
                Some(false) => {
                    shared.remove(&p);
                }
                None => {}
            }
        }
        visible_to_clients(event) && post.is_none_or(|p| shared.contains(&p))
    }
}

pub async fn event_socket(
    req: HttpRequest,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let access = SocketAccess::from_query(
        &state,
        &guard::TicketQuery {
            ticket: q.ticket,
            token: q.token,
        },
    )
    .await?;
    let view = View::load(&state, access.user.id).await?;
    let since_pos = match q.since {
        Some(id) => Some(
            state
                .outbox
                .position_of(id)
                .await
                .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
                .ok_or_else(|| ApiError::validation("since", "unknown event id"))?,
        ),
        None => None,
    };
    let cfg = &state.settings.collab;
    let (registration, recheck_asked) = state.sockets.register(
        access.user.id,
        RequestMeta::from_request(&req).ip,
        view.scope(),
        cfg.max_connections_per_user,
        cfg.max_connections_per_ip,
    )?;
    actix_http::ws::verify_handshake(req.head())
        .map_err(|e| ApiError::BadRequest("websocket_required", e.to_string()))?;

    let (tx, rx) = mpsc::channel::<Arc<str>>(256);
    let mut s = Stream {
        state: state.clone(),
        access,
        view,
        sub: NEXT_SUB.fetch_add(1, Ordering::Relaxed),
        tx: tx.downgrade(),
        hubs: HashMap::new(),
        registration: registration.id,
    };
    // Subscribed (and acknowledged by each hub) before the replay reads: whatever commits
    // after the replay's read reaches the socket live, and whatever the replay already sent
    // is not sent again.
    s.subscribe_all_confirmed().await;
    drop(tx);

    let mut replayed = HashSet::new();
    let mut replay: Vec<String> = Vec::new();
    if let Some(pos) = since_pos {
        let ids: Vec<Uuid> = s.view.workspaces.keys().copied().collect();
        let missed = state
            .outbox
            .read_workspaces_after(pos, &ids, MAX_REPLAY as usize)
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        for e in &missed {
            let json = serde_json::to_value(e).unwrap_or_default();
            if !s.view.admits(&json) {
                continue;
            }
            replayed.insert(e.id);
            replay.push(json.to_string());
        }
    }

    upgrade::accept(&req, move |socket| {
        crate::rt::spawn(async move {
            let _registration = registration;
            s.run(socket, replay, rx, recheck_asked, replayed).await;
        });
    })
}

struct Stream {
    state: web::Data<AppState>,
    access: SocketAccess,
    view: View,
    sub: u64,
    /// Weak, so the stream ends when every hub has let go (server shutdown).
    tx: mpsc::WeakSender<Arc<str>>,
    hubs: HashMap<Uuid, actix::Addr<WorkspaceHub>>,
    registration: u64,
}

impl Stream {
    fn subscribe_all(&mut self) {
        let Some(tx) = self.tx.upgrade() else { return };
        for (ws, shared) in &self.view.workspaces {
            let hub = self.state.collab.hub(*ws);
            hub.do_send(Subscribe {
                id: self.sub,
                tx: tx.clone(),
                is_client: shared.is_some(),
            });
            self.hubs.insert(*ws, hub);
        }
    }

    /// Like [`Self::subscribe_all`], waiting until every hub has the subscription.
    async fn subscribe_all_confirmed(&mut self) {
        let Some(tx) = self.tx.upgrade() else { return };
        for (ws, shared) in &self.view.workspaces {
            let hub = self.state.collab.hub(*ws);
            let _ = hub
                .send(Subscribe {
                    id: self.sub,
                    tx: tx.clone(),
                    is_client: shared.is_some(),
                })
                .await;
            self.hubs.insert(*ws, hub);
        }
    }

    fn unsubscribe_all(&mut self) {
        for (_, hub) in self.hubs.drain() {
            hub.do_send(Unsubscribe { id: self.sub });
        }
    }

    async fn run(
        mut self,
        socket: WsSocket,
        replay: Vec<String>,
        mut rx: mpsc::Receiver<Arc<str>>,
        recheck_asked: RecheckSignal,
        mut replayed: HashSet<Uuid>,
    ) {
        let cfg = self.state.settings.collab.clone();
        let WsSocket {
            reader: mut stream,
            writer: mut ws,
        } = socket.max_size(64 * 1024);
        // What the client missed (`since`) goes first; live events queue meanwhile.
        for text in replay {
            if ws.text(text).await.is_err() {
                self.unsubscribe_all();
                return;
            }
        }
        let mut periodic = Periodic::new(
            Duration::from_secs(cfg.heartbeat_secs),
            Duration::from_secs(cfg.recheck_secs),
        );
        let timer = tokio::time::sleep_until(periodic.next());
        tokio::pin!(timer);
        let mut deadline = self.state.clock.sleep_until(self.access.expires_at);
        let mut bucket = Bucket::new(cfg.max_messages_per_sec);
        let close_reason = loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(text) => {
                        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                        if !replayed.is_empty() {
                            let id = v["id"].as_str().and_then(|s| s.parse::<Uuid>().ok());
                            if id.is_some_and(|id| replayed.remove(&id)) {
                                continue;
                            }
                        }
                        if !self.view.admits(&v) {
                            continue;
                        }
                        if ws.text(text.to_string()).await.is_err() { break None; }
                    }
                    None => break reason(close::GOING_AWAY, "server shutting down"),
                },
                msg = stream.next() => match msg {
                    Some(Ok(WsMessage::Ping(p))) => { if ws.pong(&p).await.is_err() { break None; } }
                    Some(Ok(WsMessage::Pong(_))) => {}
                    Some(Ok(WsMessage::Text(t))) => {
                        if !bucket.take() {
                            break reason(close::POLICY, "too many messages; slow down");
                        }
                        match serde_json::from_str::<ClientMessage>(&t) {
                            Ok(ClientMessage::Auth { token }) => match Box::pin(self.access.renew(&self.state, &token)).await {
                                Ok(()) => {
                                    deadline = self.state.clock.sleep_until(self.access.expires_at);
                                    let ok = serde_json::json!({ "type": "auth.ok", "expires_at": self.access.expires_at });
                                    if ws.text(ok.to_string()).await.is_err() { break None; }
                                }
                                Err((code, text)) => break reason(code, text),
                            },
                            Err(e) => break reason(close::INVALID_PAYLOAD, &format!("unknown message: {e}")),
                        }
                    }
                    Some(Ok(WsMessage::Binary(_))) => break reason(close::UNSUPPORTED, "the event stream speaks JSON text frames"),
                    Some(Ok(WsMessage::Close(_))) | None => break None,
                    Some(Err(_)) => break reason(close::INVALID_PAYLOAD, "malformed frame"),
                },
                _ = &mut deadline => break reason(guard::EXPIRED.0, guard::EXPIRED.1),
                _ = recheck_asked.requested() => {
                    if let Some((code, text)) = Box::pin(self.recheck()).await { break reason(code, text); }
                }
                _ = &mut timer => {
                    let due = periodic.due(tokio::time::Instant::now());
                    timer.as_mut().reset(periodic.next());
                    if due.recheck {
                        if let Some((code, text)) = Box::pin(self.recheck()).await { break reason(code, text); }
                    }
                    if due.ping && ws.ping(b"").await.is_err() { break None; }
                }
            }
        };
        self.unsubscribe_all();
        let _ = ws.close(close_reason).await;
    }

    /// Re-reads the user's sessions and memberships; `Some` when the socket must close.
    async fn recheck(&mut self) -> Option<Closing> {
        match self.access.recheck_user(&self.state).await {
            Ok(()) => {}
            Err(Some(c)) => return Some(c),
            Err(None) => return None,
        }
        let view = match View::load(&self.state, self.access.user.id).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "event socket re-check failed; keeping it for now");
                return None;
            }
        };
        let had_any = !self.view.workspaces.is_empty();
        // Leave what was lost; (re)subscribe the rest — a Subscribe with the same id replaces
        // the old one, so a role change takes effect without a gap.
        let lost: Vec<Uuid> = self
            .hubs
            .keys()
            .filter(|ws| !view.workspaces.contains_key(ws))
            .copied()
            .collect();
        for ws in lost {
            if let Some(hub) = self.hubs.remove(&ws) {
                hub.do_send(Unsubscribe { id: self.sub });
            }
        }
        self.view = view;
        self.subscribe_all();
        self.state
            .sockets
            .set_scope(self.registration, self.view.scope());
        if had_any && self.view.workspaces.is_empty() {
            return Some((
                close::ACCESS_LOST,
                "you are no longer a member of any workspace",
            ));
        }
        None
    }
}
