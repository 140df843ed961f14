//! Named outbox consumers: the registry, and redelivery of parked events.
//!
//! A consumer is a name and an [`EventHandler`]. Every node starts an `OutboxConsumer` per
//! name (see `jobs::Work::start`); the lease makes one of them the reader at a time.
//! Notifications, webhooks and analytics register here as they arrive.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use copydesk_actors::ports::{ClaimedJob, EventHandler, JobHandler, OutboxEvent};
use sea_orm::{DatabaseConnection, FromQueryResult};
use uuid::Uuid;

use crate::jobs::store::stmt;

/// Consumers by name.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn EventHandler>>,
}

impl Registry {
    pub fn add(&mut self, name: &str, handler: Arc<dyn EventHandler>) {
        self.handlers.insert(name.to_string(), handler);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn EventHandler>> {
        self.handlers.get(name).cloned()
    }

    pub fn all(&self) -> Vec<(String, Arc<dyn EventHandler>)> {
        let mut v: Vec<_> = self
            .handlers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[derive(FromQueryResult)]
struct Row {
    seq: i64,
    txid: i64,
    id: Uuid,
    workspace_id: Option<Uuid>,
    event_type: String,
    data: serde_json::Value,
    actor_id: Option<Uuid>,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// The `outbox.redeliver` job: hands one parked event to its consumer again.
pub struct Redeliver {
    pub db: DatabaseConnection,
    pub registry: Registry,
}

#[async_trait]
impl JobHandler for Redeliver {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        let consumer = job.payload["consumer"].as_str().unwrap_or_default();
        let event_id: Uuid = job.payload["event_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or("the job has no event_id")?;
        let handler = self
            .registry
            .get(consumer)
            .ok_or_else(|| format!("no consumer named {consumer:?} on this node"))?;
        let row = Row::find_by_statement(stmt(
            &self.db,
            "SELECT seq, txid, id, workspace_id, \"type\" AS event_type, data, actor_id, created_at FROM events WHERE id = $1",
            vec![event_id.into()],
        ))
        .one(&self.db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the event is no longer in the outbox")?;
        let event = OutboxEvent {
            id: row.id,
            txid: row.txid,
            seq: row.seq,
            event_type: row.event_type,
            workspace_id: row.workspace_id,
            data: row.data,
            actor_id: row.actor_id,
            at: row.created_at,
        };
        handler.handle(&event).await
    }
}
