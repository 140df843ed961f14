//! Reading the outbox in commit order, on SQLite and PostgreSQL, and the consumers' cursors.
//!
//! Position = `(txid, seq)`. On PostgreSQL, `seq` comes from a sequence, and a sequence value
//! is not commit order: the transaction holding seq 41 may commit after the one holding 42.
//! Every event also stores its transaction id, and readers only go up to the oldest
//! transaction still running (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction
//! below it has ended, so no event can ever appear behind a position a reader has passed.
//! SQLite has one writer at a time, so `seq` is commit order and `txid` is 0.
//!
//! [`LiveTail`] is a per-node, in-memory reader that hands every new event to this node's
//! workspace hubs (the `/api/events` sockets); the durable, leased readers are
//! [`copydesk_actors::outbox_consumer::OutboxConsumer`]s on this same port.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::collab::Collab;
use copydesk_actors::ports::{Bus, Outbox, OutboxEvent, StoreError};
use futures_util::StreamExt;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, FromQueryResult, Statement, Value,
};
use tokio::sync::Notify;
use uuid::Uuid;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
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
    created_at: DateTime<Utc>,
}

impl From<Row> for OutboxEvent {
    fn from(r: Row) -> Self {
        OutboxEvent {
            id: r.id,
            txid: r.txid,
            seq: r.seq,
            event_type: r.event_type,
            workspace_id: r.workspace_id,
            data: r.data,
            actor_id: r.actor_id,
            at: r.created_at,
        }
    }
}

#[derive(FromQueryResult)]
struct Pos {
    txid: i64,
    seq: i64,
}

const COLUMNS: &str =
    "seq, txid, id, workspace_id, \"type\" AS event_type, data, actor_id, created_at";
/// Transactions below this id have all ended (PostgreSQL).
const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

#[derive(Clone)]
pub struct SqlOutbox {
    db: DatabaseConnection,
}

impl SqlOutbox {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn pg(&self) -> bool {
        self.db.get_database_backend() == DatabaseBackend::Postgres
    }

