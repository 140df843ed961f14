//! Approval deadlines on the database: reminders ("deadline near") and the step's rule when
//! its deadline passes (remind, reassign to a backup, auto-approve, escalate to the admins).
//!
//! Each runs exactly once across nodes: it is claimed with a conditional update
//! (`reminded_at` / `deadline_handled_at` still NULL) inside the same unit of work as its
//! effects and events, so a node that dies mid-way leaves it unclaimed for the next look.
//! The [`DeadlineKeeper`] actor (one per node) decides when to look.

use std::sync::Arc;

use actix::Addr;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use copydesk_actors::approval_deadlines::{DeadlineKeeper, Rearm};
use copydesk_actors::ports::ApprovalDeadlines;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set,
};
use uuid::Uuid;

use super::entities::{requests, steps};
use super::rounds::{self, Ctx, Effects, ACTIVE, PENDING};
use super::workflow::OnDeadline;
use crate::error::ApiError;
use crate::events::{Announcer, EventType, UnitOfWork, NO_REQUEST};
use crate::posts;
use crate::roles::Role;

/// The node's deadline keeper (unset on nodes that run no background work, and until
/// start-up has started it).
#[derive(Clone, Default)]
pub struct Keeper(Arc<std::sync::OnceLock<Addr<DeadlineKeeper>>>);

impl Keeper {
    pub fn set(&self, addr: Addr<DeadlineKeeper>) {
        let _ = self.0.set(addr);
    }

    /// A step with a deadline started: look again now.
    pub fn rearm(&self) {
        if let Some(a) = self.0.get() {
            a.do_send(Rearm);
        }
    }
}

/// When "deadline near" is sent: a quarter of the step's time before its deadline, at most
/// a day before.
pub fn reminder_at(s: &steps::Model) -> Option<DateTime<Utc>> {
    let deadline = s.deadline_at?;
    let hours = s.deadline_hours.unwrap_or(0).max(1) as i64;
    let lead = Duration::minutes(hours * 15).min(Duration::hours(24));
    Some(deadline - lead)
}

pub struct SqlDeadlines {
    pub db: DatabaseConnection,
    pub announcer: Announcer,
}

impl SqlDeadlines {
    pub fn new(db: DatabaseConnection, announcer: Announcer) -> Arc<Self> {
        Arc::new(Self { db, announcer })
    }

    async fn open_steps(&self) -> Result<Vec<steps::Model>, ApiError> {
        Ok(steps::Entity::find()
            .filter(steps::Column::Status.eq(ACTIVE))
            .filter(steps::Column::DeadlineAt.is_not_null())
            .filter(steps::Column::DeadlineHandledAt.is_null())
            .all(&self.db)
            .await?)
    }

    /// Sends "deadline near" for `s` unless another node did.
    async fn remind(&self, s: &steps::Model) -> Result<bool, ApiError> {
        let mut uow =
            UnitOfWork::begin_on(&self.db, self.announcer.clone(), None, &NO_REQUEST).await?;
        let now = uow.now();
        let claimed = steps::Entity::update_many()
            .col_expr(steps::Column::RemindedAt, now.into())
            .filter(steps::Column::Id.eq(s.id))
            .filter(steps::Column::Status.eq(ACTIVE))
            .filter(steps::Column::RemindedAt.is_null())
            .exec(uow.txn())
            .await?;
        if claimed.rows_affected != 1 {
            return Ok(false);
        }
        let Some(request) = requests::Entity::find_by_id(s.request_id)
            .one(uow.txn())
            .await?
        else {
            return Ok(false);
        };
        let post = posts::lock_row(uow.txn(), request.post_id).await?;
        let members = rounds::members(uow.txn(), post.workspace_id).await?;
        let waiting = rounds::waiting_on(uow.txn(), &request, s, &members).await?;
        let mut effects = Effects::default();
        effects.push(EventType::ApprovalDeadlineNear, Some(s), waiting);
        let ctx = plain_ctx(&post, request, None);
        rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
        uow.commit().await?;
        Ok(true)
    }

