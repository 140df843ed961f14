//! `CronActor`: runs periodic work — one leader per tick across every node.
//!
//! Each node runs the same schedules. When a tick comes due, every node tries to take it in
//! the store (a conditional update on the schedule's `last_tick`); exactly one wins and runs
//! the task. After downtime the schedule runs **once** for the latest missed tick, not once
//! per missed tick. Times come from the [`Clock`] port, so tests move the clock.
//!
//! The schedule itself is a function "next fire time after t" — the server builds it from a
//! cron expression in a time zone — so this actor knows nothing of cron syntax.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ports::{Clock, CronStore, CronTask};

/// "The next fire time strictly after `t`".
pub type NextAfter = Arc<dyn Fn(DateTime<Utc>) -> Option<DateTime<Utc>> + Send + Sync>;

#[derive(Clone)]
pub struct CronJob {
    pub name: String,
    pub next_after: NextAfter,
    pub task: Arc<dyn CronTask>,
}

/// The latest fire time in `(after, now]`, if any (the one to run after downtime).
pub fn latest_due(
    next_after: &NextAfter,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut t = after;
    let mut latest = None;
    // Bounded: a per-second schedule after a day of downtime is 86,400 steps.
    for _ in 0..200_000 {
        match next_after(t) {
            Some(n) if n <= now => {
                latest = Some(n);
                t = n;
            }
            _ => break,
        }
    }
    latest
}

pub struct CronActor {
    job: CronJob,
    store: Arc<dyn CronStore>,
    clock: Arc<dyn Clock>,
    owner: Uuid,
    /// Where this node starts looking for due ticks (its start, or the last tick seen).
    cursor: DateTime<Utc>,
    running: bool,
}

/// Look for a due tick now (tests, after moving the clock).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CheckNow;

impl CronActor {
    pub fn new(
        job: CronJob,
        store: Arc<dyn CronStore>,
        clock: Arc<dyn Clock>,
        owner: Uuid,
    ) -> Self {
        let cursor = clock.now();
        Self {
            job,
            store,
            clock,
            owner,
            cursor,
            running: false,
        }
    }

    fn check(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        self.running = true;
        let (store, clock, owner, job, start) = (
            self.store.clone(),
            self.clock.clone(),
            self.owner,
            self.job.clone(),
            self.cursor,
        );
        ctx.spawn(
            async move {
                // Missed ticks count from the last tick any node took (or this node's start).
                let from = match store.last_tick(&job.name).await {
                    Ok(Some(t)) => t,
                    _ => start,
                };
                let now = clock.now();
                let Some(tick) = latest_due(&job.next_after, from, now) else {
                    return from;
                };
                match store.take_tick(&job.name, tick, owner, now).await {
                    Ok(true) => {
                        tracing::info!(schedule = %job.name, %tick, "running cron tick");
                        let res = job.task.run(tick).await;
                        if let Err(e) = &res {
                            tracing::warn!(schedule = %job.name, error = %e, "cron task failed");
                        }
                        let _ = store
                            .finished(&job.name, res.err().as_deref(), clock.now())
                            .await;
                    }
                    Ok(false) => {} // another node has it
                    Err(e) => tracing::warn!(schedule = %job.name, error = %e, "could not take a cron tick"),
                }
                tick
            }
            .into_actor(self)
            .map(|seen, act, ctx| {
                act.running = false;
                act.cursor = act.cursor.max(seen);
                act.sleep(ctx);
            }),
        );
    }

    fn sleep(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        let next =
            (self.job.next_after)(now.max(self.cursor)).unwrap_or(now + chrono::Duration::days(1));
        // Wake at the tick, and at least every minute (a moved clock, a skipped wake-up).
        let at = next.min(now + chrono::Duration::seconds(60));
        ctx.spawn(
            self.clock
                .sleep_until(at)
                .into_actor(self)
                .map(|_, act, ctx| act.check(ctx)),
        );
    }
}

impl Actor for CronActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.check(ctx);
    }
}

impl Handler<CheckNow> for CronActor {
    type Result = ();

    fn handle(&mut self, _: CheckNow, ctx: &mut Context<Self>) {
        self.check(ctx);
    }
}

/// A fixed-interval schedule aligned to the epoch (every `every`), for tests and simple
/// periodic work.
pub fn every(every: Duration) -> NextAfter {
    let step = every.as_millis().max(1) as i64;
    Arc::new(move |t: DateTime<Utc>| {
        let ms = t.timestamp_millis();
        DateTime::from_timestamp_millis((ms.div_euclid(step) + 1) * step)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_latest_missed_tick_runs() {
        let hourly = every(Duration::from_secs(3600));
        let t0 = DateTime::from_timestamp(3600 * 10, 0).unwrap();
        let now = t0 + chrono::Duration::hours(5) + chrono::Duration::minutes(30);
        assert_eq!(
            latest_due(&hourly, t0, now),
            Some(DateTime::from_timestamp(3600 * 15, 0).unwrap())
        );
        assert_eq!(latest_due(&hourly, now, now), None);
        assert_eq!(
            hourly(t0),
            Some(DateTime::from_timestamp(3600 * 11, 0).unwrap())
        );
    }
}
