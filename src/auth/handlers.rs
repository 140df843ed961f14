//! `/api/auth/*` and `/api/users/*`.
//!
//! No account enumeration: register, forgot-password and failed logins answer identically
//! (status, body, and work done — every path hashes or verifies once) whether or not the
//! email has an account; what differs is only the email the address's owner receives.

use std::time::Duration as StdDuration;

use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{AuthUser, RequestMeta};
use super::sessions::{self, Rotation};
use super::{normalize_email, password, tokens};
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::events::{self, Change};
use crate::mail::Email;
use crate::state::AppState;
use crate::store::entities::{email_tokens, users};
use crate::workspaces::invites;

const PURPOSE_VERIFY: &str = "verify_email";
const PURPOSE_RESET: &str = "reset_password";

/// A user as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub is_super_admin: bool,
    pub email_verified: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl From<&users::Model> for UserView {
    fn from(u: &users::Model) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            is_super_admin: u.is_super_admin,
            email_verified: u.email_verified_at.is_some(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The answer to login, register-with-invitation, verify-email and refresh.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    pub access_token: String,
    /// Opaque; rotates on every refresh. Keep it secret.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserView,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
    /// From an invitation email: proves the address, so the account is ready at once.
    pub invitation_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    pub invitation_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub token: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ProfileUpdate {
    pub name: Option<String>,
    /// Required with `new_password`.
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

fn ip_key(prefix: &str, meta: &RequestMeta) -> String {
    format!("{prefix}:ip:{}", meta.ip.as_deref().unwrap_or("unknown"))
}

async fn hash_blocking(pw: String) -> Result<String, ApiError> {
    web::block(move || password::hash(&pw))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

async fn verify_blocking(pw: String, stored: Option<String>) -> Result<bool, ApiError> {
    web::block(move || password::verify(&pw, stored.as_deref()))
        .await
        .map_err(ApiError::internal)
}

async fn auth_response(
    state: &AppState,
    user: &users::Model,
    meta: &RequestMeta,
) -> Result<AuthResponse, ApiError> {
    let refresh_token = sessions::start(&state.db, user, meta, &state.settings.auth).await?;
    Ok(AuthResponse {
        access_token: state.jwt.issue(user.id, user.token_version)?,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl_secs(),
        user: user.into(),
    })
}

/// Per-IP limit on endpoints that send email.
async fn throttle_email_requests(state: &AppState, meta: &RequestMeta) -> Result<(), ApiError> {
    let key = ip_key("email", meta);
    let cfg = &state.settings.auth;
    if let Some(retry_after_secs) = state
        .limiter
        .blocked_for(&key, cfg.email_requests_per_ip)
        .await
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    state
        .limiter
        .hit(&key, StdDuration::from_secs(cfg.login_window_secs))
        .await;
    Ok(())
}

async fn create_email_token(
    state: &AppState,
    user: &users::Model,
    purpose: &str,
) -> Result<String, ApiError> {
    let (token, hash) = tokens::opaque();
    let now = Utc::now();
    email_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(Some(user.id)),
        email: Set(user.email.clone()),
        purpose: Set(purpose.to_string()),
        token_hash: Set(hash),
        expires_at: Set(now + Duration::seconds(state.settings.auth.email_token_ttl_secs as i64)),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(token)
}

/// Marks an email token used and returns its user, if it is valid for `purpose`.
async fn consume_email_token<C: sea_orm::ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: &str,
) -> Result<users::Model, ApiError> {
    let bad = || {
        ApiError::BadRequest(
            "invalid_token",
            "this link is invalid or has expired".into(),
        )
    };
    let now = Utc::now();
    let row = email_tokens::Entity::find()
        .filter(email_tokens::Column::TokenHash.eq(tokens::hash_opaque(token)))
        .filter(email_tokens::Column::Purpose.eq(purpose))
        .one(conn)
        .await?
        .ok_or_else(bad)?;
    if row.used_at.is_some() || row.expires_at <= now {
        return Err(bad());
    }
    let claimed = email_tokens::Entity::update_many()
        .col_expr(email_tokens::Column::UsedAt, Expr::value(now))
        .filter(email_tokens::Column::Id.eq(row.id))
        .filter(email_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(bad());
    }
    users::Entity::find_by_id(row.user_id.ok_or_else(bad)?)
        .one(conn)
        .await?
        .ok_or_else(bad)
}

fn check_new_account(req: &RegisterRequest) -> Result<String, ApiError> {
    let mut errs = FieldErrors::default();
    let email = normalize_email(&req.email);
    errs.check(email.is_some(), "email", "must be a valid email address");
    let name = req.name.trim();
    errs.check(
        !name.is_empty() && name.chars().count() <= 100,
        "name",
        "must be 1–100 characters",
    );
    if let Some(p) = password::policy_problem(&req.password, email.as_deref().unwrap_or_default()) {
        errs.add("password", p);
    }
    errs.into_result()?;
    Ok(email.unwrap_or_default())
}

#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = MessageResponse, description = "Check your email (same answer for new and known emails)"),
              (status = 201, body = AuthResponse, description = "Signed up through an invitation"),
              (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let email = check_new_account(&req)?;
    throttle_email_requests(&state, &meta).await?;
    let hash = hash_blocking(req.password.clone()).await?;
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let now = Utc::now();

    // An invitation token proves the address: create the account verified and sign in.
    if let (None, Some(invite_token)) = (&existing, &req.invitation_token) {
        if let Some(invite) = invites::find_valid(&state.db, invite_token).await? {
            if invite.email == email {
                let txn = state.db.begin().await?;
                let user = insert_user(&txn, &email, req.name.trim(), hash, Some(now)).await?;
                let mut evs = vec![record_signup(&txn, &user, &meta).await?];
                evs.push(invites::accept(&txn, &invite, &user, &meta).await?);
                txn.commit().await?;
                events::announce(state.bus.as_ref(), &evs).await;
                let resp = auth_response(&state, &user, &meta).await?;
                return Ok(HttpResponse::Created().json(resp));
            }
        }
    }

    let base = &state.public_url;
    match existing {
        Some(user) if user.email_verified_at.is_some() => {
            state.mailer.send_later(Email {
                to: user.email.clone(),
                subject: "You already have a Copydesk account".into(),
                body: format!(
                    "Someone (hopefully you) tried to sign up with this address, but it already has an account.\n\n\
                     Sign in: {base}/login\nForgot your password? {base}/forgot-password\n\n\
                     If it was not you, you can ignore this email."
                ),
            });
        }
        Some(user) => {
            // Not yet verified: send a fresh link; the password is left as it was, since
            // this request does not prove who is asking.
            let token = create_email_token(&state, &user, PURPOSE_VERIFY).await?;
            send_verification(&state, &user, &token);
        }
        None => {
            let txn = state.db.begin().await?;
            let user = insert_user(&txn, &email, req.name.trim(), hash, None).await?;
            let ev = record_signup(&txn, &user, &meta).await?;
            txn.commit().await?;
            let _ = ev;
            let token = create_email_token(&state, &user, PURPOSE_VERIFY).await?;
            send_verification(&state, &user, &token);
        }
    }
    Ok(HttpResponse::Accepted().json(MessageResponse {
        message: "Check your inbox: we sent a link to finish signing up.".into(),
    }))
}

fn send_verification(state: &AppState, user: &users::Model, token: &str) {
    state.mailer.send_later(Email {
        to: user.email.clone(),
        subject: "Confirm your email for Copydesk".into(),
        body: format!(
            "Hi {},\n\nConfirm your email address to finish signing up:\n\n{}/verify-email?token={}\n\n\
             The link works once and expires in {} hours.",
            user.name,
            state.public_url,
            token,
            state.settings.auth.email_token_ttl_secs / 3600
        ),
    });
}

async fn insert_user<C: sea_orm::ConnectionTrait>(
    conn: &C,
    email: &str,
    name: &str,
    password_hash: String,
    verified_at: Option<chrono::DateTime<Utc>>,
) -> Result<users::Model, ApiError> {
    let now = Utc::now();
    // The first account on a fresh instance administers it.
    let first = users::Entity::find().count(conn).await? == 0;
    Ok(users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.to_string()),
        name: Set(name.to_string()),
        password_hash: Set(password_hash),
        email_verified_at: Set(verified_at),
        is_super_admin: Set(first),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

async fn record_signup<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user: &users::Model,
    meta: &RequestMeta,
) -> Result<events::Event, ApiError> {
    events::record(
        conn,
        Change {
            workspace_id: None,
            actor_id: Some(user.id),
            event_type: "user.registered",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            data: json!({ "user_id": user.id }),
            meta,
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = AuthResponse), (status = 400, body = ErrorBody)))]
pub async fn verify_email(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let txn = state.db.begin().await?;
    let user = consume_email_token(&txn, &body.token, PURPOSE_VERIFY).await?;
    let mut active = user.clone().into_active_model();
    if user.email_verified_at.is_none() {
        active.email_verified_at = Set(Some(Utc::now()));
        active.updated_at = Set(Utc::now());
    }
    let user = active.update(&txn).await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(auth_response(&state, &user, &meta).await?))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "Correct password, email not yet confirmed"),
              (status = 429, body = ErrorBody, description = "Too many failures; see Retry-After")))]
