//! The posts API over HTTP: parse, authorise, call [`super::service`], answer a view.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use super::service::{self, live_content, load_post, view_with};
use super::views::{PostInput, PostView, ValidationResponse};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::platforms::{self, Platform};
use crate::roles::Action;
use crate::state::AppState;
use crate::workspaces::access::membership;

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
    let post = service::create(&state, user.id(), &meta, &m, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(PostView::from(&post)))
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
    Ok(HttpResponse::Ok().json(service::validate(body.into_inner())?))
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
    let post = service::update(&state, user.id(), &meta, &post, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PostView::from(&post)))
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
    service::delete(&state, user.id(), &meta, &post).await?;
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
    let copy = service::duplicate(&state, user.id(), &meta, &post).await?;
    Ok(HttpResponse::Created().json(PostView::from(&copy)))
}

/// Platform rules, for clients that count characters as the user types.
#[utoipa::path(get, path = "/api/platforms", tag = "posts",
    responses((status = 200, description = "Each platform's limits and required fields", body = Object)))]
pub async fn list_platforms() -> HttpResponse {
    let rules: Vec<_> = Platform::ALL.iter().map(|p| platforms::rules(*p)).collect();
    HttpResponse::Ok().json(rules)
}
