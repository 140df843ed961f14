//! Web Push: browsers' subscriptions, VAPID ([`vapid`]), payload encryption ([`ece`]) and
//! sending ([`send`]).
//!
//! A subscription is validated when it is stored: the endpoint must be `https` (plain
//! `http` only inside `outbound.allowed_networks`) and pass the SSRF guard; `p256dh` must be
//! a 65-byte uncompressed P-256 point and `auth` 16 bytes (both base64url). Its endpoint is
//! unique: a browser subscribing again (or another user on the same browser profile) takes
//! the row over.

pub mod ece;
pub mod send;
pub mod vapid;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};
use uuid::Uuid;

use super::views::{SubscriptionCreate, SubscriptionView};
use super::Notify;
use crate::error::ApiError;
use crate::jobs::store::stmt;

/// The channel job: fans out to one `notify.push_one` per subscription.
pub const PUSH_JOB: &str = "notify.push";
/// One push to one subscription.
pub const PUSH_ONE_JOB: &str = "notify.push_one";
/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 2048;
pub const MAX_USER_AGENT_LEN: usize = 512;

#[derive(FromQueryResult, Clone, Debug)]
pub struct Subscription {
    pub id: Uuid,
    pub user_id: Uuid,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, endpoint, p256dh, auth, user_agent, created_at";

impl Subscription {
    pub fn view(&self) -> SubscriptionView {
        SubscriptionView {
            id: self.id,
            endpoint_origin: url::Url::parse(&self.endpoint)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default(),
            user_agent: self.user_agent.clone(),
            created_at: self.created_at,
        }
    }
}

fn b64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s.trim().trim_end_matches('=')).ok()
}

fn bad(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(code, msg.into())
}

/// Checks a subscription; answers the endpoint as it will be stored.
pub async fn validate(n: &Notify, s: &SubscriptionCreate) -> Result<String, ApiError> {
    let endpoint = s.endpoint.trim();
    if endpoint.is_empty() || endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(bad(
            "invalid_endpoint",
            format!("endpoint: must be a URL of at most {MAX_ENDPOINT_LEN} bytes"),
        ));
    }
    let url =
        url::Url::parse(endpoint).map_err(|e| bad("invalid_endpoint", format!("endpoint: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if n.guard.in_allowed_network(&url).await => {}
        _ => return Err(bad("invalid_endpoint", "endpoint: must be an https URL")),
    }
    n.guard
        .check_url(endpoint)
        .await
        .map_err(|e| ApiError::Unprocessable(e.code(), format!("endpoint: {e}")))?;
    let key = b64(&s.keys.p256dh)
        .filter(|k| k.len() == 65 && k[0] == 4)
        .ok_or_else(|| {
            bad(
                "invalid_push_key",
                "keys.p256dh: must be base64url of a 65-byte uncompressed P-256 point",
            )
        })?;
    if p256::PublicKey::from_sec1_bytes(&key).is_err() {
        return Err(bad("invalid_push_key", "keys.p256dh: not a point on P-256"));
    }
    if b64(&s.keys.auth).is_none_or(|a| a.len() != 16) {
        return Err(bad(
            "invalid_push_key",
            "keys.auth: must be base64url of 16 bytes",
        ));
    }
    if s.user_agent
        .as_ref()
        .is_some_and(|u| u.chars().count() > MAX_USER_AGENT_LEN)
    {
        return Err(bad(
            "invalid_user_agent",
            format!("user_agent: at most {MAX_USER_AGENT_LEN} characters"),
        ));
    }
    Ok(url.to_string())
}

/// Stores (or takes over) a subscription for `user`.
pub async fn upsert<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    endpoint: &str,
    s: &SubscriptionCreate,
    now: DateTime<Utc>,
) -> Result<Subscription, ApiError> {
    db.execute_raw(stmt(
        db,
        "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, user_agent, created_at, last_success_at, failures) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0) \
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, \
         auth = excluded.auth, user_agent = excluded.user_agent, failures = 0",
        vec![
            Uuid::now_v7().into(),
            user.into(),
            endpoint.to_string().into(),
            s.keys.p256dh.trim().to_string().into(),
            s.keys.auth.trim().to_string().into(),
            s.user_agent.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    Subscription::find_by_statement(stmt(
        db,
        &format!("SELECT {COLUMNS} FROM push_subscriptions WHERE endpoint = $1"),
        vec![endpoint.to_string().into()],
    ))
    .one(db)
    .await?
    .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the subscription vanished")))
}

pub async fn list<C: ConnectionTrait>(db: &C, user: Uuid) -> Result<Vec<Subscription>, ApiError> {
    Ok(Subscription::find_by_statement(stmt(
        db,
        &format!(
            "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id"
        ),
        vec![user.into()],
    ))
    .all(db)
    .await?)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Subscription>, ApiError> {
    Ok(Subscription::find_by_statement(stmt(
        db,
        &format!("SELECT {COLUMNS} FROM push_subscriptions WHERE id = $1"),
        vec![id.into()],
    ))
    .one(db)
    .await?)
}

/// Deletes one of the user's subscriptions; 404 for anyone else's.
pub async fn delete<C: ConnectionTrait>(db: &C, user: Uuid, id: Uuid) -> Result<(), ApiError> {
    let res = db
        .execute_raw(stmt(
            db,
            "DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2",
            vec![id.into(), user.into()],
        ))
        .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::NotFound("push subscription"));
    }
    Ok(())
}
