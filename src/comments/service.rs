//! The rules and queries behind the comments API: who sees which comment, threads,
//! mentions, reactions — and the writes, each one [`UnitOfWork`] with its events.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};
use serde_json::json;
use uuid::Uuid;

use super::input::{
    check_anchor, check_body, dedupe_mentions, valid_emoji, CommentCreate, CommentUpdate,
    Visibility, MAX_REACTIONS_PER_PERSON,
};
use super::views::{uuids, view, views, visibility_of, CommentList, CommentView};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, FieldErrors};
use crate::events::catalogue::CommentEvent;
use crate::events::{EventType, UnitOfWork};
use crate::posts::{load_post, visible_to};
use crate::roles::{Action, Role};
use crate::state::AppState;
use crate::store::entities::{comment_reactions, comments, posts, workspace_members};
use crate::workspaces::access::Membership;

/// Whether a member may read comments of this visibility.
pub(crate) fn sees(m: &Membership, v: Visibility) -> bool {
    v == Visibility::Client || m.can(Action::CommentViewInternal)
}

/// A comment event's payload: `{comment_id, post_id, visibility, comment, ...}`, the whole
/// comment (`comment`) so a UI can update live, and at the top level the event's audience,
/// `visibility`. Internal comments must never reach clients, so the event stream — and
/// anything else that fans events out to clients — delivers an event to members who may
/// not see internal comments (`Action::CommentViewInternal`) only when
/// `data.visibility == "client"`, and drops it when it is `"internal"`. The audience is
/// `"client"` only when the comment is client-visible *and* its post is shared with
/// clients (`client_visible`): a client comment on an internal post is not for clients'
/// eyes yet, so its events say `"internal"` even though `data.comment.visibility` says
/// `"client"`. Filter on the top-level field.
fn comment_event(post: &posts::Model, c: &CommentView) -> CommentEvent {
    let audience = if c.visibility == Visibility::Client && post.client_visible {
        Visibility::Client
    } else {
        Visibility::Internal
    };
    CommentEvent {
        comment_id: c.id,
        post_id: c.post_id,
        visibility: audience.as_str().into(),
        comment: json!(c),
        reply_ids: None,
        emoji: None,
        user_id: None,
        by: None,
    }
}

/// Records one comment event in `uow`.
async fn record(
    uow: &mut UnitOfWork<'_>,
    ty: EventType,
    c: &CommentView,
    payload: CommentEvent,
) -> Result<(), ApiError> {
    let target = ("comment", Some(c.id.to_string()));
    uow.record(ty, Some(c.workspace_id), target, &payload)
        .await?;
    Ok(())
}

/// Records `comment.mentioned` for each of `who`: the notification event, one per person,
/// with `data.user_id` the person to notify and `data.by` who mentioned them.
async fn record_mentions(
    uow: &mut UnitOfWork<'_>,
    by: Uuid,
    post: &posts::Model,
    c: &CommentView,
    who: &[Uuid],
) -> Result<(), ApiError> {
    for id in who {
        let payload = CommentEvent {
            user_id: Some(*id),
            by: Some(by),
            ..comment_event(post, c)
        };
        record(uow, EventType::CommentMentioned, c, payload).await?;
    }
    Ok(())
}

/// Mentioned people must be members of the workspace who can see the comment (the post,
/// and internal comments for internal ones) — a mention must not notify someone of what
/// they may not read.
async fn check_mentions<C: ConnectionTrait>(
    db: &C,
    errs: &mut FieldErrors,
    m: &Membership,
    post: &posts::Model,
    visibility: Visibility,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let members = workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(m.workspace.id))
        .filter(workspace_members::Column::UserId.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    for id in ids {
        let role = members
            .iter()
            .find(|x| x.user_id == *id)
            .and_then(|x| Role::parse(&x.role));
        let Some(role) = role else {
            errs.add(
                "mentions",
                format!("{id} is not a member of this workspace"),
            );
            continue;
        };
        let theirs = Membership {
            workspace: m.workspace.clone(),
            role,
        };
        if !(visible_to(&theirs, post) && sees(&theirs, visibility)) {
            errs.add("mentions", format!("{id} cannot see this comment"));
        }
    }
    Ok(())
}

/// A comment with its post and the caller's membership.
pub struct Target {
    pub comment: comments::Model,
    pub post: posts::Model,
    pub m: Membership,
}

/// Loads a comment through its post: 404 unless the caller may see both.
pub async fn load_comment(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Target, ApiError> {
    let comment = comments::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("comment"))?;
    let (post, m) = load_post(state, user, comment.post_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::NotFound("comment"),
            other => other,
        })?;
    if !sees(&m, visibility_of(&comment)) {
        return Err(ApiError::NotFound("comment"));
    }
    Ok(Target { comment, post, m })
}

