//! `/api/admin/jobs` and `/api/admin/consumers`: the background machinery as super admins see
//! it — queue depth, the oldest due job, failures with their errors, consumers' positions,
//! lag and parked events — with retry and discard.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::stmt;
use super::NewJob;
use crate::auth::extract::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

fn require_super_admin(user: &AuthUser) -> Result<(), ApiError> {
    if user.0.is_super_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "forbidden",
            "only super admins see the background machinery".into(),
        ))
    }
}

#[derive(Serialize, ToSchema, FromQueryResult)]
pub struct StatusCount {
    pub kind: String,
    pub status: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema, FromQueryResult)]
pub struct JobView {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct JobsOverview {
    /// Jobs per kind and status.
    pub counts: Vec<StatusCount>,
    /// Queued jobs whose time has come.
    pub due: i64,
    /// The longest-waiting due job's `run_at`.
    pub oldest_due_at: Option<DateTime<Utc>>,
    /// Failed for good (after `max_attempts`), newest first; retry or discard them.
    pub failed: Vec<JobView>,
}

#[derive(FromQueryResult)]
struct DueRow {
    due: i64,
    oldest: Option<DateTime<Utc>>,
}

pub async fn overview(state: &AppState) -> Result<JobsOverview, ApiError> {
    let db = &state.db;
    let now = state.clock.now();
    let counts = StatusCount::find_by_statement(stmt(
        db,
        "SELECT kind, status, COUNT(*) AS count FROM jobs GROUP BY kind, status ORDER BY kind, status",
        vec![],
    ))
    .all(db)
    .await?;
    let due = DueRow::find_by_statement(stmt(
        db,
        "SELECT COUNT(*) AS due, MIN(run_at) AS oldest FROM jobs WHERE status = 'queued' AND run_at <= $1",
        vec![now.into()],
    ))
    .one(db)
    .await?;
    let failed = JobView::find_by_statement(stmt(
        db,
        "SELECT id, kind, status, attempts, max_attempts, run_at, last_error, lease_owner, updated_at \
         FROM jobs WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 100",
        vec![],
    ))
    .all(db)
    .await?;
    Ok(JobsOverview {
        counts,
        due: due.as_ref().map_or(0, |d| d.due),
        oldest_due_at: due.and_then(|d| d.oldest),
        failed,
    })
}

#[utoipa::path(get, path = "/api/admin/jobs", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = JobsOverview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_jobs(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    require_super_admin(&user)?;
    Ok(HttpResponse::Ok().json(overview(&state).await?))
}

