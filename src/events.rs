//! The event outbox and the audit log.
//!
//! Every state change calls [`record`] inside its own transaction: the domain event (for
//! live sockets, webhooks and notifications) and the audit row (who, what, when, from which
//! IP) commit or roll back with the change itself, so nothing is announced that did not
//! happen. After commit, [`announce`] pushes the committed events onto the cluster bus for
//! live delivery; consumers that were away catch up from the `events` table.

use chrono::Utc;
use copydesk_actors::ports::Bus;
use sea_orm::{ActiveModelTrait, ConnectionTrait, NotSet, Set};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::store::entities::{audit_log, events};

/// A domain event as stored and as delivered: `{type, workspace_id, data, id, at}`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub workspace_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub actor_id: Option<Uuid>,
    pub at: chrono::DateTime<Utc>,
}

/// One change: its event type (e.g. `post.updated`), the audit target, and the payload.
pub struct Change<'a> {
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub event_type: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub data: Value,
    pub meta: &'a RequestMeta,
}

/// Writes the outbox event and the audit row on `conn` (the change's transaction).
pub async fn record<C: ConnectionTrait>(conn: &C, change: Change<'_>) -> Result<Event, ApiError> {
    let now = Utc::now();
    let event = Event {
        id: Uuid::now_v7(),
        event_type: change.event_type.to_string(),
        workspace_id: change.workspace_id,
        data: change.data,
        actor_id: change.actor_id,
        at: now,
    };
    events::ActiveModel {
        seq: NotSet,
        id: Set(event.id),
        workspace_id: Set(event.workspace_id),
        event_type: Set(event.event_type.clone()),
        data: Set(event.data.clone()),
        actor_id: Set(event.actor_id),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(change.workspace_id),
        actor_id: Set(change.actor_id),
        action: Set(change.event_type.to_string()),
        target_type: Set(change.target_type.to_string()),
        target_id: Set(change.target_id),
        ip: Set(change.meta.ip.clone()),
        user_agent: Set(change.meta.user_agent.clone()),
        details: Set(event.data.clone()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(event)
}

/// Publishes committed events on the bus (`events:<workspace_id>`). Best effort: the outbox
/// row is the source of truth, and a failed publish is logged, never surfaced.
pub async fn announce(bus: &dyn Bus, events: &[Event]) {
    for e in events {
        let Some(ws) = e.workspace_id else { continue };
        let payload = serde_json::to_vec(e).unwrap_or_default();
        if let Err(err) = bus.publish(&format!("events:{ws}"), payload).await {
            tracing::warn!(error = %err, event = %e.event_type, "could not announce event");
        }
    }
}
