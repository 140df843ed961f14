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

use std::time::Instant;

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
            user: grant.user,
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
        self.user = user;
        Ok(())
    }

    /// Re-reads the account: its sessions must not have ended since.
    pub async fn recheck_user(&mut self, state: &AppState) -> Result<(), Option<Closing>> {
        match crate::store::entities::users::Entity::find_by_id(self.user.id)
            .one(&state.db)
            .await
        {
            Ok(Some(u)) if u.token_version == self.token_version => {
                self.user = u;
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
}
