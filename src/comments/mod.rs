//! Comments on posts: `/api/posts/:id/comments`, `/api/comments/:id[/resolve|/reopen|
//! /reactions/:emoji]`.
//!
//! - A thread is a root comment and its replies, one level deep: a reply to a reply joins
//!   the root's thread. Lists are flat, ordered by creation, with `parent_id` to rebuild
//!   threads. Deleting a root deletes its replies.
//! - `visibility` is `internal` (the team) or `client` (clients too). Clients never see an
//!   internal comment — it answers 404 to them like anything else they may not see — and
//!   only post client-visible ones. A reply has its thread's visibility.
//! - A root may be anchored to a stretch of the post's text by Yjs relative positions
//!   ([`input::Anchor`]), stored opaquely.
//! - Access goes through the post ([`crate::posts::load_post`]): whoever cannot see the post
//!   cannot see its comments.
//! - Every change records its event in the change's transaction (see `Ctx::change`);
//!   mentioning someone records `comment.mentioned` for them, the notification event.
//!
//! - [`input`]: request bodies and the checks that need no database.

pub mod input;

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::activity::{user_refs, UserRef};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::events::{self, Change, Event};
use crate::posts::{load_post, visible_to};
use crate::roles::{Action, Role};
use crate::state::AppState;
use crate::store::entities::{comment_reactions, comments, posts, workspace_members};
use crate::workspaces::access::Membership;
use input::{
    check_anchor, check_body, dedupe_mentions, valid_emoji, Anchor, CommentCreate, CommentUpdate,
    Visibility, MAX_REACTIONS_PER_PERSON,
};

/// One emoji on a comment: how many people left it, and who.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReactionView {
    #[schema(example = "👍")]
    pub emoji: String,
    pub count: usize,
    pub user_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub post_id: Uuid,
    pub workspace_id: Uuid,
    /// The thread's root; `null` for a root.
    pub parent_id: Option<Uuid>,
    /// `null` once the author's account is deleted.
    pub author: Option<UserRef>,
    pub body: String,
    pub visibility: Visibility,
    pub anchor: Option<Anchor>,
    pub mentions: Vec<Uuid>,
    /// In order of first use.
    pub reactions: Vec<ReactionView>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub edited_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct CommentList {
    /// Oldest first; replies carry their root's id in `parent_id`.
    pub items: Vec<CommentView>,
}

fn uuids(v: &Value) -> Vec<Uuid> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn visibility_of(c: &comments::Model) -> Visibility {
    // Unknown values are treated as the stricter one.
    Visibility::parse(&c.visibility).unwrap_or(Visibility::Internal)
}

/// Whether a member may read comments of this visibility.
fn sees(m: &Membership, v: Visibility) -> bool {
    v == Visibility::Client || m.can(Action::CommentViewInternal)
}

/// Comment rows as the API shows them: with authors' names and grouped reactions, loaded
/// in two queries whatever the number of rows.
async fn views<C: ConnectionTrait>(
    db: &C,
    rows: &[comments::Model],
) -> Result<Vec<CommentView>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let names = user_refs(db, rows.iter().filter_map(|c| c.author_id)).await?;
    let reactions = comment_reactions::Entity::find()
        .filter(comment_reactions::Column::CommentId.is_in(rows.iter().map(|c| c.id)))
        .order_by_asc(comment_reactions::Column::CreatedAt)
        .order_by_asc(comment_reactions::Column::Emoji)
        .order_by_asc(comment_reactions::Column::UserId)
        .all(db)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<ReactionView>> = HashMap::new();
    for r in reactions {
        let list = grouped.entry(r.comment_id).or_default();
        match list.iter_mut().find(|x| x.emoji == r.emoji) {
            Some(x) => {
                x.count += 1;
                x.user_ids.push(r.user_id);
            }
            None => list.push(ReactionView {
                emoji: r.emoji,
                count: 1,
                user_ids: vec![r.user_id],
            }),
        }
    }
    Ok(rows
        .iter()
        .map(|c| CommentView {
            id: c.id,
            post_id: c.post_id,
            workspace_id: c.workspace_id,
            parent_id: c.parent_id,
            author: c.author_id.and_then(|a| names.get(&a).cloned()),
            body: c.body.clone(),
            visibility: visibility_of(c),
            anchor: c
                .anchor
                .clone()
                .and_then(|a| serde_json::from_value(a).ok()),
            mentions: uuids(&c.mentions),
            reactions: grouped.remove(&c.id).unwrap_or_default(),
            resolved_at: c.resolved_at,
            resolved_by: c.resolved_by,
            edited_at: c.edited_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
        .collect())
}

async fn view<C: ConnectionTrait>(db: &C, c: &comments::Model) -> Result<CommentView, ApiError> {
    let mut v = views(db, std::slice::from_ref(c)).await?;
    v.pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("comment view missing")))
}

