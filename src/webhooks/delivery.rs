//! Delivery: the `webhooks` outbox consumer turns each event into one message per endpoint
//! that wants it; the `webhook.attempt` job sends one attempt of one message.
//!
//! - At least once: a message and its first job commit together; an attempt is recorded
//!   (attempt row, message state, next job) in one transaction after the send. A node that
//!   dies mid-send leaves its job leased; another node runs it again after the lease, and
//!   the receiver sees the same `webhook-id` again (receivers dedupe on it).
//! - Schedule after a failed attempt n: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±10 %
//!   jitter), or later when the receiver's `Retry-After` asks; 8 attempts in all.
//! - 2xx is success; 410 disables the endpoint; an endpoint failing without a success for
//!   `webhooks.disable_after_days` (5) is disabled and its workspace's admins are emailed.
//! - Isolation: at most `webhooks.max_in_flight_per_endpoint` sends to one endpoint per
//!   node; a job that finds its endpoint busy steps aside (re-queued in a second) and frees
//!   the runner for other endpoints, so a slow endpoint never holds up the rest. The
//!   per-endpoint rate limit reserves send slots in the database (cluster-wide).
//! - Order per endpoint is not promised (retries and parallel sends overtake).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::{ClaimedJob, EventHandler, JobHandler, OutboxEvent};
use rand::Rng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

use super::entities::endpoints;
use super::messages::{self, attempt_job, NewMessage, ATTEMPT, FAILED, PENDING, SUCCEEDED};
use super::{service, WebhookSettings};
use crate::events::catalogue::WebhookEvent;
use crate::events::{Announcer, EventType, UnitOfWork, NO_REQUEST};
use crate::jobs::store::stmt;
use crate::jobs::NewJob;
use crate::mail::{Email, Mailer};
use crate::outbound::Guard;

/// The consumer's name in `outbox_consumers`.
pub const CONSUMER: &str = "webhooks";

/// Delay after failed attempt n (1-based), before jitter.
pub const SCHEDULE_SECS: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];
pub const MAX_ATTEMPTS: i32 = SCHEDULE_SECS.len() as i32 + 1;
/// The start of a response body kept in the attempt log.
pub const EXCERPT_BYTES: usize = 1024;

/// The delay before attempt `n + 1` after attempt `n` failed: the schedule with ±10 %
/// jitter (`random` in 0..1000), or the receiver's `Retry-After` when that is later (capped
/// at a day).
pub fn next_delay(n: i32, random: u64, retry_after: Option<Duration>) -> Duration {
    let base =
        Duration::from_secs(SCHEDULE_SECS[(n.max(1) as usize - 1).min(SCHEDULE_SECS.len() - 1)]);
    let jittered = base.mul_f64(0.9 + (random % 1000) as f64 / 5000.0);
    match retry_after {
        Some(r) => jittered.max(r.min(Duration::from_secs(86_400))),
        None => jittered,
    }
}

