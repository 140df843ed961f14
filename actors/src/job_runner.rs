//! `JobRunner`: one actor per node that claims due jobs from the durable queue and runs them.
//!
//! Claiming is the queue's business (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a single
//! conditional statement on SQLite): two nodes never hold the same job. While a handler
//! runs, the runner renews its lease every third of the lease; a node that dies stops
//! renewing, the lease runs out, and another node claims the job again. A failed job goes
//! back to the queue with exponential backoff and jitter until `max_attempts`, then stays
//! `failed` with its last error for an admin to see, retry or discard.
//!
//! Time comes from the [`Clock`] port: the runner sleeps until the next due job (or its poll
//! interval) on that clock, so tests move the clock instead of waiting.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use uuid::Uuid;

use crate::ports::{ClaimedJob, Clock, JobHandler, JobQueue};

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Jobs run at once on this node.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// Look for due jobs at least this often (jobs enqueued on other nodes).
    pub poll: Duration,
    /// First retry delay; doubles with each attempt, capped at `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
        }
    }
}

/// The delay before retry `attempt` (1-based): `base × 2^(attempt−1)`, capped, with ±50 %
/// jitter so failing jobs do not retry in lockstep.
pub fn backoff(cfg: &RunnerConfig, attempt: i32, random: u64) -> Duration {
    let exp = cfg
        .backoff_base
        .saturating_mul(1u32 << (attempt.clamp(1, 20) - 1) as u32)
        .min(cfg.backoff_max);
    let jitter = 0.5 + (random % 1000) as f64 / 1000.0;
    exp.mul_f64(jitter)
}

/// Something was enqueued: look now rather than at the next poll.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

/// Stop claiming; resolves once the jobs in hand have finished (or `deadline` passed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain {
    pub deadline: Duration,
}

/// What this runner is doing (for tests and the admin view).
#[derive(Message)]
#[rtype(result = "RunnerState")]
pub struct GetState;

#[derive(Clone, Debug, Default)]
pub struct RunnerState {
    pub running: usize,
    pub completed: u64,
    pub failed: u64,
}

pub struct JobRunner {
    queue: Arc<dyn JobQueue>,
    handlers: Arc<HashMap<String, Arc<dyn JobHandler>>>,
    clock: Arc<dyn Clock>,
    owner: Uuid,
    cfg: RunnerConfig,
    running: HashSet<Uuid>,
    polling: bool,
    /// Bumped on every poll, so only the newest sleep triggers the next one.
    generation: u64,
    draining: bool,
    state: RunnerState,
}

