//! The approvals API over HTTP: workflows (managers), the approval actions on a post, its
//! rounds, and the approver's inbox. Another workspace's ids answer 404.

use actix_web::{web, HttpResponse};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entities::{requests, workflows};
use super::rounds::{self, Decision};
use super::service;
use super::views::{self, *};
use super::workflow::{self, WorkflowInput, WorkflowList, WorkflowView};
use super::Decider;
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::posts;
use crate::roles::Action;
use crate::state::AppState;
use crate::workspaces::access::membership;

async fn load_workflow(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
) -> Result<workflows::Model, ApiError> {
    let w = workflows::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("approval workflow"))?;
    let m = membership(&state.db, &user.0, w.workspace_id)
        .await
        .map_err(|_| ApiError::NotFound("approval workflow"))?;
    if !m.can(Action::PostViewAll) {
        return Err(ApiError::NotFound("approval workflow"));
    }
    m.require(Action::ApprovalWorkflowsManage)?;
    Ok(w)
}

#[utoipa::path(get, path = "/api/workspaces/{id}/approval-workflows", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_workflows(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::PostViewAll)?;
    let list = workflow::list(&state.db, m.workspace.id).await?;
    Ok(HttpResponse::Ok().json(WorkflowList {
        workflows: list.iter().map(WorkflowView::new).collect(),
    }))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/approval-workflows", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WorkflowInput,
    responses((status = 201, body = WorkflowView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "multi_level_required")))]
pub async fn create_workflow(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<WorkflowInput>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    m.require(Action::ApprovalWorkflowsManage)?;
    let mut input = body.into_inner();
    workflow::validate(
        &state.db,
        m.workspace.id,
        rounds::mode_of(&m.workspace),
        &mut input,
    )
    .await?;
    let txn = crate::store::begin(&state.db).await?;
    let w = workflow::insert(&txn, m.workspace.id, user.id(), input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(WorkflowView::new(&w)))
}

#[utoipa::path(get, path = "/api/approval-workflows/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_workflow(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let w = load_workflow(&state, &user, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(WorkflowView::new(&w)))
}

#[utoipa::path(put, path = "/api/approval-workflows/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WorkflowInput,
    responses((status = 200, body = WorkflowView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_workflow(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
    body: web::Json<WorkflowInput>,
) -> Result<HttpResponse, ApiError> {
    let w = load_workflow(&state, &user, path.into_inner()).await?;
    let m = membership(&state.db, &user.0, w.workspace_id).await?;
    let mut input = body.into_inner();
    workflow::validate(
        &state.db,
        w.workspace_id,
        rounds::mode_of(&m.workspace),
        &mut input,
    )
    .await?;
    let txn = crate::store::begin(&state.db).await?;
    let w = workflow::update(&txn, w, input).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(WorkflowView::new(&w)))
}

#[utoipa::path(delete, path = "/api/approval-workflows/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted; rounds in flight keep their steps"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_workflow(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let w = load_workflow(&state, &user, path.into_inner()).await?;
    workflows::Entity::delete_by_id(w.id)
        .exec(&state.db)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn body_or_default(body: web::Json<ActionInput>) -> ActionInput {
    body.into_inner()
}

#[utoipa::path(post, path = "/api/posts/{id}/submit", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = ActionInput, description = "`{}` or a comment (and, to submit, a workflow)"),
    responses((status = 200, body = ApprovalView, description = "The new round"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "approval_disabled, invalid_transition, already_in_review")))]
