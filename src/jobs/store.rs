//! The job queue and cron bookkeeping on sea-orm, for SQLite and PostgreSQL.
//!
//! Claiming is one statement: an `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING …`.
//! On PostgreSQL the inner select takes `FOR UPDATE SKIP LOCKED`, so nodes claiming at once
//! skip each other's rows instead of waiting or double-claiming; on SQLite the statement
//! runs under the database's single write lock, which gives the same exclusivity. A job is
//! due when it is queued and its `run_at` has come, or when it is running under a lease that
//! has expired (its node died).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::{ClaimedJob, CronStore, JobQueue, StoreError};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, FromQueryResult, Statement, Value,
};
use uuid::Uuid;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// `$N` → `?N` for SQLite.
pub fn stmt(db: &impl ConnectionTrait, pg_sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        pg_sql.to_string()
    } else {
        pg_sql.replace('$', "?")
    };
    Statement::from_sql_and_values(backend, sql, values)
}

#[derive(FromQueryResult)]
struct Claimed {
    id: Uuid,
    kind: String,
    payload: serde_json::Value,
    attempts: i32,
    max_attempts: i32,
}

#[derive(FromQueryResult)]
struct Due {
    run_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct SqlJobQueue {
    db: DatabaseConnection,
}

impl SqlJobQueue {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl JobQueue for SqlJobQueue {
    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let lock = if self.db.get_database_backend() == DatabaseBackend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs \
                 WHERE (status = 'queued' AND run_at <= $3) \
                    OR (status = 'running' AND lease_expires_at < $3) \
                 ORDER BY priority DESC, run_at LIMIT $4 {lock}) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let rows = Claimed::find_by_statement(stmt(
            &self.db,
            &sql,
            vec![
                owner.to_string().into(),
                lease_until.into(),
                now.into(),
                (limit as i64).into(),
            ],
        ))
        .all(&self.db)
        .await
        .map_err(err)?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedJob {
                id: r.id,
                kind: r.kind,
                payload: r.payload,
                attempts: r.attempts,
                max_attempts: r.max_attempts,
            })
            .collect())
    }

    async fn heartbeat(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for id in ids {
            self.db
                .execute_raw(stmt(
                    &self.db,
                    "UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
                    vec![lease_until.into(), (*id).into(), owner.to_string().into()],
                ))
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    async fn complete(
        &self,
        owner: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute_raw(stmt(
                &self.db,
                "UPDATE jobs SET status = 'done', finished_at = $1, updated_at = $1, lease_owner = NULL, \
                 lease_expires_at = NULL, last_error = NULL WHERE id = $2 AND lease_owner = $3 AND status = 'running'",
                vec![now.into(), id.into(), owner.to_string().into()],
            ))
            .await
            .map_err(err)?
            .rows_affected()
            == 1)
    }

    async fn fail(
        &self,
        owner: Uuid,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let error: String = error.chars().take(2000).collect();
        let res = match retry_at {
            Some(at) => self.db.execute_raw(stmt(
                &self.db,
                "UPDATE jobs SET status = 'queued', run_at = $1, last_error = $2, updated_at = $3, \
                 lease_owner = NULL, lease_expires_at = NULL WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
                vec![at.into(), error.into(), now.into(), id.into(), owner.to_string().into()],
            )),
            None => self.db.execute_raw(stmt(
                &self.db,
                "UPDATE jobs SET status = 'failed', last_error = $1, updated_at = $2, finished_at = $2, \
                 lease_owner = NULL, lease_expires_at = NULL WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
                vec![error.into(), now.into(), id.into(), owner.to_string().into()],
            )),
        }
        .await
        .map_err(err)?;
        Ok(res.rows_affected() == 1)
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let d = Due::find_by_statement(stmt(
            &self.db,
            "SELECT MIN(run_at) AS run_at FROM jobs WHERE status = 'queued'",
            vec![],
        ))
        .one(&self.db)
        .await
        .map_err(err)?;
        Ok(d.and_then(|d| d.run_at))
    }
}

#[derive(FromQueryResult)]
struct Tick {
    last_tick: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct SqlCronStore {
    db: DatabaseConnection,
}

impl SqlCronStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CronStore for SqlCronStore {
    async fn take_tick(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        owner: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.db
            .execute_raw(stmt(
                &self.db,
                "INSERT INTO cron_schedules (name, last_tick, last_owner, last_started_at, last_finished_at, last_error, runs) \
                 VALUES ($1, NULL, NULL, NULL, NULL, NULL, 0) ON CONFLICT (name) DO NOTHING",
                vec![schedule.into()],
            ))
            .await
            .map_err(err)?;
        Ok(self
            .db
            .execute_raw(stmt(
                &self.db,
                "UPDATE cron_schedules SET last_tick = $2, last_owner = $3, last_started_at = $4, runs = runs + 1 \
                 WHERE name = $1 AND (last_tick IS NULL OR last_tick < $2)",
                vec![schedule.into(), tick.into(), owner.to_string().into(), now.into()],
            ))
            .await
            .map_err(err)?
            .rows_affected()
            == 1)
    }

    async fn last_tick(&self, schedule: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let t = Tick::find_by_statement(stmt(
            &self.db,
            "SELECT last_tick FROM cron_schedules WHERE name = $1",
            vec![schedule.into()],
        ))
        .one(&self.db)
        .await
        .map_err(err)?;
        Ok(t.and_then(|t| t.last_tick))
    }

    async fn finished(
        &self,
        schedule: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db
            .execute_raw(stmt(
                &self.db,
                "UPDATE cron_schedules SET last_finished_at = $2, last_error = $3 WHERE name = $1",
                vec![
                    schedule.into(),
                    now.into(),
                    error
                        .map(|e| e.chars().take(2000).collect::<String>())
                        .into(),
                ],
            ))
            .await
            .map_err(err)?;
        Ok(())
    }
}