/// Who is changing a comment, from where, on which post: what every comment event needs
/// besides the comment itself.
struct Ctx<'a> {
    user: &'a AuthUser,
    meta: &'a RequestMeta,
    post: &'a posts::Model,
}

impl<'a> Ctx<'a> {
    /// A comment event. The payload is `{comment_id, post_id, visibility, comment, ...extra}`:
    /// the whole comment (`comment`) so a UI can update live, and at the top level the
    /// event's audience, `visibility`. Internal comments must never reach clients, so the
    /// event stream — and anything else that fans events out to clients — delivers an event
    /// to members who may not see internal comments (`Action::CommentViewInternal`) only
    /// when `data.visibility == "client"`, and drops it when it is `"internal"`. The
    /// audience is `"client"` only when the comment is client-visible *and* its post is
    /// shared with clients (`client_visible`): a client comment on an internal post is not
    /// for clients' eyes yet, so its events say `"internal"` even though
    /// `data.comment.visibility` says `"client"`. Filter on the top-level field.
    fn change(&self, c: &CommentView, event_type: &'static str, extra: Value) -> Change<'a> {
        let audience = if c.visibility == Visibility::Client && self.post.client_visible {
            Visibility::Client
        } else {
            Visibility::Internal
        };
        let mut data = json!({
            "comment_id": c.id,
            "post_id": c.post_id,
            "visibility": audience,
            "comment": c,
        });
        if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        Change {
            workspace_id: Some(c.workspace_id),
            actor_id: Some(self.user.id()),
            event_type,
            target_type: "comment",
            target_id: Some(c.id.to_string()),
            data,
            meta: self.meta,
        }
    }

    /// Records one event in `conn` (the change's transaction).
    async fn record<C: ConnectionTrait>(
        &self,
        conn: &C,
        c: &CommentView,
        event_type: &'static str,
        extra: Value,
    ) -> Result<Event, ApiError> {
        events::record(conn, self.change(c, event_type, extra)).await
    }

    /// Records `comment.mentioned` for each of `who`: the notification event, one per
    /// person, with `data.user_id` the person to notify and `data.by` who mentioned them.
    async fn record_mentions<C: ConnectionTrait>(
        &self,
        conn: &C,
        c: &CommentView,
        who: &[Uuid],
    ) -> Result<Vec<Event>, ApiError> {
        let mut out = Vec::with_capacity(who.len());
        for id in who {
            let extra = json!({ "user_id": id, "by": self.user.id() });
            out.push(self.record(conn, c, "comment.mentioned", extra).await?);
        }
        Ok(out)
    }
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
struct Target {
    comment: comments::Model,
    post: posts::Model,
    m: Membership,
}

/// Loads a comment through its post: 404 unless the caller may see both.
async fn load_comment(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Target, ApiError> {
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

#[utoipa::path(get, path = "/api/posts/{id}/comments", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CommentList, description = "Oldest first; clients get client-visible comments only"),
              (status = 404, body = ErrorBody)))]
pub async fn list_comments(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = load_post(&state, &user, path.into_inner()).await?;
    let mut q = comments::Entity::find().filter(comments::Column::PostId.eq(post.id));
    if !m.can(Action::CommentViewInternal) {
        q = q.filter(comments::Column::Visibility.eq(Visibility::Client.as_str()));
    }
    let rows = q
        .order_by_asc(comments::Column::CreatedAt)
        .order_by_asc(comments::Column::Id)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(CommentList {
        items: views(&state.db, &rows).await?,
    }))
}

#[utoipa::path(post, path = "/api/posts/{id}/comments", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommentCreate,
    responses((status = 201, body = CommentView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "A client asked for an internal comment"),
              (status = 404, body = ErrorBody)))]
pub async fn create_comment(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<CommentCreate>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = load_post(&state, &user, path.into_inner()).await?;
    m.require(Action::PostComment)?;
    let input = body.into_inner();
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
            .filter(|p| p.post_id == post.id && sees(&m, visibility_of(p)));
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
    check_mentions(&state.db, &mut errs, &m, &post, visibility, &mentions).await?;
    errs.into_result()?;

    let now = Utc::now();
    let txn = crate::store::begin(&state.db).await?;
    let row = comments::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(post.workspace_id),
        post_id: Set(post.id),
        parent_id: Set(root.map(|r| r.id)),
        author_id: Set(Some(user.id())),
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
    .insert(&txn)
    .await?;
    let v = view(&txn, &row).await?;
    let ctx = Ctx {
        user: &user,
        meta: &meta,
        post: &post,
    };
    let mut evs = vec![ctx.record(&txn, &v, "comment.created", json!({})).await?];
    evs.extend(ctx.record_mentions(&txn, &v, &mentions).await?);
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &evs).await;
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(put, path = "/api/comments/{id}", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CommentUpdate,
    responses((status = 200, body = CommentView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "Only the author edits a comment"), (status = 404, body = ErrorBody)))]