pub async fn login(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let cfg = &state.settings.auth;
    let email = normalize_email(&req.email).unwrap_or_else(|| req.email.trim().to_lowercase());
    let acct_key = format!("login:acct:{email}");
    let ip_key = ip_key("login", &meta);
    for (key, max) in [
        (&acct_key, cfg.login_max_failures_per_account),
        (&ip_key, cfg.login_max_failures_per_ip),
    ] {
        if let Some(retry_after_secs) = state.limiter.blocked_for(key, max).await {
            return Err(ApiError::TooManyRequests { retry_after_secs });
        }
    }
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let ok = verify_blocking(
        req.password.clone(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            let window = StdDuration::from_secs(cfg.login_window_secs);
            state.limiter.hit(&acct_key, window).await;
            state.limiter.hit(&ip_key, window).await;
            return Err(ApiError::Unauthorized(
                "invalid_credentials",
                "email or password is incorrect".into(),
            ));
        }
    };
    state.limiter.reset(&acct_key).await;
    if user.email_verified_at.is_none() {
        let token = create_email_token(&state, &user, PURPOSE_VERIFY).await?;
        send_verification(&state, &user, &token);
        return Err(ApiError::Forbidden(
            "email_not_verified",
            "confirm your email first: we sent you a new link".into(),
        ));
    }
    if let Some(t) = &req.invitation_token {
        if let Some(invite) = invites::find_valid(&state.db, t).await? {
            if invite.email == user.email {
                let txn = state.db.begin().await?;
                let ev = invites::accept(&txn, &invite, &user, &meta).await?;
                txn.commit().await?;
                events::announce(state.bus.as_ref(), &[ev]).await;
            }
        }
    }
    Ok(HttpResponse::Ok().json(auth_response(&state, &user, &meta).await?))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    match sessions::rotate(&state.db, &body.refresh_token, &state.settings.auth).await? {
        Rotation::Rotated {
            user,
            refresh_token,
        } => Ok(HttpResponse::Ok().json(AuthResponse {
            access_token: state.jwt.issue(user.id, user.token_version)?,
            refresh_token,
            token_type: "Bearer",
            expires_in: state.jwt.ttl_secs(),
            user: (&user).into(),
        })),
        Rotation::ReuseDetected { user_id } => {
            tracing::warn!(%user_id, "refresh token reuse detected; family revoked");
            events::record(
                &state.db,
                Change {
                    workspace_id: None,
                    actor_id: Some(user_id),
                    event_type: "session.reuse_detected",
                    target_type: "user",
                    target_id: Some(user_id.to_string()),
                    data: json!({ "user_id": user_id }),
                    meta: &meta,
                },
            )
            .await?;
            Err(ApiError::Unauthorized(
                "invalid_refresh_token",
                "the refresh token is invalid or expired; sign in again".into(),
            ))
        }
    }
}

