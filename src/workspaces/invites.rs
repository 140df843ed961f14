//! Invitations: an emailed, expiring, single-use link that adds its holder to a workspace
//! once they sign up or sign in with the invited address.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::access::{self, AccessChange};
use crate::auth::extract::RequestMeta;
use crate::auth::tokens::hash_opaque;
use crate::error::ApiError;
use crate::events::{self, Change, Event};
use crate::state::AppState;
use crate::store::entities::{invitations, users, workspace_members};

/// The invitation behind `token` if it can still be accepted.
pub async fn find_valid<C: ConnectionTrait>(
    db: &C,
    token: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Option<invitations::Model>, ApiError> {
    let inv = invitations::Entity::find()
        .filter(invitations::Column::TokenHash.eq(hash_opaque(token)))
        .one(db)
        .await?;
    Ok(inv.filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now))
}

/// Adds `user` to the invitation's workspace (keeping an existing membership as it is) and
/// spends the invitation. Call inside a transaction.
pub async fn accept<C: ConnectionTrait>(
    conn: &C,
    invite: &invitations::Model,
    user: &users::Model,
    meta: &RequestMeta,
    now: chrono::DateTime<Utc>,
) -> Result<Event, ApiError> {
    // Spent by a conditional update: of two concurrent acceptances, one wins; the other
    // finds it used (and the unique (workspace, user) index guards the membership itself).
    let spent = invitations::Entity::update_many()
        .col_expr(invitations::Column::AcceptedAt, Expr::value(now))
        .col_expr(invitations::Column::AcceptedBy, Expr::value(user.id))
        .filter(invitations::Column::Id.eq(invite.id))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if !spent {
        return Err(ApiError::Conflict(
            "invitation_used",
            "this invitation was already used".into(),
        ));
    }
    let existing = workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(invite.workspace_id))
        .filter(workspace_members::Column::UserId.eq(user.id))
        .one(conn)
        .await?;
    if existing.is_none() {
        workspace_members::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(invite.workspace_id),
            user_id: Set(user.id),
            role: Set(invite.role.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    events::record(
        conn,
        Change {
            workspace_id: Some(invite.workspace_id),
            actor_id: Some(user.id),
            event_type: "member.joined",
            target_type: "member",
            target_id: Some(user.id.to_string()),
            data: json!({ "user_id": user.id, "role": invite.role, "invitation_id": invite.id }),
            meta,
        },
    )
    .await
}

/// After an acceptance commits: the new member's open event sockets pick the workspace up.
pub async fn announce_joined(state: &AppState, invite: &invitations::Model, user_id: Uuid) {
    access::announce(
        state.bus.as_ref(),
        AccessChange::Membership {
            workspace_id: invite.workspace_id,
            user_id,
        },
    )
    .await;
}
