//! The approval actions as a member or a review-link guest makes them: submit, decide,
//! withdraw; and voiding a round when the content it is about changes.

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use uuid::Uuid;

use super::entities::{requests, steps};
use super::rounds::{self, Ctx, Decision, Effects, ACTIVE, PENDING};
use super::views::ApprovalView;
use super::{workflow, ApprovalMode, Decider};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::events::catalogue::ApprovalActor;
use crate::events::{Announcer, EventType, UnitOfWork, NO_REQUEST};
use crate::posts::{self, PostStatus, Transition};
use crate::state::AppState;
use crate::store::entities::{posts as post_rows, workspaces};

/// Optional comment on an action (at most 5,000 characters).
pub fn clean_comment(c: Option<String>) -> Result<Option<String>, ApiError> {
    let c = c.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if c.as_ref().is_some_and(|c| c.chars().count() > 5000) {
        return Err(ApiError::validation("comment", "at most 5,000 characters"));
    }
    Ok(c)
}

async fn workspace<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<workspaces::Model, ApiError> {
    workspaces::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("workspace"))
}

/// The post's title and content as the live document has them now, its hash, and the
/// document's full state (for the version saved with the round).
async fn live(state: &AppState, post: &post_rows::Model) -> Result<(String, Vec<u8>), ApiError> {
    let snap = posts::live_snapshot(state, post).await?;
    // The row follows the document a second or so behind; bring it up to date now, so the
    // derived-fields write that was pending does not look like an edit after submitting.
    posts::write_doc_content(&state.db, post.id, &snap.content, None).await?;
    let (title, content) = posts::current_content(post, &snap.content);
    Ok((rounds::content_hash(&title, &content), snap.state))
}

/// `POST /api/posts/{id}/submit`.
pub async fn submit(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: post_rows::Model,
    workflow_id: Option<Uuid>,
    comment: Option<String>,
    name: String,
) -> Result<ApprovalView, ApiError> {
    let comment = clean_comment(comment)?;
    let ws = workspace(&state.db, post.workspace_id).await?;
    if rounds::mode_of(&ws) == ApprovalMode::None {
        return Err(ApiError::Conflict(
            "approval_disabled",
            "this workspace does not use approvals (approval mode `none`)".into(),
        ));
    }
    let (hash, doc) = live(state, &post).await?;
    let doc = Some(doc);
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let post = posts::lock_row(uow.txn(), post.id).await?;
    let from = PostStatus::from_db(&post.status);
    if !posts::can_transition(from, PostStatus::InReview, Transition::Submit) {
        return Err(ApiError::Conflict(
            "invalid_transition",
            format!("a post that is {from} cannot be submitted for approval"),
        ));
    }
    let wf = workflow::pick(uow.txn(), &post, workflow_id).await?;
    let by = ApprovalActor {
        user_id: Some(user_id),
        name,
        share_link_id: None,
    };
    let (_, request, deadlines) = rounds::open(
        &mut uow,
        post,
        wf,
        hash,
        doc,
        Some(user_id),
        comment,
        Some(by),
        Transition::Submit,
    )
    .await?;
    uow.commit().await?;
    if deadlines {
        state.approvals.rearm();
    }
    super::views::approval(&state.db, &request).await
}

