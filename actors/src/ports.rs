//! Ports: what the actors need from the outside world, as traits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

/// A message as it travels on the bus: opaque bytes on a named topic.
pub type BusMessage = Vec<u8>;

/// The cluster bus: pub/sub between server processes (and within one).
///
/// Delivery is at-most-once, as with Redis pub/sub: a subscriber that is away misses
/// messages. Consumers that cannot afford gaps must repair them from storage.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes to every current subscriber of `topic`, on every node.
    async fn publish(&self, topic: &str, msg: BusMessage) -> Result<(), BusError>;
    /// Messages published on `topic` from now on, until the stream is dropped.
    async fn subscribe(&self, topic: &str) -> Result<BoxStream<'static, BusMessage>, BusError>;
    /// Whether the bus is reachable (for `/health`).
    async fn ping(&self) -> Result<(), BusError>;
    fn name(&self) -> &'static str;
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// Time, injectable so everything with a deadline (tokens, tickets, throttle windows,
/// socket expiry, and later jobs, leases and cron) can be tested by moving a clock instead of
/// sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now() >= deadline` (at once if it already is).
    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let wait = (deadline - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock for tests: real time plus an offset that [`ManualClock::advance`] moves forward.
/// Time keeps flowing (so timeouts inside libraries still work); tests jump over deadlines
/// instead of waiting for them, and sleepers wake when the clock is moved past their deadline.
#[derive(Clone)]
pub struct ManualClock {
    offset: std::sync::Arc<tokio::sync::watch::Sender<chrono::Duration>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            offset: std::sync::Arc::new(tokio::sync::watch::Sender::new(chrono::Duration::zero())),
        }
    }

    /// Moves the clock forward by `by`; sleepers whose deadline has passed wake up.
    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.offset.send_modify(|o| *o += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.borrow()
    }

    fn sleep_until(&self, deadline: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut rx = self.offset.subscribe();
        Box::pin(async move {
            loop {
                let offset = *rx.borrow_and_update();
                let left = (deadline - (Utc::now() + offset))
                    .to_std()
                    .unwrap_or_default();
                if left.is_zero() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(left) => {}
                    changed = rx.changed() => if changed.is_err() {
                        tokio::time::sleep(left).await;
                    }
                }
            }
        })
    }
}

/// Storage for live documents: an append-only log of Yjs updates per document, folded now
/// and then into a snapshot.
#[async_trait]
pub trait DocStore: Send + Sync + 'static {
    /// The snapshot (if any) and every logged update after it, oldest first — read at one
    /// moment, so nothing between the snapshot and the first update is missing.
    async fn load(&self, doc: uuid::Uuid) -> Result<StoredDoc, StoreError>;
    /// Appends `updates` in one transaction and returns once they are durable.
    async fn append(&self, doc: uuid::Uuid, updates: &[Vec<u8>]) -> Result<(), StoreError>;
    /// Folds the log into a new snapshot. Runs off the hot path; safe to call from several
    /// nodes at once and concurrently with appends and loads: it folds one consistent
    /// moment of snapshot + log, and replaces the snapshot only if no other compaction did
    /// since (compare-and-swap on the position), deleting only what it folded.
    /// Answers the new snapshot's size when this call replaced it.
    async fn compact(&self, doc: uuid::Uuid) -> Result<Option<usize>, StoreError>;
}

#[derive(Debug, Default, Clone)]
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    pub updates: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
#[error("document storage: {0}")]
pub struct StoreError(pub String);

/// The plain content of a post document, for REST, search and validation.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DocContent {
    pub title: String,
    pub caption: String,
    /// Per-platform override text (`content:<platform>`); absent or empty = the caption.
    pub overrides: std::collections::BTreeMap<String, String>,
    pub media: Vec<serde_json::Value>,
}

/// What a document's session tells the rest of the server.
#[async_trait]
pub trait DocHooks: Send + Sync + 'static {
    /// The content changed (debounced): write derived fields (text, validation, search).
    async fn content_changed(&self, doc: uuid::Uuid, content: DocContent, editors: Vec<uuid::Uuid>);
    /// Editing went on for a while since the last version: save an automatic one.
    async fn auto_version(&self, doc: uuid::Uuid, state: Vec<u8>);
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerUser {
    pub id: uuid::Uuid,
    pub name: String,
}