pub async fn update_comment(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<CommentUpdate>,
) -> Result<HttpResponse, ApiError> {
    let Target { comment, post, m } = load_comment(&state, &user, path.into_inner()).await?;
    m.require(Action::PostComment)?;
    if comment.author_id != Some(user.id()) {
        return Err(ApiError::Forbidden(
            "not_author",
            "only the author can edit a comment".into(),
        ));
    }
    let input = body.into_inner();
    let mut errs = FieldErrors::default();
    let text = check_body(&mut errs, &input.body);
    let before = uuids(&comment.mentions);
    let mentions = match input.mentions {
        Some(ids) => {
            let ids = dedupe_mentions(&mut errs, ids);
            check_mentions(
                &state.db,
                &mut errs,
                &m,
                &post,
                visibility_of(&comment),
                &ids,
            )
            .await?;
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
    let txn = crate::store::begin(&state.db).await?;
    let row = active.update(&txn).await?;
    let v = view(&txn, &row).await?;
    let ctx = Ctx {
        user: &user,
        meta: &meta,
        post: &post,
    };
    let mut evs = vec![ctx.record(&txn, &v, "comment.updated", json!({})).await?];
    evs.extend(ctx.record_mentions(&txn, &v, &added).await?);
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &evs).await;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(delete, path = "/api/comments/{id}", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted, with its replies when it is a thread's root"),
              (status = 403, body = ErrorBody, description = "Neither the author nor allowed to delete posts"),
              (status = 404, body = ErrorBody)))]
pub async fn delete_comment(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let Target { comment, post, m } = load_comment(&state, &user, path.into_inner()).await?;
    if comment.author_id != Some(user.id()) {
        m.require(Action::PostDelete)?;
    }
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
    let txn = crate::store::begin(&state.db).await?;
    // The thread's replies go with it (a reply posted meanwhile too: the statement matches
    // on parent_id); reactions go with their comments (ON DELETE CASCADE).
    comments::Entity::delete_many()
        .filter(
            Condition::any()
                .add(comments::Column::ParentId.eq(comment.id))
                .add(comments::Column::Id.eq(comment.id)),
        )
        .exec(&txn)
        .await?;
    let ctx = Ctx {
        user: &user,
        meta: &meta,
        post: &post,
    };
    let extra = json!({ "reply_ids": reply_ids });
    let ev = ctx.record(&txn, &v, "comment.deleted", extra).await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Resolves or reopens a thread. Idempotent: asking for the state it is already in changes
/// nothing and records nothing.
async fn set_resolved(
    state: &AppState,
    user: &AuthUser,
    meta: &RequestMeta,
    id: Uuid,
    resolve: bool,
) -> Result<HttpResponse, ApiError> {
    let Target { comment, post, m } = load_comment(state, user, id).await?;
    m.require(Action::PostComment)?;
    if comment.parent_id.is_some() {
        return Err(ApiError::BadRequest(
            "not_thread_root",
            "only a thread's first comment can be resolved or reopened".into(),
        ));
    }
    if comment.resolved_at.is_some() == resolve {
        return Ok(HttpResponse::Ok().json(view(&state.db, &comment).await?));
    }
    let now = Utc::now();
    let mut active = comment.into_active_model();
    active.resolved_at = Set(resolve.then_some(now));
    active.resolved_by = Set(resolve.then(|| user.id()));
    active.updated_at = Set(now);
    let txn = crate::store::begin(&state.db).await?;
    let row = active.update(&txn).await?;
    let v = view(&txn, &row).await?;
    let event_type = if resolve {
        "comment.resolved"
    } else {
        "comment.reopened"
    };
    let ctx = Ctx {
        user,
        meta,
        post: &post,
    };
    let ev = ctx.record(&txn, &v, event_type, json!({})).await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(post, path = "/api/comments/{id}/resolve", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CommentView), (status = 400, body = ErrorBody, description = "Not a thread's root"),
              (status = 404, body = ErrorBody)))]
