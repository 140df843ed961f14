//! Account rules behind the auth handlers: emailed tokens, sign-up and verification,
//! sessions ending, password changes, throttles.
//!
//! Who can claim an address: only whoever reads its inbox **and** made the sign-up. Registering
//! an address that exists but is unverified stores the new password **with the new
//! verification link**, not on the account. Confirming takes the link and the password that
//! link carries (or, for a link sent at sign-in, the account's); it sets that password, kills
//! every other link and ends every other session. So an attacker who registers `victim@corp`
//! — before or after the victim — holds nothing: the attacker never sees the inbox, and the
//! victim cannot confirm the attacker's link without the attacker's password.

use std::time::Duration as StdDuration;

use chrono::Duration;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use uuid::Uuid;

use super::extract::RequestMeta;
use super::sessions;
use super::tokens;
use super::views::AuthResponse;
use crate::access::AccessChange;
use crate::error::ApiError;
use crate::events::UnitOfWork;
use crate::mail::Email;
use crate::state::AppState;
use crate::store::entities::{email_tokens, users};

pub const PURPOSE_VERIFY: &str = "verify_email";
pub const PURPOSE_RESET: &str = "reset_password";

fn bad_link() -> ApiError {
    ApiError::BadRequest(
        "invalid_token",
        "this link is invalid or has expired".into(),
    )
}

pub fn ip_key(prefix: &str, meta: &RequestMeta) -> String {
    format!("{prefix}:ip:{}", meta.ip.as_deref().unwrap_or("unknown"))
}

/// Counts one attempt against `key`; 429 when it is over `max` in the window.
pub async fn throttle(
    state: &AppState,
    key: &str,
    max: u32,
    window_secs: u64,
) -> Result<(), ApiError> {
    let hit = state
        .limiter
        .hit(key, StdDuration::from_secs(window_secs))
        .await;
    match hit.over(max) {
        Some(retry_after_secs) => Err(ApiError::TooManyRequests { retry_after_secs }),
        None => Ok(()),
    }
}

/// Per-IP limit on endpoints that send email.
pub async fn throttle_email_requests(state: &AppState, meta: &RequestMeta) -> Result<(), ApiError> {
    let cfg = &state.settings.auth;
    throttle(
        state,
        &ip_key("email", meta),
        cfg.email_requests_per_ip,
        cfg.login_window_secs,
    )
    .await
}

/// Whether `email` may receive one more verification mail in this window (counts it).
async fn may_mail_verification(state: &AppState, email: &str) -> bool {
    let cfg = &state.settings.auth;
    throttle(
        state,
        &format!("verify-mail:{email}"),
        cfg.verification_mails_per_address,
        cfg.email_window_secs,
    )
    .await
    .is_ok()
}

pub async fn hash_blocking(pw: String) -> Result<String, ApiError> {
    actix_web::web::block(move || super::password::hash(&pw))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub async fn verify_blocking(pw: String, stored: Option<String>) -> Result<bool, ApiError> {
    actix_web::web::block(move || super::password::verify(&pw, stored.as_deref()))
        .await
        .map_err(ApiError::internal)
}

/// Stores an emailed token for `user`; a verification token may carry the password and name
/// chosen with the registration that asked for it.
pub async fn create_email_token(
    state: &AppState,
    user: &users::Model,
    purpose: &str,
    pending: Option<(String, String)>,
) -> Result<String, ApiError> {
    let (token, hash) = tokens::opaque();
    let now = state.clock.now();
    let (password_hash, name) = pending.unzip();
    email_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(Some(user.id)),
        email: Set(user.email.clone()),
        purpose: Set(purpose.to_string()),
        token_hash: Set(hash),
        expires_at: Set(now + Duration::seconds(state.settings.auth.email_token_ttl_secs as i64)),
        used_at: Set(None),
        created_at: Set(now),
        password_hash: Set(password_hash),
        name: Set(name),
    }
    .insert(&state.db)
    .await?;
    Ok(token)
}

