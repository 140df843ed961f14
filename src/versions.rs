//! Version history: `/api/posts/{id}/versions[/{vid}[/diff|/restore]]`.
//!
//! A version is the post document's full state at a moment (automatic every N minutes of
//! editing, named by a person, or taken before a restore). Restoring is a new edit on the
//! live document — computed as the change from the current content to the version's — so
//! editors who are connected follow it, and the history is never rewritten.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use copydesk_actors::doc::{self, ContentEdit};
use copydesk_actors::ports::DocContent;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::events::catalogue::VersionEvent;
use crate::events::{EventType, UnitOfWork};
use crate::posts::{self, PostView};
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::{post_versions as versions, posts as post_rows, users};

#[derive(Serialize, ToSchema)]
pub struct Author {
    pub id: Uuid,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub id: Uuid,
    pub post_id: Uuid,
    pub name: Option<String>,
    /// `auto`, `named`, `restore` (the state just before a restore), and later `submit`,
    /// `approve`, `publish`.
    pub kind: String,
    pub created_by: Option<Author>,
    pub created_at: chrono::DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionContent {
    pub title: String,
    pub caption: String,
    #[schema(value_type = Object)]
    pub platform_content: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: VersionView,
    pub content: VersionContent,
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub items: Vec<VersionView>,
}

#[derive(Deserialize, ToSchema)]
pub struct VersionCreate {
    pub name: String,
}

#[derive(Serialize, ToSchema, PartialEq, Debug)]
pub struct DiffOp {
    /// `equal`, `insert` (in the current text) or `delete` (only in the version).
    pub op: &'static str,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct FieldDiff {
    /// `title`, `caption` or `content:<platform>`.
    pub field: String,
    pub before: String,
    pub after: String,
    pub changes: Vec<DiffOp>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDiff {
    pub fields: Vec<FieldDiff>,
}

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

async fn view(state: &AppState, v: &versions::Model) -> Result<VersionView, ApiError> {
    let created_by = match v.created_by {
        Some(id) => users::Entity::find_by_id(id)
            .one(&state.db)
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

#[utoipa::path(get, path = "/api/posts/{id}/versions", tag = "versions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = VersionList), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = posts::load_visible(&state, &user.0, path.into_inner()).await?;
    m.require(Action::PostViewAll)?;
    let rows = versions::Entity::find()
        .filter(versions::Column::PostId.eq(post.id))
        .order_by_desc(versions::Column::CreatedAt)
        .order_by_desc(versions::Column::Id)
        .all(&state.db)
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(view(&state, r).await?);
    }
    Ok(HttpResponse::Ok().json(VersionList { items }))
}

#[utoipa::path(post, path = "/api/posts/{id}/versions", tag = "versions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = VersionCreate,
    responses((status = 201, body = VersionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<VersionCreate>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = posts::load_visible(&state, &user.0, path.into_inner()).await?;
    m.require(Action::PostEdit)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "must be 1–100 characters"));
    }
    let snap = posts::live_snapshot(&state, &post).await?;
    // The version and its event commit together.
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let v = insert(
        uow.txn(),
        &post,
        Some(name),
        "named",
        snap.state,
        Some(user.id()),
    )
    .await?;
    uow.record(
        EventType::PostVersionSaved,
        Some(post.workspace_id),
        ("post", Some(post.id.to_string())),
        &version_event(&post, &v),
    )
    .await?;
    uow.commit().await?;
    Ok(HttpResponse::Created().json(view(&state, &v).await?))
}

#[utoipa::path(get, path = "/api/posts/{id}/versions/{version_id}", tag = "versions", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("version_id" = Uuid, Path)),
    responses((status = 200, body = VersionDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (post_id, vid) = path.into_inner();
    let (post, m) = posts::load_visible(&state, &user.0, post_id).await?;
    m.require(Action::PostViewAll)?;
    let v = find(&state, post.id, vid).await?;
    let c = content_of(&v.data);
    Ok(HttpResponse::Ok().json(VersionDetail {
        version: view(&state, &v).await?,
        content: VersionContent {
            title: c.title,
            caption: c.caption,
            platform_content: c.overrides,
        },
    }))
}

#[utoipa::path(get, path = "/api/posts/{id}/versions/{version_id}/diff", tag = "versions", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("version_id" = Uuid, Path)),
    responses((status = 200, body = VersionDiff, description = "before = the version, after = now"), (status = 404, body = ErrorBody)))]