/// Approve, reject or request changes, as a member or a review-link guest.
pub async fn decide(
    state: &AppState,
    meta: &RequestMeta,
    post: post_rows::Model,
    decider: Decider,
    decision: Decision,
    comment: Option<String>,
) -> Result<ApprovalView, ApiError> {
    let comment = clean_comment(comment)?;
    let Some(open) = rounds::open_round(&state.db, post.id).await? else {
        return Err(not_in_review());
    };
    if open.status != PENDING {
        return Err(not_in_review());
    }
    let (hash, _) = live(state, &post).await?;
    if hash != open.content_hash {
        // The content moved since it was submitted: this round is about something else
        // now. Void it (a new round starts) and tell the caller to look again.
        void_round(
            &state.db,
            Announcer::of(state),
            Some(&state.approvals),
            post.id,
        )
        .await?;
        return Err(ApiError::Conflict(
            "content_changed",
            "the post changed since it was submitted; its approval starts over — review the new content"
                .into(),
        ));
    }
    let mut uow = UnitOfWork::begin(state, decider.user_id(), meta).await?;
    let now = uow.now();
    if !rounds::lock_round(uow.txn(), open.id, PENDING, now).await? {
        return Err(not_in_review());
    }
    let request = requests::Entity::find_by_id(open.id)
        .one(uow.txn())
        .await?
        .ok_or_else(not_in_review)?;
    let members = rounds::members(uow.txn(), post.workspace_id).await?;
    let active: Vec<steps::Model> = rounds::steps_of(uow.txn(), request.id)
        .await?
        .into_iter()
        .filter(|s| s.status == ACTIVE && decider.may_decide(s))
        .collect();
    if active.is_empty() {
        return Err(ApiError::Forbidden(
            "not_an_approver",
            "you are not an approver of this post's current step".into(),
        ));
    }
    let mut effects = Effects::default();
    let mut counted = 0;
    let mut ended: Option<&'static str> = None;
    for s in &active {
        if !rounds::insert_decision(
            uow.txn(),
            &request,
            s,
            &decider,
            decision,
            comment.clone(),
            now,
        )
        .await?
        {
            continue;
        }
        counted += 1;
        effects.push(EventType::ApprovalDecided, Some(s), Vec::new());
        match decision {
            Decision::Approve => {
                let n = s.approvals + 1;
                let status = if n >= s.required.unwrap_or(1) {
                    rounds::APPROVED
                } else {
                    ACTIVE
                };
                rounds::set_step(uow.txn(), s, status, n, now).await?;
            }
            Decision::Reject => {
                rounds::set_step(uow.txn(), s, rounds::REJECTED, s.approvals, now).await?;
                ended = Some(rounds::REJECTED);
            }
            Decision::RequestChanges => {
                rounds::set_step(uow.txn(), s, rounds::CHANGES_REQUESTED, s.approvals, now).await?;
                ended = Some(rounds::CHANGES_REQUESTED);
            }
        }
    }
    if counted == 0 {
        return Err(ApiError::Conflict(
            "already_decided",
            "you already decided on this step".into(),
        ));
    }
    let by = decider.actor();
    let ctx = Ctx {
        post: &post,
        request: request.clone(),
        by: Some(by.clone()),
        actor_id: decider.user_id(),
        decision: Some(decision),
        comment: comment.clone(),
        action: None,
    };
    let post = posts::lock_row(uow.txn(), post.id).await?;
    let mut request = request;
    match ended {
        Some(end) => {
            rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
            request = rounds::close(uow.txn(), request, end, now).await?;
            let (to, by, ty) = if end == rounds::REJECTED {
                (
                    PostStatus::Draft,
                    Transition::Reject,
                    EventType::ApprovalRejected,
                )
            } else {
                (
                    PostStatus::ChangesRequested,
                    Transition::RequestChanges,
                    EventType::ApprovalChangesRequested,
                )
            };
            let post = rounds::move_post(&mut uow, post, to, by).await?;
            let mut recipients: Vec<Uuid> = request.submitted_by.into_iter().collect();
            recipients.extend(post.created_by);
            let mut end_effects = Effects::default();
            end_effects.push(ty, None, recipients);
            let ctx = Ctx {
                post: &post,
                request: request.clone(),
                ..ctx
            };
            rounds::record(&mut uow, &ctx, to.as_str(), &end_effects).await?;
        }
        None => {
            let done = rounds::advance(uow.txn(), &request, &members, now, &mut effects).await?;
            rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
            if done {
                let (_, r) = rounds::finish_approved(&mut uow, post, request, &ctx).await?;
                request = r;
            }
        }
    }
    let deadlines = effects.deadlines;
    uow.commit().await?;
    if deadlines {
        state.approvals.rearm();
    }
    super::views::approval(&state.db, &request).await
}

fn not_in_review() -> ApiError {
    ApiError::Conflict(
        "not_in_review",
        "this post is not waiting for approval".into(),
    )
}

/// `POST /api/posts/{id}/withdraw`: the open round ends; the post goes back to draft.
pub async fn withdraw(
    state: &AppState,
    user_id: Uuid,
    name: String,
    meta: &RequestMeta,
    post: post_rows::Model,
    comment: Option<String>,
) -> Result<ApprovalView, ApiError> {
    let comment = clean_comment(comment)?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let now = uow.now();
    let Some(open) = rounds::open_round(uow.txn(), post.id).await? else {
        return Err(not_in_review());
    };
    if !rounds::lock_round(uow.txn(), open.id, &open.status, now).await? {
        return Err(not_in_review());
    }
    let request = rounds::close(uow.txn(), open, rounds::WITHDRAWN, now).await?;
    let post = posts::lock_row(uow.txn(), post.id).await?;
    let post = if PostStatus::from_db(&post.status) == PostStatus::Scheduled {
        // Taken off the schedule first; the publisher never sees it.
        let p =
            rounds::move_post(&mut uow, post, PostStatus::Approved, Transition::Unschedule).await?;
        rounds::move_post(&mut uow, p, PostStatus::Draft, Transition::Withdraw).await?
    } else {
        rounds::move_post(&mut uow, post, PostStatus::Draft, Transition::Withdraw).await?
    };
    let members = rounds::members(uow.txn(), post.workspace_id).await?;
    let mut recipients = Vec::new();
    for s in rounds::steps_of(uow.txn(), request.id).await? {
        recipients.extend(rounds::approvers_of(&s, &members));
    }
    let mut effects = Effects::default();
    effects.push(EventType::ApprovalWithdrawn, None, recipients);
    let ctx = Ctx {
        post: &post,
        request: request.clone(),
        by: Some(ApprovalActor {
            user_id: Some(user_id),
            name,
            share_link_id: None,
        }),
        actor_id: Some(user_id),
        decision: None,
        comment,
        action: None,
    };
    rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
    uow.commit().await?;
    super::views::approval(&state.db, &request).await
}

