//! The rules and queries behind the posts API: loading a post the caller may see, the
//! boundary to its live document (read, edit, the one writer of the row's derived fields),
//! and the writes, each one [`UnitOfWork`].

use chrono::Utc;
use copydesk_actors::doc::ContentEdit;
use copydesk_actors::ports::DocContent;
use copydesk_actors::post_session::{Edit, EditError, PostSession, Read};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Set};
use uuid::Uuid;

use super::content::{self, PostContent};
use super::draft::{content_edit, rest_only, Draft};
use super::status::PostStatus;
use super::views::{PostInput, PostView, ValidationResponse};
use crate::access::AccessChange;
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::ApiError;
use crate::events::catalogue::PostEvent;
use crate::events::{EventType, UnitOfWork};
use crate::platforms;
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::{posts, users};
use crate::workspaces::access::{membership, Membership};

/// Loads a post through its workspace: 404 unless the caller may see it.
pub(crate) async fn load_post(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
) -> Result<(posts::Model, Membership), ApiError> {
    load_visible(state, &user.0, id).await
}

/// A post the user may see, with their membership; 404 otherwise (other workspaces,
/// internal posts for clients).
pub async fn load_visible(
    state: &AppState,
    user: &users::Model,
    id: Uuid,
) -> Result<(posts::Model, Membership), ApiError> {
    let post = posts::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("post"))?;
    let m = membership(&state.db, user, post.workspace_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::NotFound("post"),
            other => other,
        })?;
    if !visible_to(&m, &post) {
        return Err(ApiError::NotFound("post"));
    }
    Ok((post, m))
}

pub(crate) fn visible_to(m: &Membership, post: &posts::Model) -> bool {
    m.can(Action::PostViewAll) || (m.can(Action::PostViewShared) && post.client_visible)
}

/// The post's live-document session (started if needed).
pub async fn live_session(
    state: &AppState,
    post: &posts::Model,
) -> Result<actix::Addr<PostSession>, ApiError> {
    state
        .collab
        .session(post.workspace_id, post.id)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("collab: {e}")))
}

/// The post's live document: its content and its full state (for versions).
pub async fn live_snapshot(
    state: &AppState,
    post: &posts::Model,
) -> Result<copydesk_actors::post_session::DocSnapshot, ApiError> {
    live_session(state, post)
        .await?
        .send(Read)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("collab: {e}")))
}

/// The post's content as the live document has it.
pub async fn live_content(state: &AppState, post: &posts::Model) -> Result<DocContent, ApiError> {
    Ok(live_snapshot(state, post).await?.content)
}

/// Edits the live document and answers its content once durable and applied.
pub async fn live_edit(
    state: &AppState,
    post: &posts::Model,
    edit: ContentEdit,
) -> Result<DocContent, ApiError> {
    live_session(state, post)
        .await?
        .send(Edit(edit))
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("collab: {e}")))?
        .map_err(|e| match e {
            EditError::Invalid(m) => ApiError::Unprocessable("invalid_edit", m),
            other => ApiError::Unavailable(format!("live document: {other}")),
        })
}

/// The title and content a post has now: its row with the live document laid over it.
pub fn current_content(post: &posts::Model, c: &DocContent) -> (String, PostContent) {
    let mut draft = Draft::from_model(post);
    draft.overlay(c);
    (draft.title, draft.content)
}

/// The row with the document's content laid over it.
pub fn view_with(post: &posts::Model, c: &DocContent) -> PostView {
    let mut draft = Draft::from_model(post);
    draft.overlay(c);
    let report = draft.report();
    let mut view = PostView::from(post);
    view.is_valid = content::is_valid(&report);
    view.validation = report;
    view.title = draft.title;
    view.caption = draft.content.caption;
    view.platform_content = draft.content.platform_content;
    view.media = draft.content.media;
    view
}

