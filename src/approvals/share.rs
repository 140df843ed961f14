//! Review links: a member shares one post or a few with someone who has no account. The
//! link is signed (its id and an HMAC under a key derived from the instance key), expires,
//! and can be revoked; tampered, expired or revoked links answer 404 and do nothing, and a
//! link never shows a post it was not made for. The guest gives a name; their comments and
//! decisions carry that name and the link's id (events and audit rows alike).

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
use super::rounds::{self, Decision};
use super::views::{self, ApprovalView};
use super::Decider;
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::events::catalogue::{CommentEvent, ShareLinkEvent};
use crate::events::{EventType, UnitOfWork};
use crate::platforms::{self, Platform, PlatformDraft};
use crate::posts::{self, PostView};
use crate::roles::Action;
use crate::state::AppState;
use crate::store::entities::{comments, posts as post_rows, workspaces};
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

/// The live link a token names: 404 for a bad signature, an unknown, revoked or expired link.
async fn open_link(state: &AppState, token: &str) -> Result<links::Model, ApiError> {
    let id = verify(state, token).ok_or(ApiError::NotFound("share link"))?;
    let link = links::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("share link"))?;
    if link.revoked_at.is_some() || link.expires_at <= state.clock.now() {
        return Err(ApiError::NotFound("share link"));
    }
    Ok(link)
}

fn perms(link: &links::Model) -> Vec<String> {
    serde_json::from_value(link.permissions.clone()).unwrap_or_default()
}

/// A post of the link (404 for any other id).
async fn link_post(
    state: &AppState,
    link: &links::Model,
    post_id: Uuid,
) -> Result<post_rows::Model, ApiError> {
    let ids: Vec<Uuid> = serde_json::from_value(link.post_ids.clone()).unwrap_or_default();
    if !ids.contains(&post_id) {
        return Err(ApiError::NotFound("post"));
    }
    post_rows::Entity::find_by_id(post_id)
        .one(&state.db)
        .await?
        .filter(|p| p.workspace_id == link.workspace_id)
        .ok_or(ApiError::NotFound("post"))
}

#[derive(Serialize, ToSchema)]
pub struct Preview {
    pub platform: String,
    pub name: String,
    /// The text as it will be sent (override or caption, plus explicit hashtags).
    pub text: String,
    pub char_count: usize,
    pub limit: usize,
}