/// What the rest of delivery needs, built once per node.
#[derive(Clone)]
pub struct Deps {
    pub db: DatabaseConnection,
    pub announcer: Announcer,
    pub encryption_key: Arc<[u8; 32]>,
    pub guard: Guard,
    pub client: reqwest::Client,
    /// Weak: the server state owns the mailer. (Its SMTP pool must not be dropped with a
    /// background task at shutdown, outside the runtime, where lettre panics.)
    pub mailer: std::sync::Weak<Mailer>,
    pub settings: WebhookSettings,
    pub public_url: String,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Deps {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: DatabaseConnection,
        announcer: Announcer,
        encryption_key: Arc<[u8; 32]>,
        guard: Guard,
        mailer: Arc<Mailer>,
        settings: WebhookSettings,
        public_url: String,
    ) -> Self {
        let client = guard.client(Duration::from_secs(settings.timeout_secs.max(1)));
        Self {
            db,
            announcer,
            encryption_key,
            guard,
            client,
            mailer: Arc::downgrade(&mailer),
            settings,
            public_url,
            in_flight: Arc::default(),
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.announcer.clock.now()
    }
}

/// Adds the `webhook.attempt` job handler and the `webhooks` consumer to a node's work.
pub fn register(extra: &mut crate::jobs::Extra, deps: Deps) {
    extra
        .job_handlers
        .push((ATTEMPT.to_string(), Arc::new(Attempt(deps.clone()))));
    extra
        .consumers
        .push((CONSUMER.to_string(), Arc::new(FanOut(deps))));
}

/// The outbox consumer: one message per event and interested endpoint.
pub struct FanOut(pub Deps);

#[async_trait]
impl EventHandler for FanOut {
    async fn handle(&self, ev: &OutboxEvent) -> Result<(), String> {
        let Some(ws) = ev.workspace_id else {
            return Ok(());
        };
        if ev.event_type.starts_with("webhook.") || ev.event_type.starts_with("notification.") {
            return Ok(());
        }
        let d = &self.0;
        let eps = endpoints::Entity::find()
            .filter(endpoints::Column::WorkspaceId.eq(ws))
            .filter(endpoints::Column::Enabled.eq(true))
            .all(&d.db)
            .await
            .map_err(|e| e.to_string())?;
        let wanted: Vec<_> = eps
            .iter()
            // An endpoint receives what happened after it was added (replay reaches back).
            .filter(|e| e.created_at <= ev.at)
            .filter(|e| {
                let p: Vec<String> =
                    serde_json::from_value(e.event_types.clone()).unwrap_or_default();
                service::matches(&p, &ev.event_type)
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let txn = crate::store::begin(&d.db)
            .await
            .map_err(|e| e.to_string())?;
        let now = d.now();
        for e in wanted {
            let m = NewMessage {
                id: messages::message_id(e.id, ev.id, ""),
                endpoint: e,
                event_id: Some(ev.id),
                event_type: &ev.event_type,
                at: ev.at,
                data: &ev.data,
            };
            messages::create(&txn, m, now)
                .await
                .map_err(|e| e.to_string())?;
        }
        txn.commit().await.map_err(|e| e.to_string())?;
        d.announcer.work.wake_jobs();
        Ok(())
    }
}

/// Holds one of an endpoint's in-flight places on this node while alive.
struct Slot(Arc<Mutex<HashMap<Uuid, usize>>>, Uuid);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.0.lock().unwrap();
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

fn take_slot(d: &Deps, endpoint: Uuid) -> Option<Slot> {
    let mut m = d.in_flight.lock().unwrap();
    let n = m.entry(endpoint).or_insert(0);
    if *n >= d.settings.max_in_flight_per_endpoint.max(1) {
        return None;
    }
    *n += 1;
    Some(Slot(d.in_flight.clone(), endpoint))
}

#[derive(FromQueryResult)]
struct Next {
    rate_next_ms: i64,
}

/// Reserves the endpoint's next send slot (cluster-wide); answers its start (unix ms).
async fn reserve(
    db: &DatabaseConnection,
    endpoint: Uuid,
    rate: i32,
    now_ms: i64,
) -> Result<i64, String> {
    let step = (1000 / rate.max(1) as i64).max(1);
    let row = Next::find_by_statement(stmt(
        db,
        "UPDATE webhook_endpoints SET rate_next_ms = (CASE WHEN rate_next_ms > $1 THEN rate_next_ms ELSE $1 END) + $2 \
         WHERE id = $3 RETURNING rate_next_ms",
        vec![now_ms.into(), step.into(), endpoint.into()],
    ))
    .one(db)
    .await
    .map_err(|e| e.to_string())?
    .ok_or("the endpoint is gone")?;
    Ok(row.rate_next_ms - step)
}

/// The `webhook.attempt` job: one attempt of one message.
pub struct Attempt(pub Deps);

#[async_trait]
impl JobHandler for Attempt {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        let d = &self.0;
        let msg_id = job.payload["message_id"]
            .as_str()
            .ok_or("no message_id")?
            .to_string();
        let n = job.payload["attempt"].as_i64().unwrap_or(1) as i32;
        let defers = job.payload["defers"].as_u64().unwrap_or(0);
        let has_slot = job.payload["slot"].as_bool().unwrap_or(false);
        let Some(msg) = messages_entity_find(&d.db, &msg_id).await? else {
            return Ok(()); // deleted with its endpoint
        };
        if msg.status != PENDING || msg.attempts >= n {
            return Ok(()); // already done (a rerun after a crash, or a superseded retry)
        }
        let Some(ep) = endpoints::Entity::find_by_id(msg.endpoint_id)
            .one(&d.db)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if !ep.enabled {
            return give_up(d, &msg_id, "the endpoint is disabled").await;
        }
        let defer = |at: DateTime<Utc>, defers: u64, slot: bool| {
            let mut j = NewJob::new(
                ATTEMPT,
                json!({ "message_id": msg_id, "attempt": n, "defers": defers, "slot": slot }),
            );
            j.run_at = Some(at);
            j.max_attempts = 5;
            j.idempotency_key = Some(format!("webhook:{msg_id}:{n}:d{defers}"));
            j
        };
        let Some(_slot) = take_slot(d, ep.id) else {
            // Busy with this endpoint on this node: step aside for other endpoints' jobs.
            let j = defer(d.now() + chrono::Duration::seconds(1), defers + 1, has_slot);
            crate::jobs::enqueue(&d.db, j, d.now())
                .await
                .map_err(|e| e.to_string())?;
            d.announcer.work.wake_jobs();
            return Ok(());
        };
        if let (Some(rate), false) = (ep.rate_limit, has_slot) {
            let now_ms = d.now().timestamp_millis();
            let start = reserve(&d.db, ep.id, rate, now_ms).await?;
            if start > now_ms + 2 {
                let at = DateTime::from_timestamp_millis(start).unwrap_or_else(|| d.now());
                crate::jobs::enqueue(&d.db, defer(at, defers + 1, true), d.now())
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(());
            }
        }
        let outcome = super::sender::send(d, &ep, &msg).await;
        record(d, &ep, &msg_id, n, outcome).await
    }
}

async fn messages_entity_find(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<super::entities::messages::Model>, String> {
    super::entities::messages::Entity::find_by_id(id.to_string())
        .one(db)
        .await
        .map_err(|e| e.to_string())
}

async fn give_up(d: &Deps, msg_id: &str, why: &str) -> Result<(), String> {
    tracing::info!(message_id = %msg_id, reason = why, "webhook message given up");
    d.db.execute_raw(stmt(
        &d.db,
        "UPDATE webhook_messages SET status = 'failed', next_attempt_at = NULL, updated_at = $2 WHERE id = $1 AND status = 'pending'",
        vec![msg_id.to_string().into(), d.now().into()],
    ))
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Records an attempt and what follows from it, in one unit of work.
async fn record(
    d: &Deps,
    ep: &endpoints::Model,
    msg_id: &str,
    n: i32,
    o: super::sender::Outcome,
) -> Result<(), String> {
    let e = |e: crate::error::ApiError| e.to_string();
    let mut uow = UnitOfWork::begin_on(&d.db, d.announcer.clone(), None, &NO_REQUEST)
        .await
        .map_err(e)?;
    let now = uow.now();
    let gone = o.http_status == Some(410);
    let ok = o.ok();
    let next_at = (!ok && !gone && n < MAX_ATTEMPTS).then(|| {
        let delay = next_delay(n, rand::rng().random_range(0..1000), o.retry_after);
        now + chrono::Duration::from_std(delay).unwrap_or_default()
    });
    let status = if ok { SUCCEEDED } else { FAILED };
    uow.txn()
        .execute_raw(stmt(
            uow.txn(),
            "INSERT INTO webhook_attempts (id, message_id, endpoint_id, attempt, status, http_status, response, error, duration_ms, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            vec![
                Uuid::now_v7().into(),
                msg_id.to_string().into(),
                ep.id.into(),
                n.into(),
                status.into(),
                o.http_status.map(i32::from).into(),
                o.response.clone().into(),
                o.error.clone().into(),
                o.duration_ms.into(),
                next_at.into(),
                now.into(),
            ],
        ))
        .await
        .map_err(|e| e.to_string())?;
    let msg_status = if ok {
        SUCCEEDED
    } else if next_at.is_some() {
        PENDING
    } else {
        FAILED
    };
    uow.txn()
        .execute_raw(stmt(
            uow.txn(),
            "UPDATE webhook_messages SET status = $2, attempts = $3, next_attempt_at = $4, updated_at = $5 WHERE id = $1",
            vec![msg_id.to_string().into(), msg_status.into(), n.into(), next_at.into(), now.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(at) = next_at {
        uow.enqueue(attempt_job(msg_id, n + 1, at, ""))
            .await
            .map_err(e)?;
    }
    let mut disabled = None;
    if ok {
        uow.txn()
            .execute_raw(stmt(uow.txn(), "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", vec![ep.id.into()]))
            .await
            .map_err(|e| e.to_string())?;
    } else {
        uow.txn()
            .execute_raw(stmt(uow.txn(), "UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL", vec![ep.id.into(), now.into()]))
            .await
            .map_err(|e| e.to_string())?;
        let since = ep.failing_since.unwrap_or(now);
        let limit = chrono::Duration::days(d.settings.disable_after_days as i64);
        let reason = if gone {
            Some("the endpoint answered 410 Gone".to_string())
        } else if now - since >= limit {
            Some(format!(
                "every delivery failed for {} days (since {})",
                d.settings.disable_after_days,
                since.to_rfc3339()
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            let res = uow
                .txn()
                .execute_raw(stmt(
                    uow.txn(),
                    "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1 AND enabled = $5",
                    vec![ep.id.into(), false.into(), reason.clone().into(), now.into(), true.into()],
                ))
                .await
                .map_err(|e| e.to_string())?;
            if res.rows_affected() == 1 {
                let payload = WebhookEvent {
                    endpoint_id: ep.id,
                    description: ep.description.clone(),
                    reason: Some(reason.clone()),
                };
                uow.record(
                    EventType::WebhookEndpointDisabled,
                    Some(ep.workspace_id),
                    ("webhook_endpoint", Some(ep.id.to_string())),
                    &payload,
                )
                .await
                .map_err(e)?;
                disabled = Some(reason);
            }
        }
    }
    uow.commit().await.map_err(e)?;
    if let Some(reason) = disabled {
        tracing::warn!(endpoint_id = %ep.id, %reason, "webhook endpoint disabled");
        notify_admins(d, ep, &reason).await;
    }
    Ok(())
}

#[derive(FromQueryResult)]
struct AdminEmail {
    email: String,
}

/// Tells the workspace's admins that an endpoint was disabled. Email now; the in-app
/// notifications of issue #9 will read the `webhook.endpoint_disabled` event from the outbox.
async fn notify_admins(d: &Deps, ep: &endpoints::Model, reason: &str) {
    let rows = AdminEmail::find_by_statement(stmt(
        &d.db,
        "SELECT u.email AS email FROM workspace_members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.role = 'workspace_admin'",
        vec![ep.workspace_id.into()],
    ))
    .all(&d.db)
    .await
    .unwrap_or_default();
    let host = url::Url::parse(&ep.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let Some(mailer) = d.mailer.upgrade() else {
        return; // shutting down
    };
    for a in rows {
        mailer.send_later(Email {
            to: a.email,
            subject: "A webhook endpoint was disabled".into(),
            body: format!(
                "Copydesk disabled the webhook endpoint {} ({host}): {reason}.\n\nNo more events are sent to it until an admin enables it again:\n{}/workspaces/{}/webhooks\n",
                if ep.description.is_empty() { ep.id.to_string() } else { ep.description.clone() },
                d.public_url,
                ep.workspace_id
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule() {
        let mid = 500; // jitter factor 1.0
        let secs: Vec<u64> = (1..MAX_ATTEMPTS)
            .map(|n| next_delay(n, mid, None).as_secs())
            .collect();
        assert_eq!(secs, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(MAX_ATTEMPTS, 8);
        assert!(next_delay(1, 0, None) >= Duration::from_millis(4500));
        assert!(next_delay(1, 999, None) <= Duration::from_millis(5500));
        assert_eq!(
            next_delay(1, mid, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
        assert_eq!(
            next_delay(2, mid, Some(Duration::from_secs(1))),
            Duration::from_secs(300)
        );
    }
}
