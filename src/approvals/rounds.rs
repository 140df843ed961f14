//! Approval rounds: submit, decide (approve / reject / request changes), withdraw, and void
//! when the content changes — each one [`UnitOfWork`], so a decision, the post's status and
//! their events commit together or not at all.
//!
//! Concurrency: every change to a round first bumps its row (`touch`), which holds the row
//! lock on PostgreSQL until commit (SQLite's write transactions are exclusive already), and
//! only then reads the steps and counts. Two approvers deciding at once on one step are
//! serialised there; `uq_approval_decisions_step_decider` keeps one person from counting
//! twice. Opening a round sets `open_post_id`, a unique column: two submits cannot both open
//! one.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::entities::{decisions, requests, steps};
use super::workflow::{OnDeadline, StepSpec};
use super::{ApprovalMode, Decider};
use crate::error::ApiError;
use crate::events::catalogue::{ApprovalActor, ApprovalEvent, ApprovalStepRef, PostEvent};
use crate::events::{EventType, UnitOfWork};
use crate::posts::content::PostContent;
use crate::posts::{self, can_transition, PostStatus, Transition};
use crate::roles::{can, Action, Role};
use crate::store::entities::{posts as post_rows, workspace_members};
use crate::versions;

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
pub const CHANGES_REQUESTED: &str = "changes_requested";
pub const WITHDRAWN: &str = "withdrawn";
pub const VOIDED: &str = "voided";

pub const WAITING: &str = "waiting";
pub const ACTIVE: &str = "active";
pub const SKIPPED: &str = "skipped";

/// What an approver decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    RequestChanges,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::RequestChanges => "request_changes",
        }
    }
}

/// SHA-256 (hex) of exactly what would be published: the title and the content.
pub fn content_hash(title: &str, content: &PostContent) -> String {
    let bytes = serde_json::to_vec(&(title, content)).expect("content serialises");
    hex::encode(Sha256::digest(bytes))
}

/// The hash of a post row's content (the row follows the live document).
pub fn row_hash(post: &post_rows::Model) -> String {
    content_hash(&post.title, &PostContent::from_json(&post.content))
}

/// The round that is open for `post_id` (pending or approved), if any.
pub async fn open_round<C: ConnectionTrait>(
    db: &C,
    post_id: Uuid,
) -> Result<Option<requests::Model>, ApiError> {
    Ok(requests::Entity::find()
        .filter(requests::Column::OpenPostId.eq(post_id))
        .one(db)
        .await?)
}

pub async fn latest_round<C: ConnectionTrait>(
    db: &C,
    post_id: Uuid,
) -> Result<Option<requests::Model>, ApiError> {
    Ok(requests::Entity::find()
        .filter(requests::Column::PostId.eq(post_id))
        .order_by_desc(requests::Column::Round)
        .one(db)
        .await?)
}

pub async fn steps_of<C: ConnectionTrait>(
    db: &C,
    request_id: Uuid,
) -> Result<Vec<steps::Model>, ApiError> {
    Ok(steps::Entity::find()
        .filter(steps::Column::RequestId.eq(request_id))
        .order_by_asc(steps::Column::Position)
        .all(db)
        .await?)
}

/// Takes the round's row lock (PostgreSQL) for the rest of the transaction; `false` if the
/// round is no longer `status`.
pub async fn lock_round<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    status: &str,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let res = requests::Entity::update_many()
        .col_expr(requests::Column::UpdatedAt, now.into())
        .filter(requests::Column::Id.eq(id))
        .filter(requests::Column::Status.eq(status))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The workspace's members and roles.
pub async fn members<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
) -> Result<Vec<(Uuid, Role)>, ApiError> {
    Ok(workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(workspace_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| Role::parse(&m.role).map(|r| (m.user_id, r)))
        .collect())
}

pub fn step_users(s: &steps::Model) -> Vec<Uuid> {
    serde_json::from_value(s.approver_users.clone()).unwrap_or_default()
}

