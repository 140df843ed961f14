//! Approval workflows: what they say (ordered steps with approvers, N of M, deadlines and
//! what happens when one passes; conditions that pick them), their validation, which one a
//! post goes through, and their storage.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::workflows;
use super::ApprovalMode;
use crate::error::ApiError;
use crate::platforms::Platform;
use crate::roles::{can, Action, Role};
use crate::store::entities::{posts, workspace_members};

pub const MAX_STEPS: usize = 20;
pub const MAX_DEADLINE_HOURS: i32 = 24 * 90;

/// Who may decide on a step: listed members and/or everyone holding one of the roles.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Approvers {
    pub user_ids: Vec<Uuid>,
    /// `client` here lets review links decide this step too.
    pub roles: Vec<Role>,
}

/// What happens when a step's deadline passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDeadline {
    /// Tell the approvers who have not decided yet, again.
    #[default]
    Remind,
    /// Add the step's `backup_user_id` as an approver and tell them.
    Reassign,
    /// The step passes as if approved.
    AutoApprove,
    /// Tell the workspace's admins, who may then decide the step.
    Escalate,
}

impl OnDeadline {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDeadline::Remind => "remind",
            OnDeadline::Reassign => "reassign",
            OnDeadline::AutoApprove => "auto_approve",
            OnDeadline::Escalate => "escalate",
        }
    }

    pub fn parse(s: &str) -> OnDeadline {
        match s {
            "reassign" => OnDeadline::Reassign,
            "auto_approve" => OnDeadline::AutoApprove,
            "escalate" => OnDeadline::Escalate,
            _ => OnDeadline::Remind,
        }
    }
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    /// 1, 2, …: steps with the same order run in parallel; the next order starts when all
    /// of them passed.
    pub order: i32,
    #[serde(default)]
    pub approvers: Approvers,
    /// Approvals needed (N of M); `null`: all of the approvers.
    #[serde(default)]
    pub required: Option<i32>,
    /// The step passes at once when the submitter is one of its approvers.
    #[serde(default)]
    pub auto_approve: bool,
    #[serde(default)]
    pub deadline_hours: Option<i32>,
    #[serde(default)]
    pub on_deadline: OnDeadline,
    #[serde(default)]
    pub backup_user_id: Option<Uuid>,
}

/// Which posts a workflow is for; every listed condition must hold (empty lists: any).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// The post goes to at least one of these.
    #[schema(value_type = Vec<String>)]
    pub platforms: Vec<Platform>,
    /// The post has at least one of these tags.
    pub tags: Vec<String>,
    /// The post belongs to this campaign.
    pub campaign: Option<String>,
}

impl Conditions {
    fn is_empty(&self) -> bool {
        self.platforms.is_empty() && self.tags.is_empty() && self.campaign.is_none()
    }

    /// Whether `post` meets every condition.
    pub fn matches(&self, post: &posts::Model) -> bool {
        let platforms: Vec<String> =
            serde_json::from_value(post.platforms.clone()).unwrap_or_default();
        let tags: Vec<String> = serde_json::from_value(post.tags.clone()).unwrap_or_default();
        (self.platforms.is_empty()
            || self
                .platforms
                .iter()
                .any(|p| platforms.iter().any(|q| q == p.as_str())))
            && (self.tags.is_empty()
                || self
                    .tags
                    .iter()
                    .any(|t| tags.iter().any(|u| u.eq_ignore_ascii_case(t))))
            && self
                .campaign
                .as_ref()
                .is_none_or(|c| post.campaign.as_deref() == Some(c.as_str()))
    }
}

/// A workflow as written (`POST`/`PUT`).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowInput {
    pub name: String,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub conditions: Conditions,
    pub steps: Vec<StepSpec>,
}

/// A workflow as stored and answered.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub is_default: bool,
    pub conditions: Conditions,
    pub steps: Vec<StepSpec>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowView>,
}