/// Ends every session of the user: refresh families are revoked and the token version
/// bump voids access tokens already issued.
async fn end_all_sessions<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user: &users::Model,
    reason: &str,
) -> Result<(), ApiError> {
    sessions::revoke_all(conn, user.id, reason).await?;
    users::Entity::update_many()
        .col_expr(
            users::Column::TokenVersion,
            Expr::col(users::Column::TokenVersion).add(1),
        )
        .filter(users::Column::Id.eq(user.id))
        .exec(conn)
        .await?;
    Ok(())
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
) -> Result<HttpResponse, ApiError> {
    let txn = state.db.begin().await?;
    end_all_sessions(&txn, &user.0, "logout").await?;
    events::record(
        &txn,
        Change {
            workspace_id: None,
            actor_id: Some(user.id()),
            event_type: "user.logged_out",
            target_type: "user",
            target_id: Some(user.id().to_string()),
            data: json!({}),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses((status = 202, body = MessageResponse, description = "Same answer whether or not the email has an account"),
              (status = 429, body = ErrorBody)))]
pub async fn forgot_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<ForgotPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    throttle_email_requests(&state, &meta).await?;
    if let Some(email) = normalize_email(&body.email) {
        if let Some(user) = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(&state.db)
            .await?
        {
            let token = create_email_token(&state, &user, PURPOSE_RESET).await?;
            state.mailer.send_later(Email {
                to: user.email.clone(),
                subject: "Reset your Copydesk password".into(),
                body: format!(
                    "Hi {},\n\nSomeone asked to reset the password of your Copydesk account. To choose a new one, open:\n\n\
                     {}/reset-password?token={}\n\nThe link works once and expires in {} hours. If you did not ask, ignore this email.",
                    user.name,
                    state.public_url,
                    token,
                    state.settings.auth.email_token_ttl_secs / 3600
                ),
            });
        }
    }
    Ok(HttpResponse::Accepted().json(MessageResponse {
        message: "If an account exists for that address, we sent it a link to reset the password."
            .into(),
    }))
}

