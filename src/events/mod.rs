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

use copydesk_actors::ports::Bus;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, NotSet, Set};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::{self, AccessChange};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::jobs::NewJob;
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

/// One write: a transaction, its events, its jobs, and what to announce after commit.
pub struct UnitOfWork<'a> {
    state: &'a AppState,
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
        state: &'a AppState,
        actor: Option<Uuid>,
        meta: &'a RequestMeta,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            state,
            txn: crate::store::begin(&state.db).await?,
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
        self.state.clock.now()
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
        let id = crate::jobs::enqueue(&self.txn, job, self.state.clock.now()).await?;
        self.jobs += 1;
        Ok(id)
    }

    /// Commits, then announces: readers wake on every node, access changes go out, the job
    /// runner looks for new work. Returns the events that committed.
    pub async fn commit(self) -> Result<Vec<Event>, ApiError> {
        self.txn.commit().await?;
        let state = self.state;
        if !self.events.is_empty() {
            wake_readers(state).await;
        }
        for change in self.access {
            access::announce(state.bus.as_ref(), change).await;
        }
        if self.jobs > 0 {
            state.work.wake_jobs();
        }
        Ok(self.events)
    }
}

/// Wakes the outbox readers: this node's at once, other nodes' through the bus. Best effort:
/// readers also poll.
pub async fn wake_readers(state: &AppState) {
    state.work.wake_readers();
    if let Err(e) = state.bus.publish(outbox::WAKE_TOPIC, Vec::new()).await {
        tracing::debug!(error = %e, "could not wake other nodes' outbox readers; they poll");
    }
}

/// Records an event outside a caller-held unit of work (its own transaction), for the few
/// writes that are only an event (a detected refresh-token reuse).
pub async fn record_alone<P: EventPayload>(
    state: &AppState,
    actor: Option<Uuid>,
    meta: &RequestMeta,
    ty: EventType,
    workspace_id: Option<Uuid>,
    target: Target,
    payload: &P,
) -> Result<(), ApiError> {
    let mut uow = UnitOfWork::begin(state, actor, meta).await?;
    uow.record(ty, workspace_id, target, payload).await?;
    uow.commit().await?;
    Ok(())
}

/// Kept for code outside a request (document hooks): records on `conn` without a
/// [`UnitOfWork`]; the caller commits and then calls [`wake_readers`].
pub async fn record_on<C: ConnectionTrait, P: EventPayload>(
    conn: &C,
    ty: EventType,
    workspace_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    target: Target,
    payload: &P,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Event, ApiError> {
    if ty.payload() != P::NAME {
        return Err(ApiError::internal(anyhow::anyhow!(
            "event {} takes a {} payload",
            ty.as_str(),
            ty.payload()
        )));
    }
    let data = serde_json::to_value(payload).map_err(ApiError::internal)?;
    insert(
        conn,
        ty,
        workspace_id,
        actor_id,
        target,
        data,
        &RequestMeta::default(),
        now,
    )
    .await
}

/// The pre-[`UnitOfWork`] form of a change, for call sites still moving over.
pub struct Change<'a> {
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub event_type: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub data: Value,
    pub meta: &'a RequestMeta,
}

/// Records `change` on `conn` (its transaction); the type must be in the catalogue.
pub async fn record<C: ConnectionTrait>(conn: &C, change: Change<'_>) -> Result<Event, ApiError> {
    let ty = EventType::parse(change.event_type).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "event type {} is not in the catalogue",
            change.event_type
        ))
    })?;
    insert(
        conn,
        ty,
        change.workspace_id,
        change.actor_id,
        (change.target_type, change.target_id),
        change.data,
        change.meta,
        chrono::Utc::now(),
    )
    .await
}

/// After commit: wakes every node's outbox readers (which deliver the events). Events are
/// never sent from here — only what the outbox holds is delivered.
pub async fn announce(bus: &dyn Bus, events: &[Event]) {
    if events.is_empty() {
        return;
    }
    if let Err(e) = bus.publish(outbox::WAKE_TOPIC, Vec::new()).await {
        tracing::debug!(error = %e, "could not wake outbox readers; they poll");
    }
}