impl WorkflowView {
    pub fn new(w: &workflows::Model) -> Self {
        Self {
            id: w.id,
            workspace_id: w.workspace_id,
            name: w.name.clone(),
            is_default: w.is_default,
            conditions: serde_json::from_value(w.conditions.clone()).unwrap_or_default(),
            steps: steps_of(w),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

pub fn steps_of(w: &workflows::Model) -> Vec<StepSpec> {
    serde_json::from_value(w.steps.clone()).unwrap_or_default()
}

/// The workflow a workspace without workflows uses: one step, any one approver among the
/// workspace's admins, managers, reviewers and (through review links) clients.
pub fn built_in() -> (String, Vec<StepSpec>) {
    (
        "Review".into(),
        vec![StepSpec {
            name: "Review".into(),
            order: 1,
            approvers: Approvers {
                user_ids: Vec::new(),
                roles: vec![
                    Role::WorkspaceAdmin,
                    Role::ContentManager,
                    Role::Reviewer,
                    Role::Client,
                ],
            },
            required: Some(1),
            auto_approve: false,
            deadline_hours: None,
            on_deadline: OnDeadline::Remind,
            backup_user_id: None,
        }],
    )
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(field, message)
}

/// Checks a workflow against the rules and the workspace's members and mode; trims names.
pub async fn validate<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    mode: ApprovalMode,
    input: &mut WorkflowInput,
) -> Result<(), ApiError> {
    input.name = input.name.trim().to_string();
    if input.name.is_empty() || input.name.chars().count() > 100 {
        return Err(invalid("name", "a name of 1 to 100 characters is required"));
    }
    if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
        return Err(invalid(
            "steps",
            format!("a workflow has 1 to {MAX_STEPS} steps"),
        ));
    }
    let c = &mut input.conditions;
    c.tags = c
        .tags
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if c.tags.iter().any(|t| t.chars().count() > 50) || c.tags.len() > 50 {
        return Err(invalid(
            "conditions.tags",
            "at most 50 tags of 50 characters",
        ));
    }
    if let Some(campaign) = &c.campaign {
        if campaign.trim().is_empty() || campaign.chars().count() > 100 {
            return Err(invalid(
                "conditions.campaign",
                "a campaign of 1 to 100 characters, or null",
            ));
        }
    }
    let roles: std::collections::HashMap<Uuid, Role> = workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(workspace_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| Role::parse(&m.role).map(|r| (m.user_id, r)))
        .collect();
    let members: Vec<Uuid> = roles.keys().copied().collect();
    let mut orders = std::collections::BTreeSet::new();
    for (i, s) in input.steps.iter_mut().enumerate() {
        let f = |name: &str| format!("steps.{i}.{name}");
        s.name = s.name.trim().to_string();
        if s.name.is_empty() || s.name.chars().count() > 100 {
            return Err(invalid(
                &f("name"),
                "a name of 1 to 100 characters is required",
            ));
        }
        if !(1..=MAX_STEPS as i32).contains(&s.order) {
            return Err(invalid(
                &f("order"),
                format!("an order from 1 to {MAX_STEPS}"),
            ));
        }
        orders.insert(s.order);
        s.approvers.user_ids.sort();
        s.approvers.user_ids.dedup();
        s.approvers.roles.dedup();
        if s.approvers.user_ids.is_empty() && s.approvers.roles.is_empty() {
            return Err(invalid(
                &f("approvers"),
                "name at least one approver or role",
            ));
        }
        if s.approvers.roles.contains(&Role::SuperAdmin) {
            return Err(invalid(
                &f("approvers.roles"),
                "super_admin is not a workspace role",
            ));
        }
        if let Some(u) = s.approvers.user_ids.iter().find(|u| !members.contains(u)) {
            return Err(invalid(
                &f("approvers.user_ids"),
                format!("{u} is not a member of this workspace"),
            ));
        }
        // The permission table decides who may approve: a listed member must hold a role
        // that can.
        if let Some(u) = s
            .approvers
            .user_ids
            .iter()
            .find(|u| roles.get(u).is_some_and(|r| !can(*r, Action::PostApprove)))
        {
            return Err(invalid(
                &f("approvers.user_ids"),
                format!("{u} has a role that cannot approve posts"),
            ));
        }
        if let Some(n) = s.required {
            let listed = s.approvers.user_ids.len() as i32;
            if n < 1 || (s.approvers.roles.is_empty() && n > listed) || n > 100 {
                return Err(invalid(
                    &f("required"),
                    "between 1 and the number of approvers (or null for all)",
                ));
            }
        }
        if let Some(h) = s.deadline_hours {
            if !(1..=MAX_DEADLINE_HOURS).contains(&h) {
                return Err(invalid(
                    &f("deadline_hours"),
                    format!("from 1 to {MAX_DEADLINE_HOURS} hours, or null"),
                ));
            }
        }
        match (s.on_deadline, s.backup_user_id) {
            (OnDeadline::Reassign, None) => {
                return Err(invalid(
                    &f("backup_user_id"),
                    "reassigning needs a backup approver",
                ))
            }
            (_, Some(b)) if !members.contains(&b) => {
                return Err(invalid(
                    &f("backup_user_id"),
                    "the backup approver must be a member of this workspace",
                ))
            }
            _ => {}
        }
    }
    if orders.len() > 1 && mode != ApprovalMode::MultiLevel {
        return Err(ApiError::Unprocessable(
            "multi_level_required",
            "steps with different orders need the workspace's approval mode `multi_level`".into(),
        ));
    }
    Ok(())
}

/// A workspace can leave `multi_level` only when no workflow has several levels.
pub async fn check_mode<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    mode: ApprovalMode,
) -> Result<(), ApiError> {
    if mode == ApprovalMode::MultiLevel {
        return Ok(());
    }
    for w in list(db, workspace_id).await? {
        let orders: std::collections::BTreeSet<i32> =
            steps_of(&w).iter().map(|s| s.order).collect();
        if orders.len() > 1 {
            return Err(ApiError::Conflict(
                "multi_level_workflows",
                format!(
                    "workflow \"{}\" has several levels; change it (or delete it) before leaving multi_level",
                    w.name
                ),
            ));
        }
    }
    Ok(())
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
) -> Result<Vec<workflows::Model>, ApiError> {
    Ok(workflows::Entity::find()
        .filter(workflows::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(workflows::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Only one default per workspace: setting one clears the others.
async fn clear_default<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    except: Uuid,
) -> Result<(), ApiError> {
    workflows::Entity::update_many()
        .col_expr(workflows::Column::IsDefault, false.into())
        .filter(workflows::Column::WorkspaceId.eq(workspace_id))
        .filter(workflows::Column::Id.ne(except))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    by: Uuid,
    input: WorkflowInput,
) -> Result<workflows::Model, ApiError> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    if input.is_default {
        clear_default(db, workspace_id, id).await?;
    }
    Ok(workflows::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id),
        name: Set(input.name),
        is_default: Set(input.is_default),
        conditions: Set(serde_json::to_value(&input.conditions).expect("serialises")),
        steps: Set(serde_json::to_value(&input.steps).expect("serialises")),
        created_by: Set(Some(by)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn update<C: ConnectionTrait>(
    db: &C,
    w: workflows::Model,
    input: WorkflowInput,
) -> Result<workflows::Model, ApiError> {
    if input.is_default {
        clear_default(db, w.workspace_id, w.id).await?;
    }
    let mut a = w.into_active_model();
    a.name = Set(input.name);
    a.is_default = Set(input.is_default);
    a.conditions = Set(serde_json::to_value(&input.conditions).expect("serialises"));
    a.steps = Set(serde_json::to_value(&input.steps).expect("serialises"));
    a.updated_at = Set(Utc::now());
    Ok(a.update(db).await?)
}

/// The workflow for `post`: the one asked for (it must be this workspace's), else the first
/// whose conditions match (most specific first: those with conditions before the default),
/// else the default, else the built-in one.
pub async fn pick<C: ConnectionTrait>(
    db: &C,
    post: &posts::Model,
    asked: Option<Uuid>,
) -> Result<(Option<Uuid>, String, Vec<StepSpec>), ApiError> {
    let all = list(db, post.workspace_id).await?;
    if let Some(id) = asked {
        let w = all
            .iter()
            .find(|w| w.id == id)
            .ok_or(ApiError::NotFound("approval workflow"))?;
        return Ok((Some(w.id), w.name.clone(), steps_of(w)));
    }
    let conditional = all.iter().find(|w| {
        let c: Conditions = serde_json::from_value(w.conditions.clone()).unwrap_or_default();
        !c.is_empty() && c.matches(post)
    });
    if let Some(w) = conditional.or_else(|| all.iter().find(|w| w.is_default)) {
        return Ok((Some(w.id), w.name.clone(), steps_of(w)));
    }
    let (name, steps) = built_in();
    Ok((None, name, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_with_defaults_and_refuse_unknown_fields() {
        let s: StepSpec = serde_json::from_value(serde_json::json!({
            "name": "Legal", "order": 1, "approvers": {"roles": ["reviewer"]}
        }))
        .unwrap();
        assert_eq!(s.required, None);
        assert_eq!(s.on_deadline, OnDeadline::Remind);
        assert!(serde_json::from_value::<StepSpec>(serde_json::json!({
            "name": "Legal", "order": 1, "approver": []
        }))
        .is_err());
        for d in ["remind", "reassign", "auto_approve", "escalate"] {
            assert_eq!(OnDeadline::parse(d).as_str(), d);
        }
    }
}
