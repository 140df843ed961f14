//! The Redis implementation of the cluster bus port (`copydesk_actors::ports::Bus`).
//!
//! Publishing goes through the shared auto-reconnecting connection manager; each
//! subscription opens its own pub/sub connection (Redis dedicates a connection to
//! subscribed mode). Redis pub/sub is at-most-once, which the port already promises.

use async_trait::async_trait;
use copydesk_actors::ports::{Bus, BusError, BusMessage};
use futures_util::stream::{BoxStream, StreamExt};
use redis::AsyncCommands;
use std::time::Duration;

pub struct RedisBus {
    client: redis::Client,
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisBus {
    pub fn new(client: redis::Client, conn: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self {
            client,
            conn,
            prefix: prefix.to_string(),
        }
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}:bus:{topic}", self.prefix)
    }
}

fn unavailable(e: redis::RedisError) -> BusError {
    BusError::Unavailable(e.to_string())
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, topic: &str, msg: BusMessage) -> Result<(), BusError> {
        let mut c = self.conn.clone();
        let _: i64 = c
            .publish(self.channel(topic), msg)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The stream survives Redis restarts: a background task re-subscribes with backoff
    /// whenever the connection drops (messages published meanwhile are lost, as pub/sub
    /// promises; the documents' state-vector exchange repairs them). It ends when the
    /// stream is dropped.
    async fn subscribe(&self, topic: &str) -> Result<BoxStream<'static, BusMessage>, BusError> {
        let channel = self.channel(topic);
        // The first subscription is made before returning, so nothing published after
        // `subscribe` returns is missed.
        let mut first = self.client.get_async_pubsub().await.map_err(unavailable)?;
        first.subscribe(&channel).await.map_err(unavailable)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<BusMessage>(1024);
        let client = self.client.clone();
        tokio::spawn(async move {
            let mut current = Some(first);
            let mut backoff = Duration::from_millis(100);
            loop {
                let ps = match current.take() {
                    Some(ps) => ps,
                    None => {
                        tokio::select! {
                            _ = tx.closed() => return,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        let Ok(mut ps) = client.get_async_pubsub().await else {
                            continue;
                        };
                        if ps.subscribe(&channel).await.is_err() {
                            continue;
                        }
                        tracing::info!(%channel, "bus subscription restored");
                        ps
                    }
                };
                backoff = Duration::from_millis(100);
                let mut messages = ps.into_on_message();
                loop {
                    tokio::select! {
                        _ = tx.closed() => return,
                        m = messages.next() => match m {
                            // A full queue means the subscriber is stuck; drop, as pub/sub would.
                            Some(m) => { let _ = tx.try_send(m.get_payload_bytes().to_vec()); }
                            None => break,
                        }
                    }
                }
                tracing::warn!(%channel, "bus subscription lost; reconnecting");
            }
        });
        Ok(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
        )
        .boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
