//! The in-process bus: per topic, one bounded queue per subscriber.
//!
//! Like Redis pub/sub it is at-most-once: a subscriber whose queue is full (it lags more than
//! `CAPACITY` messages) misses what does not fit, so code written against it is honest about
//! what Redis will do. A queue takes memory only for what it holds: a broadcast channel would
//! allocate all `CAPACITY` slots up front (about 57 KiB for every open document), and
//! tokio's mpsc allocates slots 32 at a time (1.6 KiB for a document's first message);
//! `futures-channel`'s queue allocates per message and frees it when it is read.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use futures_channel::mpsc;
use futures_util::stream::{BoxStream, StreamExt};

use crate::ports::{Bus, BusError, BusMessage};

const CAPACITY: usize = 1024;

#[derive(Default)]
pub struct MemoryBus {
    topics: Mutex<HashMap<String, Vec<mpsc::Sender<BusMessage>>>>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn publish(&self, topic: &str, msg: BusMessage) -> Result<(), BusError> {
        let mut topics = self.topics.lock().unwrap();
        // No subscribers is not an error: pub/sub drops the message, as Redis would.
        let Some(subs) = topics.get_mut(topic) else {
            return Ok(());
        };
        subs.retain(|s| !s.is_closed());
        match subs.as_mut_slice() {
            [] => {
                topics.remove(topic);
            }
            [only] => {
                let _ = only.try_send(msg);
            }
            all => {
                for s in all.iter_mut() {
                    let _ = s.try_send(msg.clone());
                }
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<BoxStream<'static, BusMessage>, BusError> {
        // Its capacity is the buffer plus one slot per sender: one here.
        let (tx, rx) = mpsc::channel(CAPACITY - 1);
        let mut topics = self.topics.lock().unwrap();
        // Forget topics nobody listens to any more, so the map does not grow without bound.
        if topics.len() > 1024 {
            topics.retain(|_, subs| {
                subs.retain(|s| !s.is_closed());
                !subs.is_empty()
            });
        }
        topics.entry(topic.to_string()).or_default().push(tx);
        Ok(rx.boxed())
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

    #[tokio::test]
    async fn a_lagging_subscriber_misses_what_does_not_fit_and_others_do_not() {
        let bus = MemoryBus::new();
        let mut slow = bus.subscribe("t").await.unwrap();
        let mut fast = bus.subscribe("t").await.unwrap();
        for i in 0..CAPACITY + 10 {
            bus.publish("t", (i as u32).to_le_bytes().to_vec())
                .await
                .unwrap();
            assert_eq!(fast.next().await.unwrap(), (i as u32).to_le_bytes());
        }
        for i in 0..CAPACITY {
            assert_eq!(slow.next().await.unwrap(), (i as u32).to_le_bytes());
        }
        bus.publish("t", b"after".to_vec()).await.unwrap();
        assert_eq!(slow.next().await.unwrap(), b"after");
    }

    #[tokio::test]
    async fn a_dropped_subscriber_is_forgotten() {
        let bus = MemoryBus::new();
        let s = bus.subscribe("t").await.unwrap();
        drop(s);
        bus.publish("t", vec![1]).await.unwrap();
        assert!(bus.topics.lock().unwrap().get("t").is_none());
    }
}
