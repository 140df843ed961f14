//! `GET /api/events?token=…[&since=<event id>]`: the JSON event stream for every workspace
//! the user belongs to.
//!
//! The socket subscribes to its workspaces' hubs first, then replays from the outbox what
//! came after `since` (a reconnecting client loses nothing that committed), then streams
//! live; anything delivered by the replay is not sent again. Clients (the role) only get
//! events marked client-visible.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::AggregatedMessage;
use copydesk_actors::workspace_hub::{visible_to_clients, Subscribe, Unsubscribe};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::extract::authenticate;
use crate::error::ApiError;
use crate::roles::Role;
use crate::state::AppState;
use crate::store::entities::{events, workspace_members};

static NEXT_SUB: AtomicU64 = AtomicU64::new(1);

/// Replay at most this many events; older gaps need the REST activity feed.
const MAX_REPLAY: u64 = 1000;

#[derive(Deserialize)]
pub struct EventsQuery {
    pub token: Option<String>,
    pub since: Option<Uuid>,
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

pub async fn event_socket(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<EventsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = query
        .token
        .as_deref()
        .ok_or_else(ApiError::unauthenticated)?;
    let user = authenticate(&state, token).await?;
    let memberships = workspace_members::Entity::find()
        .filter(workspace_members::Column::UserId.eq(user.id))
        .all(&state.db)
        .await?;
    let since_seq = match query.since {
        Some(id) => events::Entity::find()
            .filter(events::Column::Id.eq(id))
            .one(&state.db)
            .await?
            .map(|e| e.seq)
            .ok_or_else(|| ApiError::validation("since", "unknown event id"))
            .map(Some)?,
        None => None,
    };
    let (res, mut ws, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::BadRequest("websocket_required", e.to_string()))?;

    let (tx, mut rx) = mpsc::channel::<Arc<str>>(256);
    let sub = NEXT_SUB.fetch_add(1, Ordering::Relaxed);
    let mut client_of = HashSet::new();
    let mut hubs = Vec::new();
    for m in &memberships {
        let is_client = Role::parse(&m.role) == Some(Role::Client);
        if is_client {
            client_of.insert(m.workspace_id);
        }
        let hub = state.collab.hub(m.workspace_id);
        hub.do_send(Subscribe {
            id: sub,
            tx: tx.clone(),
            is_client,
        });
        hubs.push(hub);
    }
    drop(tx);

    let mut replayed = HashSet::new();
    if let Some(seq) = since_seq {
        let ids: Vec<Uuid> = memberships.iter().map(|m| m.workspace_id).collect();
        let missed = events::Entity::find()
            .filter(events::Column::WorkspaceId.is_in(ids))
            .filter(events::Column::Seq.gt(seq))
            .order_by_asc(events::Column::Seq)
            .limit(MAX_REPLAY)
            .all(&state.db)
            .await?;
        for e in &missed {
            let json = event_json(e);
            let ws_id = e.workspace_id.unwrap_or_default();
            if client_of.contains(&ws_id) && !visible_to_clients(&json) {
                continue;
            }
            replayed.insert(e.id);
            if ws.text(json.to_string()).await.is_err() {
                break;
            }
        }
    }

    let heartbeat_every = Duration::from_secs(state.settings.collab.heartbeat_secs);
    actix_web::rt::spawn(async move {
        let mut stream = stream.max_frame_size(64 * 1024).aggregate_continuations();
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(text) => {
                        if !replayed.is_empty() {
                            let id = serde_json::from_str::<serde_json::Value>(&text)
                                .ok()
                                .and_then(|v| v["id"].as_str().and_then(|s| s.parse::<Uuid>().ok()));
                            if id.is_some_and(|id| replayed.remove(&id)) {
                                continue;
                            }
                        }
                        if ws.text(text.to_string()).await.is_err() { break; }
                    }
                    None => break,
                },
                msg = stream.next() => match msg {
                    Some(Ok(AggregatedMessage::Ping(p))) => { if ws.pong(&p).await.is_err() { break; } }
                    Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
                _ = heartbeat.tick() => { if ws.ping(b"").await.is_err() { break; } }
            }
        }
        for hub in hubs {
            hub.do_send(Unsubscribe { id: sub });
        }
        let _ = ws.close(None).await;
    });
    Ok(res)
}
