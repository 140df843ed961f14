//! Members of a workspace: the list, role changes and removals, under the last-admin rule
//! and the lock that makes it hold when two admins act at once. Each write is one
//! [`UnitOfWork`].

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::access::Membership;
use super::views::{InvitationView, MemberView, MembersResponse};
use crate::access::AccessChange;
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::events::catalogue::MemberEvent;
use crate::events::{EventType, UnitOfWork};
use crate::roles::{Action, Role};
use crate::state::AppState;
use crate::store::entities::{invitations, users, workspace_members, workspaces};

/// The members, and the pending invitations for those who manage members.
pub async fn list(state: &AppState, m: &Membership) -> Result<MembersResponse, ApiError> {
    let rows = workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(m.workspace.id))
        .order_by_asc(workspace_members::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let people = users::Entity::find()
        .filter(users::Column::Id.is_in(rows.iter().map(|r| r.user_id).collect::<Vec<_>>()))
        .all(&state.db)
        .await?;
    let members = rows
        .iter()
        .filter_map(|r| {
            let u = people.iter().find(|u| u.id == r.user_id)?;
            Some(MemberView::new(r, u))
        })
        .collect();
    let invitations = if m.can(Action::MembersManage) {
        invitations::Entity::find()
            .filter(invitations::Column::WorkspaceId.eq(m.workspace.id))
            .filter(invitations::Column::AcceptedAt.is_null())
            .filter(invitations::Column::RevokedAt.is_null())
            .filter(invitations::Column::ExpiresAt.gt(state.clock.now()))
            .order_by_asc(invitations::Column::CreatedAt)
            .all(&state.db)
            .await?
            .iter()
            .map(InvitationView::from)
            .collect()
    } else {
        Vec::new()
    };
    Ok(MembersResponse {
        members,
        invitations,
    })
}

/// Whether the member may give `role` to someone here.
pub fn assignable(role: Role, m: &Membership) -> Result<(), ApiError> {
    if !role.is_assignable() {
        return Err(ApiError::validation(
            "role",
            "super_admin is an instance role and cannot be assigned in a workspace",
        ));
    }
    m.require(Action::MembersManage)
}

pub(crate) async fn find_member<C: ConnectionTrait>(
    db: &C,
    ws: Uuid,
    user_id: Uuid,
) -> Result<workspace_members::Model, ApiError> {
    workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(ws))
        .filter(workspace_members::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("member"))
}

/// Serialises changes to a workspace's admins: on PostgreSQL the workspace row is locked
/// for the rest of the transaction; on SQLite the guarded statement that follows is the
/// transaction's first write, which takes the database's single write lock.
async fn lock_workspace<C: ConnectionTrait>(conn: &C, ws: Uuid) -> Result<(), ApiError> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        workspaces::Entity::find_by_id(ws)
            .lock_exclusive()
            .one(conn)
            .await?;
    }
    Ok(())
}

/// "Another admin remains": the condition every demotion or removal of an admin carries in
/// its own statement, so two admins removing each other at once cannot both succeed.
fn another_admin_remains(ws: Uuid, user_id: Uuid) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{Expr, Query};
    Expr::exists(
        Query::select()
            .column(workspace_members::Column::Id)
            .from(workspace_members::Entity)
            .and_where(workspace_members::Column::WorkspaceId.eq(ws))
            .and_where(workspace_members::Column::Role.eq(Role::WorkspaceAdmin.as_str()))
            .and_where(workspace_members::Column::UserId.ne(user_id))
            .to_owned(),
    )
}

/// Why a guarded change of `row` touched nothing: it is gone, or it is the last admin.
async fn refused<C: ConnectionTrait>(conn: &C, row: Uuid) -> ApiError {
    match workspace_members::Entity::find_by_id(row).one(conn).await {
        Ok(Some(_)) => ApiError::Conflict(
            "last_admin",
            "a workspace needs at least one workspace_admin".into(),
        ),
        Ok(None) => ApiError::NotFound("member"),
        Err(e) => e.into(),
    }
}

fn member_event(user_id: Uuid, role: Option<Role>) -> MemberEvent {
    MemberEvent {
        user_id: Some(user_id),
        role: role.map(|r| r.as_str().into()),
        invitation_id: None,
    }
}

/// Gives the member `member_id` the role `role` (`member.role_changed`); 409 when that
/// would leave the workspace without an admin.
pub async fn change_role(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    ws_id: Uuid,
    member_id: Uuid,
    role: Role,
) -> Result<MemberView, ApiError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let row = find_member(&state.db, ws_id, member_id).await?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    lock_workspace(uow.txn(), ws_id).await?;
    let guard = if role == Role::WorkspaceAdmin {
        Expr::value(true)
    } else {
        workspace_members::Column::Role
            .ne(Role::WorkspaceAdmin.as_str())
            .or(another_admin_remains(ws_id, member_id))
    };
    let changed = workspace_members::Entity::update_many()
        .col_expr(workspace_members::Column::Role, Expr::value(role.as_str()))
        .col_expr(workspace_members::Column::UpdatedAt, Expr::value(uow.now()))
        .filter(workspace_members::Column::Id.eq(row.id))
        .filter(guard)
        .exec(uow.txn())
        .await?
        .rows_affected
        == 1;
    if !changed {
        return Err(refused(uow.txn(), row.id).await);
    }
    uow.record(
        EventType::MemberRoleChanged,
        Some(ws_id),
        ("member", Some(member_id.to_string())),
        &member_event(member_id, Some(role)),
    )
    .await?;
    uow.access_changed(AccessChange::Membership {
        workspace_id: ws_id,
        user_id: member_id,
    });
    uow.commit().await?;
    let row = find_member(&state.db, ws_id, member_id).await?;
    let u = users::Entity::find_by_id(member_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    Ok(MemberView::new(&row, &u))
}

/// Removes the member `member_id` (`member.removed`); 409 for the last admin.
pub async fn remove(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    ws_id: Uuid,
    member_id: Uuid,
) -> Result<(), ApiError> {
    use sea_orm::sea_query::ExprTrait;
    let row = find_member(&state.db, ws_id, member_id).await?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    lock_workspace(uow.txn(), ws_id).await?;
    let removed = workspace_members::Entity::delete_many()
        .filter(workspace_members::Column::Id.eq(row.id))
        .filter(
            workspace_members::Column::Role
                .ne(Role::WorkspaceAdmin.as_str())
                .or(another_admin_remains(ws_id, member_id)),
        )
        .exec(uow.txn())
        .await?
        .rows_affected
        == 1;
    if !removed {
        return Err(refused(uow.txn(), row.id).await);
    }
    uow.record(
        EventType::MemberRemoved,
        Some(ws_id),
        ("member", Some(member_id.to_string())),
        &member_event(member_id, None),
    )
    .await?;
    uow.access_changed(AccessChange::Membership {
        workspace_id: ws_id,
        user_id: member_id,
    });
    uow.commit().await?;
    Ok(())
}