/// Reads a post row for update: the row lock on PostgreSQL (SQLite's write transaction is
/// already exclusive). Every writer of the row's document-derived fields reads through here,
/// so the document hook and a REST write never overwrite each other.
pub async fn lock_row<C: ConnectionTrait>(
    conn: &C,
    post_id: Uuid,
) -> Result<posts::Model, ApiError> {
    use sea_orm::QuerySelect;
    let mut q = posts::Entity::find_by_id(post_id);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(conn).await?.ok_or(ApiError::NotFound("post"))
}

/// Writes the document's content and everything derived from it (validation, search
/// text) onto the post row: the one writer of those fields, called by the live session
/// (debounced, and at once after server edits). Reads the row under its lock.
pub async fn write_doc_content(
    db: &sea_orm::DatabaseConnection,
    post_id: Uuid,
    c: &DocContent,
    editor: Option<Uuid>,
) -> Result<posts::Model, ApiError> {
    let txn = crate::store::begin(db).await?;
    let post = write_doc_content_on(&txn, post_id, c, editor).await?;
    txn.commit().await?;
    Ok(post)
}

/// [`write_doc_content`] inside the caller's transaction.
pub async fn write_doc_content_on<C: ConnectionTrait>(
    conn: &C,
    post_id: Uuid,
    c: &DocContent,
    editor: Option<Uuid>,
) -> Result<posts::Model, ApiError> {
    let post = lock_row(conn, post_id).await?;
    let mut draft = Draft::from_model(&post);
    draft.overlay(c);
    let before = PostContent::from_json(&post.content);
    if draft.content == before && draft.title == post.title {
        return Ok(post);
    }
    let mut active = post.into_active_model();
    draft.write(&mut active);
    if editor.is_some() {
        active.updated_by = Set(editor);
    }
    active.updated_at = Set(Utc::now());
    Ok(active.update(conn).await?)
}

/// The payload of a `post.*` event for `post`.
pub fn post_event(post: &posts::Model) -> PostEvent {
    PostEvent {
        post_id: post.id,
        title: post.title.clone(),
        status: post.status.clone(),
        client_visible: post.client_visible,
        from: None,
        to: None,
        duplicated_from: None,
    }
}

fn post_target(post: &posts::Model) -> crate::events::Target {
    ("post", Some(post.id.to_string()))
}