    fn stmt(&self, pg_sql: &str, values: Vec<Value>) -> Statement {
        let backend = self.db.get_database_backend();
        let sql = if backend == DatabaseBackend::Postgres {
            pg_sql.to_string()
        } else {
            sqlite_placeholders(pg_sql)
        };
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// The position of event `id`, if it exists.
    pub async fn position_of(&self, id: Uuid) -> Result<Option<(i64, i64)>, StoreError> {
        let p = Pos::find_by_statement(self.stmt(
            "SELECT txid, seq FROM events WHERE id = $1",
            vec![id.into()],
        ))
        .one(&self.db)
        .await
        .map_err(err)?;
        Ok(p.map(|p| (p.txid, p.seq)))
    }

    /// Events of `workspaces` after `after`, in commit order (the `/api/events` replay).
    pub async fn read_workspaces_after(
        &self,
        after: (i64, i64),
        workspaces: &[Uuid],
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        if workspaces.is_empty() {
            return Ok(Vec::new());
        }
        let mut values: Vec<Value> = vec![after.0.into(), after.1.into(), (limit as i64).into()];
        let list: Vec<String> = workspaces
            .iter()
            .enumerate()
            .map(|(i, w)| {
                values.push((*w).into());
                format!("${}", i + 4)
            })
            .collect();
        let sql = if self.pg() {
            format!(
                "SELECT {COLUMNS} FROM events WHERE (txid, seq) > ($1, $2) \
                 AND txid < {HORIZON} AND workspace_id IN ({}) ORDER BY txid, seq LIMIT $3",
                list.join(", ")
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM events WHERE (txid, seq) > ($1, $2) \
                 AND workspace_id IN ({}) ORDER BY txid, seq LIMIT $3",
                list.join(", ")
            )
        };
        let rows = Row::find_by_statement(self.stmt(&sql, values))
            .all(&self.db)
            .await
            .map_err(err)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// `$1, $2, …` → `?` in order of appearance, rebinding repeated numbers.
fn sqlite_placeholders(sql: &str) -> String {
    // Statement values are positional; SQLite also accepts `$N` numbered parameters (`?N`),
    // so `$N` → `?N` keeps repeated references correct.
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[async_trait]
impl Outbox for SqlOutbox {
    async fn read_after(
        &self,
        after: (i64, i64),
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let sql = if self.pg() {
            format!(
                "SELECT {COLUMNS} FROM events WHERE (txid, seq) > ($1, $2) \
                 AND txid < {HORIZON} ORDER BY txid, seq LIMIT $3"
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM events WHERE (txid, seq) > ($1, $2) \
                 ORDER BY txid, seq LIMIT $3"
            )
        };
        let rows = Row::find_by_statement(self.stmt(
            &sql,
            vec![after.0.into(), after.1.into(), (limit as i64).into()],
        ))
        .all(&self.db)
        .await
        .map_err(err)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn head(&self) -> Result<(i64, i64), StoreError> {
        let sql = if self.pg() {
            format!(
                "SELECT txid, seq FROM events WHERE txid < {HORIZON} ORDER BY txid DESC, seq DESC LIMIT 1"
            )
        } else {
            "SELECT txid, seq FROM events ORDER BY txid DESC, seq DESC LIMIT 1".to_string()
        };
        let p = Pos::find_by_statement(self.stmt(&sql, vec![]))
            .one(&self.db)
            .await
            .map_err(err)?;
        Ok(p.map_or((0, 0), |p| (p.txid, p.seq)))
    }

    async fn acquire(
        &self,
        consumer: &str,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let exists = Pos::find_by_statement(self.stmt(
            "SELECT txid, seq FROM outbox_consumers WHERE name = $1",
            vec![consumer.into()],
        ))
        .one(&self.db)
        .await
        .map_err(err)?;
        if exists.is_none() {
            let (txid, seq) = self.head().await?;
            self.db
                .execute_raw(self.stmt(
                    "INSERT INTO outbox_consumers (name, txid, seq, lease_owner, lease_expires_at, delivered, updated_at) \
                     VALUES ($1, $2, $3, NULL, NULL, 0, $4) ON CONFLICT (name) DO NOTHING",
                    vec![consumer.into(), txid.into(), seq.into(), now.into()],
                ))
                .await
                .map_err(err)?;
        }
        let taken = self
            .db
            .execute_raw(self.stmt(
                "UPDATE outbox_consumers SET lease_owner = $2, lease_expires_at = $3, updated_at = $4 \
                 WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $5 OR lease_expires_at < $4)",
                vec![
                    consumer.into(),
                    owner.to_string().into(),
                    lease_until.into(),
                    now.into(),
                    owner.to_string().into(),
                ],
            ))
            .await
            .map_err(err)?
            .rows_affected()
            == 1;
        if !taken {
            return Ok(None);
        }
        let p = Pos::find_by_statement(self.stmt(
            "SELECT txid, seq FROM outbox_consumers WHERE name = $1 AND lease_owner = $2",
            vec![consumer.into(), owner.to_string().into()],
        ))
        .one(&self.db)
        .await
        .map_err(err)?;
        Ok(p.map(|p| (p.txid, p.seq)))
    }

    async fn advance(
        &self,
        consumer: &str,
        owner: Uuid,
        to: (i64, i64),
        delivered: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute_raw(self.stmt(
                "UPDATE outbox_consumers SET txid = $3, seq = $4, delivered = delivered + $5, updated_at = $6 \
                 WHERE name = $1 AND lease_owner = $2",
                vec![
                    consumer.into(),
                    owner.to_string().into(),
                    to.0.into(),
                    to.1.into(),
                    (delivered as i64).into(),
                    now.into(),
                ],
            ))
            .await
            .map_err(err)?
            .rows_affected()
            == 1)
    }

    async fn park(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .execute_raw(self.stmt(
                "INSERT INTO outbox_parked (id, consumer, event_id, attempts, last_error, parked_at, resolved_at, resolution) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL) ON CONFLICT (consumer, event_id) DO UPDATE \
                 SET attempts = excluded.attempts, last_error = excluded.last_error, parked_at = excluded.parked_at, \
                 resolved_at = NULL, resolution = NULL",
                vec![
                    Uuid::now_v7().into(),
                    consumer.into(),
                    event.id.into(),
                    (attempts as i32).into(),
                    error.chars().take(2000).collect::<String>().into(),
                    now.into(),
                ],
            ))
            .await
            .map_err(err)?;
        Ok(())
    }
}

/// Bus topic that says "new events committed": readers on every node wake up.
pub const WAKE_TOPIC: &str = "outbox";

/// Per-node reader that feeds this node's workspace hubs (the live event sockets), in
/// commit order, starting from the head at start-up.
#[derive(Clone)]
pub struct LiveTail {
    notify: Arc<Notify>,
}

impl LiveTail {
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub fn spawn(outbox: SqlOutbox, collab: Collab, bus: Arc<dyn Bus>) -> Self {
        let notify = Arc::new(Notify::new());
        let tail = Self {
            notify: notify.clone(),
        };
        // Other nodes' commits wake us through the bus.
        let n = notify.clone();
        let b = bus.clone();
        crate::rt::spawn(async move {
            loop {
                if let Ok(mut s) = b.subscribe(WAKE_TOPIC).await {
                    while s.next().await.is_some() {
                        n.notify_one();
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        crate::rt::spawn(async move {
            let mut pos = loop {
                match outbox.head().await {
                    Ok(p) => break p,
                    Err(e) => {
                        tracing::warn!(error = %e, "event tail: cannot read the outbox head; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            };
            loop {
                // Woken by a commit (here or on another node), and every 250 ms regardless:
                // a PostgreSQL event becomes readable only once older transactions end.
                let _ = tokio::time::timeout(Duration::from_millis(250), notify.notified()).await;
                loop {
                    match outbox.read_after(pos, 500).await {
                        Ok(events) => {
                            let n = events.len();
                            for e in events {
                                pos = e.position();
                                if let Some(ws) = e.workspace_id {
                                    if let Ok(text) = serde_json::to_string(&e) {
                                        collab.deliver_event(ws, text.into());
                                    }
                                }
                            }
                            if n < 500 {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "event tail: read failed");
                            break;
                        }
                    }
                }
            }
        });
        tail
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders() {
        assert_eq!(
            super::sqlite_placeholders("a = $1 AND b = $12 AND c = '$x'"),
            "a = ?1 AND b = ?12 AND c = '$x'"
        );
    }
}