/// After the post's content or status changed by hand: a round whose post left the approval
/// flow (draft, archived) ends as withdrawn; a round about other content is void — a new one starts at once with the same workflow and submitter, and the
/// approvers are told. Called by the live document's hook and after REST edits.
pub async fn content_changed(
    db: &DatabaseConnection,
    announcer: Announcer,
    keeper: Option<&super::deadlines::Keeper>,
    post_id: Uuid,
) -> Result<bool, ApiError> {
    void_round(db, announcer, keeper, post_id).await
}

async fn void_round(
    db: &DatabaseConnection,
    announcer: Announcer,
    keeper: Option<&super::deadlines::Keeper>,
    post_id: Uuid,
) -> Result<bool, ApiError> {
    let Some(open) = rounds::open_round(db, post_id).await? else {
        return Ok(false);
    };
    let mut uow = UnitOfWork::begin_on(db, announcer.clone(), None, &NO_REQUEST).await?;
    let now = uow.now();
    if !rounds::lock_round(uow.txn(), open.id, &open.status, now).await? {
        return Ok(false);
    }
    let post = posts::lock_row(uow.txn(), post_id).await?;
    let status = PostStatus::from_db(&post.status);
    if !matches!(
        status,
        PostStatus::InReview | PostStatus::Approved | PostStatus::Scheduled
    ) {
        // Taken out of the approval flow by hand (back to draft, archived): the round ends.
        let members = rounds::members(uow.txn(), post.workspace_id).await?;
        let mut told = Vec::new();
        for s in rounds::steps_of(uow.txn(), open.id).await? {
            told.extend(rounds::approvers_of(&s, &members));
        }
        let old = rounds::close(uow.txn(), open, rounds::WITHDRAWN, now).await?;
        let mut effects = Effects::default();
        effects.push(EventType::ApprovalWithdrawn, None, told);
        let ctx = Ctx {
            post: &post,
            request: old,
            by: None,
            actor_id: None,
            decision: None,
            comment: Some(format!("the post was moved to {status}")),
            action: None,
        };
        rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
        uow.commit().await?;
        return Ok(true);
    }
    let hash = rounds::row_hash(&post);
    if hash == open.content_hash {
        return Ok(false);
    }
    let was_approved = open.status == rounds::APPROVED;
    let members = rounds::members(uow.txn(), post.workspace_id).await?;
    let mut told = Vec::new();
    for s in rounds::steps_of(uow.txn(), open.id).await? {
        told.extend(rounds::approvers_of(&s, &members));
    }
    let old = rounds::close(uow.txn(), open, rounds::VOIDED, now).await?;
    // Approved (or scheduled) goes back to review; a post in review stays there.
    let post = if PostStatus::from_db(&post.status) == PostStatus::InReview {
        post
    } else {
        rounds::move_post(&mut uow, post, PostStatus::InReview, Transition::Void).await?
    };
    let mut effects = Effects::default();
    effects.push(EventType::ApprovalVoided, None, told);
    let ctx = Ctx {
        post: &post,
        request: old.clone(),
        by: None,
        actor_id: None,
        decision: None,
        comment: Some("the content changed after it was submitted".into()),
        action: None,
    };
    rounds::record(&mut uow, &ctx, &post.status, &effects).await?;
    // The new round: same workflow (or the one that matches now), same submitter, the
    // content as it is now. Its version is the post's current content, from the row.
    let wf = match old.workflow_id {
        Some(id) => match workflow::pick(uow.txn(), &post, Some(id)).await {
            Ok(w) => w,
            Err(_) => workflow::pick(uow.txn(), &post, None).await?,
        },
        None => workflow::pick(uow.txn(), &post, None).await?,
    };
    // The post is in review already, so `open` records no status change, only the round.
    let (_, _, deadlines) = rounds::open(
        &mut uow,
        post,
        wf,
        hash,
        None,
        old.submitted_by,
        Some("resubmitted automatically: the content changed".into()),
        None,
        Transition::Submit,
    )
    .await?;
    uow.commit().await?;
    if deadlines {
        if let Some(k) = keeper {
            k.rearm();
        }
    }
    let _ = was_approved;
    Ok(true)
}