/// The post's comments the member may read, oldest first.
pub async fn list(
    state: &AppState,
    post: &posts::Model,
    m: &Membership,
) -> Result<CommentList, ApiError> {
    let mut q = comments::Entity::find().filter(comments::Column::PostId.eq(post.id));
    if !m.can(Action::CommentViewInternal) {
        q = q.filter(comments::Column::Visibility.eq(Visibility::Client.as_str()));
    }
    let rows = q
        .order_by_asc(comments::Column::CreatedAt)
        .order_by_asc(comments::Column::Id)
        .all(&state.db)
        .await?;
    Ok(CommentList {
        items: views(&state.db, &rows).await?,
    })
}

/// Posts a comment or a reply (`comment.created`, and `comment.mentioned` per mention).
pub async fn create(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: &posts::Model,
    m: &Membership,
    input: CommentCreate,
) -> Result<CommentView, ApiError> {
    let sees_internal = m.can(Action::CommentViewInternal);
    if input.visibility == Some(Visibility::Internal) && !sees_internal {
        return Err(ApiError::Forbidden(
            "forbidden",
            "your role can only post comments visible to clients".into(),
        ));
    }
    let mut errs = FieldErrors::default();
    let text = check_body(&mut errs, &input.body);

    // The thread: a reply to a reply joins the root's thread.
    let mut root = None;
    if let Some(pid) = input.parent_id {
        let parent = comments::Entity::find_by_id(pid)
            .one(&state.db)
            .await?
            .filter(|p| p.post_id == post.id && sees(m, visibility_of(p)));
        root = match parent {
            Some(p) => match p.parent_id {
                Some(root_id) => comments::Entity::find_by_id(root_id).one(&state.db).await?,
                None => Some(p),
            },
            None => None,
        };
        if root.is_none() {
            errs.add("parent_id", "no such comment on this post");
        }
    }
    let visibility = match (&root, input.visibility) {
        (Some(r), given) => {
            let theirs = visibility_of(r);
            if given.is_some_and(|v| v != theirs) {
                errs.add(
                    "visibility",
                    format!("a reply has its thread's visibility ({})", theirs.as_str()),
                );
            }
            theirs
        }
        (None, Some(v)) => v,
        (None, None) if sees_internal => Visibility::Internal,
        (None, None) => Visibility::Client,
    };
    if let Some(a) = &input.anchor {
        if input.parent_id.is_some() {
            errs.add("anchor", "only a thread's first comment can be anchored");
        } else {
            check_anchor(&mut errs, a);
        }
    }
    let mentions = dedupe_mentions(&mut errs, input.mentions);
    check_mentions(&state.db, &mut errs, m, post, visibility, &mentions).await?;
    errs.into_result()?;

    let now = Utc::now();
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let row = comments::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(post.workspace_id),
        post_id: Set(post.id),
        parent_id: Set(root.map(|r| r.id)),
        author_id: Set(Some(user_id)),
        guest_name: Set(None),
        share_link_id: Set(None),
        body: Set(text),
        visibility: Set(visibility.as_str().into()),
        anchor: Set(input.anchor.map(|a| json!(a))),
        mentions: Set(json!(mentions)),
        resolved_at: Set(None),
        resolved_by: Set(None),
        edited_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    let v = view(uow.txn(), &row).await?;
    let e = comment_event(post, &v);
    record(&mut uow, EventType::CommentCreated, &v, e).await?;
    record_mentions(&mut uow, user_id, post, &v, &mentions).await?;
    uow.commit().await?;
    Ok(v)
}

/// Edits the author's comment (`comment.updated`, and `comment.mentioned` for people newly
/// mentioned).
pub async fn update(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    target: Target,
    input: CommentUpdate,
) -> Result<CommentView, ApiError> {
    let Target { comment, post, m } = target;
    let mut errs = FieldErrors::default();
    let text = check_body(&mut errs, &input.body);
    let before = uuids(&comment.mentions);
    let mentions = match input.mentions {
        Some(ids) => {
            let ids = dedupe_mentions(&mut errs, ids);
            let vis = visibility_of(&comment);
            check_mentions(&state.db, &mut errs, &m, &post, vis, &ids).await?;
            ids
        }
        None => before.clone(),
    };
    errs.into_result()?;
    let added: Vec<Uuid> = mentions
        .iter()
        .filter(|id| !before.contains(id))
        .copied()
        .collect();

    let now = Utc::now();
    let mut active = comment.into_active_model();
    active.body = Set(text);
    active.mentions = Set(json!(mentions));
    active.edited_at = Set(Some(now));
    active.updated_at = Set(now);
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let row = active.update(uow.txn()).await?;
    let v = view(uow.txn(), &row).await?;
    let e = comment_event(&post, &v);
    record(&mut uow, EventType::CommentUpdated, &v, e).await?;
    record_mentions(&mut uow, user_id, &post, &v, &added).await?;
    uow.commit().await?;
    Ok(v)
}

