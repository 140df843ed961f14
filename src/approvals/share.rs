//! Review links: a member shares one post or a few with someone who has no account. The
//! link is signed (its id and an HMAC under a key derived from the instance key), expires,
//! and can be revoked; tampered, expired or revoked links answer 404 and do nothing, and a
//! link never shows a post it was not made for. The guest gives a name; their comments and
//! decisions carry that name and the link's id (events and audit rows alike). This module
//! makes and verifies links; [`super::review`] is the guests' API.

use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::share_links as links;
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::events::catalogue::ShareLinkEvent;
use crate::events::{EventType, UnitOfWork};
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::posts as post_rows;
use crate::workspaces::access::membership;

type HmacSha256 = Hmac<Sha256>;

pub const PERMISSIONS: [&str; 3] = ["view", "comment", "approve"];
const MAX_POSTS: usize = 50;
const MAX_HOURS: i64 = 24 * 90;

fn key(state: &AppState) -> HmacSha256 {
    let mut k = HmacSha256::new_from_slice(state.encryption_key.as_ref()).expect("any key size");
    k.update(b"copydesk share links v1");
    let derived = k.finalize().into_bytes();
    HmacSha256::new_from_slice(&derived).expect("any key size")
}

/// The link's token: base64url(id ‖ first 16 bytes of HMAC(id)).
pub fn token(state: &AppState, id: Uuid) -> String {
    let mut mac = key(state);
    mac.update(id.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut raw = id.as_bytes().to_vec();
    raw.extend_from_slice(&tag[..16]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The link id a token names, if its signature holds.
pub fn verify(state: &AppState, token: &str) -> Option<Uuid> {
    let raw = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
    if raw.len() != 32 {
        return None;
    }
    let id = Uuid::from_slice(&raw[..16]).ok()?;
    let mut mac = key(state);
    mac.update(id.as_bytes());
    mac.verify_truncated_left(&raw[16..]).ok()?;
    Some(id)
}

fn url(state: &AppState, id: Uuid) -> String {
    format!("{}/review/{}", state.public_url, token(state, id))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkCreate {
    pub post_ids: Vec<Uuid>,
    /// Any of `view`, `comment`, `approve` (`view` is implied).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Default from `approvals.link_default_hours` (168); at most 90 days.
    #[serde(default)]
    pub expires_in_hours: Option<i64>,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LinkView {
    pub id: Uuid,
    pub label: Option<String>,
    pub post_ids: Vec<Uuid>,
    pub permissions: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The page to send: `<public url>/review/<token>`.
    pub url: String,
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct LinkList {
    pub share_links: Vec<LinkView>,
}

fn link_view(state: &AppState, l: &links::Model) -> LinkView {
    LinkView {
        id: l.id,
        label: l.label.clone(),
        post_ids: serde_json::from_value(l.post_ids.clone()).unwrap_or_default(),
        permissions: serde_json::from_value(l.permissions.clone()).unwrap_or_default(),
        expires_at: l.expires_at,
        revoked_at: l.revoked_at,
        created_by: l.created_by,
        created_at: l.created_at,
        url: url(state, l.id),
        token: token(state, l.id),
    }
}

fn link_event(l: &links::Model) -> ShareLinkEvent {
    ShareLinkEvent {
        share_link_id: l.id,
        label: l.label.clone(),
        post_ids: serde_json::from_value(l.post_ids.clone()).unwrap_or_default(),
        permissions: serde_json::from_value(l.permissions.clone()).unwrap_or_default(),
    }
}

#[utoipa::path(post, path = "/api/workspaces/{id}/share-links", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = LinkCreate,
    responses((status = 201, body = LinkView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_link(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<LinkCreate>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::ShareLinksManage)?;
    let mut input = body.into_inner();
    input.post_ids.sort();
    input.post_ids.dedup();
    if input.post_ids.is_empty() || input.post_ids.len() > MAX_POSTS {
        return Err(ApiError::validation(
            "post_ids",
            format!("1 to {MAX_POSTS} posts of this workspace"),
        ));
    }
    let found = post_rows::Entity::find()
        .filter(post_rows::Column::Id.is_in(input.post_ids.clone()))
        .filter(post_rows::Column::WorkspaceId.eq(m.workspace.id))
        .all(&state.db)
        .await?;
    if found.len() != input.post_ids.len() {
        return Err(ApiError::validation(
            "post_ids",
            "every post must be a post of this workspace",
        ));
    }
    let mut perms = vec!["view".to_string()];
    for p in &input.permissions {
        if !PERMISSIONS.contains(&p.as_str()) {
            return Err(ApiError::validation(
                "permissions",
                format!("unknown permission {p:?} (view, comment, approve)"),
            ));
        }
        if !perms.contains(p) {
            perms.push(p.clone());
        }
    }
    let hours = input
        .expires_in_hours
        .unwrap_or(state.settings.approvals.link_default_hours);
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(ApiError::validation(
            "expires_in_hours",
            format!("from 1 to {MAX_HOURS} hours"),
        ));
    }
    let label = input
        .label
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    if label.as_ref().is_some_and(|l| l.chars().count() > 100) {
        return Err(ApiError::validation("label", "at most 100 characters"));
    }
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let now = uow.now();
    let link = links::ActiveModel {
        id: Set(Uuid::new_v4()),
        workspace_id: Set(m.workspace.id),
        label: Set(label),
        post_ids: Set(json!(input.post_ids)),
        permissions: Set(json!(perms)),
        expires_at: Set(now + Duration::hours(hours)),
        revoked_at: Set(None),
        created_by: Set(Some(user.id())),
        created_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    uow.record(
        EventType::ShareLinkCreated,
        Some(m.workspace.id),
        ("share_link", Some(link.id.to_string())),
        &link_event(&link),
    )
    .await?;
    uow.commit().await?;
    Ok(HttpResponse::Created().json(link_view(&state, &link)))
}

#[utoipa::path(get, path = "/api/workspaces/{id}/share-links", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = LinkList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_links(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::ShareLinksManage)?;
    let all = links::Entity::find()
        .filter(links::Column::WorkspaceId.eq(m.workspace.id))
        .order_by_desc(links::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(LinkList {
        share_links: all.iter().map(|l| link_view(&state, l)).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/share-links/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked: the link answers 404 from now on"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_link(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let link = links::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("share link"))?;
    let m = membership(&state.db, &user.0, link.workspace_id)
        .await
        .map_err(|_| ApiError::NotFound("share link"))?;
    if !m.can(Action::PostViewAll) {
        return Err(ApiError::NotFound("share link"));
    }
    m.require(Action::ShareLinksManage)?;
    if link.revoked_at.is_none() {
        let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
        let mut a: links::ActiveModel = link.clone().into();
        a.revoked_at = Set(Some(uow.now()));
        let link = a.update(uow.txn()).await?;
        uow.record(
            EventType::ShareLinkRevoked,
            Some(link.workspace_id),
            ("share_link", Some(link.id.to_string())),
            &link_event(&link),
        )
        .await?;
        uow.commit().await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/workspaces/{id}/share-links")
            .route(web::get().to(list_links))
            .route(web::post().to(create_link)),
    )
    .route("/share-links/{id}", web::delete().to(revoke_link));
    super::review::routes(cfg);
}