/// A new row for `draft` in `workspace_id`, by `user_id`.
fn new_row(workspace_id: Uuid, user_id: Uuid, draft: &Draft) -> posts::ActiveModel {
    let now = Utc::now();
    let mut active = posts::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        created_by: Set(Some(user_id)),
        updated_by: Set(Some(user_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    draft.write(&mut active);
    active
}

/// Creates a post in the member's workspace (`post.created`).
pub async fn create(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    m: &Membership,
    input: PostInput,
) -> Result<posts::Model, ApiError> {
    let draft = Draft::empty().apply(input)?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let post = new_row(m.workspace.id, user_id, &draft)
        .insert(uow.txn())
        .await?;
    uow.record(
        EventType::PostCreated,
        Some(post.workspace_id),
        post_target(&post),
        &post_event(&post),
    )
    .await?;
    uow.commit().await?;
    Ok(post)
}

/// Checks `input` without saving: each platform's problems and rules.
pub fn validate(input: PostInput) -> Result<ValidationResponse, ApiError> {
    let draft = Draft::empty().apply(input)?;
    let report = draft.report();
    let rules = draft
        .platforms
        .iter()
        .map(|p| {
            (
                p.as_str().to_string(),
                serde_json::to_value(platforms::rules(*p)).unwrap_or_default(),
            )
        })
        .collect();
    Ok(ValidationResponse {
        is_valid: content::is_valid(&report),
        validation: report,
        rules,
    })
}

/// Applies `input` to `post`: text through the live document (open editors see it at
/// once), the other fields on the row, under its lock (`post.updated`, and
/// `post.status_changed` when the status moved).
pub async fn update(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: &posts::Model,
    input: PostInput,
) -> Result<posts::Model, ApiError> {
    // Validate everything first, against the live content.
    let current = live_content(state, post).await?;
    let mut base = Draft::from_model(post);
    base.overlay(&current);
    let rest = rest_only(&input);
    let edit = content_edit(&input);
    base.apply(input)?;
    // Text goes through the document, so open editors see it at once; the row follows
    // the document.
    let now = match edit {
        Some(edit) => live_edit(state, post, edit).await?,
        None => current,
    };
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let locked = lock_row(uow.txn(), post.id).await?;
    let (before_status, before_visible) = (locked.status.clone(), locked.client_visible);
    let mut draft = Draft::from_model(&locked).apply(rest)?;
    draft.overlay(&now);
    let mut active = locked.into_active_model();
    draft.write(&mut active);
    active.updated_by = Set(Some(user_id));
    active.updated_at = Set(uow.now());
    let post = active.update(uow.txn()).await?;
    uow.record(
        EventType::PostUpdated,
        Some(post.workspace_id),
        post_target(&post),
        &post_event(&post),
    )
    .await?;
    if post.status != before_status {
        let mut e = post_event(&post);
        e.from = Some(before_status);
        e.to = Some(post.status.clone());
        uow.record(
            EventType::PostStatusChanged,
            Some(post.workspace_id),
            post_target(&post),
            &e,
        )
        .await?;
    }
    if post.client_visible != before_visible {
        // Clients' open sockets on this post re-check (and close when it is unshared).
        uow.access_changed(AccessChange::Post {
            workspace_id: post.workspace_id,
            post_id: post.id,
            deleted: false,
        });
    }
    uow.commit().await?;
    // An edit voids an approval of other content (a new round starts); a post moved out of
    // review by hand ends its round. The edit has committed: a failure here is logged (the
    // next edit, or the document hook, checks again) rather than reported as the edit's.
    if let Err(e) = crate::approvals::service::content_changed(
        &state.db,
        crate::events::Announcer::of(state),
        Some(&state.approvals),
        post.id,
    )
    .await
    {
        tracing::warn!(post_id = %post.id, error = %e, "could not check the post's approval");
    }
    Ok(post)
}

/// Deletes `post` (`post.deleted`); its live session closes on every node and its sockets
/// lose access.
pub async fn delete(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: &posts::Model,
) -> Result<(), ApiError> {
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    // The live document's rows first, in an append's order (head, then snapshot): an append
    // holds the head row's lock and then checks its log rows' key against the post, so
    // taking the post row first would deadlock with it on PostgreSQL. This order waits for
    // the append instead.
    crate::store::entities::post_doc_heads::Entity::delete_by_id(post.id)
        .exec(uow.txn())
        .await?;
    crate::store::entities::post_doc_snapshots::Entity::delete_by_id(post.id)
        .exec(uow.txn())
        .await?;
    posts::Entity::delete_by_id(post.id).exec(uow.txn()).await?;
    uow.record(
        EventType::PostDeleted,
        Some(post.workspace_id),
        post_target(post),
        &post_event(post),
    )
    .await?;
    uow.access_changed(AccessChange::Post {
        workspace_id: post.workspace_id,
        post_id: post.id,
        deleted: true,
    });
    uow.commit().await?;
    Ok(())
}

/// A draft copy of `post` with its live content, unscheduled (`post.created` with
/// `duplicated_from`).
pub async fn duplicate(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: &posts::Model,
) -> Result<posts::Model, ApiError> {
    let mut draft = Draft::from_model(post);
    draft.overlay(&live_content(state, post).await?);
    let suffix = " (copy)";
    draft.title = format!(
        "{}{suffix}",
        draft
            .title
            .chars()
            .take(200 - suffix.len())
            .collect::<String>()
    );
    draft.status = PostStatus::Draft;
    draft.scheduled_at = None;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let copy = new_row(post.workspace_id, user_id, &draft)
        .insert(uow.txn())
        .await?;
    let mut e = post_event(&copy);
    e.duplicated_from = Some(post.id);
    uow.record(
        EventType::PostCreated,
        Some(copy.workspace_id),
        post_target(&copy),
        &e,
    )
    .await?;
    uow.commit().await?;
    Ok(copy)
}
