//! WebSocket tickets: what goes in a socket URL instead of the access token.
//!
//! Browsers cannot set headers on a WebSocket, so the credential rides in the query string
//! — where proxies and servers log it. A ticket is worth nothing in a log: it is random,
//! stored only as a hash, works once, and expires within seconds
//! (`auth.ws_ticket_ttl_secs`). It remembers the expiry and token version of the access
//! token that bought it: the socket's access ends when that token's would have, unless the
//! client renews it in band, and ends at once when the user's token version moves.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::tokens::{hash_opaque, opaque};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::entities::{users, ws_tickets};

fn invalid() -> ApiError {
    ApiError::Unauthorized(
        "invalid_ticket",
        "the ticket is invalid, used or expired; get a new one from POST /api/auth/ws-ticket"
            .into(),
    )
}

/// Issues a ticket for `user`, whose access token expires at `access_expires_at`.
pub async fn issue(
    state: &AppState,
    user: &users::Model,
    access_expires_at: DateTime<Utc>,
) -> Result<String, ApiError> {
    let now = state.clock.now();
    let (ticket, hash) = opaque();
    ws_tickets::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(hash),
        user_id: Set(user.id),
        token_version: Set(user.token_version),
        access_expires_at: Set(access_expires_at),
        expires_at: Set(now + Duration::seconds(state.settings.auth.ws_ticket_ttl_secs as i64)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(ticket)
}

/// What a redeemed ticket grants.
pub struct SocketGrant {
    pub user: users::Model,
    pub token_version: i32,
    pub access_expires_at: DateTime<Utc>,
}

/// Spends `ticket` (once: of two concurrent redeemers one wins) and returns whose it is.
pub async fn redeem(state: &AppState, ticket: &str) -> Result<SocketGrant, ApiError> {
    let now = state.clock.now();
    let row = ws_tickets::Entity::find()
        .filter(ws_tickets::Column::TokenHash.eq(hash_opaque(ticket)))
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    if row.used_at.is_some() || row.expires_at <= now || row.access_expires_at <= now {
        return Err(invalid());
    }
    let claimed = ws_tickets::Entity::update_many()
        .col_expr(ws_tickets::Column::UsedAt, Expr::value(now))
        .filter(ws_tickets::Column::Id.eq(row.id))
        .filter(ws_tickets::Column::UsedAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(invalid());
    }
    let user = users::Entity::find_by_id(row.user_id)
        .one(&state.db)
        .await?
        .filter(|u| u.token_version == row.token_version)
        .ok_or_else(invalid)?;
    Ok(SocketGrant {
        user,
        token_version: row.token_version,
        access_expires_at: row.access_expires_at,
    })
}

/// Deletes tickets that can no longer be used (called now and then).
pub async fn purge(state: &AppState) -> Result<u64, ApiError> {
    let cutoff = state.clock.now() - Duration::minutes(5);
    Ok(ws_tickets::Entity::delete_many()
        .filter(ws_tickets::Column::ExpiresAt.lt(cutoff))
        .exec(&state.db)
        .await?
        .rows_affected)
}