    /// Runs `s`'s deadline rule unless another node did.
    async fn pass(&self, s: &steps::Model) -> Result<bool, ApiError> {
        let mut uow =
            UnitOfWork::begin_on(&self.db, self.announcer.clone(), None, &NO_REQUEST).await?;
        let now = uow.now();
        if !rounds::lock_round(uow.txn(), s.request_id, PENDING, now).await? {
            return Ok(false);
        }
        let claimed = steps::Entity::update_many()
            .col_expr(steps::Column::DeadlineHandledAt, now.into())
            .filter(steps::Column::Id.eq(s.id))
            .filter(steps::Column::Status.eq(ACTIVE))
            .filter(steps::Column::DeadlineHandledAt.is_null())
            .exec(uow.txn())
            .await?;
        if claimed.rows_affected != 1 {
            return Ok(false);
        }
        let Some(step) = steps::Entity::find_by_id(s.id).one(uow.txn()).await? else {
            return Ok(false);
        };
        let request = requests::Entity::find_by_id(s.request_id)
            .one(uow.txn())
            .await?
            .ok_or(ApiError::NotFound("approval"))?;
        let post = posts::lock_row(uow.txn(), request.post_id).await?;
        let members = rounds::members(uow.txn(), post.workspace_id).await?;
        let rule = OnDeadline::parse(&step.on_deadline);
        let admins: Vec<Uuid> = members
            .iter()
            .filter(|(_, r)| *r == Role::WorkspaceAdmin)
            .map(|(u, _)| *u)
            .collect();
        let mut effects = Effects::default();
        let mut done = false;
        match rule {
            OnDeadline::Remind => {
                let waiting = rounds::waiting_on(uow.txn(), &request, &step, &members).await?;
                effects.push(EventType::ApprovalDeadlinePassed, Some(&step), waiting);
            }
            OnDeadline::Reassign => {
                let backup = step.backup_user_id;
                let mut users = rounds::step_users(&step);
                users.extend(backup);
                users.sort();
                users.dedup();
                let mut a = step.clone().into_active_model();
                a.approver_users = Set(serde_json::to_value(&users).expect("json"));
                let step = a.update(uow.txn()).await?;
                effects.push(
                    EventType::ApprovalDeadlinePassed,
                    Some(&step),
                    backup.into_iter().collect(),
                );
            }
            OnDeadline::Escalate => {
                let mut roles = rounds::step_roles(&step);
                if !roles.contains(&Role::WorkspaceAdmin) {
                    roles.push(Role::WorkspaceAdmin);
                }
                let mut a = step.clone().into_active_model();
                a.approver_roles = Set(serde_json::to_value(&roles).expect("json"));
                let step = a.update(uow.txn()).await?;
                effects.push(EventType::ApprovalDeadlinePassed, Some(&step), admins);
            }
            OnDeadline::AutoApprove => {
                rounds::set_step(uow.txn(), &step, rounds::APPROVED, step.approvals, now).await?;
                effects.push(EventType::ApprovalDeadlinePassed, Some(&step), Vec::new());
                done = rounds::advance(uow.txn(), &request, &members, now, &mut effects).await?;
            }
        }
        let ctx = plain_ctx(&post, request.clone(), Some(rule));
        rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
        if done {
            rounds::finish_approved(&mut uow, post.clone(), request, &ctx).await?;
        }
        uow.commit().await?;
        Ok(true)
    }
}

fn plain_ctx<'p>(
    post: &'p crate::store::entities::posts::Model,
    request: requests::Model,
    action: Option<OnDeadline>,
) -> Ctx<'p> {
    Ctx {
        post,
        request,
        by: None,
        actor_id: None,
        decision: None,
        comment: None,
        action,
    }
}

#[async_trait]
impl ApprovalDeadlines for SqlDeadlines {
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, String> {
        let steps = self.open_steps().await.map_err(|e| e.to_string())?;
        Ok(steps
            .iter()
            .filter_map(|s| {
                let reminder = s.reminded_at.is_none().then(|| reminder_at(s)).flatten();
                match (reminder, s.deadline_at) {
                    (Some(r), Some(d)) => Some(r.min(d)),
                    (r, d) => r.or(d),
                }
            })
            .min())
    }

    async fn fire_due(&self, now: DateTime<Utc>) -> Result<usize, String> {
        let steps = self.open_steps().await.map_err(|e| e.to_string())?;
        let mut ran = 0;
        for s in steps {
            let result = if s.deadline_at.is_some_and(|d| d <= now) {
                self.pass(&s).await
            } else if s.reminded_at.is_none() && reminder_at(&s).is_some_and(|r| r <= now) {
                self.remind(&s).await
            } else {
                continue;
            };
            match result {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(step = %s.id, error = %e, "approval deadline failed"),
            }
        }
        Ok(ran)
    }
}