pub fn step_roles(s: &steps::Model) -> Vec<Role> {
    serde_json::from_value(s.approver_roles.clone()).unwrap_or_default()
}

/// Whether a member with `role` may decide step `s`: listed, or holding a listed role, and
/// allowed to approve by the permission table. Super admins may decide any step.
pub fn may_decide(s: &steps::Model, user_id: Uuid, role: Role) -> bool {
    role == Role::SuperAdmin
        || (can(role, Action::PostApprove)
            && (step_users(s).contains(&user_id) || step_roles(s).contains(&role)))
}

/// The members who may decide `s` (clients only when listed by role: they decide through
/// the app like anyone else).
pub fn approvers_of(s: &steps::Model, members: &[(Uuid, Role)]) -> Vec<Uuid> {
    members
        .iter()
        .filter(|(u, r)| *r != Role::SuperAdmin && may_decide(s, *u, *r))
        .map(|(u, _)| *u)
        .collect()
}

/// Step rows for a round from the workflow's steps.
fn step_rows(request_id: Uuid, specs: &[StepSpec]) -> Vec<steps::ActiveModel> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| steps::ActiveModel {
            id: Set(Uuid::now_v7()),
            request_id: Set(request_id),
            position: Set(i as i32),
            step_order: Set(s.order),
            name: Set(s.name.clone()),
            status: Set(WAITING.into()),
            approver_users: Set(serde_json::to_value(&s.approvers.user_ids).expect("json")),
            approver_roles: Set(serde_json::to_value(&s.approvers.roles).expect("json")),
            required: Set(s.required),
            auto_approve: Set(s.auto_approve),
            deadline_hours: Set(s.deadline_hours),
            on_deadline: Set(s.on_deadline.as_str().into()),
            backup_user_id: Set(s.backup_user_id),
            approvals: Set(0),
            started_at: Set(None),
            deadline_at: Set(None),
            reminded_at: Set(None),
            deadline_handled_at: Set(None),
            finished_at: Set(None),
        })
        .collect()
}

/// Events a change produces, recorded together at the end.
#[derive(Default)]
pub struct Effects {
    pub events: Vec<(EventType, Option<steps::Model>, Vec<Uuid>)>,
    /// Set when a step with a deadline started (the deadline keeper re-arms).
    pub deadlines: bool,
}

impl Effects {
    pub fn push(&mut self, ty: EventType, step: Option<&steps::Model>, recipients: Vec<Uuid>) {
        self.events.push((ty, step.cloned(), recipients));
    }
}

/// Everything needed to write the events of one change.
pub struct Ctx<'p> {
    pub post: &'p post_rows::Model,
    pub request: requests::Model,
    pub by: Option<ApprovalActor>,
    pub actor_id: Option<Uuid>,
    pub decision: Option<Decision>,
    pub comment: Option<String>,
    pub action: Option<OnDeadline>,
}

