//! Workspace scoping: every workspace-owned resource is reached through [`membership`],
//! which answers 404 — never 403, never data — when the caller is not a member. Inside the
//! workspace, [`Membership::require`] asks the permission table and answers 403.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::ApiError;
use crate::roles::{can, Action, Role};
use crate::store::entities::{users, workspace_members, workspaces};

pub struct Membership {
    pub workspace: workspaces::Model,
    pub role: Role,
}

impl Membership {
    pub fn can(&self, action: Action) -> bool {
        can(self.role, action)
    }

    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.can(action) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// The caller's role in `workspace_id`; super admins act as `super_admin` everywhere.
pub async fn membership<C: ConnectionTrait>(
    db: &C,
    user: &users::Model,
    workspace_id: Uuid,
) -> Result<Membership, ApiError> {
    let workspace = workspaces::Entity::find_by_id(workspace_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("workspace"))?;
    if user.is_super_admin {
        return Ok(Membership {
            workspace,
            role: Role::SuperAdmin,
        });
    }
    let member = workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(workspace_id))
        .filter(workspace_members::Column::UserId.eq(user.id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("workspace"))?;
    let role = Role::parse(&member.role).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "unknown role {:?} in database",
            member.role
        ))
    })?;
    Ok(Membership { workspace, role })
}
