//! The notify API over HTTP. Everything is the caller's own: another user's notification or
//! subscription id answers 404.

use actix_web::{web, HttpResponse};
use minijinja::context;
use serde_json::Value;
use uuid::Uuid;

use super::email::{render, unsubscribe, PREFERENCES_PATH};
use super::views::*;
use super::{prefs, push, store};
use crate::auth::extract::AuthUser;
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/notifications", tag = "notifications", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = NotificationPage, description = "Newest first, with the unread count")))]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let mut errs = FieldErrors::default();
    let limit = q.limit.unwrap_or(50);
    errs.check(
        (1..=100).contains(&limit),
        "limit",
        "must be between 1 and 100",
    );
    let before = match q.before.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => {
            let parsed = store::parse_cursor(c);
            errs.check(parsed.is_some(), "before", "not a cursor from next_before");
            parsed
        }
        None => None,
    };
    errs.into_result()?;
    let (rows, more) =
        store::list(&state.db, user.id(), q.unread == Some(true), limit, before).await?;
    let next_before = if more {
        rows.last().map(store::cursor)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(NotificationPage {
        notifications: rows.iter().filter_map(|r| r.view()).collect(),
        next_before,
        unread_count: store::unread_count(&state.db, user.id()).await?,
    }))
}

#[utoipa::path(get, path = "/api/notifications/unread-count", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount)))]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UnreadCount {
        unread_count: store::unread_count(&state.db, user.id()).await?,
    }))
}

#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Read (also when it already was)"), (status = 404, body = ErrorBody)))]
pub async fn read_one(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    store::mark_read(&state.db, user.id(), path.into_inner(), state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = MarkedRead, description = "How many were unread")))]
pub async fn read_all(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let marked = store::mark_all_read(&state.db, user.id(), state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(MarkedRead { marked }))
}

#[utoipa::path(get, path = "/api/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Preferences)))]
pub async fn get_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(prefs::view(&state.db, user.id()).await?))
}

#[utoipa::path(put, path = "/api/notifications/preferences", tag = "notifications", security(("bearer" = [])),
    request_body = PreferencesUpdate,
    responses((status = 200, body = Preferences, description = "Every type, after the change"),
              (status = 422, body = ErrorBody, description = "unknown_notification_type, unknown_channel, unknown_field, invalid_preferences, invalid_email_digest")))]
pub async fn put_preferences(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let update = prefs::parse_update(&body)?;
    let txn = crate::store::begin(&state.db).await?;
    prefs::apply(&txn, user.id(), &update).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(prefs::view(&state.db, user.id()).await?))
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // The page shows an address: keep it out of caches and other sites' frames.
        .insert_header(("cache-control", "no-store"))
        .body(body)
}

async fn unsubscribe_target(
    state: &AppState,
    token: &str,
) -> Result<(Uuid, unsubscribe::Target, String), ApiError> {
    let (user, t) = unsubscribe::verify(&state.encryption_key, token)
        .ok_or(ApiError::NotFound("unsubscribe link"))?;
    let email = super::email::recipient(&state.db, user)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?
        .ok_or(ApiError::NotFound("unsubscribe link"))?
        .email;
    Ok((user, t, email))
}

fn page(
    state: &AppState,
    t: unsubscribe::Target,
    email: &str,
    token: &str,
    done: bool,
) -> Result<String, ApiError> {
    render(
        "unsubscribe.html",
        context! {
            done => done,
            label => t.label(),
            digest => t == unsubscribe::Target::Digest,
            email => email,
            action => format!("{}/api/notifications/unsubscribe?token={token}", state.public_url),
            preferences_url => format!("{}{PREFERENCES_PATH}", state.public_url),
        },
    )
    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))
}

/// The unsubscribe link in an email, opened in a browser: a confirmation page (a GET never
/// changes anything — link scanners open links).
#[utoipa::path(get, path = "/api/notifications/unsubscribe", tag = "notifications",
    params(TokenQuery),
    responses((status = 200, content_type = "text/html", body = String, description = "A page with a button that turns this email off"),
              (status = 404, body = ErrorBody, description = "Not a genuine link")))]
pub async fn unsubscribe_page(
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, t, email) = unsubscribe_target(&state, &query.token).await?;
    Ok(html(
        actix_web::http::StatusCode::OK,
        page(&state, t, &email, &query.token, false)?,
    ))
}

/// RFC 8058 one-click: mail providers POST `List-Unsubscribe=One-Click` here; the page's
/// button does too. The signed token alone decides (the body is not needed to act).
#[utoipa::path(post, path = "/api/notifications/unsubscribe", tag = "notifications",
    params(TokenQuery),
    responses((status = 200, content_type = "text/html", body = String, description = "That type's email is off"),
              (status = 404, body = ErrorBody, description = "Not a genuine link")))]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let (user, t, email) = unsubscribe_target(&state, &query.token).await?;
    let txn = crate::store::begin(&state.db).await?;
    match t {
        unsubscribe::Target::Type(t) => prefs::turn_off_email(&txn, user, t).await?,
        unsubscribe::Target::Digest => prefs::turn_off_digest(&txn, user).await?,
    }
    txn.commit().await?;
    Ok(html(
        actix_web::http::StatusCode::OK,
        page(&state, t, &email, &query.token, true)?,
    ))
}

#[utoipa::path(get, path = "/api/push/vapid-public-key", tag = "push", security(("bearer" = [])),
    responses((status = 200, body = VapidPublicKey)))]
pub async fn vapid_public_key(
    state: web::Data<AppState>,
    _user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let key = state
        .notify
        .vapid()
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    Ok(HttpResponse::Ok().json(VapidPublicKey {
        public_key: key.public_b64,
    }))
}

#[utoipa::path(post, path = "/api/push/subscriptions", tag = "push", security(("bearer" = [])),
    request_body = SubscriptionCreate,
    responses((status = 201, body = SubscriptionView, description = "Stored (a known endpoint is taken over)"),
              (status = 422, body = ErrorBody, description = "invalid_endpoint, url_invalid, url_https_required, url_forbidden_address, url_unresolvable, invalid_push_key, invalid_user_agent")))]
pub async fn create_subscription(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<SubscriptionCreate>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = push::validate(&state.notify, &body).await?;
    let s = push::upsert(&state.db, user.id(), &endpoint, &body, state.clock.now()).await?;
    Ok(HttpResponse::Created().json(s.view()))
}

#[utoipa::path(get, path = "/api/push/subscriptions", tag = "push", security(("bearer" = [])),
    responses((status = 200, body = SubscriptionList)))]
pub async fn list_subscriptions(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let subs = push::list(&state.db, user.id()).await?;
    Ok(HttpResponse::Ok().json(SubscriptionList {
        subscriptions: subs.iter().map(push::Subscription::view).collect(),
    }))
}

#[utoipa::path(delete, path = "/api/push/subscriptions/{id}", tag = "push", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete_subscription(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    push::delete(&state.db, user.id(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/push/test", tag = "push", security(("bearer" = [])),
    responses((status = 202, description = "A test push is queued for each of the caller's browsers")))]
pub async fn push_test(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let n = push::send::queue_test(&state.db, user.id(), state.clock.now()).await?;
    if n > 0 {
        state.work.wake_jobs();
    }
    Ok(HttpResponse::Accepted().finish())
}
