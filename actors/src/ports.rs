//! Ports: what the actors need from the outside world, as traits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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

/// Time, injectable so actors with timers can be tested deterministically.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
