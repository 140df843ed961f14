//! The version history API over HTTP: parse, authorise, call [`super::service`], answer.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use super::service;
use super::views::*;
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::posts::{self, PostView};
use crate::roles::Action;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/posts/{id}/versions", tag = "versions", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = VersionList), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = posts::load_visible(&state, &user.0, path.into_inner()).await?;
    m.require(Action::PostViewAll)?;
    let items = service::list(&state, &post).await?;
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
    let v = service::save_named(&state, user.id(), &meta, &post, &body.name).await?;
    Ok(HttpResponse::Created().json(v))
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
    Ok(HttpResponse::Ok().json(service::detail(&state, &post, vid).await?))
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
    Ok(HttpResponse::Ok().json(service::diff(&state, &post, vid).await?))
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
    let view = service::restore(&state, user.id(), &meta, &post, vid).await?;
    Ok(HttpResponse::Ok().json(view))
}
