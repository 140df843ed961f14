//! Domain events, the outbox, the audit log, and the one write path.
//!
//! Every write goes through a [`UnitOfWork`]: open the transaction, change, record typed
//! events (outbox row + audit row, in the same transaction), enqueue jobs, commit — and only
//! then announce: wake the outbox readers on every node (the live event sockets, the durable
//! consumers), publish access changes, wake the job runner. Nothing is announced that did not
//! commit, and nothing commits without its event: the outbox row *is* the announcement, and
//! readers find it by position (see [`outbox`]).
//!
//! - [`catalogue`]: every event type, its payload, its audience (`GET /api/events/catalogue`).
//! - [`outbox`]: commit-ordered reading on SQLite and PostgreSQL; the per-node live tail.
//! - [`consumers`]: the named, durable outbox consumers and the admin view of them.

pub mod catalogue;
pub mod consumers;
pub mod outbox;

use std::ops::Deref;
use std::sync::Arc;

use copydesk_actors::ports::{Bus, Clock};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, NotSet, Set,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::{self, AccessChange};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::jobs::{NewJob, Work};
use crate::state::AppState;
use crate::store::entities::{audit_log, events};
pub use catalogue::{EventPayload, EventType};

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
    pub at: chrono::DateTime<chrono::Utc>,
}

/// What an event is about, for the audit log: `("post", Some(id))`.
pub type Target = (&'static str, Option<String>);

/// Writes the outbox event and the audit row on `conn` (the change's transaction).
async fn insert<C: ConnectionTrait>(
    conn: &C,
    ty: EventType,
    workspace_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    target: Target,
    data: Value,
    meta: &RequestMeta,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Event, ApiError> {
    let event = Event {
        id: Uuid::now_v7(),
        event_type: ty.as_str().to_string(),
        workspace_id,
        data,
        actor_id,
        at: now,
    };
    events::ActiveModel {
        seq: NotSet,
        txid: NotSet,
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
        workspace_id: Set(workspace_id),
        actor_id: Set(actor_id),
        action: Set(ty.as_str().to_string()),
        target_type: Set(target.0.to_string()),
        target_id: Set(target.1),
        ip: Set(meta.ip.clone()),
        user_agent: Set(meta.user_agent.clone()),
        details: Set(event.data.clone()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(event)
}

/// Where a committed write is announced, and the time it is stamped with: the cluster bus,
/// this node's background work (outbox readers, job runner) and the clock. Request handlers
/// take it from [`AppState`]; code outside a request (the live documents' hooks) holds one.
#[derive(Clone)]
pub struct Announcer {
    pub bus: Arc<dyn Bus>,
    pub work: Work,
    pub clock: Arc<dyn Clock>,
}

impl Announcer {
    pub fn of(state: &AppState) -> Self {
        Self {
            bus: state.bus.clone(),
            work: state.work.clone(),
            clock: state.clock.clone(),
        }
    }

    /// Wakes the outbox readers: this node's at once, other nodes' through the bus. Best
    /// effort: readers also poll.
    pub async fn wake_readers(&self) {
        self.work.wake_readers();
        if let Err(e) = self.bus.publish(outbox::WAKE_TOPIC, Vec::new()).await {
            tracing::debug!(error = %e, "could not wake other nodes' outbox readers; they poll");
        }
    }
}

/// The request metadata of writes that no request made (document hooks, maintenance): no
/// IP, no user agent in their audit rows.
pub static NO_REQUEST: RequestMeta = RequestMeta {
    ip: None,
    user_agent: None,
};

/// One write: a transaction, its events, its jobs, and what to announce after commit.
///
/// Dropped without [`UnitOfWork::commit`] (an error returned with `?`), the transaction
/// rolls back and nothing is announced: the change, its events and its jobs exist together
/// or not at all.
pub struct UnitOfWork<'a> {
    announcer: Announcer,
    txn: DatabaseTransaction,
    meta: &'a RequestMeta,
    actor: Option<Uuid>,
    events: Vec<Event>,
    access: Vec<AccessChange>,
    jobs: usize,
}

impl Deref for UnitOfWork<'_> {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl<'a> UnitOfWork<'a> {
    /// Opens the transaction for a write by `actor` (from `meta`, for the audit log).
    pub async fn begin(
        state: &AppState,
        actor: Option<Uuid>,
        meta: &'a RequestMeta,
    ) -> Result<Self, ApiError> {
        Self::begin_on(&state.db, Announcer::of(state), actor, meta).await
    }

    /// Opens the transaction on `db` for code outside a request ([`NO_REQUEST`] as `meta`).
    pub async fn begin_on(
        db: &DatabaseConnection,
        announcer: Announcer,
        actor: Option<Uuid>,
        meta: &'a RequestMeta,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            announcer,
            txn: crate::store::begin(db).await?,
            meta,
            actor,
            events: Vec::new(),
            access: Vec::new(),
            jobs: 0,
        })
    }

    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.announcer.clock.now()
    }

    /// Who the events recorded from now on are by (when only the write finds out, e.g. the
    /// owner of a replayed refresh token).
    pub fn set_actor(&mut self, actor: Option<Uuid>) {
        self.actor = actor;
    }

    /// Records a typed event (and its audit row) in this transaction.
    pub async fn record<P: EventPayload>(
        &mut self,
        ty: EventType,
        workspace_id: Option<Uuid>,
        target: Target,
        payload: &P,
    ) -> Result<&Event, ApiError> {
        if ty.payload() != P::NAME {
            return Err(ApiError::internal(anyhow::anyhow!(
                "event {} takes a {} payload, not {}",
                ty.as_str(),
                ty.payload(),
                P::NAME
            )));
        }
        let data = serde_json::to_value(payload).map_err(ApiError::internal)?;
        let now = self.now();
        let ev = insert(
            &self.txn,
            ty,
            workspace_id,
            self.actor,
            target,
            data,
            self.meta,
            now,
        )
        .await?;
        self.events.push(ev);
        Ok(self.events.last().expect("just pushed"))
    }

    /// An access change to announce once this commits (sockets re-check).
    pub fn access_changed(&mut self, change: AccessChange) {
        self.access.push(change);
    }

    /// Enqueues a durable job in this transaction (it exists only if this commits).
    pub async fn enqueue(&mut self, job: NewJob) -> Result<Option<Uuid>, ApiError> {
        let id = crate::jobs::enqueue(&self.txn, job, self.now()).await?;
        self.jobs += 1;
        Ok(id)
    }

    /// Commits, then announces: readers wake on every node, access changes go out, the job
    /// runner looks for new work. Returns the events that committed.
    pub async fn commit(self) -> Result<Vec<Event>, ApiError> {
        self.txn.commit().await?;
        let a = &self.announcer;
        if !self.events.is_empty() {
            a.wake_readers().await;
        }
        for change in self.access {
            access::announce(a.bus.as_ref(), change).await;
        }
        if self.jobs > 0 {
            a.work.wake_jobs();
        }
        Ok(self.events)
    }
}
