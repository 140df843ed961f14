//! Storing and reading versions of a post's document, saving a named one and restoring
//! one — each write one [`UnitOfWork`] with its event.

use std::collections::BTreeSet;

use chrono::Utc;
use copydesk_actors::doc::{self, ContentEdit};
use copydesk_actors::ports::DocContent;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::diff::field_diff;
use super::views::{Author, VersionContent, VersionDetail, VersionDiff, VersionView};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::events::catalogue::VersionEvent;
use crate::events::{EventType, UnitOfWork};
use crate::posts::{self, PostView};
use crate::state::AppState;
use crate::store::entities::{post_versions as versions, posts as post_rows, users};

pub async fn insert<C: ConnectionTrait>(
    db: &C,
    post: &post_rows::Model,
    name: Option<String>,
    kind: &str,
    state: Vec<u8>,
    created_by: Option<Uuid>,
) -> Result<versions::Model, ApiError> {
    Ok(versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        post_id: Set(post.id),
        workspace_id: Set(post.workspace_id),
        name: Set(name),
        kind: Set(kind.to_string()),
        data: Set(state),
        created_by: Set(created_by),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?)
}

/// The payload of a `post.version_*` event.
pub fn version_event(post: &post_rows::Model, v: &versions::Model) -> VersionEvent {
    VersionEvent {
        post_id: post.id,
        version_id: v.id,
        name: v.name.clone(),
        kind: (v.kind == "auto").then(|| v.kind.clone()),
        client_visible: post.client_visible,
    }
}

async fn view<C: ConnectionTrait>(db: &C, v: &versions::Model) -> Result<VersionView, ApiError> {
    let created_by = match v.created_by {
        Some(id) => users::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|u| Author {
                id: u.id,
                name: u.name,
            }),
        None => None,
    };
    Ok(VersionView {
        id: v.id,
        post_id: v.post_id,
        name: v.name.clone(),
        kind: v.kind.clone(),
        created_by,
        created_at: v.created_at,
    })
}

fn content_of(state_bytes: &[u8]) -> DocContent {
    let d = doc::new_doc(None);
    let _ = doc::apply(&d, state_bytes);
    doc::read_content(&d)
}

async fn find(state: &AppState, post_id: Uuid, vid: Uuid) -> Result<versions::Model, ApiError> {
    versions::Entity::find_by_id(vid)
        .filter(versions::Column::PostId.eq(post_id))
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("version"))
}

/// The post's versions, newest first.
pub async fn list(state: &AppState, post: &post_rows::Model) -> Result<Vec<VersionView>, ApiError> {
    let rows = versions::Entity::find()
        .filter(versions::Column::PostId.eq(post.id))
        .order_by_desc(versions::Column::CreatedAt)
        .order_by_desc(versions::Column::Id)
        .all(&state.db)
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(view(&state.db, r).await?);
    }
    Ok(items)
}

/// One version with its content.
pub async fn detail(
    state: &AppState,
    post: &post_rows::Model,
    vid: Uuid,
) -> Result<VersionDetail, ApiError> {
    let v = find(state, post.id, vid).await?;
    let c = content_of(&v.data);
    Ok(VersionDetail {
        version: view(&state.db, &v).await?,
        content: VersionContent {
            title: c.title,
            caption: c.caption,
            platform_content: c.overrides,
        },
    })
}

/// What changed from the version (`before`) to the live document now (`after`).
pub async fn diff(
    state: &AppState,
    post: &post_rows::Model,
    vid: Uuid,
) -> Result<VersionDiff, ApiError> {
    let v = find(state, post.id, vid).await?;
    let before = content_of(&v.data);
    let after = posts::live_snapshot(state, post).await?.content;
    let mut fields = vec![
        field_diff("title", &before.title, &after.title),
        field_diff("caption", &before.caption, &after.caption),
    ];
    let platforms: BTreeSet<&String> = before
        .overrides
        .keys()
        .chain(after.overrides.keys())
        .collect();
    for p in platforms {
        let (b, a) = (
            before.overrides.get(p).map(String::as_str).unwrap_or(""),
            after.overrides.get(p).map(String::as_str).unwrap_or(""),
        );
        fields.push(field_diff(&format!("content:{p}"), b, a));
    }
    Ok(VersionDiff { fields })
}

/// Saves the live document as a version named `name` (`post.version_saved`, in the same
/// transaction).
pub async fn save_named(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: &post_rows::Model,
    name: &str,
) -> Result<VersionView, ApiError> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "must be 1–100 characters"));
    }
    let snap = posts::live_snapshot(state, post).await?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    let v = insert(
        uow.txn(),
        post,
        Some(name),
        "named",
        snap.state,
        Some(user_id),
    )
    .await?;
    uow.record(
        EventType::PostVersionSaved,
        Some(post.workspace_id),
        ("post", Some(post.id.to_string())),
        &version_event(post, &v),
    )
    .await?;
    let view = view(uow.txn(), &v).await?;
    uow.commit().await?;
    Ok(view)
}

/// Restores version `vid`: a new edit on the live document (connected editors follow it),
/// then, in one unit of work, the state it replaced kept as a version (so a restore can
/// itself be undone), the row's derived fields, and `post.version_restored`.
pub async fn restore(
    state: &AppState,
    user_id: Uuid,
    meta: &RequestMeta,
    post: &post_rows::Model,
    vid: Uuid,
) -> Result<PostView, ApiError> {
    let v = find(state, post.id, vid).await?;
    let target = content_of(&v.data);
    let current = posts::live_snapshot(state, post).await?;
    let edit = ContentEdit::to_match(&current.content, &target);
    posts::live_edit(state, post, edit).await?;
    let mut uow = UnitOfWork::begin(state, Some(user_id), meta).await?;
    insert(
        uow.txn(),
        post,
        None,
        "restore",
        current.state,
        Some(user_id),
    )
    .await?;
    let updated = posts::write_doc_content_on(uow.txn(), post.id, &target, Some(user_id)).await?;
    let restored = VersionEvent {
        name: None,
        kind: None,
        ..version_event(post, &v)
    };
    uow.record(
        EventType::PostVersionRestored,
        Some(post.workspace_id),
        ("post", Some(post.id.to_string())),
        &restored,
    )
    .await?;
    uow.commit().await?;
    Ok(posts::view_with(&updated, &target))
}

/// The saved document state of version `id` (empty when there is none).
pub async fn state_of<C: ConnectionTrait>(db: &C, id: Option<Uuid>) -> Result<Vec<u8>, ApiError> {
    let Some(id) = id else {
        return Ok(Vec::new());
    };
    Ok(versions::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|v| v.data)
        .unwrap_or_default())
}