#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 204, description = "Password changed; every session ended"), (status = 400, body = ErrorBody)))]
pub async fn reset_password(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let hash = hash_blocking(req.password.clone()).await?;
    let txn = state.db.begin().await?;
    let user = consume_email_token(&txn, &req.token, PURPOSE_RESET).await?;
    if let Some(p) = password::policy_problem(&req.password, &user.email) {
        return Err(ApiError::validation("password", p));
    }
    end_all_sessions(&txn, &user, "password_reset").await?;
    let mut active = user.clone().into_active_model();
    active.password_hash = Set(hash);
    // The link came to the inbox, so the address is proven.
    if user.email_verified_at.is_none() {
        active.email_verified_at = Set(Some(Utc::now()));
    }
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    events::record(
        &txn,
        Change {
            workspace_id: None,
            actor_id: Some(user.id),
            event_type: "user.password_reset",
            target_type: "user",
            target_id: Some(user.id.to_string()),
            data: json!({}),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/users/profile", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn get_profile(user: AuthUser) -> Result<web::Json<UserView>, ApiError> {
    Ok(web::Json((&user.0).into()))
}

#[utoipa::path(put, path = "/api/users/profile", tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn update_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    body: web::Json<ProfileUpdate>,
) -> Result<web::Json<UserView>, ApiError> {
    let req = body.into_inner();
    let mut errs = FieldErrors::default();
    if let Some(name) = &req.name {
        let n = name.trim();
        errs.check(
            !n.is_empty() && n.chars().count() <= 100,
            "name",
            "must be 1–100 characters",
        );
    }
    let mut new_hash = None;
    if let Some(new_pw) = &req.new_password {
        match &req.current_password {
            None => errs.add("current_password", "is required to change the password"),
            Some(cur) => {
                if !verify_blocking(cur.clone(), Some(user.0.password_hash.clone())).await? {
                    errs.add("current_password", "is incorrect");
                } else if let Some(p) = password::policy_problem(new_pw, &user.0.email) {
                    errs.add("new_password", p);
                } else {
                    new_hash = Some(hash_blocking(new_pw.clone()).await?);
                }
            }
        }
    }
    errs.into_result()?;
    let txn = state.db.begin().await?;
    let mut active = user.0.clone().into_active_model();
    if let Some(name) = req.name {
        active.name = Set(name.trim().to_string());
    }
    let changed_password = new_hash.is_some();
    if let Some(h) = new_hash {
        active.password_hash = Set(h);
    }
    active.updated_at = Set(Utc::now());
    let updated = active.update(&txn).await?;
    events::record(
        &txn,
        Change {
            workspace_id: None,
            actor_id: Some(updated.id),
            event_type: "user.profile_updated",
            target_type: "user",
            target_id: Some(updated.id.to_string()),
            data: json!({ "password_changed": changed_password }),
            meta: &meta,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json((&updated).into()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/register", web::post().to(register))
            .route("/verify-email", web::post().to(verify_email))
            .route("/login", web::post().to(login))
            .route("/refresh", web::post().to(refresh))
            .route("/logout", web::post().to(logout))
            .route("/forgot-password", web::post().to(forgot_password))
            .route("/reset-password", web::post().to(reset_password)),
    )
    .service(
        web::resource("/users/profile")
            .route(web::get().to(get_profile))
            .route(web::put().to(update_profile)),
    );
}