/// Records `effects` as `approval.*` events (the acting user is never a recipient).
pub async fn record(
    uow: &mut UnitOfWork<'_>,
    ctx: &Ctx<'_>,
    status: &str,
    effects: &Effects,
) -> Result<(), ApiError> {
    for (ty, step, recipients) in &effects.events {
        let recipients: Vec<Uuid> = recipients
            .iter()
            .copied()
            .filter(|u| Some(*u) != ctx.actor_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let ev = ApprovalEvent {
            post_id: ctx.post.id,
            title: ctx.post.title.clone(),
            request_id: ctx.request.id,
            client_visible: ctx.post.client_visible,
            status: status.to_string(),
            content_hash: ctx.request.content_hash.clone(),
            step: step.as_ref().map(|s| ApprovalStepRef {
                id: s.id,
                name: s.name.clone(),
                order: s.step_order,
            }),
            decision: ctx.decision.map(|d| d.as_str().to_string()),
            comment: ctx.comment.clone(),
            by: ctx.by.clone(),
            action: ctx.action.map(|a| a.as_str().to_string()),
            deadline_at: step.as_ref().and_then(|s| s.deadline_at),
            recipients,
        };
        uow.record(
            *ty,
            Some(ctx.post.workspace_id),
            ("post", Some(ctx.post.id.to_string())),
            &ev,
        )
        .await?;
    }
    Ok(())
}

/// Moves the post's status by `by` (when the table allows it) and records
/// `post.status_changed`. Returns the post as it is now.
pub async fn move_post(
    uow: &mut UnitOfWork<'_>,
    post: post_rows::Model,
    to: PostStatus,
    by: Transition,
) -> Result<post_rows::Model, ApiError> {
    let from = PostStatus::from_db(&post.status);
    if from == to {
        return Ok(post);
    }
    if !can_transition(from, to, by) {
        return Err(ApiError::Conflict(
            "invalid_transition",
            format!("a post that is {from} cannot become {to} this way"),
        ));
    }
    let mut a = post.into_active_model();
    a.status = Set(to.as_str().into());
    a.updated_at = Set(uow.now());
    let post = a.update(uow.txn()).await?;
    let mut e: PostEvent = posts::post_event(&post);
    e.from = Some(from.as_str().into());
    e.to = Some(to.as_str().into());
    uow.record(
        EventType::PostStatusChanged,
        Some(post.workspace_id),
        ("post", Some(post.id.to_string())),
        &e,
    )
    .await?;
    Ok(post)
}

/// Records a decision on `step` by `key`; `false` if this person already decided it.
#[allow(clippy::too_many_arguments)]
pub async fn insert_decision<C: ConnectionTrait>(
    db: &C,
    request: &requests::Model,
    step: &steps::Model,
    decider: &Decider,
    decision: Decision,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let (user_id, link_id, name) = decider.parts();
    let row = decisions::ActiveModel {
        id: Set(Uuid::now_v7()),
        request_id: Set(request.id),
        step_id: Set(step.id),
        post_id: Set(request.post_id),
        decider_key: Set(decider.key()),
        user_id: Set(user_id),
        share_link_id: Set(link_id),
        decider_name: Set(name),
        decision: Set(decision.as_str().into()),
        comment: Set(comment),
        content_hash: Set(request.content_hash.clone()),
        created_at: Set(now),
    };
    match row.insert(db).await {
        Ok(_) => Ok(true),
        Err(e) => match ApiError::from(e) {
            ApiError::Conflict(..) => Ok(false),
            other => Err(other),
        },
    }
}

/// Sets a step's status (and its finish time when it ends).
pub async fn set_step<C: ConnectionTrait>(
    db: &C,
    s: &steps::Model,
    status: &str,
    approvals: i32,
    now: DateTime<Utc>,
) -> Result<steps::Model, ApiError> {
    let mut a = s.clone().into_active_model();
    a.status = Set(status.into());
    a.approvals = Set(approvals);
    if status != ACTIVE && status != WAITING {
        a.finished_at = Set(Some(now));
    }
    Ok(a.update(db).await?)
}

/// Starts the next order of steps (auto-approving those the submitter may decide when the
/// step says so) until one waits on someone. Returns `true` when no step is left: the round
/// is approved.
pub async fn advance<C: ConnectionTrait>(
    db: &C,
    request: &requests::Model,
    members: &[(Uuid, Role)],
    now: DateTime<Utc>,
    effects: &mut Effects,
) -> Result<bool, ApiError> {
    loop {
        let all = steps_of(db, request.id).await?;
        if all.iter().any(|s| s.status == ACTIVE) {
            return Ok(false);
        }
        let Some(order) = all
            .iter()
            .filter(|s| s.status == WAITING)
            .map(|s| s.step_order)
            .min()
        else {
            return Ok(true);
        };
        for s in all
            .iter()
            .filter(|s| s.status == WAITING && s.step_order == order)
        {
            let approvers = approvers_of(s, members);
            let required = s.required.unwrap_or_else(|| {
                if step_roles(s).is_empty() {
                    step_users(s).len().max(1) as i32
                } else {
                    approvers.len().max(1) as i32
                }
            });
            let mut a = s.clone().into_active_model();
            a.status = Set(ACTIVE.into());
            a.required = Set(Some(required));
            a.started_at = Set(Some(now));
            if let Some(h) = s.deadline_hours {
                a.deadline_at = Set(Some(now + chrono::Duration::hours(h as i64)));
                effects.deadlines = true;
            }
            let started = a.update(db).await?;
            let submitter = request.submitted_by;
            let auto = started.auto_approve
                && submitter.is_some_and(|u| {
                    members
                        .iter()
                        .any(|(m, r)| *m == u && may_decide(&started, u, *r))
                });
            if auto {
                let who = Decider::Member {
                    user_id: submitter.expect("checked"),
                    name: "submitter".into(),
                    role: Role::WorkspaceAdmin,
                };
                insert_decision(
                    db,
                    request,
                    &started,
                    &who,
                    Decision::Approve,
                    Some("auto-approved: submitted by one of this step's approvers".into()),
                    now,
                )
                .await?;
                set_step(db, &started, APPROVED, started.approvals + 1, now).await?;
                continue;
            }
            effects.push(EventType::ApprovalStepStarted, Some(&started), approvers);
        }
    }
}

/// Who still has to decide the active steps (for reminders and recipients).
pub async fn waiting_on<C: ConnectionTrait>(
    db: &C,
    request: &requests::Model,
    step: &steps::Model,
    members: &[(Uuid, Role)],
) -> Result<Vec<Uuid>, ApiError> {
    let decided: HashSet<Uuid> = decisions::Entity::find()
        .filter(decisions::Column::StepId.eq(step.id))
        .filter(decisions::Column::RequestId.eq(request.id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|d| d.user_id)
        .collect();
    Ok(approvers_of(step, members)
        .into_iter()
        .filter(|u| !decided.contains(u))
        .collect())
}

/// The mode a workspace is in.
pub fn mode_of(ws: &crate::store::entities::workspaces::Model) -> ApprovalMode {
    ApprovalMode::parse(&ws.approval_mode).unwrap_or(ApprovalMode::Optional)
}

/// Opens a new round for `post` (the caller checked who may and the post's status) with the
/// workflow `wf` and the content hash `hash`, and starts its first steps. The post moves to
/// `in_review` (or straight to approved when every step auto-approved).
#[allow(clippy::too_many_arguments)]
pub async fn open(
    uow: &mut UnitOfWork<'_>,
    post: post_rows::Model,
    wf: (Option<Uuid>, String, Vec<StepSpec>),
    hash: String,
    state_bytes: Option<Vec<u8>>,
    submitter: Option<Uuid>,
    comment: Option<String>,
    by: Option<ApprovalActor>,
    transition: Transition,
) -> Result<(post_rows::Model, requests::Model, bool), ApiError> {
    let now = uow.now();
    let round = latest_round(uow.txn(), post.id)
        .await?
        .map_or(1, |r| r.round + 1);
    // A version of exactly what was submitted (when the caller has the document's state:
    // an automatic resubmission after an edit has only the row, and saves none).
    let version = match state_bytes {
        Some(bytes) => Some(
            versions::insert(
                uow.txn(),
                &post,
                Some(format!("Submitted for approval (round {round})")),
                "submitted",
                bytes,
                submitter,
            )
            .await?
            .id,
        ),
        None => None,
    };
    let request = requests::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(post.workspace_id),
        post_id: Set(post.id),
        open_post_id: Set(Some(post.id)),
        round: Set(round),
        status: Set(PENDING.into()),
        workflow_id: Set(wf.0),
        workflow_name: Set(wf.1),
        content_hash: Set(hash),
        version_id: Set(version),
        approved_version_id: Set(None),
        submitted_by: Set(submitter),
        submit_comment: Set(comment.clone()),
        submitted_at: Set(now),
        decided_at: Set(None),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict(..) => ApiError::Conflict(
            "already_in_review",
            "this post already has an open approval round".into(),
        ),
        other => other,
    })?;
    for row in step_rows(request.id, &wf.2) {
        row.insert(uow.txn()).await?;
    }
    let members = members(uow.txn(), post.workspace_id).await?;
    let mut effects = Effects::default();
    let done = advance(uow.txn(), &request, &members, now, &mut effects).await?;
    let post = move_post(uow, post, PostStatus::InReview, transition).await?;
    let first: Vec<Uuid> = effects
        .events
        .iter()
        .flat_map(|(_, _, r)| r.clone())
        .collect();
    let mut all = Effects {
        deadlines: effects.deadlines,
        ..Default::default()
    };
    all.push(EventType::ApprovalSubmitted, None, first);
    // The first steps' approvers are told by `approval.submitted`; their `step_started`
    // events are for the feed.
    all.events.extend(
        effects
            .events
            .into_iter()
            .map(|(ty, s, _)| (ty, s, Vec::new())),
    );
    let ctx = Ctx {
        post: &post,
        request: request.clone(),
        by,
        actor_id: submitter,
        decision: None,
        comment,
        action: None,
    };
    record(uow, &ctx, PostStatus::InReview.as_str(), &all).await?;
    if done {
        let (post, request) = finish_approved(uow, post.clone(), request, &ctx).await?;
        return Ok((post, request, all.deadlines));
    }
    Ok((post, request, all.deadlines))
}

