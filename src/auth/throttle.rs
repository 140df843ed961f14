//! Fixed-window attempt counters: login throttling, email-sending endpoints, invitations.
//!
//! [`Limiter::hit`] counts an attempt and answers whether it is still within the limit, in
//! one atomic step (Redis `INCR`, or one lock in memory). Callers count **before** doing the
//! work they guard — a password check, an email — so parallel attempts cannot slip past the
//! limit while the first ones are still running.
//!
//! Windows are aligned to the injectable clock (`floor(now / window)`), so they always end:
//! an attacker can slow a real user down but never lock them out for good, and tests move
//! the clock instead of waiting. Keys are hashed (SHA-256) before use, so a long or hostile
//! email address costs a fixed 32 bytes, and the in-memory map is bounded. When Redis errors,
//! counting falls back to the in-process limiter: one node still enforces its own limit,
//! rather than letting everything through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::Clock;
use sha2::{Digest, Sha256};

/// The outcome of one counted attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Attempts in this window, this one included.
    pub count: u64,
    /// Seconds until the window ends (≥ 1).
    pub retry_after_secs: u64,
}

impl Hit {
    /// `Some(retry_after)` when this attempt is over `max`.
    pub fn over(&self, max: u32) -> Option<u64> {
        (self.count > max as u64).then_some(self.retry_after_secs)
    }
}

#[async_trait]
pub trait Limiter: Send + Sync {
    /// Counts one attempt against `key` in the current window of length `window`.
    async fn hit(&self, key: &str, window: Duration) -> Hit;
    /// Seconds until `key` may try again, if it already has more than `max` attempts in the
    /// current window (does not count).
    async fn blocked_for(&self, key: &str, max: u32, window: Duration) -> Option<u64>;
    /// Forgets the current window of `key` (a successful login clears its account counter).
    async fn reset(&self, key: &str, window: Duration);
}

/// The fixed window `now` falls in: its index and the seconds left in it.
fn window_of(now: DateTime<Utc>, window: Duration) -> (i64, u64) {
    let w = window.as_millis().max(1) as i64;
    let t = now.timestamp_millis();
    let idx = t.div_euclid(w);
    let left_ms = (idx + 1) * w - t;
    (idx, (left_ms as u64).div_ceil(1000).max(1))
}

/// A fixed-size, non-reversible form of a key.
fn hashed(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// At most this many keys are held in memory; beyond it, finished windows are dropped, then
/// the oldest windows.
const MAX_KEYS: usize = 100_000;

pub struct MemoryLimiter {
    clock: Arc<dyn Clock>,
    counts: Mutex<HashMap<String, (i64, u64)>>,
}

impl MemoryLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn count(&self, key: &str, window: Duration) -> Hit {
        let (idx, left) = window_of(self.clock.now(), window);
        let k = hashed(key);
        let mut map = self.counts.lock().unwrap();
        if map.len() >= MAX_KEYS && !map.contains_key(&k) {
            map.retain(|_, (i, _)| *i >= idx);
            if map.len() >= MAX_KEYS {
                // Still full of live windows: drop the oldest half rather than grow.
                let mut idxs: Vec<i64> = map.values().map(|(i, _)| *i).collect();
                idxs.sort_unstable();
                let cut = idxs[idxs.len() / 2];
                map.retain(|_, (i, _)| *i > cut);
            }
        }
        let e = map.entry(k).or_insert((idx, 0));
        if e.0 != idx {
            *e = (idx, 0);
        }
        e.1 += 1;
        Hit {
            count: e.1,
            retry_after_secs: left,
        }
    }

    fn peek(&self, key: &str, window: Duration) -> (u64, u64) {
        let (idx, left) = window_of(self.clock.now(), window);
        let map = self.counts.lock().unwrap();
        match map.get(&hashed(key)) {
            Some((i, c)) if *i == idx => (*c, left),
            _ => (0, left),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.counts.lock().unwrap().len()
    }
}

#[async_trait]
impl Limiter for MemoryLimiter {
    async fn hit(&self, key: &str, window: Duration) -> Hit {
        self.count(key, window)
    }

    async fn blocked_for(&self, key: &str, max: u32, window: Duration) -> Option<u64> {
        let (count, left) = self.peek(key, window);
        (count > max as u64).then_some(left)
    }

    async fn reset(&self, key: &str, _window: Duration) {
        self.counts.lock().unwrap().remove(&hashed(key));
    }
}

/// Counts shared by every node through Redis, falling back to `fallback` when Redis errors.
pub struct RedisLimiter {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    clock: Arc<dyn Clock>,
    fallback: MemoryLimiter,
    /// After a Redis error, count on this node for a while instead of waiting on Redis for
    /// every attempt (a login must not take seconds because Redis is down).
    down_until: Mutex<Option<std::time::Instant>>,
}

const REDIS_BACKOFF: Duration = Duration::from_secs(5);

impl RedisLimiter {
    pub fn new(conn: redis::aio::ConnectionManager, prefix: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
            fallback: MemoryLimiter::new(clock.clone()),
            clock,
            down_until: Mutex::new(None),
        }
    }

    fn redis_down(&self) -> bool {
        self.down_until
            .lock()
            .unwrap()
            .is_some_and(|t| std::time::Instant::now() < t)
    }

    fn mark_down(&self) {
        *self.down_until.lock().unwrap() = Some(std::time::Instant::now() + REDIS_BACKOFF);
    }

    fn key(&self, key: &str, idx: i64) -> String {
        format!("{}:throttle:{}:{idx}", self.prefix, hashed(key))
    }
}