pub async fn resolve_comment(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_resolved(&state, &user, &meta, path.into_inner(), true).await
}

#[utoipa::path(post, path = "/api/comments/{id}/reopen", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CommentView), (status = 400, body = ErrorBody, description = "Not a thread's root"),
              (status = 404, body = ErrorBody)))]
pub async fn reopen_comment(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    set_resolved(&state, &user, &meta, path.into_inner(), false).await
}

fn emoji_error() -> ApiError {
    ApiError::validation("emoji", "must be 1–16 characters without spaces")
}

#[utoipa::path(put, path = "/api/comments/{id}/reactions/{emoji}", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("emoji" = String, Path, description = "1–16 characters, no whitespace (URL-encoded)")),
    responses((status = 200, body = CommentView, description = "Added (or already there)"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn add_reaction(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, emoji) = path.into_inner();
    let Target { comment, post, m } = load_comment(&state, &user, id).await?;
    m.require(Action::PostComment)?;
    if !valid_emoji(&emoji) {
        return Err(emoji_error());
    }
    let key = (comment.id, user.id(), emoji.clone());
    if comment_reactions::Entity::find_by_id(key)
        .one(&state.db)
        .await?
        .is_some()
    {
        return Ok(HttpResponse::Ok().json(view(&state.db, &comment).await?));
    }
    let mine = comment_reactions::Entity::find()
        .filter(comment_reactions::Column::CommentId.eq(comment.id))
        .filter(comment_reactions::Column::UserId.eq(user.id()))
        .count(&state.db)
        .await?;
    if mine >= MAX_REACTIONS_PER_PERSON {
        return Err(ApiError::validation(
            "emoji",
            "at most 20 different reactions per person on one comment",
        ));
    }
    let txn = crate::store::begin(&state.db).await?;
    // ON CONFLICT DO NOTHING: a concurrent identical request is not an error, and only the
    // request that inserted the row records the event.
    let res = comment_reactions::Entity::insert(comment_reactions::ActiveModel {
        comment_id: Set(comment.id),
        user_id: Set(user.id()),
        emoji: Set(emoji.clone()),
        created_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(&txn)
    .await?;
    let v = view(&txn, &comment).await?;
    let mut evs = Vec::new();
    if matches!(res, TryInsertResult::Inserted(n) if n > 0) {
        let ctx = Ctx {
            user: &user,
            meta: &meta,
            post: &post,
        };
        let extra = json!({ "emoji": emoji, "user_id": user.id() });
        evs.push(
            ctx.record(&txn, &v, "comment.reaction_added", extra)
                .await?,
        );
    }
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &evs).await;
    Ok(HttpResponse::Ok().json(v))
}

#[utoipa::path(delete, path = "/api/comments/{id}/reactions/{emoji}", tag = "comments", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("emoji" = String, Path, description = "1–16 characters, no whitespace (URL-encoded)")),
    responses((status = 200, body = CommentView, description = "Removed (or was not there)"), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn remove_reaction(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, emoji) = path.into_inner();
    let Target { comment, post, m } = load_comment(&state, &user, id).await?;
    m.require(Action::PostComment)?;
    if !valid_emoji(&emoji) {
        return Err(emoji_error());
    }
    let txn = crate::store::begin(&state.db).await?;
    let res = comment_reactions::Entity::delete_many()
        .filter(comment_reactions::Column::CommentId.eq(comment.id))
        .filter(comment_reactions::Column::UserId.eq(user.id()))
        .filter(comment_reactions::Column::Emoji.eq(emoji.as_str()))
        .exec(&txn)
        .await?;
    let v = view(&txn, &comment).await?;
    let mut evs = Vec::new();
    if res.rows_affected > 0 {
        let ctx = Ctx {
            user: &user,
            meta: &meta,
            post: &post,
        };
        let extra = json!({ "emoji": emoji, "user_id": user.id() });
        evs.push(
            ctx.record(&txn, &v, "comment.reaction_removed", extra)
                .await?,
        );
    }
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &evs).await;
    Ok(HttpResponse::Ok().json(v))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/posts/{id}/comments")
            .route(web::get().to(list_comments))
            .route(web::post().to(create_comment)),
    )
    .service(
        web::resource("/comments/{id}")
            .route(web::put().to(update_comment))
            .route(web::delete().to(delete_comment)),
    )
    .route("/comments/{id}/resolve", web::post().to(resolve_comment))
    .route("/comments/{id}/reopen", web::post().to(reopen_comment))
    .service(
        web::resource("/comments/{id}/reactions/{emoji}")
            .route(web::put().to(add_reaction))
            .route(web::delete().to(remove_reaction)),
    );
}