fn ctx_clone<'p>(c: &Ctx<'p>) -> Ctx<'p> {
    Ctx {
        post: c.post,
        request: c.request.clone(),
        by: c.by.clone(),
        actor_id: c.actor_id,
        decision: c.decision,
        comment: c.comment.clone(),
        action: c.action,
    }
}

/// Every step passed: the round is approved, a version is saved, the post moves to
/// `approved` (or `scheduled` when it has a time in the future).
pub async fn finish_approved(
    uow: &mut UnitOfWork<'_>,
    post: post_rows::Model,
    request: requests::Model,
    ctx: &Ctx<'_>,
) -> Result<(post_rows::Model, requests::Model), ApiError> {
    let now = uow.now();
    // The approved content is the submitted content (decisions check the hash).
    let snapshot = versions::state_of(uow.txn(), request.version_id).await?;
    let version = if snapshot.is_empty() {
        None
    } else {
        Some(
            versions::insert(
                uow.txn(),
                &post,
                Some(format!("Approved (round {})", request.round)),
                "approved",
                snapshot,
                ctx.actor_id,
            )
            .await?
            .id,
        )
    };
    let mut a = request.into_active_model();
    a.status = Set(APPROVED.into());
    a.decided_at = Set(Some(now));
    a.approved_version_id = Set(version);
    a.updated_at = Set(now);
    let request = a.update(uow.txn()).await?;
    let to = if post.scheduled_at.is_some_and(|t| t > now) {
        PostStatus::Scheduled
    } else {
        PostStatus::Approved
    };
    let post = move_post(uow, post, to, Transition::Approve).await?;
    let mut recipients: Vec<Uuid> = request.submitted_by.into_iter().collect();
    recipients.extend(post.created_by);
    let mut effects = Effects::default();
    effects.push(EventType::ApprovalApproved, None, recipients);
    let ctx = Ctx {
        post: &post,
        request: request.clone(),
        ..ctx_clone(ctx)
    };
    record(uow, &ctx, to.as_str(), &effects).await?;
    Ok((post, request))
}

/// Ends a round as `status` (no longer open) and skips its unfinished steps.
pub async fn close<C: ConnectionTrait>(
    db: &C,
    request: requests::Model,
    status: &str,
    now: DateTime<Utc>,
) -> Result<requests::Model, ApiError> {
    for s in steps_of(db, request.id).await? {
        if s.status == ACTIVE || s.status == WAITING {
            set_step(db, &s, SKIPPED, s.approvals, now).await?;
        }
    }
    let mut a = request.into_active_model();
    a.status = Set(status.into());
    a.open_post_id = Set(None);
    a.decided_at = Set(Some(now));
    a.updated_at = Set(now);
    Ok(a.update(db).await?)
}
