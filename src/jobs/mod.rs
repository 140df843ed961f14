//! Background work: durable jobs, outbox consumers and cron, on every node.
//!
//! - Jobs: [`enqueue`] inside a unit of work (the job exists only if the write commits);
//!   each node's `JobRunner` (actors crate) claims due jobs, heartbeats their leases,
//!   retries with exponential backoff and jitter, and leaves a job `failed` with its error
//!   after `max_attempts`. **Handlers must be idempotent**: a job whose node died mid-run is
//!   run again after its lease expires, so running twice must not take effect twice (check
//!   before acting, use idempotency keys with the outside world).
//! - Consumers: named `OutboxConsumer`s, one node at a time per name (see
//!   [`crate::events::consumers`]).
//! - Cron: `CronActor`s, one leader per tick ([`maintenance`] holds the first schedules).
//!
//! [`Work`] is the handle the rest of the server holds: wake the runner, wake the readers.

pub mod admin;
pub mod maintenance;
pub mod on_runtime;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use copydesk_actors::cron::{CronActor, CronJob};
use copydesk_actors::job_runner::{Drain, JobRunner, RunnerConfig, Wake};
use copydesk_actors::outbox_consumer::{ConsumerConfig, OutboxConsumer, WakeConsumer};
use copydesk_actors::ports::{Clock, EventHandler, JobHandler};
use sea_orm::{ConnectionTrait, Value};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::events::outbox::LiveTail;
use store::stmt;

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// When it may run (default: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: i32,
    /// Enqueueing the same key twice keeps the first job (no duplicate work).
    pub idempotency_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: &str, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.to_string(),
            payload,
            run_at: None,
            priority: 0,
            max_attempts: 8,
            idempotency_key: None,
        }
    }
}

/// Stores `job` on `conn` (the caller's transaction). `None` when its idempotency key was
/// already used.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    job: NewJob,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, ApiError> {
    let id = Uuid::now_v7();
    let res = conn
        .execute_raw(stmt(
            conn,
            "INSERT INTO jobs (id, kind, payload, status, run_at, priority, attempts, max_attempts, \
             idempotency_key, lease_owner, lease_expires_at, last_error, created_at, updated_at, finished_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5, 0, $6, $7, NULL, NULL, NULL, $8, $8, NULL) \
             ON CONFLICT (idempotency_key) DO NOTHING",
            vec![
                id.into(),
                job.kind.into(),
                Value::Json(Some(Box::new(job.payload))),
                job.run_at.unwrap_or(now).into(),
                job.priority.into(),
                job.max_attempts.max(1).into(),
                job.idempotency_key.into(),
                now.into(),
            ],
        ))
        .await?;
    Ok((res.rows_affected() == 1).then_some(id))
}

/// Settings of the background machinery (`jobs.*` in config).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Run jobs, consumers and cron on this node (turn off for API-only nodes).
    pub enabled: bool,
    pub concurrency: usize,
    pub lease_secs: u64,
    pub poll_ms: u64,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// Outbox rows are kept this many days (and always until every consumer has read them).
    pub outbox_retention_days: u64,
    /// Cron expressions (with seconds) and the time zone they are read in.
    pub maintenance_cron: String,
    pub time_zone: String,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 8,
            lease_secs: 30,
            poll_ms: 1000,
            backoff_base_secs: 5,
            backoff_max_secs: 3600,
            outbox_retention_days: 30,
            maintenance_cron: "0 17 * * * *".into(),
            time_zone: "UTC".into(),
        }
    }
}

/// The running machinery of one node.
#[derive(Clone, Default)]
pub struct Work {
    inner: Arc<Mutex<WorkInner>>,
}

#[derive(Default)]
struct WorkInner {
    runner: Option<Addr<JobRunner>>,
    consumers: Vec<Addr<OutboxConsumer>>,
    crons: Vec<Addr<CronActor>>,
    tail: Option<LiveTail>,
    arbiter: Option<Arbiter>,
    owner: Uuid,
}

/// What to run besides the built-in work (tests add handlers and consumers here).
#[derive(Default, Clone)]
pub struct Extra {
    pub job_handlers: Vec<(String, Arc<dyn JobHandler>)>,
    pub consumers: Vec<(String, Arc<dyn EventHandler>)>,
    pub crons: Vec<CronJob>,
}

impl Work {
    pub fn owner(&self) -> Uuid {
        self.inner.lock().unwrap().owner
    }

    pub fn wake_jobs(&self) {
        if let Some(r) = &self.inner.lock().unwrap().runner {
            r.do_send(Wake);
        }
    }

    pub fn wake_readers(&self) {
        let inner = self.inner.lock().unwrap();
        if let Some(t) = &inner.tail {
            t.wake();
        }
        for c in &inner.consumers {
            c.do_send(WakeConsumer);
        }
    }

    pub fn set_tail(&self, tail: LiveTail) {
        self.inner.lock().unwrap().tail = Some(tail);
    }

    pub fn runner(&self) -> Option<Addr<JobRunner>> {
        self.inner.lock().unwrap().runner.clone()
    }

    pub fn crons(&self) -> Vec<Addr<CronActor>> {
        self.inner.lock().unwrap().crons.clone()
    }

