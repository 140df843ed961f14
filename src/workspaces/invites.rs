//! Invitations: an emailed, expiring, single-use link that adds its holder to a workspace
//! once they sign up or sign in with the invited address. Inviting, revoking and accepting
//! are each one [`UnitOfWork`]; sign-up and sign-in accept inside their own.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use uuid::Uuid;

use super::access::{membership, Membership};
use crate::access::AccessChange;
use crate::auth::accounts;
use crate::auth::extract::RequestMeta;
use crate::auth::tokens::{self, hash_opaque};
use crate::error::ApiError;
use crate::events::catalogue::MemberEvent;
use crate::events::{EventType, UnitOfWork};
use crate::mail::Email;
use crate::roles::Role;
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
/// spends the invitation, in `uow` (`member.joined` by `user`; once it commits, the new
/// member's open event sockets pick the workspace up).
pub async fn accept(
    uow: &mut UnitOfWork<'_>,
    invite: &invitations::Model,
    user: &users::Model,
) -> Result<(), ApiError> {
    let now = uow.now();
    let conn = uow.txn();
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
    uow.set_actor(Some(user.id));
    uow.record(
        EventType::MemberJoined,
        Some(invite.workspace_id),
        ("member", Some(user.id.to_string())),
        &MemberEvent {
            user_id: Some(user.id),
            role: Some(invite.role.clone()),
            invitation_id: Some(invite.id),
        },
    )
    .await?;
    uow.access_changed(AccessChange::Membership {
        workspace_id: invite.workspace_id,
        user_id: user.id,
    });
    Ok(())
}

/// Invites `email` as `role` (`member.invited`, without the address: the event goes to
/// every team member's feed) and mails the link. Always an invitation the person accepts —
/// never a silent add — and the same answer whether or not the address has an account (or
/// is already a member). A new invitation replaces a pending one for the same address.
pub async fn invite(
    state: &AppState,
    inviter: &users::Model,
    meta: &RequestMeta,
    m: &Membership,
    email: String,
    role: Role,
) -> Result<invitations::Model, ApiError> {
    let cfg = &state.settings.auth;
    accounts::throttle(
        state,
        &format!("invite:by:{}", inviter.id),
        cfg.invitations_per_inviter,
        cfg.email_window_secs,
    )
    .await?;
    accounts::throttle(
        state,
        &format!("invite:to:{email}"),
        cfg.invitations_per_recipient,
        cfg.email_window_secs,
    )
    .await?;
    let mut uow = UnitOfWork::begin(state, Some(inviter.id), meta).await?;
    let now = uow.now();
    invitations::Entity::update_many()
        .col_expr(
            invitations::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(invitations::Column::WorkspaceId.eq(m.workspace.id))
        .filter(invitations::Column::Email.eq(&email))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .exec(uow.txn())
        .await?;
    let (token, hash) = tokens::opaque();
    let inv = invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(m.workspace.id),
        email: Set(email.clone()),
        role: Set(role.as_str().into()),
        token_hash: Set(hash),
        invited_by: Set(Some(inviter.id)),
        expires_at: Set(now + Duration::seconds(cfg.invitation_ttl_secs as i64)),
        accepted_at: Set(None),
        accepted_by: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    uow.record(
        EventType::MemberInvited,
        Some(m.workspace.id),
        ("invitation", Some(inv.id.to_string())),
        &MemberEvent {
            invitation_id: Some(inv.id),
            role: Some(role.as_str().into()),
            ..Default::default()
        },
    )
    .await?;
    uow.commit().await?;
    state.mailer.send_later(Email {
        to: email,
        subject: format!("{} invited you to {} on Copydesk", inviter.name, m.workspace.name),
        body: format!(
            "{} invited you to join the workspace \"{}\" on Copydesk as {}.\n\nAccept the invitation:\n\n{}/invite?token={}\n\n\
             The link works once and expires in {} days.",
            inviter.name,
            m.workspace.name,
            role.as_str(),
            state.public_url,
            token,
            cfg.invitation_ttl_secs / 86400
        ),
    });
    Ok(inv)
}

/// Revokes a pending invitation (`member.invitation_revoked`).
pub async fn revoke_invitation(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    ws_id: Uuid,
    inv_id: Uuid,
) -> Result<(), ApiError> {
    let inv = invitations::Entity::find_by_id(inv_id)
        .filter(invitations::Column::WorkspaceId.eq(ws_id))
        .filter(invitations::Column::AcceptedAt.is_null())
        .filter(invitations::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("invitation"))?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let mut active = inv.into_active_model();
    active.revoked_at = Set(Some(uow.now()));
    active.update(uow.txn()).await?;
    uow.record(
        EventType::MemberInvitationRevoked,
        Some(ws_id),
        ("invitation", Some(inv_id.to_string())),
        &MemberEvent {
            invitation_id: Some(inv_id),
            ..Default::default()
        },
    )
    .await?;
    uow.commit().await?;
    Ok(())
}

/// The signed-in `user` accepts the invitation behind `token` (404 unless it is theirs and
/// still valid) and gets their new membership.
pub async fn accept_invitation(
    state: &AppState,
    user: &users::Model,
    meta: &RequestMeta,
    token: &str,
) -> Result<Membership, ApiError> {
    let inv = find_valid(&state.db, token, state.clock.now())
        .await?
        .filter(|i| i.email == user.email)
        .ok_or(ApiError::NotFound("invitation"))?;
    let mut uow = UnitOfWork::begin(state, Some(user.id), meta).await?;
    accept(&mut uow, &inv, user).await?;
    uow.commit().await?;
    membership(&state.db, user, inv.workspace_id).await
}
