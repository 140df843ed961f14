//! `DeadlineKeeper`: wakes when an approval step's reminder or deadline comes due and has
//! the store run it. One per node; every node may try, the store's claim makes each run
//! once. It holds no state worth keeping: started (or restarted on another node after a
//! crash) it asks the store what is due next, so nothing is lost with it.
//!
//! Times come from the [`Clock`] port: tests move the clock and the keeper wakes.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::ports::{ApprovalDeadlines, Clock};

/// Look again now: a step with a deadline started on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Rearm;

pub struct DeadlineKeeper {
    store: Arc<dyn ApprovalDeadlines>,
    clock: Arc<dyn Clock>,
    /// Look at least this often (deadlines set on other nodes, a failed look).
    poll: Duration,
    waiting: Option<SpawnHandle>,
    /// A run is in progress (it looks again when it ends).
    busy: bool,
}

impl DeadlineKeeper {
    pub fn new(store: Arc<dyn ApprovalDeadlines>, clock: Arc<dyn Clock>, poll: Duration) -> Self {
        Self {
            store,
            clock,
            poll,
            waiting: None,
            busy: false,
        }
    }

    /// Finds the next due moment, sleeps until it (or the poll interval), then runs what is
    /// due and looks again.
    fn look(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        if let Some(h) = self.waiting.take() {
            ctx.cancel_future(h);
        }
        let (store, clock, poll) = (self.store.clone(), self.clock.clone(), self.poll);
        let fut = async move {
            let now = clock.now();
            let latest = now + chrono::Duration::from_std(poll).unwrap_or_default();
            let at = match store.next_due().await {
                Ok(Some(t)) => t.min(latest),
                Ok(None) => latest,
                Err(e) => {
                    tracing::warn!(error = %e, "approval deadlines: could not look");
                    latest
                }
            };
            clock.sleep_until(at).await;
        }
        .into_actor(self)
        .map(|_, act, ctx| {
            act.waiting = None;
            act.run(ctx);
        });
        self.waiting = Some(ctx.spawn(fut));
    }

    fn run(&mut self, ctx: &mut Context<Self>) {
        self.busy = true;
        let (store, clock) = (self.store.clone(), self.clock.clone());
        ctx.spawn(
            async move {
                match store.fire_due(clock.now()).await {
                    Ok(n) if n > 0 => tracing::info!(ran = n, "approval deadlines ran"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "approval deadlines: could not run"),
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                act.busy = false;
                act.look(ctx);
            }),
        );
    }
}

impl Actor for DeadlineKeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.look(ctx);
    }
}

impl Handler<Rearm> for DeadlineKeeper {
    type Result = ();

    fn handle(&mut self, _: Rearm, ctx: &mut Context<Self>) {
        self.look(ctx);
    }
}