pub async fn submit(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = posts::load_post(&state, &user, path.into_inner()).await?;
    m.require(Action::PostSubmit)?;
    let input = body_or_default(body);
    let view = service::submit(
        &state,
        user.id(),
        &meta,
        post,
        input.workflow_id,
        input.comment,
        user.0.name.clone(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

async fn decide(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    id: Uuid,
    body: web::Json<ActionInput>,
    decision: Decision,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = posts::load_post(&state, &user, id).await?;
    m.require(Action::PostApprove)?;
    let input = body_or_default(body);
    let who = Decider::Member {
        user_id: user.id(),
        name: user.0.name.clone(),
        role: m.role,
    };
    let view = service::decide(&state, &meta, post, who, decision, input.comment).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(post, path = "/api/posts/{id}/approve", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = ActionInput, description = "`{}` or `{\"comment\"}`"),
    responses((status = 200, body = ApprovalView), (status = 403, body = ErrorBody, description = "forbidden, not_an_approver"),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not_in_review, already_decided, content_changed")))]
pub async fn approve(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, ApiError> {
    decide(
        state,
        user,
        meta,
        path.into_inner(),
        body,
        Decision::Approve,
    )
    .await
}

#[utoipa::path(post, path = "/api/posts/{id}/reject", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = ActionInput, description = "`{}` or `{\"comment\"}`"),
    responses((status = 200, body = ApprovalView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn reject(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, ApiError> {
    decide(state, user, meta, path.into_inner(), body, Decision::Reject).await
}

#[utoipa::path(post, path = "/api/posts/{id}/request-changes", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = ActionInput, description = "`{}` or `{\"comment\"}`"),
    responses((status = 200, body = ApprovalView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn request_changes(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, ApiError> {
    decide(
        state,
        user,
        meta,
        path.into_inner(),
        body,
        Decision::RequestChanges,
    )
    .await
}

#[utoipa::path(post, path = "/api/posts/{id}/withdraw", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body(content = ActionInput, description = "`{}` or `{\"comment\"}`"),
    responses((status = 200, body = ApprovalView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "not_in_review")))]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<ActionInput>,
) -> Result<HttpResponse, ApiError> {
    let (post, m) = posts::load_post(&state, &user, path.into_inner()).await?;
    m.require(Action::PostSubmit)?;
    let input = body_or_default(body);
    let view = service::withdraw(
        &state,
        user.id(),
        user.0.name.clone(),
        &meta,
        post,
        input.comment,
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(get, path = "/api/posts/{id}/approval", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ApprovalView, description = "The current (or latest) round"), (status = 404, body = ErrorBody)))]
pub async fn current(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, _) = posts::load_post(&state, &user, path.into_inner()).await?;
    let r = rounds::latest_round(&state.db, post.id)
        .await?
        .ok_or(ApiError::NotFound("approval"))?;
    Ok(HttpResponse::Ok().json(views::approval(&state.db, &r).await?))
}

#[utoipa::path(get, path = "/api/posts/{id}/approvals", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RoundsView, description = "Every round, newest first"), (status = 404, body = ErrorBody)))]
pub async fn history(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (post, _) = posts::load_post(&state, &user, path.into_inner()).await?;
    let all = requests::Entity::find()
        .filter(requests::Column::PostId.eq(post.id))
        .order_by_desc(requests::Column::Round)
        .all(&state.db)
        .await?;
    let mut rounds_out = Vec::new();
    for r in &all {
        rounds_out.push(views::approval(&state.db, r).await?);
    }
    Ok(HttpResponse::Ok().json(RoundsView { rounds: rounds_out }))
}

#[utoipa::path(get, path = "/api/workspaces/{id}/approvals/inbox", tag = "approvals", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Inbox, description = "Posts waiting on the caller's decision"), (status = 404, body = ErrorBody)))]
pub async fn inbox(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let m = membership(&state.db, &user.0, path.into_inner()).await?;
    let pending = requests::Entity::find()
        .filter(requests::Column::WorkspaceId.eq(m.workspace.id))
        .filter(requests::Column::Status.eq(rounds::PENDING))
        .order_by_asc(requests::Column::SubmittedAt)
        .all(&state.db)
        .await?;
    let mut items = Vec::new();
    for r in pending {
        let Some(post) = crate::store::entities::posts::Entity::find_by_id(r.post_id)
            .one(&state.db)
            .await?
        else {
            continue;
        };
        if !posts::visible_to(&m, &post) {
            continue;
        }
        let view = views::approval(&state.db, &r).await?;
        let waiting = view.steps.iter().any(|s| {
            s.status == rounds::ACTIVE && s.waiting_on.iter().any(|p| p.user_id == Some(user.id()))
        });
        if waiting {
            items.push(InboxItem {
                post: InboxPost {
                    id: post.id,
                    title: post.title.clone(),
                    status: post.status.clone(),
                },
                approval: view,
            });
        }
    }
    Ok(HttpResponse::Ok().json(Inbox { items }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/workspaces/{id}/approval-workflows")
            .route(web::get().to(list_workflows))
            .route(web::post().to(create_workflow)),
    )
    .service(
        web::resource("/approval-workflows/{id}")
            .route(web::get().to(get_workflow))
            .route(web::put().to(update_workflow))
            .route(web::delete().to(delete_workflow)),
    )
    .route("/workspaces/{id}/approvals/inbox", web::get().to(inbox))
    .route("/posts/{id}/submit", web::post().to(submit))
    .route("/posts/{id}/approve", web::post().to(approve))
    .route("/posts/{id}/reject", web::post().to(reject))
    .route(
        "/posts/{id}/request-changes",
        web::post().to(request_changes),
    )
    .route("/posts/{id}/withdraw", web::post().to(withdraw))
    .route("/posts/{id}/approval", web::get().to(current))
    .route("/posts/{id}/approvals", web::get().to(history));
    super::share::routes(cfg);
}
