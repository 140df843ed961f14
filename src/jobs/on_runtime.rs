//! The background-work thread's storage calls, run on the server's runtime.
//!
//! The job runner, outbox consumers and cron actors live on their own arbiter thread. When
//! that thread stops (the server shuts down, a test's server goes away, `Work::kill`), its
//! runtime is torn down and the futures it was running are dropped *outside* any Tokio
//! runtime. A future that holds a pooled database connection then panics in sqlx's
//! destructor ("this functionality requires a Tokio context"), and a second such panic while
//! unwinding aborts the whole process — which busy nodes (many jobs in flight) hit.
//!
//! These adapters hand each store call to the runtime the server was built on and await
//! its result: the arbiter's futures then hold only join handles, and the calls themselves
//! finish — or are dropped — where a runtime exists. Job and event *handlers* stay on the
//! arbiter (so that killing a node still interrupts them, as a crash would); handlers that
//! hold connections across long waits move their work themselves (see `notify::Notify::on_main`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::{ClaimedJob, CronStore, JobQueue, Outbox, OutboxEvent, StoreError};
use tokio::runtime::Handle;
use uuid::Uuid;

/// A port whose calls run on `rt`.
pub struct OnRuntime<T: ?Sized> {
    inner: Arc<T>,
    rt: Handle,
}

impl<T: ?Sized> OnRuntime<T> {
    /// Wraps `inner`; its calls will run on the current runtime.
    pub fn here(inner: Arc<T>) -> Self {
        Self {
            inner,
            rt: Handle::current(),
        }
    }
}

async fn on<R: Send + 'static>(
    rt: &Handle,
    f: impl std::future::Future<Output = Result<R, StoreError>> + Send + 'static,
) -> Result<R, StoreError> {
    match rt.spawn(f).await {
        Ok(r) => r,
        Err(e) => Err(StoreError(format!("storage task stopped: {e}"))),
    }
}

#[async_trait]
impl JobQueue for OnRuntime<dyn JobQueue> {
    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let q = self.inner.clone();
        on(&self.rt, async move {
            q.claim(owner, now, lease_until, limit).await
        })
        .await
    }

    async fn heartbeat(
        &self,
        owner: Uuid,
        ids: &[Uuid],
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (q, ids) = (self.inner.clone(), ids.to_vec());
        on(&self.rt, async move {
            q.heartbeat(owner, &ids, lease_until).await
        })
        .await
    }

    async fn complete(
        &self,
        owner: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let q = self.inner.clone();
        on(&self.rt, async move { q.complete(owner, id, now).await }).await
    }

    async fn fail(
        &self,
        owner: Uuid,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (q, error) = (self.inner.clone(), error.to_string());
        on(&self.rt, async move {
            q.fail(owner, id, &error, retry_at, now).await
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let q = self.inner.clone();
        on(&self.rt, async move { q.next_due().await }).await
    }
}

#[async_trait]
impl Outbox for OnRuntime<dyn Outbox> {
    async fn read_after(
        &self,
        after: (i64, i64),
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let o = self.inner.clone();
        on(&self.rt, async move { o.read_after(after, limit).await }).await
    }

    async fn head(&self) -> Result<(i64, i64), StoreError> {
        let o = self.inner.clone();
        on(&self.rt, async move { o.head().await }).await
    }

    async fn acquire(
        &self,
        consumer: &str,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let (o, c) = (self.inner.clone(), consumer.to_string());
        on(&self.rt, async move {
            o.acquire(&c, owner, now, lease_until).await
        })
        .await
    }

    async fn advance(
        &self,
        consumer: &str,
        owner: Uuid,
        to: (i64, i64),
        delivered: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (o, c) = (self.inner.clone(), consumer.to_string());
        on(&self.rt, async move {
            o.advance(&c, owner, to, delivered, now).await
        })
        .await
    }

    async fn park(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (o, c, ev, err) = (
            self.inner.clone(),
            consumer.to_string(),
            event.clone(),
            error.to_string(),
        );
        on(&self.rt, async move {
            o.park(&c, &ev, attempts, &err, now).await
        })
        .await
    }
}

#[async_trait]
impl CronStore for OnRuntime<dyn CronStore> {
    async fn take_tick(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        owner: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (s, name) = (self.inner.clone(), schedule.to_string());
        on(&self.rt, async move {
            s.take_tick(&name, tick, owner, now).await
        })
        .await
    }

    async fn last_tick(&self, schedule: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (s, name) = (self.inner.clone(), schedule.to_string());
        on(&self.rt, async move { s.last_tick(&name).await }).await
    }

    async fn finished(
        &self,
        schedule: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (s, name, err) = (
            self.inner.clone(),
            schedule.to_string(),
            error.map(str::to_string),
        );
        on(&self.rt, async move {
            s.finished(&name, err.as_deref(), now).await
        })
        .await
    }
}
