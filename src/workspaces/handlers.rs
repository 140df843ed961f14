//! The workspaces, members and invitations API over HTTP: parse, authorise, call
//! [`super::service`], answer a view.

use actix_web::{web, HttpResponse};
use uuid::Uuid;

use super::access::membership;
use super::views::*;
use super::{invites, members, service};
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::auth::normalize_email;
use crate::error::{ApiError, ErrorBody};
use crate::roles::Action;
use crate::state::AppState;

#[utoipa::path(get, path = "/api/workspaces", tag = "workspaces", security(("bearer" = [])),
    responses((status = 200, body = [WorkspaceView], description = "Your workspaces (all of them for a super admin)")))]
pub async fn list_workspaces(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service::list_for(&state.db, &user.0, true).await?))
}

#[utoipa::path(get, path = "/api/users/workspaces", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [WorkspaceView], description = "The workspaces you are a member of")))]
pub async fn my_workspaces(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service::list_for(&state.db, &user.0, false).await?))
}

#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", security(("bearer" = [])), request_body = WorkspaceCreate,
    responses((status = 201, body = WorkspaceView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    body: web::Json<WorkspaceCreate>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let ws = service::create(&state, user.id(), &meta, &req.name, req.slug).await?;
    Ok(HttpResponse::Created().json(WorkspaceView::new(&ws, crate::roles::Role::WorkspaceAdmin)))
}

#[utoipa::path(get, path = "/api/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = Uuid, Path)), responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
pub async fn get_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::WorkspaceView)?;
    Ok(HttpResponse::Ok().json(WorkspaceView::new(&m.workspace, m.role)))
}

#[utoipa::path(put, path = "/api/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WorkspaceUpdate,
    responses((status = 200, body = WorkspaceView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<WorkspaceUpdate>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    let req = body.into_inner();
    if req.name.is_some() || req.slug.is_some() || req.approval_mode.is_none() {
        m.require(Action::WorkspaceUpdate)?;
    }
    if req.approval_mode.is_some() {
        m.require(Action::ApprovalWorkflowsManage)?;
    }
    let ws = service::update(
        &state,
        user.id(),
        &meta,
        &m.workspace,
        req.name,
        req.slug,
        req.approval_mode,
    )
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::new(&ws, m.role)))
}

#[utoipa::path(delete, path = "/api/workspaces/{id}", tag = "workspaces", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted with its posts, members and invitations"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_workspace(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::WorkspaceDelete)?;
    service::delete(&state, user.id(), &meta, &m.workspace).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/workspaces/{id}/members", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MembersResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::MembersView)?;
    Ok(HttpResponse::Ok().json(members::list(&state, &m).await?))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/members", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = MemberAdd,
    responses((status = 201, body = MemberAddResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_member(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<MemberAdd>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    let req = body.into_inner();
    members::assignable(req.role, &m)?;
    let email = normalize_email(&req.email)
        .ok_or_else(|| ApiError::validation("email", "must be a valid email address"))?;
    let inv = invites::invite(&state, &user.0, &meta, &m, email, req.role).await?;
    Ok(HttpResponse::Created().json(MemberAddResponse {
        status: "invited",
        member: None,
        invitation: Some((&inv).into()),
    }))
}

#[utoipa::path(put, path = "/api/workspaces/{id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = MemberRoleUpdate,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_member(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<MemberRoleUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (ws_id, member_id) = path.into_inner();
    let m = membership(&state.db, &user.0, ws_id).await?;
    members::assignable(body.role, &m)?;
    let view = members::change_role(&state, user.id(), &meta, ws_id, member_id, body.role).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/api/workspaces/{id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "Removed (members may also remove themselves)"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws_id, member_id) = path.into_inner();
    let m = membership(&state.db, &user.0, ws_id).await?;
    if member_id != user.id() {
        m.require(Action::MembersManage)?;
    }
    members::remove(&state, user.id(), &meta, ws_id, member_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(delete, path = "/api/workspaces/{id}/invitations/{invitation_id}", tag = "members", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws_id, inv_id) = path.into_inner();
    let m = membership(&state.db, &user.0, ws_id).await?;
    m.require(Action::MembersManage)?;
    invites::revoke_invitation(&state, user.id(), &meta, ws_id, inv_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/invitations/accept", tag = "members", security(("bearer" = [])), request_body = InvitationAccept,
    responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody, description = "Unknown, used, expired, or for another address")))]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    body: web::Json<InvitationAccept>,
) -> Result<HttpResponse, ApiError> {
    let m = invites::accept_invitation(&state, &user.0, &meta, &body.token).await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::new(&m.workspace, m.role)))
}
