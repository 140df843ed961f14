//! Roles and the one permission table that decides every action.
//!
//! `super_admin` is instance-wide (the first account on a fresh instance); the other roles
//! are per workspace membership. Handlers ask [`can`]; nothing else decides access. Clients
//! see only posts shared with them (`client_visible`) and never edit.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SuperAdmin,
    WorkspaceAdmin,
    ContentManager,
    ContentCreator,
    Reviewer,
    Client,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::SuperAdmin,
        Role::WorkspaceAdmin,
        Role::ContentManager,
        Role::ContentCreator,
        Role::Reviewer,
        Role::Client,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::WorkspaceAdmin => "workspace_admin",
            Role::ContentManager => "content_manager",
            Role::ContentCreator => "content_creator",
            Role::Reviewer => "reviewer",
            Role::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Roles a workspace membership can hold (super_admin is an account flag, not a membership).
    pub fn is_assignable(self) -> bool {
        self != Role::SuperAdmin
    }
}

/// Everything a member can try to do in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    WorkspaceView,
    WorkspaceUpdate,
    WorkspaceDelete,
    MembersView,
    MembersManage,
    /// See every post, internal ones included (clients see only shared posts).
    PostViewAll,
    PostViewShared,
    PostCreate,
    PostEdit,
    PostDelete,
    PostComment,
    /// See internal comments (clients see only comments marked `client`).
    CommentViewInternal,
    PostApprove,
    /// Send a post for approval (or take it back).
    PostSubmit,
    /// Approval mode and workflows of the workspace.
    ApprovalWorkflowsManage,
    /// Create and revoke review links for people without an account.
    ShareLinksManage,
    PostSchedule,
    PostPublish,
    ActivityView,
    SocialAccountsManage,
    WebhooksManage,
    AnalyticsView,
}

impl Action {
    pub const ALL: [Action; 22] = [
        Action::WorkspaceView,
        Action::WorkspaceUpdate,
        Action::WorkspaceDelete,
        Action::MembersView,
        Action::MembersManage,
        Action::PostViewAll,
        Action::PostViewShared,
        Action::PostCreate,
        Action::PostEdit,
        Action::PostDelete,
        Action::PostComment,
        Action::CommentViewInternal,
        Action::PostApprove,
        Action::PostSubmit,
        Action::ApprovalWorkflowsManage,
        Action::ShareLinksManage,
        Action::PostSchedule,
        Action::PostPublish,
        Action::ActivityView,
        Action::SocialAccountsManage,
        Action::WebhooksManage,
        Action::AnalyticsView,
    ];
}

use Role::*;

const ADMINS: &[Role] = &[SuperAdmin, WorkspaceAdmin];
const MANAGERS: &[Role] = &[SuperAdmin, WorkspaceAdmin, ContentManager];
const EDITORS: &[Role] = &[SuperAdmin, WorkspaceAdmin, ContentManager, ContentCreator];
const TEAM: &[Role] = &[
    SuperAdmin,
    WorkspaceAdmin,
    ContentManager,
    ContentCreator,
    Reviewer,
];
const EVERYONE: &[Role] = &[
    SuperAdmin,
    WorkspaceAdmin,
    ContentManager,
    ContentCreator,
    Reviewer,
    Client,
];
const APPROVERS: &[Role] = &[SuperAdmin, WorkspaceAdmin, ContentManager, Reviewer, Client];

/// The permission table: who may do what.
fn allowed(action: Action) -> &'static [Role] {
    match action {
        Action::WorkspaceView => EVERYONE,
        Action::WorkspaceUpdate | Action::WorkspaceDelete => ADMINS,
        Action::MembersView => TEAM,
        Action::MembersManage => ADMINS,
        Action::PostViewAll => TEAM,
        Action::PostViewShared => EVERYONE,
        Action::PostCreate | Action::PostEdit => EDITORS,
        Action::PostDelete => MANAGERS,
        Action::PostComment => EVERYONE,
        Action::CommentViewInternal => TEAM,
        Action::PostApprove => APPROVERS,
        Action::PostSubmit | Action::ShareLinksManage => EDITORS,
        Action::ApprovalWorkflowsManage => MANAGERS,
        Action::PostSchedule | Action::PostPublish => MANAGERS,
        Action::ActivityView => TEAM,
        Action::SocialAccountsManage | Action::WebhooksManage => ADMINS,
        Action::AnalyticsView => TEAM,
    }
}

pub fn can(role: Role, action: Action) -> bool {
    allowed(action).contains(&role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn super_admin_can_do_everything_and_clients_never_edit() {
        for a in Action::ALL {
            assert!(can(SuperAdmin, a), "{a:?}");
        }
        for a in [
            Action::PostCreate,
            Action::PostEdit,
            Action::PostDelete,
            Action::PostViewAll,
            Action::MembersManage,
        ] {
            assert!(!can(Client, a), "{a:?}");
        }
    }
}