#[utoipa::path(post, path = "/api/admin/jobs/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Queued to run now, with one more attempt"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retry_job(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_super_admin(&user)?;
    let now = state.clock.now();
    let n = state
        .db
        .execute_raw(stmt(
            &state.db,
            "UPDATE jobs SET status = 'queued', run_at = $1, updated_at = $1, finished_at = NULL, \
             max_attempts = CASE WHEN max_attempts > attempts THEN max_attempts ELSE attempts + 1 END \
             WHERE id = $2 AND status IN ('failed', 'cancelled')",
            vec![now.into(), path.into_inner().into()],
        ))
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::NotFound("failed job"));
    }
    state.work.wake_jobs();
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/admin/jobs/{id}/discard", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Cancelled (queued or failed jobs)"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn discard_job(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_super_admin(&user)?;
    let n = cancel(&state, path.into_inner()).await?;
    if !n {
        return Err(ApiError::NotFound("queued or failed job"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Cancels a job that is not running; false if there is none such.
pub async fn cancel(state: &AppState, id: Uuid) -> Result<bool, ApiError> {
    let now = state.clock.now();
    Ok(state
        .db
        .execute_raw(stmt(
            &state.db,
            "UPDATE jobs SET status = 'cancelled', updated_at = $1, finished_at = $1 \
             WHERE id = $2 AND status IN ('queued', 'failed')",
            vec![now.into(), id.into()],
        ))
        .await?
        .rows_affected()
        == 1)
}

#[derive(Serialize, ToSchema, FromQueryResult)]
pub struct ParkedView {
    pub id: Uuid,
    pub consumer: String,
    pub event_id: Uuid,
    pub attempts: i32,
    pub last_error: String,
    pub parked_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct ConsumerRow {
    name: String,
    txid: i64,
    seq: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    delivered: i64,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsumerView {
    pub name: String,
    /// Events committed but not yet delivered to it.
    pub lag: i64,
    /// The node holding it now (if its lease is live).
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub delivered: i64,
    pub updated_at: DateTime<Utc>,
    pub parked: Vec<ParkedView>,
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

pub async fn consumers(state: &AppState) -> Result<Vec<ConsumerView>, ApiError> {
    let db = &state.db;
    let rows = ConsumerRow::find_by_statement(stmt(
        db,
        "SELECT name, txid, seq, lease_owner, lease_expires_at, delivered, updated_at FROM outbox_consumers ORDER BY name",
        vec![],
    ))
    .all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let lag = Count::find_by_statement(stmt(
            db,
            "SELECT COUNT(*) AS n FROM events WHERE txid > $1 OR (txid = $1 AND seq > $2)",
            vec![r.txid.into(), r.seq.into()],
        ))
        .one(db)
        .await?
        .map_or(0, |c| c.n);
        let parked = ParkedView::find_by_statement(stmt(
            db,
            "SELECT id, consumer, event_id, attempts, last_error, parked_at FROM outbox_parked \
             WHERE consumer = $1 AND resolved_at IS NULL ORDER BY parked_at DESC LIMIT 100",
            vec![r.name.clone().into()],
        ))
        .all(db)
        .await?;
        let live = r.lease_expires_at.is_some_and(|e| e > state.clock.now());
        out.push(ConsumerView {
            name: r.name,
            lag,
            lease_owner: r.lease_owner.filter(|_| live),
            lease_expires_at: r.lease_expires_at,
            delivered: r.delivered,
            updated_at: r.updated_at,
            parked,
        });
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/admin/consumers", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ConsumerView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_consumers(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    require_super_admin(&user)?;
    Ok(HttpResponse::Ok().json(consumers(&state).await?))
}

/// Job kind that delivers one parked event to its consumer again.
pub const REDELIVER: &str = "outbox.redeliver";

#[utoipa::path(post, path = "/api/admin/consumers/parked/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 202, description = "Queued for redelivery (a job)"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retry_parked(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: crate::auth::extract::RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_super_admin(&user)?;
    let id = path.into_inner();
    let mut uow = crate::events::UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let parked = ParkedView::find_by_statement(stmt(
        uow.txn(),
        "SELECT id, consumer, event_id, attempts, last_error, parked_at FROM outbox_parked WHERE id = $1 AND resolved_at IS NULL",
        vec![id.into()],
    ))
    .one(uow.txn())
    .await?
    .ok_or(ApiError::NotFound("parked event"))?;
    uow.txn()
        .execute_raw(stmt(
            uow.txn(),
            "UPDATE outbox_parked SET resolved_at = $1, resolution = 'retried' WHERE id = $2",
            vec![state.clock.now().into(), id.into()],
        ))
        .await?;
    let mut job = NewJob::new(
        REDELIVER,
        serde_json::json!({ "consumer": parked.consumer, "event_id": parked.event_id, "parked_id": id }),
    );
    job.idempotency_key = Some(format!("redeliver:{id}:{}", Uuid::now_v7()));
    uow.enqueue(job).await?;
    uow.commit().await?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(post, path = "/api/admin/consumers/parked/{id}/discard", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Marked as discarded"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn discard_parked(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_super_admin(&user)?;
    let n = state
        .db
        .execute_raw(stmt(
            &state.db,
            "UPDATE outbox_parked SET resolved_at = $1, resolution = 'discarded' WHERE id = $2 AND resolved_at IS NULL",
            vec![state.clock.now().into(), path.into_inner().into()],
        ))
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::NotFound("parked event"));
    }
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/jobs", web::get().to(list_jobs))
        .route("/admin/jobs/{id}/retry", web::post().to(retry_job))
        .route("/admin/jobs/{id}/discard", web::post().to(discard_job))
        .route("/admin/consumers", web::get().to(list_consumers))
        .route(
            "/admin/consumers/parked/{id}/retry",
            web::post().to(retry_parked),
        )
        .route(
            "/admin/consumers/parked/{id}/discard",
            web::post().to(discard_parked),
        );
}