pub async fn diff(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (post_id, vid) = path.into_inner();
    let (post, m) = posts::load_visible(&state, &user.0, post_id).await?;
    m.require(Action::PostViewAll)?;
    let v = find(&state, post.id, vid).await?;
    let before = content_of(&v.data);
    let after = posts::live_snapshot(&state, &post).await?.content;
    let mut fields = vec![
        field_diff("title", &before.title, &after.title),
        field_diff("caption", &before.caption, &after.caption),
    ];
    let platforms: std::collections::BTreeSet<&String> = before
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
    Ok(HttpResponse::Ok().json(VersionDiff { fields }))
}

#[utoipa::path(post, path = "/api/posts/{id}/versions/{version_id}/restore", tag = "versions", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("version_id" = Uuid, Path)),
    responses((status = 200, body = PostView, description = "The post with the version's content; connected editors see it live"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn restore(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (post_id, vid) = path.into_inner();
    let (post, m) = posts::load_visible(&state, &user.0, post_id).await?;
    m.require(Action::PostEdit)?;
    let v = find(&state, post.id, vid).await?;
    let target = content_of(&v.data);
    let current = posts::live_snapshot(&state, &post).await?;
    // A new edit on the live document: connected editors follow it.
    posts::live_edit(
        &state,
        &post,
        ContentEdit::to_match(&current.content, &target),
    )
    .await?;
    // Then, together: the state it replaced kept as a version (so a restore can itself be
    // undone), the row's derived fields, the event.
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    insert(
        uow.txn(),
        &post,
        None,
        "restore",
        current.state,
        Some(user.id()),
    )
    .await?;
    let updated = posts::write_doc_content_on(uow.txn(), post.id, &target, Some(user.id())).await?;
    let restored = VersionEvent {
        name: None,
        kind: None,
        ..version_event(&post, &v)
    };
    uow.record(
        EventType::PostVersionRestored,
        Some(post.workspace_id),
        ("post", Some(post.id.to_string())),
        &restored,
    )
    .await?;
    uow.commit().await?;
    Ok(HttpResponse::Ok().json(posts::view_with(&updated, &target)))
}

/// Word-level diff (longest common subsequence), falling back to one replaced middle for
/// very long texts so the cost stays bounded.
fn field_diff(field: &str, before: &str, after: &str) -> FieldDiff {
    FieldDiff {
        field: field.to_string(),
        before: before.to_string(),
        after: after.to_string(),
        changes: diff_words(before, after),
    }
}

fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut last_space: Option<bool> = None;
    for (i, c) in s.char_indices() {
        let space = c.is_whitespace();
        if last_space.is_some_and(|l| l != space) {
            out.push(&s[start..i]);
            start = i;
        }
        last_space = Some(space);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

fn push(ops: &mut Vec<DiffOp>, op: &'static str, text: &str) {
    if text.is_empty() {
        return;
    }
    match ops.last_mut() {
        Some(last) if last.op == op => last.text.push_str(text),
        _ => ops.push(DiffOp {
            op,
            text: text.to_string(),
        }),
    }
}

pub fn diff_words(before: &str, after: &str) -> Vec<DiffOp> {
    let (a, b) = (tokens(before), tokens(after));
    let mut ops = Vec::new();
    if a.len() * b.len() > 4_000_000 {
        push(&mut ops, "delete", before);
        push(&mut ops, "insert", after);
        return ops;
    }
    // lcs[i][j] = LCS length of a[i..] and b[j..]
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            push(&mut ops, "equal", a[i]);
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            push(&mut ops, "delete", a[i]);
            i += 1;
        } else {
            push(&mut ops, "insert", b[j]);
            j += 1;
        }
    }
    for t in &a[i..] {
        push(&mut ops, "delete", t);
    }
    for t in &b[j..] {
        push(&mut ops, "insert", t);
    }
    ops
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/posts/{id}/versions")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .route("/posts/{id}/versions/{version_id}", web::get().to(get))
    .route(
        "/posts/{id}/versions/{version_id}/diff",
        web::get().to(diff),
    )
    .route(
        "/posts/{id}/versions/{version_id}/restore",
        web::post().to(restore),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff() {
        let ops = diff_words("We launch today", "We proudly launch today!");
        let text: Vec<(&str, &str)> = ops.iter().map(|o| (o.op, o.text.as_str())).collect();
        assert_eq!(
            text,
            [
                ("equal", "We "),
                ("insert", "proudly "),
                ("equal", "launch "),
                ("delete", "today"),
                ("insert", "today!")
            ]
        );
        assert!(diff_words("", "").is_empty());
        assert_eq!(diff_words("", "new")[0].op, "insert");
    }
}