impl JobRunner {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        handlers: HashMap<String, Arc<dyn JobHandler>>,
        clock: Arc<dyn Clock>,
        owner: Uuid,
        cfg: RunnerConfig,
    ) -> Self {
        Self {
            queue,
            handlers: Arc::new(handlers),
            clock,
            owner,
            cfg,
            running: HashSet::new(),
            polling: false,
            generation: 0,
            draining: false,
            state: RunnerState::default(),
        }
    }

    fn lease_until(&self) -> DateTime<Utc> {
        self.clock.now() + chrono::Duration::from_std(self.cfg.lease).unwrap_or_default()
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        if self.polling || self.draining {
            return;
        }
        let free = self.cfg.concurrency.saturating_sub(self.running.len());
        if free == 0 {
            return;
        }
        self.polling = true;
        self.generation += 1;
        let (queue, owner, now, until) = (
            self.queue.clone(),
            self.owner,
            self.clock.now(),
            self.lease_until(),
        );
        ctx.spawn(
            async move {
                let claimed = queue.claim(owner, now, until, free).await;
                let next = queue.next_due().await.ok().flatten();
                (claimed, next)
            }
            .into_actor(self)
            .map(move |(claimed, next), act, ctx| {
                act.polling = false;
                let full = match claimed {
                    Ok(jobs) => {
                        let n = jobs.len();
                        for job in jobs {
                            act.start(job, ctx);
                        }
                        n == free
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim jobs; retrying");
                        false
                    }
                };
                if full {
                    act.poll(ctx);
                } else {
                    act.sleep(next, ctx);
                }
            }),
        );
    }

    /// Sleeps (on the clock) until the next due job or the poll interval, then polls.
    fn sleep(&mut self, next_due: Option<DateTime<Utc>>, ctx: &mut Context<Self>) {
        let generation = self.generation;
        let poll_at =
            self.clock.now() + chrono::Duration::from_std(self.cfg.poll).unwrap_or_default();
        let at = next_due.map_or(poll_at, |d| d.min(poll_at));
        ctx.spawn(
            self.clock
                .sleep_until(at)
                .into_actor(self)
                .map(move |_, act, ctx| {
                    if act.generation == generation {
                        act.poll(ctx);
                    }
                }),
        );
    }

    fn start(&mut self, job: ClaimedJob, ctx: &mut Context<Self>) {
        self.running.insert(job.id);
        let handler = self.handlers.get(&job.kind).cloned();
        let (queue, owner, clock, cfg) = (
            self.queue.clone(),
            self.owner,
            self.clock.clone(),
            self.cfg.clone(),
        );
        let id = job.id;
        ctx.spawn(
            async move {
                let result = match handler {
                    Some(h) => AssertUnwindSafe(h.run(&job))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| Err("the handler panicked".into())),
                    None => Err(format!("no handler for job kind {:?}", job.kind)),
                };
                let now = clock.now();
                let ok = result.is_ok();
                let recorded = match result {
                    Ok(()) => queue.complete(owner, job.id, now).await,
                    Err(e) => {
                        let retry = (job.attempts < job.max_attempts).then(|| {
                            now + chrono::Duration::from_std(backoff(
                                &cfg,
                                job.attempts,
                                Uuid::new_v4().as_u128() as u64,
                            ))
                            .unwrap_or_default()
                        });
                        tracing::warn!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, error = %e, retry = ?retry, "job failed");
                        queue.fail(owner, job.id, &e, retry, now).await
                    }
                };
                if let Err(e) = &recorded {
                    tracing::warn!(job_id = %job.id, error = %e, "could not record a job's outcome; its lease will expire and it runs again");
                }
                ok
            }
            .into_actor(self)
            .map(move |ok, act, ctx| {
                act.running.remove(&id);
                if ok {
                    act.state.completed += 1;
                } else {
                    act.state.failed += 1;
                }
                act.poll(ctx);
            }),
        );
    }
}

impl Actor for JobRunner {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.poll(ctx);
        ctx.run_interval(self.cfg.lease / 3, |act, ctx| {
            if act.running.is_empty() {
                return;
            }
            let ids: Vec<Uuid> = act.running.iter().copied().collect();
            let (queue, owner, until) = (act.queue.clone(), act.owner, act.lease_until());
            ctx.spawn(
                async move {
                    if let Err(e) = queue.heartbeat(owner, &ids, until).await {
                        tracing::warn!(error = %e, "job heartbeat failed");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

impl Handler<Wake> for JobRunner {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        self.poll(ctx);
    }
}

impl Handler<GetState> for JobRunner {
    type Result = MessageResult<GetState>;

    fn handle(&mut self, _: GetState, _ctx: &mut Context<Self>) -> Self::Result {
        let mut s = self.state.clone();
        s.running = self.running.len();
        MessageResult(s)
    }
}

impl Handler<Drain> for JobRunner {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Drain, _ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        let deadline = tokio::time::Instant::now() + msg.deadline;
        Box::pin(
            async move { deadline }
                .into_actor(self)
                .then(|deadline, act, _| wait_idle(act, deadline)),
        )
    }
}

fn wait_idle(
    act: &mut JobRunner,
    deadline: tokio::time::Instant,
) -> Box<dyn ActorFuture<JobRunner, Output = ()> + Unpin> {
    if act.running.is_empty() || tokio::time::Instant::now() >= deadline {
        return Box::new(actix::fut::ready(()));
    }
    Box::new(
        Box::pin(tokio::time::sleep(Duration::from_millis(50)))
            .into_actor(act)
            .then(move |_, act, _| wait_idle(act, deadline)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let cfg = RunnerConfig {
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            ..RunnerConfig::default()
        };
        let mid = 500; // jitter factor 1.0
        assert_eq!(backoff(&cfg, 1, mid), Duration::from_secs(5));
        assert_eq!(backoff(&cfg, 2, mid), Duration::from_secs(10));
        assert_eq!(backoff(&cfg, 3, mid), Duration::from_secs(20));
        assert_eq!(backoff(&cfg, 10, mid), Duration::from_secs(60));
        assert_eq!(backoff(&cfg, 1, 0), Duration::from_millis(2500));
        assert!(backoff(&cfg, 1, 999) < Duration::from_millis(7500));
    }
}
