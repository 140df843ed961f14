//! The webhooks API over HTTP: parse, authorise (workspace admins: `WebhooksManage`;
//! other workspaces' ids answer 404), call the service, answer a view.

use actix_web::{web, HttpResponse};
use sea_orm::ConnectionTrait;
use serde_json::json;
use uuid::Uuid;

use super::messages::{self, NewMessage};
use super::service;
use super::views::*;
use crate::auth::extract::{AuthUser, RequestMeta};
use crate::error::{ApiError, ErrorBody};
use crate::events::catalogue::WebhookEvent;
use crate::events::{EventType, UnitOfWork};
use crate::roles::Action;
use crate::state::AppState;
use crate::workspaces::access::membership;

async fn admin(state: &AppState, user: &AuthUser, ws: Uuid) -> Result<(), ApiError> {
    let m = membership(&state.db, &user.0, ws).await?;
    m.require(Action::WebhooksManage)
}

async fn endpoint(
    state: &AppState,
    user: &AuthUser,
    ws: Uuid,
    id: Uuid,
) -> Result<super::entities::endpoints::Model, ApiError> {
    admin(state, user, ws).await?;
    service::find(&state.db, ws, id).await
}

#[utoipa::path(get, path = "/api/workspaces/{id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [EndpointView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_endpoints(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ws = path.into_inner();
    admin(&state, &user, ws).await?;
    let now = state.clock.now();
    let items: Vec<_> = service::list(&state.db, ws)
        .await?
        .iter()
        .map(|e| EndpointView::new(e, now))
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EndpointCreate,
    responses((status = 201, body = EndpointView, description = "The endpoint, with its `secret`"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "url_invalid, url_https_required, url_forbidden_address, url_unresolvable, unknown_event_type, invalid_header, header_not_allowed, invalid_rate_limit, invalid_description")))]
pub async fn create_endpoint(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<Uuid>,
    body: web::Json<EndpointCreate>,
) -> Result<HttpResponse, ApiError> {
    let ws = path.into_inner();
    admin(&state, &user, ws).await?;
    let (e, secret) = service::create(&state, user.id(), &meta, ws, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(EndpointView::new(&e, state.clock.now()).with_secret(secret)))
}

#[utoipa::path(get, path = "/api/workspaces/{id}/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)),
    responses((status = 200, body = EndpointView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_endpoint(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    Ok(HttpResponse::Ok().json(EndpointView::new(&e, state.clock.now())))
}

#[utoipa::path(patch, path = "/api/workspaces/{id}/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)), request_body = EndpointUpdate,
    responses((status = 200, body = EndpointView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "As for creation")))]
pub async fn update_endpoint(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<EndpointUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    let e = service::update(&state, user.id(), &meta, e, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EndpointView::new(&e, state.clock.now())))
}

#[utoipa::path(delete, path = "/api/workspaces/{id}/webhooks/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted with its messages and attempts"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_endpoint(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    service::delete(&state, user.id(), &meta, e).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/secret/reveal", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)),
    responses((status = 200, body = SecretView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reveal_secret(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    let secret = service::reveal(&state, user.id(), &meta, &e).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(SecretView {
        secret,
        previous_secret_expires_at: e.old_secret_expires_at.filter(|t| *t > now),
    }))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/secret/rotate", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)),
    responses((status = 200, body = SecretView, description = "The new secret; the previous one signs alongside for 24 h"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    let (secret, until) = service::rotate(&state, user.id(), &meta, e).await?;
    Ok(HttpResponse::Ok().json(SecretView {
        secret,
        previous_secret_expires_at: Some(until),
    }))
}

#[utoipa::path(get, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/stats", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)),
    responses((status = 200, body = EndpointStats), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn endpoint_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    Ok(HttpResponse::Ok().json(messages::stats(&state.db, e.id).await?))
}

#[utoipa::path(get, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/messages", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path), MessageQuery),
    responses((status = 200, body = MessagePage, description = "Newest first"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_messages(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    q: web::Query<MessageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    Ok(HttpResponse::Ok().json(messages::list(&state.db, e.id, &q).await?))
}

#[utoipa::path(get, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/messages/{message_id}/attempts", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path), ("message_id" = String, Path)),
    responses((status = 200, body = AttemptList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_attempts(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id, mid) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    let m = messages::find(&state.db, e.id, &mid).await?;
    Ok(HttpResponse::Ok().json(messages::attempts_of(&state.db, &m.id).await?))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/messages/{message_id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path), ("message_id" = String, Path)),
    responses((status = 202, body = MessageView, description = "An attempt is queued now (same webhook-id)"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "endpoint_disabled")))]
pub async fn retry_message(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id, mid) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    if !e.enabled {
        return Err(ApiError::Conflict(
            "endpoint_disabled",
            "the endpoint is disabled; enable it first".into(),
        ));
    }
    let m = messages::find(&state.db, e.id, &mid).await?;
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let now = uow.now();
    uow.txn()
        .execute_raw(crate::jobs::store::stmt(
            uow.txn(),
            "UPDATE webhook_messages SET status = 'pending', next_attempt_at = $2, updated_at = $2 WHERE id = $1",
            vec![m.id.clone().into(), now.into()],
        ))
        .await?;
    let tag = format!(":r{}", Uuid::new_v4().simple());
    uow.enqueue(messages::attempt_job(&m.id, m.attempts + 1, now, &tag))
        .await?;
    uow.commit().await?;
    let m = messages::find(&state.db, e.id, &mid).await?;
    Ok(HttpResponse::Accepted().json(MessageView::new(&m)))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)), request_body = ReplayRequest,
    responses((status = 202, body = ReplayResponse, description = "New messages (new webhook-ids) for every matching event since then"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "endpoint_disabled")))]
