//! Posts: `/api/workspaces/:id/posts`, `/api/posts/:id[/duplicate]`.
//!
//! - [`content`]: the content model (caption, per-platform overrides, media) and what is
//!   derived from it.
//! - [`validation`]: each platform's rules, counted the way that platform counts.
//! - [`listing`]: filters and keyset pagination.

pub mod content;
pub mod listing;
pub mod validation;

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::access::{self, AccessChange};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::events::catalogue::PostEvent;
use crate::events::{self, Change, EventType, UnitOfWork};
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::{posts, users};
use crate::workspaces::access::{membership, Membership};
use content::{MediaRef, PlatformContent, PostContent, ValidationReport};
use copydesk_actors::doc::ContentEdit;
use copydesk_actors::ports::DocContent;
use copydesk_actors::post_session::{Edit, EditError, PostSession, Read};
use validation::Platform;

/// Statuses a post moves through. Only `draft` and `archived` can be set directly; the
/// others are reached through the approval and publishing endpoints.
pub const STATUSES: [&str; 9] = [
    "draft",
    "in_review",
    "changes_requested",
    "approved",
    "scheduled",
    "publishing",
    "published",
    "failed",
    "archived",
];

#[derive(Serialize, ToSchema)]
pub struct PostView {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub title: String,
    pub caption: String,
    #[schema(example = json!(["x", "linkedin"]))]
    pub platforms: Vec<String>,
    pub platform_content: BTreeMap<String, PlatformContent>,
    pub media: Vec<MediaRef>,
    pub tags: Vec<String>,
    pub campaign: Option<String>,
    pub labels: Vec<String>,
    pub status: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Shared with the workspace's clients.
    pub client_visible: bool,
    /// Problems per selected platform; empty lists mean ready for that platform.
    #[schema(value_type = Object)]
    pub validation: ValidationReport,
    pub is_valid: bool,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

impl From<&posts::Model> for PostView {
    fn from(p: &posts::Model) -> Self {
        let c = PostContent::from_json(&p.content);
        Self {
            id: p.id,
            workspace_id: p.workspace_id,
            title: p.title.clone(),
            caption: c.caption,
            platforms: strings(&p.platforms),
            platform_content: c.platform_content,
            media: c.media,
            tags: strings(&p.tags),
            campaign: p.campaign.clone(),
            labels: strings(&p.labels),
            status: p.status.clone(),
            scheduled_at: p.scheduled_at,
            client_visible: p.client_visible,
            validation: serde_json::from_value(p.validation.clone()).unwrap_or_default(),
            is_valid: p.is_valid,
            created_by: p.created_by,
            updated_by: p.updated_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Distinguishes an absent field (keep) from `null` (clear) in updates.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A post to create, or the fields to change (every field optional on update; `null`
/// clears `campaign` and `scheduled_at`).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    pub title: Option<String>,
    pub caption: Option<String>,
    pub platforms: Option<Vec<String>>,
    pub platform_content: Option<BTreeMap<String, PlatformContent>>,
    pub media: Option<Vec<MediaRef>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub campaign: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    /// `draft` or `archived`.
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub scheduled_at: Option<Option<DateTime<Utc>>>,
    pub client_visible: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ValidationResponse {
    #[schema(value_type = Object)]
    pub validation: ValidationReport,
    pub is_valid: bool,
    /// Each selected platform's rules (lengths, limits, required fields) for counters.
    #[schema(value_type = Object)]
    pub rules: BTreeMap<String, serde_json::Value>,
}

/// The post's editable fields after applying an input to a base.
#[derive(Clone)]
struct Draft {
    title: String,
    content: PostContent,
    platforms: Vec<Platform>,
    tags: Vec<String>,
    campaign: Option<String>,
    labels: Vec<String>,
    status: String,
    scheduled_at: Option<DateTime<Utc>>,
    client_visible: bool,
}

impl Draft {
    fn empty() -> Self {
        Self {
            title: String::new(),
            content: PostContent::default(),
            platforms: Vec::new(),
            tags: Vec::new(),
            campaign: None,
            labels: Vec::new(),
            status: "draft".into(),
            scheduled_at: None,
            client_visible: false,
        }
    }

    fn from_model(p: &posts::Model) -> Self {
        Self {
            title: p.title.clone(),
            content: PostContent::from_json(&p.content),
            platforms: strings(&p.platforms)
                .iter()
                .filter_map(|s| Platform::parse(s))
                .collect(),
            tags: strings(&p.tags),
            campaign: p.campaign.clone(),
            labels: strings(&p.labels),
            status: p.status.clone(),
            scheduled_at: p.scheduled_at,
            client_visible: p.client_visible,
        }
    }

    /// Applies `input`, collecting every field problem.
    fn apply(mut self, input: PostInput) -> Result<Self, ApiError> {
        let mut errs = FieldErrors::default();
        if let Some(t) = input.title {
            errs.check(
                t.chars().count() <= 200,
                "title",
                "must be at most 200 characters",
            );
            self.title = t.trim().to_string();
        }
        if let Some(c) = input.caption {
            errs.check(
                c.chars().count() <= 100_000,
                "caption",
                "must be at most 100,000 characters",
            );
            self.content.caption = c;
        }
        if let Some(ps) = input.platforms {
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for p in &ps {
                match Platform::parse(p) {
                    Some(pl) if seen.insert(pl) => out.push(pl),
                    Some(_) => {}
                    None => errs.add(
                        "platforms",
                        format!("unknown platform {p:?}; known: {}", known_platforms()),
                    ),
                }
            }
            self.platforms = out;
        }
        if let Some(pc) = input.platform_content {
            for (k, v) in &pc {
                if Platform::parse(k).is_none() {
                    errs.add(
                        format!("platform_content.{k}"),
                        format!("unknown platform; known: {}", known_platforms()),
                    );
                }
                if v.text.as_ref().is_some_and(|t| t.chars().count() > 100_000) {
                    errs.add(
                        format!("platform_content.{k}.text"),
                        "must be at most 100,000 characters",
                    );
                }
                errs.check(
                    v.hashtags.len() <= 100,
                    &format!("platform_content.{k}.hashtags"),
                    "at most 100 hashtags",
                );
                errs.check(
                    v.mentions.len() <= 100,
                    &format!("platform_content.{k}.mentions"),
                    "at most 100 mentions",
                );
                errs.check(
                    v.fields.len() <= 50
                        && v.fields
                            .iter()
                            .all(|(k, v)| k.len() <= 64 && v.chars().count() <= 5_000),
                    &format!("platform_content.{k}.fields"),
                    "at most 50 fields, names up to 64 and values up to 5,000 characters",
                );
            }
            self.content.platform_content = pc;
        }
        if let Some(media) = input.media {
            errs.check(media.len() <= 35, "media", "at most 35 media items");
            for (i, m) in media.iter().enumerate() {
                let ok = (m.url.starts_with("https://")
                    || m.url.starts_with("http://")
                    || m.url.starts_with("media:"))
                    && m.url.len() <= 2048;
                errs.check(
                    ok,
                    &format!("media[{i}].url"),
                    "must be an http(s) URL or a media: reference",
                );
                errs.check(
                    m.alt_text
                        .as_ref()
                        .is_none_or(|a| a.chars().count() <= 1_500),
                    &format!("media[{i}].alt_text"),
                    "must be at most 1,500 characters",
                );
            }
            self.content.media = media;
        }
        if let Some(tags) = input.tags {
            self.tags = clean_list(&mut errs, "tags", tags, 50);
        }
        if let Some(labels) = input.labels {
            self.labels = clean_list(&mut errs, "labels", labels, 20);
        }
        if let Some(c) = input.campaign {
            let c = c.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            errs.check(
                c.as_ref().is_none_or(|s| s.chars().count() <= 100),
                "campaign",
                "must be at most 100 characters",
            );
            self.campaign = c;
        }
        if let Some(s) = input.status {
            if !STATUSES.contains(&s.as_str()) {
                errs.add(
                    "status",
                    format!("unknown status; one of {}", STATUSES.join(", ")),
                );
            } else if s != self.status && !matches!(s.as_str(), "draft" | "archived") {
                errs.add("status", "only draft and archived can be set directly; use the approval and publishing actions");
            } else if s != self.status
                && !matches!(
                    self.status.as_str(),
                    "draft"
                        | "archived"
                        | "changes_requested"
                        | "approved"
                        | "in_review"
                        | "failed"
                )
            {
                errs.add(
                    "status",
                    format!("a {} post cannot be moved to {s}", self.status),
                );
            }
            self.status = s;
        }
        if let Some(at) = input.scheduled_at {
            self.scheduled_at = at;
        }
        if let Some(v) = input.client_visible {
            self.client_visible = v;
        }
        errs.into_result()?;
        Ok(self)
    }

    fn report(&self) -> ValidationReport {
        self.content.validate(&self.platforms)
    }

    /// Writes the draft and everything derived from it onto an active model.
    fn write(&self, m: &mut posts::ActiveModel) {
        let report = self.report();
        let platforms: Vec<&str> = self.platforms.iter().map(Platform::as_str).collect();
        let mut extra: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        extra.extend(self.campaign.as_deref());
        m.title = Set(self.title.clone());
        m.content = Set(self.content.to_json());
        m.platforms = Set(json!(platforms));
        m.tags = Set(json!(self.tags));
        m.labels = Set(json!(self.labels));
        m.campaign = Set(self.campaign.clone());
        m.status = Set(self.status.clone());
        m.scheduled_at = Set(self.scheduled_at);
        m.client_visible = Set(self.client_visible);
        m.is_valid = Set(content::is_valid(&report));
        m.validation = Set(json!(report));
        m.search_text = Set(self.content.search_text(&self.title, &extra));
        m.tags_index = Set(listing::index_of(self.tags.iter().map(String::as_str)));
        m.platforms_index = Set(listing::index_of(platforms.iter().copied()));
    }
}

impl Draft {
    /// Takes the text fields from the live document, which is their source of truth.
    fn overlay(&mut self, c: &DocContent) {
        self.title = c.title.clone();
        self.content.caption = c.caption.clone();
        for (p, pc) in self.content.platform_content.iter_mut() {
            pc.text = c.overrides.get(p).cloned();
        }
        for (p, text) in &c.overrides {
            self.content
                .platform_content
                .entry(p.clone())
                .or_default()
                .text = Some(text.clone());
        }
        self.content.media = c
            .media
            .iter()
            .filter_map(|m| serde_json::from_value(m.clone()).ok())
            .collect();
    }
}

/// The part of an input that edits the live document (title, texts, media): every field
/// given, set to exactly its value. The session computes the change against its own current
/// state, so concurrent `PUT`s never blend; the last one wins.
fn content_edit(input: &PostInput) -> Option<ContentEdit> {
    let mut edit = ContentEdit {
        title: input.title.as_ref().map(|t| t.trim().to_string()),
        caption: input.caption.clone(),
        media: input.media.as_ref().map(|m| {
            m.iter()
                .map(|x| serde_json::to_value(x).unwrap_or_default())
                .collect()
        }),
        ..Default::default()
    };
    if let Some(pc) = &input.platform_content {
        // Only texts that are given change (`""` clears an override); a missing or null
        // `text` leaves the live text alone, so saving hashtags or custom fields can never
        // undo what someone is typing in that override.
        for (p, c) in pc {
            if let Some(t) = &c.text {
                edit.overrides.insert(p.clone(), t.clone());
            }
        }
    }
    let touches = edit.title.is_some()
        || edit.caption.is_some()
        || edit.media.is_some()
        || !edit.overrides.is_empty();
    touches.then_some(edit)
}

/// The input without the parts that live in the document (they are applied there).
fn rest_only(input: &PostInput) -> PostInput {
    PostInput {
        title: None,
        caption: None,
        media: None,
        platform_content: input.platform_content.as_ref().map(|pc| {
            pc.iter()
                .map(|(k, v)| {
                    let mut v = v.clone();
                    v.text = None;
                    (k.clone(), v)
                })
                .collect()
        }),
        platforms: input.platforms.clone(),
        tags: input.tags.clone(),
        campaign: input.campaign.clone(),
        labels: input.labels.clone(),
        status: input.status.clone(),
        scheduled_at: input.scheduled_at,
        client_visible: input.client_visible,
    }
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

/// Reads a post row for update: the row lock on PostgreSQL (SQLite's write transaction is
/// already exclusive). Every writer of the row's document-derived fields reads through here,
/// so the document hook and a REST write never overwrite each other.
pub async fn lock_row<C: sea_orm::ConnectionTrait>(
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

/// The post's content as the live document has it.
pub async fn live_content(state: &AppState, post: &posts::Model) -> Result<DocContent, ApiError> {
    let s = live_session(state, post).await?;
    Ok(s.send(Read)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("collab: {e}")))?
        .content)
}

/// The row with the document's content laid over it.
pub fn view_with(post: &posts::Model, c: &DocContent) -> PostView {
    let mut draft = Draft::from_model(post);
    draft.overlay(c);
    let mut m: posts::ActiveModel = post.clone().into();
    draft.write(&mut m);
    let mut view = PostView::from(post);
    let c2 = draft.content;
    view.title = draft.title;
    view.caption = c2.caption;
    view.platform_content = c2.platform_content;
    view.media = c2.media;
    if let (sea_orm::ActiveValue::Set(v), sea_orm::ActiveValue::Set(ok)) =
        (m.validation, m.is_valid)
    {
        view.validation = serde_json::from_value(v).unwrap_or_default();
        view.is_valid = ok;
    }
    view
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
    let post = lock_row(&txn, post_id).await?;
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
    let post = active.update(&txn).await?;
    txn.commit().await?;
    Ok(post)
}

fn known_platforms() -> String {
    Platform::ALL
        .iter()
        .map(Platform::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Trims, drops empties and duplicates (case-insensitively), and bounds a tag-like list.
fn clean_list(errs: &mut FieldErrors, field: &str, items: Vec<String>, max: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for raw in items {
        let t = raw.trim().to_string();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 50 || t.contains('|') {
            errs.add(
                field,
                "each entry must be at most 50 characters and must not contain |",
            );
        }
        if seen.insert(t.to_lowercase()) {
            out.push(t);
        }
    }
    errs.check(out.len() <= max, field, &format!("at most {max} entries"));
    out
}

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

#[utoipa::path(post, path = "/api/workspaces/{id}/posts", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PostInput,
    responses((status = 201, body = PostView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_post(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<PostInput>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::PostCreate)?;
    let draft = Draft::empty().apply(body.into_inner())?;
    let now = Utc::now();
    let mut active = posts::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(m.workspace.id),
        created_by: Set(Some(user.id())),
        updated_by: Set(Some(user.id())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    draft.write(&mut active);
    let txn = crate::store::begin(&state.db).await?;
    let post = active.insert(&txn).await?;
    let ev = events::record(
        &txn,
        post_change(&post, &user, &meta, "post.created", json!({})),
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    Ok(HttpResponse::Created().json(PostView::from(&post)))
}

fn post_change<'a>(
    post: &posts::Model,
    user: &AuthUser,
    meta: &'a RequestMeta,
    event_type: &'static str,
    extra: serde_json::Value,
) -> Change<'a> {
    let mut data = json!({ "post_id": post.id, "title": post.title, "status": post.status, "client_visible": post.client_visible });
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    Change {
        workspace_id: Some(post.workspace_id),
        actor_id: Some(user.id()),
        event_type,
        target_type: "post",
        target_id: Some(post.id.to_string()),
        data,
        meta,
    }
}

#[utoipa::path(post, path = "/api/workspaces/{id}/posts/validate", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PostInput,
    responses((status = 200, body = ValidationResponse, description = "Per-platform problems for this content; nothing is saved"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn validate_post(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<PostInput>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::PostViewAll)?;
    let draft = Draft::empty().apply(body.into_inner())?;
    let report = draft.report();
    let rules = draft
        .platforms
        .iter()
        .map(|p| {
            (
                p.as_str().to_string(),
                serde_json::to_value(validation::rules(*p)).unwrap_or_default(),
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(ValidationResponse {
        is_valid: content::is_valid(&report),
        validation: report,
        rules,
    }))
}

#[utoipa::path(get, path = "/api/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = PostView), (status = 404, body = ErrorBody)))]
pub async fn get_post(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, _) = load_post(&state, &user, path.into_inner()).await?;
    let content = live_content(&state, &post).await?;
    Ok(HttpResponse::Ok().json(view_with(&post, &content)))
}

#[utoipa::path(put, path = "/api/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PostInput,
    responses((status = 200, body = PostView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_post(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<PostInput>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = load_post(&state, &user, path.into_inner()).await?;
    m.require(Action::PostEdit)?;
    let input = body.into_inner();
    // Validate everything first, against the live content.
    let current = live_content(&state, &post).await?;
    let mut base = Draft::from_model(&post);
    base.overlay(&current);
    let rest = rest_only(&input);
    let edit = content_edit(&input);
    base.apply(input)?;
    // Text goes through the document, so open editors see it at once; the row follows
    // the document.
    let now = match edit {
        Some(edit) => live_edit(&state, &post, edit).await?,
        None => current,
    };
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let locked = lock_row(uow.txn(), post.id).await?;
    let (before_status, before_visible) = (locked.status.clone(), locked.client_visible);
    let mut draft = Draft::from_model(&locked).apply(rest)?;
    draft.overlay(&now);
    let mut active = locked.into_active_model();
    draft.write(&mut active);
    active.updated_by = Set(Some(user.id()));
    active.updated_at = Set(uow.now());
    let post = active.update(uow.txn()).await?;
    uow.record(
        EventType::PostUpdated,
        Some(post.workspace_id),
        ("post", Some(post.id.to_string())),
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
            ("post", Some(post.id.to_string())),
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
    Ok(HttpResponse::Ok().json(PostView::from(&post)))
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

#[utoipa::path(delete, path = "/api/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_post(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = load_post(&state, &user, path.into_inner()).await?;
    m.require(Action::PostDelete)?;
    let txn = crate::store::begin(&state.db).await?;
    posts::Entity::delete_by_id(post.id).exec(&txn).await?;
    let ev = events::record(
        &txn,
        post_change(&post, &user, &meta, "post.deleted", json!({})),
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    // Its live session closes on every node (no more writes for a deleted post) and its
    // sockets lose access.
    access::announce(
        state.bus.as_ref(),
        AccessChange::Post {
            workspace_id: post.workspace_id,
            post_id: post.id,
            deleted: true,
        },
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/posts/{id}/duplicate", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = PostView, description = "A draft copy, unscheduled"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn duplicate_post(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = load_post(&state, &user, path.into_inner()).await?;
    m.require(Action::PostCreate)?;
    let mut draft = Draft::from_model(&post);
    draft.overlay(&live_content(&state, &post).await?);
    let suffix = " (copy)";
    draft.title = format!(
        "{}{suffix}",
        draft
            .title
            .chars()
            .take(200 - suffix.len())
            .collect::<String>()
    );
    draft.status = "draft".into();
    draft.scheduled_at = None;
    let now = Utc::now();
    let mut active = posts::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(post.workspace_id),
        created_by: Set(Some(user.id())),
        updated_by: Set(Some(user.id())),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    draft.write(&mut active);
    let txn = crate::store::begin(&state.db).await?;
    let copy = active.insert(&txn).await?;
    let ev = events::record(
        &txn,
        post_change(
            &copy,
            &user,
            &meta,
            "post.created",
            json!({ "duplicated_from": post.id }),
        ),
    )
    .await?;
    txn.commit().await?;
    events::announce(state.bus.as_ref(), &[ev]).await;
    Ok(HttpResponse::Created().json(PostView::from(&copy)))
}

/// Platform rules, for clients that count characters as the user types.
#[utoipa::path(get, path = "/api/platforms", tag = "posts",
    responses((status = 200, description = "Each platform's limits and required fields", body = Object)))]
pub async fn list_platforms() -> HttpResponse {
    let rules: Vec<_> = Platform::ALL
        .iter()
        .map(|p| validation::rules(*p))
        .collect();
    HttpResponse::Ok().json(rules)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/platforms", web::get().to(list_platforms))
        .service(
            web::resource("/workspaces/{id}/posts")
                .route(web::get().to(listing::list_posts))
                .route(web::post().to(create_post)),
        )
        .route(
            "/workspaces/{id}/posts/validate",
            web::post().to(validate_post),
        )
        .service(
            web::resource("/posts/{id}")
                .route(web::get().to(get_post))
                .route(web::put().to(update_post))
                .route(web::delete().to(delete_post)),
        )
        .route("/posts/{id}/duplicate", web::post().to(duplicate_post));
}
