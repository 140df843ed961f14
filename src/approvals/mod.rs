//! Approvals: the workspace's approval mode, workflows, approval rounds bound to the exact
//! content they approve, decisions, deadlines, and review links for people without an account.
//!
//! - [`workflow`]: workflows (ordered steps, approvers, N of M, deadlines, conditions) and
//!   which one a post goes through.
//! - [`rounds`]: the building blocks of a round: open, advance, decide, close, events.
//! - [`service`]: the actions (submit, decide, withdraw) and voiding on content change.
//! - [`deadlines`]: reminders and deadline rules, run by the `DeadlineKeeper` actor.
//! - [`share`]: review links (signed tokens; create, list, revoke); [`review`]: the guests' API.
//! - [`views`], [`handlers`]: the HTTP side.
//!
//! Approval is bound to content: a round records the SHA-256 of the exact title and content
//! it is about ([`rounds::content_hash`]); an edit voids it, and [`check_publishable`] is the
//! check the publisher makes.

pub mod deadlines;
pub mod entities;
pub mod handlers;
pub mod review;
pub mod rounds;
pub mod service;
pub mod share;
pub mod views;
pub mod workflow;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::events::catalogue::ApprovalActor;
use crate::roles::Role;
use crate::store::entities::{posts as post_rows, workspaces};
use entities::steps;

pub use deadlines::Keeper;

/// Settings (`approvals.*`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalSettings {
    /// The deadline keeper looks at least this often.
    pub poll_secs: u64,
    /// Review links' default lifetime.
    pub link_default_hours: i64,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            poll_secs: 30,
            link_default_hours: 168,
        }
    }
}

/// How a workspace uses approvals (as Planable has it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// No approvals: submitting answers 409 `approval_disabled`.
    None,
    /// Posts may go through approval; publishing does not wait for it.
    Optional,
    /// Publishing needs an approval of the exact content; workflows have one level.
    Required,
    /// Like `required`, and workflows may have several levels (orders).
    MultiLevel,
}

impl ApprovalMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMode::None => "none",
            ApprovalMode::Optional => "optional",
            ApprovalMode::Required => "required",
            ApprovalMode::MultiLevel => "multi_level",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ApprovalMode::None,
            ApprovalMode::Optional,
            ApprovalMode::Required,
            ApprovalMode::MultiLevel,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    pub fn requires_approval(self) -> bool {
        matches!(self, ApprovalMode::Required | ApprovalMode::MultiLevel)
    }
}

/// Who decides: a member, or a named guest through a review link.
#[derive(Clone, Debug)]
pub enum Decider {
    Member {
        user_id: Uuid,
        name: String,
        role: Role,
    },
    Guest {
        link_id: Uuid,
        name: String,
    },
}

impl Decider {
    /// One decision per person per step: `user:<id>` or `link:<id>:<name>`.
    pub fn key(&self) -> String {
        match self {
            Decider::Member { user_id, .. } => format!("user:{user_id}"),
            Decider::Guest { link_id, name } => {
                format!("link:{link_id}:{}", name.to_lowercase())
            }
        }
    }

    /// (user id, link id, name).
    pub fn parts(&self) -> (Option<Uuid>, Option<Uuid>, String) {
        match self {
            Decider::Member { user_id, name, .. } => (Some(*user_id), None, name.clone()),
            Decider::Guest { link_id, name } => (None, Some(*link_id), name.clone()),
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.parts().0
    }

    pub fn actor(&self) -> ApprovalActor {
        let (user_id, share_link_id, name) = self.parts();
        ApprovalActor {
            user_id,
            name,
            share_link_id,
        }
    }

    /// Whether this person may decide step `s`: members as the step and the permission table
    /// say; guests on steps that list the `client` role.
    pub fn may_decide(&self, s: &steps::Model) -> bool {
        match self {
            Decider::Member { user_id, role, .. } => rounds::may_decide(s, *user_id, *role),
            Decider::Guest { .. } => rounds::step_roles(s).contains(&Role::Client),
        }
    }
}

/// The check the publisher makes before it publishes: in a workspace that requires
/// approval, the content about to go out must be exactly the content of an approved round.
/// `hash` is [`rounds::content_hash`] of what is about to be published.
pub async fn check_publishable<C: sea_orm::ConnectionTrait>(
    db: &C,
    post: &post_rows::Model,
    hash: &str,
) -> Result<(), ApiError> {
    use sea_orm::EntityTrait;
    let ws = workspaces::Entity::find_by_id(post.workspace_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("workspace"))?;
    if !rounds::mode_of(&ws).requires_approval() {
        return Ok(());
    }
    match rounds::open_round(db, post.id).await? {
        Some(r) if r.status == rounds::APPROVED && r.content_hash == hash => Ok(()),
        Some(r) if r.status == rounds::APPROVED => Err(ApiError::Conflict(
            "content_not_approved",
            "the content changed after it was approved; it needs approval again".into(),
        )),
        _ => Err(ApiError::Conflict(
            "not_approved",
            "this workspace requires approval before publishing".into(),
        )),
    }
}

/// The approvals part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::list_workflows, handlers::create_workflow, handlers::get_workflow,
        handlers::update_workflow, handlers::delete_workflow, handlers::submit, handlers::approve,
        handlers::reject, handlers::request_changes, handlers::withdraw, handlers::current,
        handlers::history, handlers::inbox, share::create_link, share::list_links,
        share::revoke_link, review::review, review::guest_comment, review::guest_approve,
        review::guest_reject, review::guest_request_changes,
    ),
    components(schemas(
        ApprovalMode, workflow::WorkflowInput, workflow::WorkflowView, workflow::WorkflowList,
        workflow::StepSpec, workflow::Approvers, workflow::OnDeadline, workflow::Conditions,
        views::ApprovalView, views::StepView, views::DecisionView, views::PersonRef,
        views::WorkflowRef, views::RoundsView, views::Inbox, views::InboxItem, views::InboxPost,
        views::ActionInput, share::LinkCreate, share::LinkView, share::LinkList, review::Review,
        review::ReviewLink, review::ReviewPost, review::Preview, review::GuestComment,
        review::GuestAction, review::GuestCommentInput,
    )),
    tags((name = "approvals", description = "Approval workflows, approval rounds bound to content, review links for guests")),
)]
pub struct ApprovalsDoc;
