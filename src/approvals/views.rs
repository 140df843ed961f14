//! What the approval endpoints answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::{decisions, requests};
use super::rounds;
use crate::error::ApiError;
use crate::roles::Role;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PersonRef {
    pub user_id: Option<Uuid>,
    pub name: String,
    pub share_link_id: Option<Uuid>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// `approve`, `reject` or `request_changes`.
    pub decision: String,
    pub comment: Option<String>,
    pub by: PersonRef,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StepView {
    pub id: Uuid,
    pub name: String,
    pub order: i32,
    /// `waiting`, `active`, `approved`, `rejected`, `changes_requested` or `skipped`.
    pub status: String,
    /// Approvals needed (set when the step starts).
    pub required: Option<i32>,
    pub approvals: i32,
    pub approvers: Vec<PersonRef>,
    pub roles: Vec<Role>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub on_deadline: String,
    /// Active steps: the approvers who have not decided yet.
    pub waiting_on: Vec<PersonRef>,
    pub decisions: Vec<DecisionView>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkflowRef {
    pub id: Option<Uuid>,
    pub name: String,
}

/// One approval round of a post.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub id: Uuid,
    pub post_id: Uuid,
    pub round: i32,
    /// `pending`, `approved`, `rejected`, `changes_requested`, `withdrawn` or `voided`.
    pub status: String,
    pub workflow: WorkflowRef,
    /// SHA-256 of the title and content this round is about.
    pub content_hash: String,
    /// The version saved at submit (and at approval: `approved_version_id`).
    pub version_id: Option<Uuid>,
    pub approved_version_id: Option<Uuid>,
    pub submitted_by: Option<PersonRef>,
    pub submit_comment: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The order of the steps now active.
    pub current_order: Option<i32>,
    pub steps: Vec<StepView>,
}

#[derive(Serialize, ToSchema)]
pub struct RoundsView {
    pub rounds: Vec<ApprovalView>,
}

#[derive(Serialize, ToSchema)]
pub struct InboxPost {
    pub id: Uuid,
    pub title: String,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct InboxItem {
    pub post: InboxPost,
    pub approval: ApprovalView,
}

#[derive(Serialize, ToSchema)]
pub struct Inbox {
    pub items: Vec<InboxItem>,
}

/// Body of submit / approve / reject / request-changes / withdraw.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    #[serde(default)]
    pub comment: Option<String>,
    /// Submit only: the workflow to use (default: picked by its conditions).
    #[serde(default)]
    pub workflow_id: Option<Uuid>,
}

async fn names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, ApiError> {
    Ok(crate::activity::user_refs(db, ids)
        .await?
        .into_iter()
        .map(|(k, v)| (k, v.name))
        .collect())
}

fn person(names: &HashMap<Uuid, String>, id: Uuid) -> PersonRef {
    PersonRef {
        user_id: Some(id),
        name: names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "former member".into()),
        share_link_id: None,
    }
}

/// The round as the API shows it.
pub async fn approval<C: ConnectionTrait>(
    db: &C,
    r: &requests::Model,
) -> Result<ApprovalView, ApiError> {
    let steps = rounds::steps_of(db, r.id).await?;
    let decisions = decisions::Entity::find()
        .filter(decisions::Column::RequestId.eq(r.id))
        .order_by_asc(decisions::Column::CreatedAt)
        .all(db)
        .await?;
    let members = rounds::members(db, r.workspace_id).await?;
    let mut ids: Vec<Uuid> = r.submitted_by.into_iter().collect();
    ids.extend(decisions.iter().filter_map(|d| d.user_id));
    for s in &steps {
        ids.extend(rounds::step_users(s));
        ids.extend(rounds::approvers_of(s, &members));
    }
    let names = names(db, ids).await?;
    let mut views = Vec::new();
    for s in &steps {
        let mine: Vec<&decisions::Model> = decisions.iter().filter(|d| d.step_id == s.id).collect();
        let decided: Vec<Uuid> = mine.iter().filter_map(|d| d.user_id).collect();
        let waiting_on = if s.status == rounds::ACTIVE {
            rounds::approvers_of(s, &members)
                .into_iter()
                .filter(|u| !decided.contains(u))
                .map(|u| person(&names, u))
                .collect()
        } else {
            Vec::new()
        };
        views.push(StepView {
            id: s.id,
            name: s.name.clone(),
            order: s.step_order,
            status: s.status.clone(),
            required: s.required,
            approvals: s.approvals,
            approvers: rounds::step_users(s)
                .into_iter()
                .map(|u| person(&names, u))
                .collect(),
            roles: rounds::step_roles(s),
            deadline_at: s.deadline_at,
            on_deadline: s.on_deadline.clone(),
            waiting_on,
            decisions: mine
                .iter()
                .map(|d| DecisionView {
                    decision: d.decision.clone(),
                    comment: d.comment.clone(),
                    by: PersonRef {
                        user_id: d.user_id,
                        name: d
                            .user_id
                            .and_then(|u| names.get(&u).cloned())
                            .unwrap_or_else(|| d.decider_name.clone()),
                        share_link_id: d.share_link_id,
                    },
                    at: d.created_at,
                })
                .collect(),
        });
    }
    Ok(ApprovalView {
        id: r.id,
        post_id: r.post_id,
        round: r.round,
        status: r.status.clone(),
        workflow: WorkflowRef {
            id: r.workflow_id,
            name: r.workflow_name.clone(),
        },
        content_hash: r.content_hash.clone(),
        version_id: r.version_id,
        approved_version_id: r.approved_version_id,
        submitted_by: r.submitted_by.map(|u| person(&names, u)),
        submit_comment: r.submit_comment.clone(),
        submitted_at: r.submitted_at,
        decided_at: r.decided_at,
        current_order: steps
            .iter()
            .filter(|s| s.status == rounds::ACTIVE)
            .map(|s| s.step_order)
            .min(),
        steps: views,
    })
}