// ---- background work: jobs, outbox consumers, cron ----------------------------------

/// A job a node has claimed: it holds the lease until `lease_expires_at`, renewed by
/// heartbeats while the handler runs. A node that dies lets the lease run out, and the job
/// is claimed again — so handlers must be idempotent (the same job may run twice; it must
/// not *take effect* twice).
#[derive(Clone, Debug)]
pub struct ClaimedJob {
    pub id: uuid::Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Durable job storage.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Claims up to `limit` due jobs (queued with `run_at <= now`, or running with an
    /// expired lease) for `owner` until `lease_until`, highest priority first. Two nodes
    /// never claim the same job.
    async fn claim(
        &self,
        owner: uuid::Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError>;
    /// Extends the leases of `ids` still held by `owner`.
    async fn heartbeat(
        &self,
        owner: uuid::Uuid,
        ids: &[uuid::Uuid],
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Marks a job done, if `owner` still holds it; false if the lease was lost.
    async fn complete(
        &self,
        owner: uuid::Uuid,
        id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records a failure: back to the queue at `retry_at`, or failed for good (`None`).
    async fn fail(
        &self,
        owner: uuid::Uuid,
        id: uuid::Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// When the next queued job is due (to sleep until then).
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// Runs jobs of one kind. Must be idempotent: see [`ClaimedJob`].
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String>;
}

/// An event from the outbox, at its commit-ordered position `(txid, seq)`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OutboxEvent {
    pub id: uuid::Uuid,
    #[serde(skip)]
    pub txid: i64,
    #[serde(skip)]
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub workspace_id: Option<uuid::Uuid>,
    pub data: serde_json::Value,
    pub actor_id: Option<uuid::Uuid>,
    pub at: DateTime<Utc>,
}

impl OutboxEvent {
    pub fn position(&self) -> (i64, i64) {
        (self.txid, self.seq)
    }
}

/// Reading the outbox in commit order, and the consumers' durable cursors and leases.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Events after `after`, in commit order, only as far as no earlier-positioned
    /// transaction can still commit.
    async fn read_after(
        &self,
        after: (i64, i64),
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError>;
    /// The position of the newest readable event (where a new reader starts).
    async fn head(&self) -> Result<(i64, i64), StoreError>;
    /// Takes or renews the consumer's lease for `owner`; its cursor if the lease is ours.
    /// A consumer new to the table starts at the head (it does not replay history).
    async fn acquire(
        &self,
        consumer: &str,
        owner: uuid::Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, StoreError>;
    /// Moves the cursor forward, if `owner` still holds the lease; false otherwise.
    async fn advance(
        &self,
        consumer: &str,
        owner: uuid::Uuid,
        to: (i64, i64),
        delivered: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sets an event aside after its retries, with the error.
    async fn park(
        &self,
        consumer: &str,
        event: &OutboxEvent,
        attempts: u32,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What a named outbox consumer does with each event. At-least-once: after a crash the
/// last batch is delivered again, so handling must be idempotent.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, event: &OutboxEvent) -> Result<(), String>;
}

/// Cron bookkeeping: which tick of which schedule has been taken, by whom.
#[async_trait]
pub trait CronStore: Send + Sync + 'static {
    /// Takes `tick` of `schedule` for `owner` unless that tick (or a later one) was already
    /// taken; exactly one caller wins each tick.
    async fn take_tick(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        owner: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// The last tick taken (to know what was missed).
    async fn last_tick(&self, schedule: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Records how a tick's run ended.
    async fn finished(
        &self,
        schedule: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// The work a cron schedule does on each tick it wins.
#[async_trait]
pub trait CronTask: Send + Sync + 'static {
    async fn run(&self, tick: DateTime<Utc>) -> Result<(), String>;
}

/// Durable approval deadlines: reminders before a step's deadline and the step's rule when
/// it passes. The database is the truth; [`crate::approval_deadlines::DeadlineKeeper`] only
/// decides when to look.
#[async_trait]
pub trait ApprovalDeadlines: Send + Sync + 'static {
    /// The earliest moment something is due (a reminder or a deadline), if anything is.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, String>;
    /// Runs everything due at `now`, each exactly once across every node (a conditional
    /// claim in the same transaction as its effects). Returns how many ran.
    async fn fire_due(&self, now: DateTime<Utc>) -> Result<usize, String>;
}
