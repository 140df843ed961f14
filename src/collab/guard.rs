//! Access for an open socket, for as long as it is open.
//!
//! A socket starts from a single-use ticket (never a JWT in the URL). Its access ends at the
//! expiry of the access token that bought the ticket — close 4401 — unless the client
//! renews it in band with a fresh access token before then. It re-checks the database when
//! the access watcher (`crate::access`) says something changed, and every
//! `collab.recheck_secs` besides: a moved token version closes it (4401), lost access closes
//! it (4403), a demotion makes a collab socket read-only.
//!
//! Per-connection limits live here too: a token bucket for inbound messages (1008 beyond)
//! and the awareness rules (bounded size; the user's own id and name stamped on every state
//! so a client cannot show someone else's cursor or name).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use copydesk_actors::protocol::close;
use serde::Deserialize;

use crate::auth::extract::authenticate;
use crate::auth::tickets;
use crate::auth::tokens::expiry;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::entities::users;

/// `?ticket=` (and a refused `?token=`).
#[derive(Deserialize)]
pub struct TicketQuery {
    pub ticket: Option<String>,
    pub token: Option<String>,
}

/// Why a socket must close.
pub type Closing = (u16, &'static str);

pub const EXPIRED: Closing = (close::AUTH_EXPIRED, "access token expired; re-authenticate");
pub const REVOKED: Closing = (close::AUTH_EXPIRED, "signed out; sign in again");
pub const BAD_TOKEN: Closing = (
    close::AUTH_EXPIRED,
    "the token sent in band is not valid for this connection",
);

pub struct SocketAccess {
    pub user: users::Model,
    pub token_version: i32,
    pub expires_at: DateTime<Utc>,
}

impl SocketAccess {
    /// Redeems the ticket in the query; a JWT in the URL is refused.
    pub async fn from_query(state: &AppState, q: &TicketQuery) -> Result<Self, ApiError> {
        let Some(ticket) = q.ticket.as_deref() else {
            return Err(if q.token.is_some() {
                ApiError::Unauthorized(
                    "ticket_required",
                    "sockets take a single-use ?ticket= from POST /api/auth/ws-ticket, not an access token".into(),
                )
            } else {
                ApiError::unauthenticated()
            });
        };
        let grant = tickets::redeem(state, ticket).await?;
        Ok(Self {
            user: without_secrets(grant.user),
            token_version: grant.token_version,
            expires_at: grant.access_expires_at,
        })
    }

    /// In-band re-authentication: a fresh access token of the same user moves the expiry.
    pub async fn renew(&mut self, state: &AppState, jwt: &str) -> Result<(), Closing> {
        let (user, claims) = authenticate(state, jwt).await.map_err(|_| BAD_TOKEN)?;
        if user.id != self.user.id {
            return Err(BAD_TOKEN);
        }
        self.token_version = claims.ver;
        self.expires_at = expiry(&claims);
        self.user = without_secrets(user);
        Ok(())
    }

    /// Re-reads the account: its sessions must not have ended since.
    pub async fn recheck_user(&mut self, state: &AppState) -> Result<(), Option<Closing>> {
        match crate::store::entities::users::Entity::find_by_id(self.user.id)
            .one(&state.db)
            .await
        {
            Ok(Some(u)) if u.token_version == self.token_version => {
                self.user = without_secrets(u);
                Ok(())
            }
            Ok(_) => Err(Some(REVOKED)),
            // A database hiccup is not a reason to drop anyone; the next check decides.
            Err(e) => {
                tracing::warn!(error = %e, "socket access re-check failed; keeping the socket for now");
                Err(None)
            }
        }
    }
}

use sea_orm::EntityTrait;

/// An open socket keeps the account it acts for, but not its password hash (nothing on a
/// socket needs it, and every idle connection would hold a hundred bytes of it).
fn without_secrets(user: users::Model) -> users::Model {
    users::Model {
        password_hash: String::new(),
        ..user
    }
}

/// Inbound message budget: `rate` per second, bursts of `2 × rate`.
pub struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(rate: u32) -> Self {
        Self {
            tokens: 2.0 * rate as f64,
            rate: rate as f64,
            last: Instant::now(),
        }
    }

    /// Takes one message from the budget; false when it is spent.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(2.0 * self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A socket's two periodic duties on one timer (a timer per connection, not two): the
/// heartbeat ping and the periodic access re-check. The socket sleeps until [`Self::next`],
/// then asks [`Self::due`] what to do.
pub struct Periodic {
    ping_every: Duration,
    recheck_every: Duration,
    next_ping: tokio::time::Instant,
    next_recheck: tokio::time::Instant,
}

/// What [`Periodic::due`] found due.
#[derive(Debug, PartialEq)]
pub struct Due {
    pub ping: bool,
    pub recheck: bool,
}

impl Periodic {
    pub fn new(ping_every: Duration, recheck_every: Duration) -> Self {
        Self::starting(tokio::time::Instant::now(), ping_every, recheck_every)
    }

    fn starting(now: tokio::time::Instant, ping_every: Duration, recheck_every: Duration) -> Self {
        Self {
            ping_every,
            recheck_every,
            next_ping: now + ping_every,
            next_recheck: now + recheck_every,
        }
    }

    /// When the timer should fire next.
    pub fn next(&self) -> tokio::time::Instant {
        self.next_ping.min(self.next_recheck)
    }

    /// What is due at `now`; each duty that is moves to a period after `now`.
    pub fn due(&mut self, now: tokio::time::Instant) -> Due {
        let ping = now >= self.next_ping;
        if ping {
            self.next_ping = now + self.ping_every;
        }
        let recheck = now >= self.next_recheck;
        if recheck {
            self.next_recheck = now + self.recheck_every;
        }
        Due { ping, recheck }
    }
}

/// Stamps the authenticated user on an awareness state (`user.id`, `user.name`), keeping the
/// rest (cursor, colour). `None` when it is over the size limit or not a JSON object.
pub fn stamp_awareness(
    json: &str,
    user: &users::Model,
    max_bytes: usize,
) -> Result<String, &'static str> {
    if json == "null" {
        return Ok(json.to_string());
    }
    if json.len() > max_bytes {
        return Err("awareness state too large");
    }
    let mut v: serde_json::Value =
        serde_json::from_str(json).map_err(|_| "awareness state is not JSON")?;
    let obj = v
        .as_object_mut()
        .ok_or("awareness state must be an object")?;
    let entry = obj.entry("user").or_insert_with(|| serde_json::json!({}));
    if !entry.is_object() {
        *entry = serde_json::json!({});
    }
    if let Some(u) = entry.as_object_mut() {
        u.insert("id".into(), serde_json::json!(user.id));
        u.insert("name".into(), serde_json::json!(user.name));
    }
    let out = v.to_string();
    if out.len() > max_bytes + 256 {
        return Err("awareness state too large");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> users::Model {
        users::Model {
            id: uuid::Uuid::new_v4(),
            email: "a@example.com".into(),
            name: "Alice".into(),
            password_hash: String::new(),
            email_verified_at: None,
            is_super_admin: false,
            token_version: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn awareness_carries_the_real_user() {
        let u = user();
        let out = stamp_awareness(
            r##"{"user":{"name":"Mallory","color":"#f00"},"cursor":{"a":1}}"##,
            &u,
            4096,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["user"]["name"], "Alice");
        assert_eq!(v["user"]["id"], u.id.to_string());
        assert_eq!(v["user"]["color"], "#f00");
        assert_eq!(v["cursor"]["a"], 1);
        assert!(stamp_awareness(&format!(r#"{{"x":"{}"}}"#, "a".repeat(5000)), &u, 4096).is_err());
        assert!(stamp_awareness("[1,2]", &u, 4096).is_err());
        assert_eq!(stamp_awareness("null", &u, 4096).unwrap(), "null");
    }

    #[test]
    fn bucket_allows_bursts_then_refuses() {
        let mut b = Bucket::new(10);
        let allowed = (0..100).filter(|_| b.take()).count();
        assert!((20..=21).contains(&allowed), "{allowed}");
    }

    #[test]
    fn one_timer_serves_the_heartbeat_and_the_recheck() {
        let t0 = tokio::time::Instant::now();
        let s = Duration::from_secs;
        let mut p = Periodic::starting(t0, s(15), s(60));
        assert_eq!(p.next(), t0 + s(15));
        assert_eq!(
            p.due(t0 + s(14)),
            Due {
                ping: false,
                recheck: false
            }
        );
        for k in 1..4 {
            let now = t0 + s(15 * k);
            assert_eq!(
                p.due(now),
                Due {
                    ping: true,
                    recheck: false
                }
            );
            assert_eq!(p.next(), now + s(15));
        }
        assert_eq!(
            p.due(t0 + s(60)),
            Due {
                ping: true,
                recheck: true
            }
        );
        assert_eq!(p.next(), t0 + s(75));
        // A late wake-up does both and does not try to catch up.
        let late = t0 + s(200);
        assert_eq!(
            p.due(late),
            Due {
                ping: true,
                recheck: true
            }
        );
        assert_eq!(p.next(), late + s(15));
        // A re-check more often than the heartbeat.
        let mut q = Periodic::starting(t0, s(15), s(1));
        assert_eq!(q.next(), t0 + s(1));
        assert_eq!(
            q.due(t0 + s(1)),
            Due {
                ping: false,
                recheck: true
            }
        );
        assert_eq!(q.next(), t0 + s(2));
    }
}