/// Deletes a comment, with its replies when it is a thread's root (`comment.deleted` with
/// `reply_ids`).
pub async fn delete(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    target: Target,
) -> Result<(), ApiError> {
    let Target { comment, post, .. } = target;
    // Read before the transaction, so that it starts with its write (on SQLite a deferred
    // transaction that reads first can fail to upgrade when another writer got in between).
    let v = view(&state.db, &comment).await?;
    let reply_ids: Vec<Uuid> = comments::Entity::find()
        .select_only()
        .column(comments::Column::Id)
        .filter(comments::Column::ParentId.eq(comment.id))
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    // The thread's replies go with it (a reply posted meanwhile too: the statement matches
    // on parent_id); reactions go with their comments (ON DELETE CASCADE).
    comments::Entity::delete_many()
        .filter(
            Condition::any()
                .add(comments::Column::ParentId.eq(comment.id))
                .add(comments::Column::Id.eq(comment.id)),
        )
        .exec(uow.txn())
        .await?;
    let e = CommentEvent {
        reply_ids: Some(reply_ids),
        ..comment_event(&post, &v)
    };
    record(&mut uow, EventType::CommentDeleted, &v, e).await?;
    uow.commit().await?;
    Ok(())
}

/// Resolves or reopens a thread. Idempotent: asking for the state it is already in changes
/// nothing and records nothing.
pub async fn set_resolved(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    target: Target,
    resolve: bool,
) -> Result<CommentView, ApiError> {
    let Target { comment, post, .. } = target;
    if comment.parent_id.is_some() {
        return Err(ApiError::BadRequest(
            "not_thread_root",
            "only a thread's first comment can be resolved or reopened".into(),
        ));
    }
    if comment.resolved_at.is_some() == resolve {
        return view(&state.db, &comment).await;
    }
    let now = Utc::now();
    let mut active = comment.into_active_model();
    active.resolved_at = Set(resolve.then_some(now));
    active.resolved_by = Set(resolve.then_some(user_id));
    active.updated_at = Set(now);
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let row = active.update(uow.txn()).await?;
    let v = view(uow.txn(), &row).await?;
    let ty = if resolve {
        EventType::CommentResolved
    } else {
        EventType::CommentReopened
    };
    let e = comment_event(&post, &v);
    record(&mut uow, ty, &v, e).await?;
    uow.commit().await?;
    Ok(v)
}

fn emoji_error() -> ApiError {
    ApiError::validation("emoji", "must be 1–16 characters without spaces")
}

/// Adds (`add`) or takes back the user's reaction `emoji`; idempotent, and only the request
/// that changed something records `comment.reaction_added` / `_removed`.
pub async fn react(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    target: Target,
    emoji: String,
    add: bool,
) -> Result<CommentView, ApiError> {
    let Target { comment, post, .. } = target;
    if !valid_emoji(&emoji) {
        return Err(emoji_error());
    }
    if add {
        let key = (comment.id, user_id, emoji.clone());
        if comment_reactions::Entity::find_by_id(key)
            .one(&state.db)
            .await?
            .is_some()
        {
            return view(&state.db, &comment).await;
        }
        let mine = comment_reactions::Entity::find()
            .filter(comment_reactions::Column::CommentId.eq(comment.id))
            .filter(comment_reactions::Column::UserId.eq(user_id))
            .count(&state.db)
            .await?;
        if mine >= MAX_REACTIONS_PER_PERSON {
            return Err(ApiError::validation(
                "emoji",
                "at most 20 different reactions per person on one comment",
            ));
        }
    }
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let changed = if add {
        // ON CONFLICT DO NOTHING: a concurrent identical request is not an error, and only
        // the request that inserted the row records the event.
        let res = comment_reactions::Entity::insert(comment_reactions::ActiveModel {
            comment_id: Set(comment.id),
            user_id: Set(user_id),
            emoji: Set(emoji.clone()),
            created_at: Set(Utc::now()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(uow.txn())
        .await?;
        matches!(res, TryInsertResult::Inserted(n) if n > 0)
    } else {
        comment_reactions::Entity::delete_many()
            .filter(comment_reactions::Column::CommentId.eq(comment.id))
            .filter(comment_reactions::Column::UserId.eq(user_id))
            .filter(comment_reactions::Column::Emoji.eq(emoji.as_str()))
            .exec(uow.txn())
            .await?
            .rows_affected
            > 0
    };
    let v = view(uow.txn(), &comment).await?;
    if changed {
        let ty = if add {
            EventType::CommentReactionAdded
        } else {
            EventType::CommentReactionRemoved
        };
        let e = CommentEvent {
            emoji: Some(emoji),
            user_id: Some(user_id),
            ..comment_event(&post, &v)
        };
        record(&mut uow, ty, &v, e).await?;
    }
    uow.commit().await?;
    Ok(v)
}