/// Voids every unused token of `user` for `purpose` (a newer one replaces them, or the
/// password changed).
pub async fn void_email_tokens<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    purpose: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    email_tokens::Entity::update_many()
        .col_expr(email_tokens::Column::UsedAt, Expr::value(now))
        .filter(email_tokens::Column::UserId.eq(user_id))
        .filter(email_tokens::Column::Purpose.eq(purpose))
        .filter(email_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// The live token behind `token` for `purpose`, without spending it (read-only: checked
/// before any expensive work).
pub async fn find_email_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<email_tokens::Model, ApiError> {
    let row = email_tokens::Entity::find()
        .filter(email_tokens::Column::TokenHash.eq(tokens::hash_opaque(token)))
        .filter(email_tokens::Column::Purpose.eq(purpose))
        .one(conn)
        .await?
        .ok_or_else(bad_link)?;
    if row.used_at.is_some() || row.expires_at <= now || row.user_id.is_none() {
        return Err(bad_link());
    }
    Ok(row)
}

/// Spends an email token (of two concurrent users of one link, one wins) and returns it
/// with its user.
pub async fn consume_email_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(email_tokens::Model, users::Model), ApiError> {
    let row = find_email_token(conn, token, purpose, now).await?;
    let claimed = email_tokens::Entity::update_many()
        .col_expr(email_tokens::Column::UsedAt, Expr::value(now))
        .filter(email_tokens::Column::Id.eq(row.id))
        .filter(email_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(bad_link());
    }
    let user = users::Entity::find_by_id(row.user_id.ok_or_else(bad_link)?)
        .one(conn)
        .await?
        .ok_or_else(bad_link)?;
    Ok((row, user))
}

pub fn send_verification(state: &AppState, user: &users::Model, token: &str) {
    state.mailer.send_later(Email {
        to: user.email.clone(),
        subject: "Confirm your email for Copydesk".into(),
        body: format!(
            "Hi {},\n\nConfirm your email address to finish signing up:\n\n{}/verify-email?token={}\n\n\
             The link works once and expires in {} hours. If you signed up more than once, use the newest email.",
            user.name,
            state.public_url,
            token,
            state.settings.auth.email_token_ttl_secs / 3600
        ),
    });
}

/// Sends a verification link for `user`, carrying `pending` (password hash, name) when a
/// registration asked for it. Older unused links die. Silently skipped past the
/// per-address limit, so the answer never tells.
pub async fn mail_verification(
    state: &AppState,
    user: &users::Model,
    pending: Option<(String, String)>,
) -> Result<(), ApiError> {
    if !may_mail_verification(state, &user.email).await {
        tracing::info!(user_id = %user.id, "verification mail limit reached; not sending");
        return Ok(());
    }
    let token = create_email_token(state, user, PURPOSE_VERIFY, pending).await?;
    send_verification(state, user, &token);
    Ok(())
}

/// Ends every session of the user, except the sign-in `keep` if given: refresh families are
/// revoked and the token version moves, so access tokens already issued stop working and
/// open sockets close (the change is announced once `uow` commits).
pub async fn end_sessions(
    uow: &mut UnitOfWork<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<(), ApiError> {
    let now = uow.now();
    sessions::revoke_all_except(uow.txn(), user_id, keep, reason, now).await?;
    users::Entity::update_many()
        .col_expr(
            users::Column::TokenVersion,
            Expr::col(users::Column::TokenVersion).add(1),
        )
        .filter(users::Column::Id.eq(user_id))
        .exec(uow.txn())
        .await?;
    uow.access_changed(AccessChange::User { user_id });
    Ok(())
}

/// Signs `user` in: a new refresh family and an access token in it.
pub async fn sign_in(
    state: &AppState,
    user: &users::Model,
    meta: &RequestMeta,
) -> Result<AuthResponse, ApiError> {
    let now = state.clock.now();
    let uow = UnitOfWork::begin(state, Some(user.id), meta).await?;
    let (refresh_token, family) =
        sessions::start(uow.txn(), user, meta, &state.settings.auth, now).await?;
    uow.commit().await?;
    let (access_token, _) = state
        .jwt
        .issue(user.id, user.token_version, Some(family), now)?;
    Ok(AuthResponse {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl_secs(),
        user: user.into(),
    })
}

/// Marks the user verified with the password (and name) their link carries; returns the
/// updated user. Call inside a transaction, after `consume_email_token`.
pub async fn apply_verification<C: ConnectionTrait>(
    conn: &C,
    token: &email_tokens::Model,
    user: users::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<users::Model, ApiError> {
    let mut active = user.clone().into_active_model();
    if user.email_verified_at.is_none() {
        active.email_verified_at = Set(Some(now));
    }
    if let Some(h) = &token.password_hash {
        active.password_hash = Set(h.clone());
    }
    if let Some(n) = &token.name {
        active.name = Set(n.clone());
    }
    active.updated_at = Set(now);
    Ok(active.update(conn).await?)
}
