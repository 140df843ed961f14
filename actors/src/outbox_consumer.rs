//! `OutboxConsumer`: a named reader of the event outbox (notifications, webhooks,
//! analytics, …), exactly one node at a time.
//!
//! Every node runs one per name; each of them tries to take the consumer's lease, and only
//! the holder reads. It reads in commit order from its durable cursor, in batches, hands
//! each event to its handler, and moves the cursor after the batch — so a node killed
//! mid-batch means the batch is delivered again by the next holder (at-least-once), never
//! lost. A failing event is retried with backoff a few times and then **parked** with its
//! error (for admins to retry or discard), so one bad event never stops the ones behind it.
//! The lease is renewed while the holder works and taken over when it lapses.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ports::{Clock, EventHandler, Outbox, OutboxEvent};

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub batch: usize,
    pub lease: Duration,
    /// Look for new events at least this often (besides being woken).
    pub poll: Duration,
    /// Tries per event before it is parked.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub retry_base: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            max_attempts: 5,
            retry_base: Duration::from_millis(200),
        }
    }
}

/// New events were committed: read now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WakeConsumer;

pub struct OutboxConsumer {
    name: String,
    outbox: Arc<dyn Outbox>,
    handler: Arc<dyn EventHandler>,
    clock: Arc<dyn Clock>,
    owner: Uuid,
    cfg: ConsumerConfig,
    busy: bool,
    again: bool,
    generation: u64,
}

impl OutboxConsumer {
    pub fn new(
        name: impl Into<String>,
        outbox: Arc<dyn Outbox>,
        handler: Arc<dyn EventHandler>,
        clock: Arc<dyn Clock>,
        owner: Uuid,
        cfg: ConsumerConfig,
    ) -> Self {
        Self {
            name: name.into(),
            outbox,
            handler,
            clock,
            owner,
            cfg,
            busy: false,
            again: false,
            generation: 0,
        }
    }

    fn lease_until(clock: &dyn Clock, lease: Duration) -> DateTime<Utc> {
        clock.now() + chrono::Duration::from_std(lease).unwrap_or_default()
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            self.again = true;
            return;
        }
        self.busy = true;
        self.again = false;
        self.generation += 1;
        let (name, outbox, handler, clock, owner, cfg) = (
            self.name.clone(),
            self.outbox.clone(),
            self.handler.clone(),
            self.clock.clone(),
            self.owner,
            self.cfg.clone(),
        );
        ctx.spawn(
            async move { run_batch(&name, &*outbox, &*handler, &*clock, owner, &cfg).await }
                .into_actor(self)
                .map(|more, act, ctx| {
                    act.busy = false;
                    if more || act.again {
                        act.round(ctx);
                    } else {
                        act.sleep(ctx);
                    }
                }),
        );
    }

    fn sleep(&mut self, ctx: &mut Context<Self>) {
        let generation = self.generation;
        let at = self.clock.now() + chrono::Duration::from_std(self.cfg.poll).unwrap_or_default();
        ctx.spawn(
            self.clock
                .sleep_until(at)
                .into_actor(self)
                .map(move |_, act, ctx| {
                    if act.generation == generation {
                        act.round(ctx);
                    }
                }),
        );
    }
}

/// One round: take (or keep) the lease, read a batch, deliver it, move the cursor. Returns
/// whether a full batch was read (so there may be more).
async fn run_batch(
    name: &str,
    outbox: &dyn Outbox,
    handler: &dyn EventHandler,
    clock: &dyn Clock,
    owner: Uuid,
    cfg: &ConsumerConfig,
) -> bool {
    let now = clock.now();
    let cursor = match outbox
        .acquire(
            name,
            owner,
            now,
            OutboxConsumer::lease_until(clock, cfg.lease),
        )
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return false, // another node holds it
        Err(e) => {
            tracing::warn!(consumer = name, error = %e, "could not take the consumer lease");
            return false;
        }
    };
    let events = match outbox.read_after(cursor, cfg.batch).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(consumer = name, error = %e, "could not read the outbox");
            return false;
        }
    };
    if events.is_empty() {
        return false;
    }
    let full = events.len() == cfg.batch;
    let mut last = cursor;
    let mut delivered = 0u64;
    for e in &events {
        deliver(name, outbox, handler, clock, cfg, e).await;
        last = e.position();
        delivered += 1;
    }
    match outbox
        .advance(name, owner, last, delivered, clock.now())
        .await
    {
        Ok(true) => full,
        Ok(false) => {
            tracing::warn!(
                consumer = name,
                "lost the consumer lease mid-batch; the new holder redelivers it"
            );
            false
        }
        Err(e) => {
            tracing::warn!(consumer = name, error = %e, "could not move the cursor; the batch will be redelivered");
            false
        }
    }
}

/// Delivers one event, retrying with backoff; parks it after the last attempt.
async fn deliver(
    name: &str,
    outbox: &dyn Outbox,
    handler: &dyn EventHandler,
    clock: &dyn Clock,
    cfg: &ConsumerConfig,
    e: &OutboxEvent,
) {
    let mut delay = cfg.retry_base;
    for attempt in 1..=cfg.max_attempts {
        match handler.handle(e).await {
            Ok(()) => return,
            Err(err) if attempt == cfg.max_attempts => {
                tracing::warn!(consumer = name, event_id = %e.id, error = %err, "parking an event after its retries");
                if let Err(pe) = outbox.park(name, e, attempt, &err, clock.now()).await {
                    tracing::error!(consumer = name, error = %pe, "could not park an event");
                }
            }
            Err(err) => {
                tracing::debug!(consumer = name, event_id = %e.id, attempt, error = %err, "event handler failed; retrying");
                let at = clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
                clock.sleep_until(at).await;
                delay *= 2;
            }
        }
    }
}

impl Actor for OutboxConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.round(ctx);
    }
}

impl Handler<WakeConsumer> for OutboxConsumer {
    type Result = ();

    fn handle(&mut self, _: WakeConsumer, ctx: &mut Context<Self>) {
        self.round(ctx);
    }
}