#[async_trait]
impl Limiter for RedisLimiter {
    async fn hit(&self, key: &str, window: Duration) -> Hit {
        if self.redis_down() {
            return self.fallback.count(key, window);
        }
        let (idx, left) = window_of(self.clock.now(), window);
        let k = self.key(key, idx);
        let mut c = self.conn.clone();
        // The key outlives its window by a margin, then Redis forgets it.
        let ttl_ms = window.as_millis() as u64 * 2 + 1000;
        let res: redis::RedisResult<(u64,)> = redis::pipe()
            .incr(&k, 1)
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(ttl_ms)
            .ignore()
            .query_async(&mut c)
            .await;
        match res {
            Ok((count,)) => Hit {
                count,
                retry_after_secs: left,
            },
            Err(e) => {
                tracing::warn!(error = %e, "throttle: redis unavailable; counting on this node");
                self.mark_down();
                self.fallback.count(key, window)
            }
        }
    }

    async fn blocked_for(&self, key: &str, max: u32, window: Duration) -> Option<u64> {
        if self.redis_down() {
            return self.fallback.blocked_for(key, max, window).await;
        }
        let (idx, left) = window_of(self.clock.now(), window);
        let mut c = self.conn.clone();
        let res: redis::RedisResult<Option<u64>> = redis::cmd("GET")
            .arg(self.key(key, idx))
            .query_async(&mut c)
            .await;
        match res {
            Ok(count) => (count.unwrap_or(0) > max as u64).then_some(left),
            Err(e) => {
                tracing::warn!(error = %e, "throttle: redis unavailable; checking this node");
                self.mark_down();
                self.fallback.blocked_for(key, max, window).await
            }
        }
    }

    async fn reset(&self, key: &str, window: Duration) {
        self.fallback.reset(key, window).await;
        if self.redis_down() {
            return;
        }
        let (idx, _) = window_of(self.clock.now(), window);
        let mut c = self.conn.clone();
        let res: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(self.key(key, idx))
            .query_async(&mut c)
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "throttle: redis unavailable; not reset");
            self.mark_down();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copydesk_actors::ports::ManualClock;

    #[tokio::test]
    async fn counts_before_the_limit_and_the_window_ends_with_the_clock() {
        let clock = ManualClock::new();
        let l = MemoryLimiter::new(Arc::new(clock.clone()));
        let w = Duration::from_secs(60);
        for i in 1..=3 {
            let h = l.hit("k", w).await;
            assert_eq!(h.count, i);
            assert_eq!(h.over(3), None);
        }
        let h = l.hit("k", w).await;
        assert!(h.over(3).is_some_and(|s| (1..=60).contains(&s)));
        assert!(l.blocked_for("k", 3, w).await.is_some());
        assert!(l.blocked_for("other", 3, w).await.is_none());
        clock.advance(Duration::from_secs(61));
        assert!(l.blocked_for("k", 3, w).await.is_none());
        assert_eq!(l.hit("k", w).await.count, 1);
        l.reset("k", w).await;
        assert!(l.blocked_for("k", 0, w).await.is_none());
    }

    #[tokio::test]
    async fn keys_are_hashed_and_the_map_is_bounded() {
        let clock = ManualClock::new();
        let l = MemoryLimiter::new(Arc::new(clock.clone()));
        let w = Duration::from_secs(60);
        let long = "x".repeat(10_000);
        l.hit(&long, w).await;
        assert!(l.counts.lock().unwrap().keys().all(|k| k.len() == 32));
        for i in 0..(MAX_KEYS + 10) {
            l.hit(&format!("k{i}"), w).await;
        }
        assert!(l.len() <= MAX_KEYS);
    }

    #[test]
    fn windows_are_aligned_and_always_end() {
        let t = DateTime::from_timestamp(120, 0).unwrap();
        assert_eq!(window_of(t, Duration::from_secs(60)), (2, 60));
        let t = DateTime::from_timestamp(179, 500_000_000).unwrap();
        assert_eq!(window_of(t, Duration::from_secs(60)), (2, 1));
    }
}
