//! Refresh-token families (RFC 9700 §4.14.2).
//!
//! A sign-in starts a family. Each refresh consumes the presented token and issues the next
//! one in the same family. Presenting a token that was already used means it was copied:
//! the whole family is revoked, so both the thief and the user must sign in again. A family
//! ends at its absolute lifetime however actively it is used, and a token unused for the
//! idle lifetime expires.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::extract::RequestMeta;
use super::tokens::{hash_opaque, opaque};
use crate::config::AuthSettings;
use crate::error::ApiError;
use crate::store::entities::{refresh_token_families as families, refresh_tokens, users};

fn invalid() -> ApiError {
    ApiError::Unauthorized(
        "invalid_refresh_token",
        "the refresh token is invalid or expired; sign in again".into(),
    )
}

async fn issue_in_family<C: ConnectionTrait>(
    conn: &C,
    family: &families::Model,
    cfg: &AuthSettings,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let idle = now + Duration::seconds(cfg.refresh_idle_ttl_secs as i64);
    let (token, hash) = opaque();
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family.id),
        token_hash: Set(hash),
        expires_at: Set(std::cmp::min(idle, family.absolute_expires_at)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// Starts a new family for `user` and returns its first refresh token and the family id.
pub async fn start<C: ConnectionTrait>(
    conn: &C,
    user: &users::Model,
    meta: &RequestMeta,
    cfg: &AuthSettings,
    now: DateTime<Utc>,
) -> Result<(String, Uuid), ApiError> {
    let family = families::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        absolute_expires_at: Set(now + Duration::seconds(cfg.refresh_absolute_ttl_secs as i64)),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        ip: Set(meta.ip.clone()),
        user_agent: Set(meta.user_agent.clone()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    let token = issue_in_family(conn, &family, cfg, now).await?;
    Ok((token, family.id))
}

async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    family_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    families::Entity::update_many()
        .col_expr(families::Column::RevokedAt, Expr::value(now))
        .col_expr(
            families::Column::RevokedReason,
            Expr::value(reason.to_string()),
        )
        .filter(families::Column::Id.eq(family_id))
        .filter(families::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Revokes every family of a user but `keep` (logout: none kept; password change: the
/// caller's).
pub async fn revoke_all_except<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut q = families::Entity::update_many()
        .col_expr(families::Column::RevokedAt, Expr::value(now))
        .col_expr(
            families::Column::RevokedReason,
            Expr::value(reason.to_string()),
        )
        .filter(families::Column::UserId.eq(user_id))
        .filter(families::Column::RevokedAt.is_null());
    if let Some(k) = keep {
        q = q.filter(families::Column::Id.ne(k));
    }
    q.exec(conn).await?;
    Ok(())
}

/// What a refresh attempt came to.
pub enum Rotation {
    /// The next token, for this user, in family `family`.
    Rotated {
        user: users::Model,
        refresh_token: String,
        family: Uuid,
    },
    /// The token had been used before, outside the grace window: its family is revoked and
    /// the user's token version moved (the thief's access tokens die too).
    ReuseDetected { user_id: Uuid },
    /// The token or its family outlived its lifetime: the family is revoked.
    Expired,
}

/// Consumes `token` and issues the next one in its family, in the caller's transaction
/// (which commits whatever the outcome but an error: a revocation must stick).
///
/// A token presented again within `refresh_grace_secs` of its rotation (two tabs refreshing
/// at once) gets a new token in the same family instead of counting as reuse; after that,
/// a second presentation is theft.
pub async fn rotate<C: ConnectionTrait>(
    txn: &C,
    token: &str,
    cfg: &AuthSettings,
    now: DateTime<Utc>,
) -> Result<Rotation, ApiError> {
    let Some(row) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(hash_opaque(token)))
        .one(txn)
        .await?
    else {
        return Err(invalid());
    };
    let family = families::Entity::find_by_id(row.family_id)
        .one(txn)
        .await?
        .ok_or_else(invalid)?;
    if family.revoked_at.is_some() {
        return Err(invalid());
    }
    // Claim the token atomically: of two concurrent presenters only one can win.
    let claimed = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(row.id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        let used_at = refresh_tokens::Entity::find_by_id(row.id)
            .one(txn)
            .await?
            .and_then(|r| r.used_at);
        let in_grace =
            used_at.is_some_and(|u| now - u <= Duration::seconds(cfg.refresh_grace_secs as i64));
        if !in_grace {
            revoke_family(txn, family.id, "reuse_detected", now).await?;
            users::Entity::update_many()
                .col_expr(
                    users::Column::TokenVersion,
                    Expr::col(users::Column::TokenVersion).add(1),
                )
                .filter(users::Column::Id.eq(family.user_id))
                .exec(txn)
                .await?;
            return Ok(Rotation::ReuseDetected {
                user_id: family.user_id,
            });
        }
    }
    if row.expires_at <= now || family.absolute_expires_at <= now {
        revoke_family(txn, family.id, "expired", now).await?;
        return Ok(Rotation::Expired);
    }
    let user = users::Entity::find_by_id(family.user_id)
        .one(txn)
        .await?
        .ok_or_else(invalid)?;
    let refresh_token = issue_in_family(txn, &family, cfg, now).await?;
    Ok(Rotation::Rotated {
        user,
        refresh_token,
        family: family.id,
    })
}