    /// Starts the runner, consumers and cron actors on their own thread.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &self,
        owner: Uuid,
        cfg: &JobSettings,
        clock: Arc<dyn Clock>,
        queue: Arc<dyn copydesk_actors::ports::JobQueue>,
        outbox: Arc<dyn copydesk_actors::ports::Outbox>,
        cron_store: Arc<dyn copydesk_actors::ports::CronStore>,
        mut handlers: HashMap<String, Arc<dyn JobHandler>>,
        consumers: Vec<(String, Arc<dyn EventHandler>)>,
        crons: Vec<CronJob>,
    ) {
        // Storage calls run on this (the server's) runtime, not on the work thread's: see
        // `on_runtime`.
        let queue: Arc<dyn copydesk_actors::ports::JobQueue> =
            Arc::new(on_runtime::OnRuntime::here(queue));
        let outbox: Arc<dyn copydesk_actors::ports::Outbox> =
            Arc::new(on_runtime::OnRuntime::here(outbox));
        let cron_store: Arc<dyn copydesk_actors::ports::CronStore> =
            Arc::new(on_runtime::OnRuntime::here(cron_store));
        let arbiter = Arbiter::new();
        let rcfg = RunnerConfig {
            concurrency: cfg.concurrency.max(1),
            lease: std::time::Duration::from_secs(cfg.lease_secs.max(1)),
            poll: std::time::Duration::from_millis(cfg.poll_ms.max(10)),
            backoff_base: std::time::Duration::from_secs(cfg.backoff_base_secs),
            backoff_max: std::time::Duration::from_secs(cfg.backoff_max_secs),
        };
        let handlers = std::mem::take(&mut handlers);
        let (q, c) = (queue.clone(), clock.clone());
        let runner = JobRunner::start_in_arbiter(&arbiter.handle(), move |_| {
            JobRunner::new(q, handlers, c, owner, rcfg)
        });
        let ccfg = ConsumerConfig {
            lease: std::time::Duration::from_secs(cfg.lease_secs.max(1)),
            poll: std::time::Duration::from_millis(cfg.poll_ms.max(10)),
            ..ConsumerConfig::default()
        };
        let consumers: Vec<_> = consumers
            .into_iter()
            .map(|(name, handler)| {
                let (o, c, cc) = (outbox.clone(), clock.clone(), ccfg.clone());
                OutboxConsumer::start_in_arbiter(&arbiter.handle(), move |_| {
                    OutboxConsumer::new(name, o, handler, c, owner, cc)
                })
            })
            .collect();
        let crons: Vec<_> = crons
            .into_iter()
            .map(|job| {
                let (s, c) = (cron_store.clone(), clock.clone());
                CronActor::start_in_arbiter(&arbiter.handle(), move |_| {
                    CronActor::new(job, s, c, owner)
                })
            })
            .collect();
        // The work thread lives as long as the system that started it: when that system
        // stops (the process, or a test's server), this task is dropped and stops it.
        struct StopOnDrop(ArbiterHandle);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.stop();
            }
        }
        let guard = StopOnDrop(arbiter.handle());
        crate::rt::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let mut inner = self.inner.lock().unwrap();
        inner.owner = owner;
        inner.runner = Some(runner);
        inner.consumers = consumers;
        inner.crons = crons;
        inner.arbiter = Some(arbiter);
    }

    /// Graceful stop: no new claims; jobs in hand get until `deadline` to finish.
    pub async fn drain(&self, deadline: std::time::Duration) {
        let runner = self.inner.lock().unwrap().runner.clone();
        if let Some(r) = runner {
            let _ = tokio::time::timeout(deadline, r.send(Drain { deadline })).await;
        }
    }

    /// Stops this node's background work at once, as a crash would: leases are not
    /// released and cursors not moved (tests use it to "kill" a node's workers).
    pub fn kill(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.runner = None;
        inner.consumers.clear();
        inner.crons.clear();
        if let Some(a) = inner.arbiter.take() {
            a.stop();
        }
    }
}

/// Parses a cron expression (6 fields, with seconds; or 5, without) in `tz` into the
/// "next fire time after" function the cron actor takes.
pub fn cron_schedule(expr: &str, tz: &str) -> anyhow::Result<copydesk_actors::cron::NextAfter> {
    use std::str::FromStr;
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expr}")
    } else {
        expr.to_string()
    };
    let schedule = cron::Schedule::from_str(&full)
        .map_err(|e| anyhow::anyhow!("invalid cron expression {expr:?}: {e}"))?;
    let tz: chrono_tz::Tz = tz
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {tz:?}"))?;
    Ok(Arc::new(move |t: DateTime<Utc>| {
        schedule
            .after(&t.with_timezone(&tz))
            .next()
            .map(|d| d.with_timezone(&Utc))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_in_a_time_zone() {
        // 09:00 every day in New York: 14:00 UTC in winter.
        let next = cron_schedule("0 9 * * *", "America/New_York").unwrap();
        let t = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next(t).unwrap().to_rfc3339(), "2026-12-01T14:00:00+00:00");
        assert!(cron_schedule("not cron", "UTC").is_err());
        assert!(cron_schedule("0 9 * * *", "Mars/Olympus").is_err());
    }
}
