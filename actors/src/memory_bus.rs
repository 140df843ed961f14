//! The in-process bus: one `tokio::sync::broadcast` channel per topic.
//!
//! Like Redis pub/sub it is at-most-once: a subscriber that lags more than the channel's
//! capacity misses messages (and is told so by the stream ending its gap silently), so code
//! written against it is honest about what Redis will do.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;

use crate::ports::{Bus, BusError, BusMessage};

const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct MemoryBus {
    topics: Mutex<HashMap<String, broadcast::Sender<BusMessage>>>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn sender(&self, topic: &str) -> broadcast::Sender<BusMessage> {
        let mut topics = self.topics.lock().unwrap();
        // Forget topics nobody listens to any more, so the map does not grow without bound.
        if topics.len() > 1024 {
            topics.retain(|_, tx| tx.receiver_count() > 0);
        }
        topics
            .entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .clone()
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, topic: &str, msg: BusMessage) -> Result<(), BusError> {
        // No subscribers is not an error: pub/sub drops the message, as Redis would.
        let _ = self.sender(topic).send(msg);
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<BoxStream<'static, BusMessage>, BusError> {
        let rx = self.sender(topic).subscribe();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(m) => return Some((m, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream.boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_to_subscribers_of_the_topic_only() {
        let bus = MemoryBus::new();
        let mut a = bus.subscribe("a").await.unwrap();
        let mut b = bus.subscribe("b").await.unwrap();
        bus.publish("a", b"one".to_vec()).await.unwrap();
        bus.publish("b", b"two".to_vec()).await.unwrap();
        assert_eq!(a.next().await.unwrap(), b"one");
        assert_eq!(b.next().await.unwrap(), b"two");
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine() {
        let bus = MemoryBus::new();
        bus.publish("nobody", vec![1]).await.unwrap();
        let mut s = bus.subscribe("nobody").await.unwrap();
        bus.publish("nobody", vec![2]).await.unwrap();
        assert_eq!(s.next().await.unwrap(), vec![2]);
    }
}
