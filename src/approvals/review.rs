//! The review page's API for guests: `/api/review/{token}[/posts/{post_id}/…]`. Every call
//! opens the link first (404 for a bad signature, an unknown, revoked or expired link) and
//! then the post through it (404 for any post the link was not made for).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::share_links as links;
use super::rounds::{self, Decision};
use super::share::verify;
use super::views::{self, ApprovalView};
use super::Decider;
use crate::auth::extract::RequestMeta;
use crate::error::{ApiError, ErrorBody};
use crate::events::catalogue::CommentEvent;
use crate::events::{EventType, UnitOfWork};
use crate::platforms::{self, Platform, PlatformDraft};
use crate::posts::{self, PostView};
use crate::state::AppState;
use crate::store::entities::{comments, posts as post_rows, workspaces};

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
    cfg.route("/review/{token}", web::get().to(review))
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
