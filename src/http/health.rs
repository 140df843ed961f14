//! `/health/live` (the process answers), `/health/ready` (it can serve: database reachable)
//! and `/health` (every dependency, for people and dashboards).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    pub database: Check,
    /// Absent when no Redis is configured (single node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<Check>,
    pub version: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u128,
}

async fn check_db(state: &AppState) -> Check {
    let start = std::time::Instant::now();
    let res = state.db.ping().await;
    Check {
        ok: res.is_ok(),
        error: res.err().map(|_| "database unreachable".into()),
        latency_ms: start.elapsed().as_millis(),
    }
}

async fn check_redis(state: &AppState) -> Option<Check> {
    let mut conn = state.redis.clone()?;
    let start = std::time::Instant::now();
    let res = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        redis::cmd("PING").query_async::<String>(&mut conn),
    )
    .await;
    let ok = matches!(res, Ok(Ok(_)));
    Some(Check {
        ok,
        error: (!ok).then(|| "redis unreachable".into()),
        latency_ms: start.elapsed().as_millis(),
    })
}

#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let database = check_db(&state).await;
    let redis = check_redis(&state).await;
    let ok = database.ok && redis.as_ref().is_none_or(|r| r.ok);
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        database,
        redis,
        version: env!("CARGO_PKG_VERSION"),
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The answer of `/health/live` and `/health/ready`.
#[derive(Serialize, ToSchema)]
pub struct Probe {
    /// `ok` (live), `ready` or `not_ready`.
    pub status: &'static str,
}

#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, body = Probe, description = "The process is up")))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Probe { status: "ok" })
}

#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, body = Probe, description = "Ready to serve"),
              (status = 503, body = Probe, description = "The database is unreachable")))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if check_db(&state).await.ok {
        HttpResponse::Ok().json(Probe { status: "ready" })
    } else {
        HttpResponse::ServiceUnavailable().json(Probe {
            status: "not_ready",
        })
    }
}