pub async fn replay(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Json<ReplayRequest>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    if !e.enabled {
        return Err(ApiError::Conflict(
            "endpoint_disabled",
            "the endpoint is disabled; enable it first".into(),
        ));
    }
    let since = body.since;
    let events = messages::events_since(&state.db, &e, since).await?;
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let now = uow.now();
    let salt = format!("replay:{}", Uuid::new_v4());
    let mut n = 0;
    for (eid, ty, data, at) in &events {
        let m = NewMessage {
            id: messages::message_id(e.id, *eid, &salt),
            endpoint: &e,
            event_id: Some(*eid),
            event_type: ty,
            at: *at,
            data,
        };
        if messages::create(uow.txn(), m, now).await? {
            n += 1;
        }
    }
    let payload = WebhookEvent {
        endpoint_id: e.id,
        description: e.description.clone(),
        reason: Some(format!("since {}", since.to_rfc3339())),
    };
    uow.record(
        EventType::WebhookReplayed,
        Some(ws),
        ("webhook_endpoint", Some(e.id.to_string())),
        &payload,
    )
    .await?;
    uow.commit().await?;
    state.work.wake_jobs();
    Ok(HttpResponse::Accepted().json(ReplayResponse { messages: n }))
}

#[utoipa::path(post, path = "/api/workspaces/{id}/webhooks/{endpoint_id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("endpoint_id" = Uuid, Path)),
    responses((status = 202, body = MessageView, description = "A `webhook.test` message, sent to this endpoint only"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "endpoint_disabled")))]
pub async fn test_send(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (ws, id) = path.into_inner();
    let e = endpoint(&state, &user, ws, id).await?;
    if !e.enabled {
        return Err(ApiError::Conflict(
            "endpoint_disabled",
            "the endpoint is disabled; enable it first".into(),
        ));
    }
    let mut uow = UnitOfWork::begin(&state, Some(user.id()), &meta).await?;
    let payload = WebhookEvent {
        endpoint_id: e.id,
        description: e.description.clone(),
        reason: None,
    };
    let ev = uow
        .record(
            EventType::WebhookTest,
            Some(ws),
            ("webhook_endpoint", Some(e.id.to_string())),
            &payload,
        )
        .await?
        .clone();
    let now = uow.now();
    let data = json!({ "endpoint_id": e.id, "message": "A test message from Copydesk." });
    let mid = messages::message_id(e.id, ev.id, "test");
    let m = NewMessage {
        id: mid.clone(),
        endpoint: &e,
        event_id: Some(ev.id),
        event_type: "webhook.test",
        at: ev.at,
        data: &data,
    };
    messages::create(uow.txn(), m, now).await?;
    uow.commit().await?;
    state.work.wake_jobs();
    let m = messages::find(&state.db, e.id, &mid).await?;
    Ok(HttpResponse::Accepted().json(MessageView::new(&m)))
}
