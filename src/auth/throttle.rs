//! Fixed-window failure counters for login throttling and email-sending endpoints.
//!
//! A key (e.g. `login:acct:<email>`) that reaches its limit answers 429 with `Retry-After`
//! until its window ends. Windows always end, so an attacker can slow a real user down but
//! never lock them out for good; a successful login clears the account's counter. With Redis
//! configured every node shares the counts; if Redis is unreachable we fail open (log and
//! allow) rather than lock everyone out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

#[async_trait]
pub trait Limiter: Send + Sync {
    /// Seconds until `key` may try again, if it has used up `max` in the current window.
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64>;
    /// Counts one attempt against `key`; the window starts at the first attempt.
    async fn hit(&self, key: &str, window: Duration);
    async fn reset(&self, key: &str);
}

#[derive(Default)]
pub struct MemoryLimiter {
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64> {
        let map = self.counts.lock().unwrap();
        let (count, ends) = map.get(key)?;
        let now = Instant::now();
        // Round up: a client that waits `Retry-After` seconds must find the window over.
        (*count >= max && *ends > now).then(|| (*ends - now).as_secs_f64().ceil().max(1.0) as u64)
    }

    async fn hit(&self, key: &str, window: Duration) {
        let mut map = self.counts.lock().unwrap();
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (_, ends)| *ends > now);
        }
        let entry = map.entry(key.to_string()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
    }

    async fn reset(&self, key: &str) {
        self.counts.lock().unwrap().remove(key);
    }
}

pub struct RedisLimiter {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisLimiter {
    pub fn new(conn: redis::aio::ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:throttle:{key}", self.prefix)
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn blocked_for(&self, key: &str, max: u32) -> Option<u64> {
        let mut c = self.conn.clone();
        let k = self.key(key);
        let res: redis::RedisResult<(Option<u32>, i64)> =
            redis::pipe().get(&k).pttl(&k).query_async(&mut c).await;
        match res {
            Ok((Some(count), ttl_ms)) if count >= max && ttl_ms > 0 => {
                Some((ttl_ms as u64).div_ceil(1000).max(1))
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "throttle: redis unavailable; allowing");
                None
            }
        }
    }

    async fn hit(&self, key: &str, window: Duration) {
        let mut c = self.conn.clone();
        let k = self.key(key);
        // INCR then set the expiry only if none is set: the window starts at the first hit.
        let res: redis::RedisResult<()> = redis::pipe()
            .incr(&k, 1)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(window.as_millis() as u64)
            .arg("NX")
            .ignore()
            .query_async(&mut c)
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "throttle: redis unavailable; not counted");
        }
    }

    async fn reset(&self, key: &str) {
        let mut c = self.conn.clone();
        let res: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut c)
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "throttle: redis unavailable; not reset");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocks_at_limit_and_window_ends() {
        let l = MemoryLimiter::default();
        let w = Duration::from_millis(200);
        for _ in 0..3 {
            assert!(l.blocked_for("k", 3).await.is_none());
            l.hit("k", w).await;
        }
        assert!(l.blocked_for("k", 3).await.is_some());
        assert!(l.blocked_for("other", 3).await.is_none());
        l.reset("k").await;
        assert!(l.blocked_for("k", 3).await.is_none());
    }

    #[tokio::test]
    async fn expired_window_starts_over() {
        let l = MemoryLimiter::default();
        l.counts
            .lock()
            .unwrap()
            .insert("k".into(), (10, Instant::now() - Duration::from_secs(1)));
        assert!(l.blocked_for("k", 3).await.is_none());
        l.hit("k", Duration::from_secs(60)).await;
        assert_eq!(l.counts.lock().unwrap()["k"].0, 1);
    }
}
