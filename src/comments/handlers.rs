//! The comments API over HTTP: parse, authorise, call [`super::service`], answer a view.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use super::input::{CommentCreate, CommentUpdate};
use super::service::{self, load_comment};
use super::views::{CommentList, CommentView};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::posts::load_post;
use crate::roles::Action;
use crate::state::AppState;

async fn set_resolved(
    state: &AppState,
    user: &AuthUser,
    meta: &RequestMeta,
    id: Uuid,
    resolve: bool,
) -> Result<HttpResponse, ApiError> {
    let target = load_comment(state, user, id).await?;
    target.m.require(Action::PostComment)?;
    let v = service::set_resolved(state, user.id(), meta, target, resolve).await?;
    Ok(HttpResponse::Ok().json(v))
}

async fn react(
    state: &AppState,
    user: &AuthUser,
    meta: &RequestMeta,
    (id, emoji): (Uuid, String),
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let target = load_comment(state, user, id).await?;
    target.m.require(Action::PostComment)?;
    let v = service::react(state, user.id(), meta, target, emoji, add).await?;
    Ok(HttpResponse::Ok().json(v))
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
    Ok(HttpResponse::Ok().json(service::list(&state, &post, &m).await?))
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
    let v = service::create(&state, user.id(), &meta, &post, &m, body.into_inner()).await?;
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
    let target = load_comment(&state, &user, path.into_inner()).await?;
    target.m.require(Action::PostComment)?;
    if target.comment.author_id != Some(user.id()) {
        return Err(ApiError::Forbidden(
            "not_author",
            "only the author can edit a comment".into(),
        ));
    }
    let v = service::update(&state, user.id(), &meta, target, body.into_inner()).await?;
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
    let target = load_comment(&state, &user, path.into_inner()).await?;
    if target.comment.author_id != Some(user.id()) {
        target.m.require(Action::PostDelete)?;
    }
    service::delete(&state, user.id(), &meta, target).await?;
    Ok(HttpResponse::NoContent().finish())
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
    react(&state, &user, &meta, path.into_inner(), true).await
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
    react(&state, &user, &meta, path.into_inner(), false).await
}
