//! The Redis implementation of the cluster bus port (`copydesk_actors::ports::Bus`).
//!
//! Publishing goes through the shared auto-reconnecting connection manager; each
//! subscription opens its own pub/sub connection (Redis dedicates a connection to
//! subscribed mode). Redis pub/sub is at-most-once, which the port already promises.

use async_trait::async_trait;
use copydesk_actors::ports::{Bus, BusError, BusMessage};
use futures_util::stream::{BoxStream, StreamExt};
use redis::AsyncCommands;

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

    async fn subscribe(&self, topic: &str) -> Result<BoxStream<'static, BusMessage>, BusError> {
        let mut ps = self.client.get_async_pubsub().await.map_err(unavailable)?;
        ps.subscribe(self.channel(topic))
            .await
            .map_err(unavailable)?;
        Ok(ps
            .into_on_message()
            .map(|m| m.get_payload_bytes().to_vec())
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