#[derive(Serialize, ToSchema)]
pub struct GuestComment {
    pub id: Uuid,
    pub body: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewPost {
    #[serde(flatten)]
    pub post: PostView,
    pub previews: Vec<Preview>,
    pub approval: Option<ApprovalView>,
    /// Client-visible comments, oldest first.
    pub comments: Vec<GuestComment>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewLink {
    pub label: Option<String>,
    pub permissions: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub workspace_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Review {
    pub link: ReviewLink,
    pub posts: Vec<ReviewPost>,
}

fn previews(view: &PostView) -> Vec<Preview> {
    let kinds: Vec<platforms::MediaKind> = view.media.iter().map(|m| m.kind).collect();
    let none = crate::posts::content::PlatformContent::default();
    view.platforms
        .iter()
        .filter_map(|p| Platform::parse(p))
        .map(|p| {
            let c = view.platform_content.get(p.as_str()).unwrap_or(&none);
            let text = platforms::composed_text(&PlatformDraft {
                text: c.text.as_deref().unwrap_or(&view.caption),
                hashtags: &c.hashtags,
                mentions: &c.mentions,
                fields: &c.fields,
                media: &kinds,
            });
            let rules = platforms::rules(p);
            Preview {
                platform: p.as_str().into(),
                name: rules.name.into(),
                char_count: platforms::platform_length(p, &text),
                limit: rules.max_length,
                text,
            }
        })
        .collect()
}

async fn review_post(state: &AppState, post: &post_rows::Model) -> Result<ReviewPost, ApiError> {
    let content = posts::live_content(state, post).await?;
    let view = posts::view_with(post, &content);
    let approval = match rounds::latest_round(&state.db, post.id).await? {
        Some(r) => Some(views::approval(&state.db, &r).await?),
        None => None,
    };
    let rows = comments::Entity::find()
        .filter(comments::Column::PostId.eq(post.id))
        .filter(comments::Column::Visibility.eq("client"))
        .order_by_asc(comments::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let names =
        crate::activity::user_refs(&state.db, rows.iter().filter_map(|c| c.author_id)).await?;
    Ok(ReviewPost {
        previews: previews(&view),
        post: view,
        approval,
        comments: rows
            .into_iter()
            .map(|c| GuestComment {
                id: c.id,
                author: c
                    .guest_name
                    .clone()
                    .or_else(|| {
                        c.author_id
                            .and_then(|a| names.get(&a).map(|u| u.name.clone()))
                    })
                    .unwrap_or_else(|| "former member".into()),
                body: c.body,
                created_at: c.created_at,
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/review/{token}", tag = "approvals",
    params(("token" = String, Path, description = "The review link's token")),
    responses((status = 200, body = Review), (status = 404, body = ErrorBody, description = "Tampered, expired, revoked or unknown")))]
pub async fn review(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let link = open_link(&state, &path.into_inner()).await?;
    let ws = workspaces::Entity::find_by_id(link.workspace_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("share link"))?;
    let ids: Vec<Uuid> = serde_json::from_value(link.post_ids.clone()).unwrap_or_default();
    let rows = post_rows::Entity::find()
        .filter(post_rows::Column::Id.is_in(ids.clone()))
        .filter(post_rows::Column::WorkspaceId.eq(link.workspace_id))
        .all(&state.db)
        .await?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(p) = rows.iter().find(|p| p.id == id) {
            out.push(review_post(&state, p).await?);
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .insert_header(("referrer-policy", "no-referrer"))
        .json(Review {
            link: ReviewLink {
                label: link.label.clone(),
                permissions: perms(&link),
                expires_at: link.expires_at,
                workspace_name: ws.name,
            },
            posts: out,
        }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestAction {
    /// The guest's name (1 to 80 characters), shown with their decisions and comments.
    pub name: String,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestCommentInput {
    pub name: String,
    pub body: String,
}

fn guest_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 80 || n.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name",
            "your name: 1 to 80 characters",
        ));
    }
    Ok(n.to_string())
}

fn need(link: &links::Model, perm: &str) -> Result<(), ApiError> {
    if perms(link).iter().any(|p| p == perm) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "not_allowed_by_link",
            format!("this link does not allow you to {perm}"),
        ))
    }
}

#[utoipa::path(post, path = "/api/review/{token}/posts/{post_id}/comments", tag = "approvals",
    params(("token" = String, Path), ("post_id" = Uuid, Path)), request_body = GuestCommentInput,
    responses((status = 201, body = GuestComment), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "not_allowed_by_link"),
              (status = 404, body = ErrorBody)))]
pub async fn guest_comment(
    state: web::Data<AppState>,
    meta: RequestMeta,
    path: web::Path<(String, Uuid)>,
    body: web::Json<GuestCommentInput>,
) -> Result<HttpResponse, ApiError> {
    let (token, post_id) = path.into_inner();
    let link = open_link(&state, &token).await?;
    let post = link_post(&state, &link, post_id).await?;
    need(&link, "comment")?;
    let input = body.into_inner();
    let name = guest_name(&input.name)?;
    let text = input.body.trim().to_string();
    if text.is_empty() || text.chars().count() > 10_000 {
        return Err(ApiError::validation(
            "body",
            "a comment of 1 to 10,000 characters",
        ));
    }
    let mut uow = UnitOfWork::begin(&state, None, &meta).await?;
    let now = uow.now();
    let row = comments::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(post.workspace_id),
        post_id: Set(post.id),
        parent_id: Set(None),
        author_id: Set(None),
        guest_name: Set(Some(name.clone())),
        share_link_id: Set(Some(link.id)),
        body: Set(text),
        visibility: Set("client".into()),
        anchor: Set(None),
        mentions: Set(json!([])),
        resolved_at: Set(None),
        resolved_by: Set(None),
        edited_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    let v = crate::comments::views::view(uow.txn(), &row).await?;
    uow.record(
        EventType::CommentCreated,
        Some(post.workspace_id),
        ("comment", Some(row.id.to_string())),
        &CommentEvent {
            comment_id: row.id,
            post_id: post.id,
            visibility: "client".into(),
            comment: serde_json::to_value(&v).map_err(ApiError::internal)?,
            reply_ids: None,
            emoji: None,
            user_id: None,
            by: None,
        },
    )
    .await?;
    uow.commit().await?;
    Ok(HttpResponse::Created().json(GuestComment {
        id: row.id,
        body: row.body,
        author: name,
        created_at: row.created_at,
    }))
}

async fn guest_decide(
    state: web::Data<AppState>,
    meta: RequestMeta,
    path: web::Path<(String, Uuid)>,
    body: web::Json<GuestAction>,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    let (token, post_id) = path.into_inner();
    let link = open_link(&state, &token).await?;
    let post = link_post(&state, &link, post_id).await?;
    need(&link, "approve")?;
    let input = body.into_inner();
    let who = Decider::Guest {
        link_id: link.id,
        name: guest_name(&input.name)?,
    };
    let view = super::service::decide(&state, &meta, post, who, decision, input.comment).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(post, path = "/api/review/{token}/posts/{post_id}/approve", tag = "approvals",
    params(("token" = String, Path), ("post_id" = Uuid, Path)), request_body = GuestAction,
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "not_allowed_by_link, not_an_approver (the current step is not decided through review links)"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn guest_approve(
    state: web::Data<AppState>,
    meta: RequestMeta,
    path: web::Path<(String, Uuid)>,
    body: web::Json<GuestAction>,
) -> Result<HttpResponse, ApiError> {
    guest_decide(state, meta, path, body, Decision::Approve).await
}

#[utoipa::path(post, path = "/api/review/{token}/posts/{post_id}/reject", tag = "approvals",
    params(("token" = String, Path), ("post_id" = Uuid, Path)), request_body = GuestAction,
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn guest_reject(
    state: web::Data<AppState>,
    meta: RequestMeta,
    path: web::Path<(String, Uuid)>,
    body: web::Json<GuestAction>,
) -> Result<HttpResponse, ApiError> {
    guest_decide(state, meta, path, body, Decision::Reject).await
}

#[utoipa::path(post, path = "/api/review/{token}/posts/{post_id}/request-changes", tag = "approvals",
    params(("token" = String, Path), ("post_id" = Uuid, Path)), request_body = GuestAction,
    responses((status = 200, body = ApprovalView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn guest_request_changes(
    state: web::Data<AppState>,
    meta: RequestMeta,
    path: web::Path<(String, Uuid)>,
    body: web::Json<GuestAction>,
) -> Result<HttpResponse, ApiError> {
    guest_decide(state, meta, path, body, Decision::RequestChanges).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/workspaces/{id}/share-links")
            .route(web::get().to(list_links))
            .route(web::post().to(create_link)),
    )
    .route("/share-links/{id}", web::delete().to(revoke_link))
    .route("/review/{token}", web::get().to(review))
    .route(
        "/review/{token}/posts/{post_id}/comments",
        web::post().to(guest_comment),
    )
    .route(
        "/review/{token}/posts/{post_id}/approve",
        web::post().to(guest_approve),
    )
    .route(
        "/review/{token}/posts/{post_id}/reject",
        web::post().to(guest_reject),
    )
    .route(
        "/review/{token}/posts/{post_id}/request-changes",
        web::post().to(guest_request_changes),
    );
}
