//! Request and response bodies of the workspaces, members and invitations API.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::roles::Role;
use crate::store::entities::{invitations, users, workspace_members, workspaces};

#[derive(Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// The caller's role here.
    pub role: Role,
    /// How posts are approved here: none, optional, required or multi_level.
    pub approval_mode: crate::approvals::ApprovalMode,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl WorkspaceView {
    pub fn new(w: &workspaces::Model, role: Role) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            slug: w.slug.clone(),
            role,
            approval_mode: crate::approvals::rounds::mode_of(w),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct WorkspaceCreate {
    pub name: String,
    /// Lowercase letters, digits and dashes; derived from the name when absent.
    pub slug: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct WorkspaceUpdate {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// none, optional, required or multi_level (workspace admins and managers).
    pub approval_mode: Option<crate::approvals::ApprovalMode>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: chrono::DateTime<Utc>,
}

impl MemberView {
    pub fn new(r: &workspace_members::Model, u: &users::Model) -> Self {
        Self {
            user_id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: Role::parse(&r.role).unwrap_or(Role::Client),
            joined_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub expires_at: chrono::DateTime<Utc>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<&invitations::Model> for InvitationView {
    fn from(i: &invitations::Model) -> Self {
        Self {
            id: i.id,
            email: i.email.clone(),
            role: Role::parse(&i.role).unwrap_or(Role::Client),
            expires_at: i.expires_at,
            created_at: i.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MembersResponse {
    pub members: Vec<MemberView>,
    /// Pending invitations (shown to those who manage members).
    pub invitations: Vec<InvitationView>,
}

#[derive(Deserialize, ToSchema)]
pub struct MemberAdd {
    pub email: String,
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
pub struct MemberRoleUpdate {
    pub role: Role,
}

/// Always `invited`: an invitation was emailed (whether or not the address has an account).
#[derive(Serialize, ToSchema)]
pub struct MemberAddResponse {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationView>,
}

#[derive(Deserialize, ToSchema)]
pub struct InvitationAccept {
    pub token: String,
}
