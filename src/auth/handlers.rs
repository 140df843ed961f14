//! `/api/auth/*`, `/api/users/profile` and `/api/setup`: HTTP only — the rules live in
//! [`super::accounts`], [`super::sessions`], [`super::tickets`] and [`crate::setup`].
//!
//! No account enumeration: register, forgot-password and failed logins answer identically
//! (status, body, and work done — every path hashes or verifies once) whether or not the
//! email has an account; what differs is only the email the address's owner receives.

use actix_web::{web, HttpResponse};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;

use super::accounts::{self, PURPOSE_RESET, PURPOSE_VERIFY};
use super::extract::{AuthUser, RequestMeta};
use super::sessions::{self, Rotation};
pub use super::views::*;
use super::{normalize_email, password, tickets, tokens};
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::events::{self, Change};
use crate::mail::Email;
use crate::state::AppState;
use crate::store::entities::users;
use crate::workspaces::invites;

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
    accounts::throttle_email_requests(&state, &meta).await?;
    let hash = accounts::hash_blocking(req.password.clone()).await?;
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let now = state.clock.now();
    let name = req.name.trim().to_string();

    // An invitation token proves the address (it was emailed there). For an address that
    // exists but was never confirmed, it also settles who owns it: the password is set to
    // this one and every other session and link ends.
    if let (Some(user), Some(invite_token)) = (&existing, &req.invitation_token) {
        if user.email_verified_at.is_none() {
            if let Some(invite) = invites::find_valid(&state.db, invite_token, now).await? {
                if invite.email == email {
                    let txn = crate::store::begin(&state.db).await?;
                    let mut active = users::Entity::find_by_id(user.id)
                        .one(&txn)
                        .await?
                        .ok_or(ApiError::NotFound("user"))?
                        .into_active_model();
                    active.password_hash = Set(hash.clone());
                    active.name = Set(name.clone());
                    active.email_verified_at = Set(Some(now));
                    active.updated_at = Set(now);
                    active.update(&txn).await?;
                    accounts::void_email_tokens(&txn, user.id, PURPOSE_VERIFY, now).await?;
                    accounts::end_sessions(&txn, user.id, None, "email_verified", now).await?;
                    let user = users::Entity::find_by_id(user.id)
                        .one(&txn)
                        .await?
                        .ok_or(ApiError::NotFound("user"))?;
                    let ev = invites::accept(&txn, &invite, &user, &meta, now).await?;
                    txn.commit().await?;
                    events::announce(state.bus.as_ref(), &[ev]).await;
                    accounts::announce_sessions_ended(&state, user.id).await;
                    invites::announce_joined(&state, &invite, user.id).await;
                    let resp = accounts::sign_in(&state, &user, &meta).await?;
                    return Ok(HttpResponse::Created().json(resp));
                }
            }
        }
    }
    if let (None, Some(invite_token)) = (&existing, &req.invitation_token) {
        if let Some(invite) = invites::find_valid(&state.db, invite_token, now).await? {
            if invite.email == email {
                let txn = crate::store::begin(&state.db).await?;
                let user = insert_user(&txn, &email, &name, hash, Some(now), now).await?;
                let mut evs = vec![record_signup(&txn, &user, &meta).await?];
                evs.push(invites::accept(&txn, &invite, &user, &meta, now).await?);
                txn.commit().await?;
                events::announce(state.bus.as_ref(), &evs).await;
                let resp = accounts::sign_in(&state, &user, &meta).await?;
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
            // Not yet verified: this request does not prove who is asking, so the account's
            // password stays as it is — the new password travels with the new link and is
            // set only if that link is followed.
            accounts::mail_verification(&state, &user, Some((hash, name))).await?;
        }
        None => {
            let txn = crate::store::begin(&state.db).await?;
            let user = insert_user(&txn, &email, &name, hash.clone(), None, now).await?;
            record_signup(&txn, &user, &meta).await?;
            txn.commit().await?;
            accounts::mail_verification(&state, &user, Some((hash, name))).await?;
        }
    }
    Ok(HttpResponse::Accepted().json(MessageResponse {
        message: "Check your inbox: we sent a link to finish signing up.".into(),
    }))
}

/// A new account. Never a super admin: the first one comes from `copydesk admin create` or
/// the setup token (see `crate::setup`).
pub async fn insert_user<C: sea_orm::ConnectionTrait>(
    conn: &C,
    email: &str,
    name: &str,
    password_hash: String,
    verified_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<users::Model, ApiError> {
    Ok(users::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        email: Set(email.to_string()),
        name: Set(name.to_string()),
        password_hash: Set(password_hash),
        email_verified_at: Set(verified_at),
        is_super_admin: Set(false),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

pub async fn record_signup<C: sea_orm::ConnectionTrait>(
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

#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = VerifyRequest,
    responses((status = 200, body = AuthResponse, description = "Verified with the password of that sign-up; every other link and session ended"),
              (status = 400, body = ErrorBody, description = "`invalid_token`, or `password_mismatch`: not the password chosen with this sign-up")))]
pub async fn verify_email(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let now = state.clock.now();
    // Checked before any hashing; spent only once the password matched.
    let link = accounts::find_email_token(&state.db, &req.token, PURPOSE_VERIFY, now).await?;
    let expected = match &link.password_hash {
        Some(h) => h.clone(),
        None => users::Entity::find_by_id(link.user_id.unwrap_or_default())
            .one(&state.db)
            .await?
            .map(|u| u.password_hash)
            .unwrap_or_default(),
    };
    if !accounts::verify_blocking(req.password.clone(), Some(expected)).await? {
        return Err(ApiError::BadRequest(
            "password_mismatch",
            "enter the password you chose when you signed up with this link".into(),
        ));
    }
    let txn = crate::store::begin(&state.db).await?;
    let (token, user) =
        accounts::consume_email_token(&txn, &req.token, PURPOSE_VERIFY, now).await?;
    let user_id = user.id;
    accounts::apply_verification(&txn, &token, user, now).await?;
    // Every other link dies with this one, and whoever held a session before the address
    // was proven loses it.
    accounts::void_email_tokens(&txn, user_id, PURPOSE_VERIFY, now).await?;
    accounts::end_sessions(&txn, user_id, None, "email_verified", now).await?;
    let user = users::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    txn.commit().await?;
    accounts::announce_sessions_ended(&state, user_id).await;
    Ok(HttpResponse::Ok().json(accounts::sign_in(&state, &user, &meta).await?))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "Correct password, email not yet confirmed"),
              (status = 429, body = ErrorBody, description = "Too many attempts; see Retry-After")))]
pub async fn login(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let cfg = &state.settings.auth;
    let email = normalize_email(&req.email).unwrap_or_else(|| req.email.trim().to_lowercase());
    let acct_key = format!("login:acct:{email}");
    let ip_key = accounts::ip_key("login", &meta);
    // Count the attempt before checking the password: parallel guesses cannot get past the
    // limit while the first ones are still being verified.
    let window = std::time::Duration::from_secs(cfg.login_window_secs);
    let acct = state.limiter.hit(&acct_key, window).await;
    let ip = state.limiter.hit(&ip_key, window).await;
    if let Some(retry_after_secs) = acct
        .over(cfg.login_max_failures_per_account)
        .or(ip.over(cfg.login_max_failures_per_ip))
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(&state.db)
        .await?;
    let ok = accounts::verify_blocking(
        req.password.clone(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            return Err(ApiError::Unauthorized(
                "invalid_credentials",
                "email or password is incorrect".into(),
            ));
        }
    };
    // A success clears the account's count (not the IP's).
    state.limiter.reset(&acct_key, window).await;
    if user.email_verified_at.is_none() {
        accounts::mail_verification(&state, &user, None).await?;
        return Err(ApiError::Forbidden(
            "email_not_verified",
            "confirm your email first: we sent you a new link".into(),
        ));
    }
    if let Some(t) = &req.invitation_token {
        let now = state.clock.now();
        if let Some(invite) = invites::find_valid(&state.db, t, now).await? {
            if invite.email == user.email {
                let txn = crate::store::begin(&state.db).await?;
                let ev = invites::accept(&txn, &invite, &user, &meta, now).await?;
                txn.commit().await?;
                events::announce(state.bus.as_ref(), &[ev]).await;
                invites::announce_joined(&state, &invite, user.id).await;
            }
        }
    }
    Ok(HttpResponse::Ok().json(accounts::sign_in(&state, &user, &meta).await?))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    match sessions::rotate(&state.db, &body.refresh_token, &state.settings.auth, now).await? {
        Rotation::Rotated {
            user,
            refresh_token,
            family,
        } => {
            let (access_token, _) =
                state
                    .jwt
                    .issue(user.id, user.token_version, Some(family), now)?;
            Ok(HttpResponse::Ok().json(AuthResponse {
                access_token,
                refresh_token,
                token_type: "Bearer",
                expires_in: state.jwt.ttl_secs(),
                user: (&user).into(),
            }))
        }
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
            accounts::announce_sessions_ended(&state, user_id).await;
            Err(ApiError::Unauthorized(
                "invalid_refresh_token",
                "the refresh token is invalid or expired; sign in again".into(),
            ))
        }
    }
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere; open sockets close (4401)"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
) -> Result<HttpResponse, ApiError> {
    let txn = crate::store::begin(&state.db).await?;
    accounts::end_sessions(&txn, user.id(), None, "logout", state.clock.now()).await?;
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
    accounts::announce_sessions_ended(&state, user.id()).await;
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
    accounts::throttle_email_requests(&state, &meta).await?;
    if let Some(email) = normalize_email(&body.email) {
        if let Some(user) = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(&state.db)
            .await?
        {
            let token = accounts::create_email_token(&state, &user, PURPOSE_RESET, None).await?;
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
    let now = state.clock.now();
    // The link is checked before any hashing: no unauthenticated argon2 work.
    let link = accounts::find_email_token(&state.db, &req.token, PURPOSE_RESET, now).await?;
    if let Some(p) = password::policy_problem(&req.password, &link.email) {
        return Err(ApiError::validation("password", p));
    }
    let hash = accounts::hash_blocking(req.password.clone()).await?;
    let txn = crate::store::begin(&state.db).await?;
    let (_, user) = accounts::consume_email_token(&txn, &req.token, PURPOSE_RESET, now).await?;
    accounts::end_sessions(&txn, user.id, None, "password_reset", now).await?;
    accounts::void_email_tokens(&txn, user.id, PURPOSE_RESET, now).await?;
    let mut active = users::Entity::find_by_id(user.id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("user"))?
        .into_active_model();
    active.password_hash = Set(hash);
    // The link came to the inbox, so the address is proven.
    if user.email_verified_at.is_none() {
        active.email_verified_at = Set(Some(now));
    }
    active.updated_at = Set(now);
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
    accounts::announce_sessions_ended(&state, user.id).await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/users/profile", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn get_profile(user: AuthUser) -> Result<web::Json<UserView>, ApiError> {
    Ok(web::Json((&user.0).into()))
}

#[utoipa::path(put, path = "/api/users/profile", tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = ProfileResponse, description = "Updated. A password change ends every other session and answers a fresh access token for this one"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn update_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
    body: web::Json<ProfileUpdate>,
) -> Result<web::Json<ProfileResponse>, ApiError> {
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
                if !accounts::verify_blocking(cur.clone(), Some(user.0.password_hash.clone()))
                    .await?
                {
                    errs.add("current_password", "is incorrect");
                } else if let Some(p) = password::policy_problem(new_pw, &user.0.email) {
                    errs.add("new_password", p);
                } else {
                    new_hash = Some(accounts::hash_blocking(new_pw.clone()).await?);
                }
            }
        }
    }
    errs.into_result()?;
    let now = state.clock.now();
    let changed_password = new_hash.is_some();
    let txn = crate::store::begin(&state.db).await?;
    if changed_password {
        // Every other sign-in ends; this one goes on with a fresh access token.
        accounts::end_sessions(&txn, user.id(), user.claims().sid, "password_changed", now).await?;
        accounts::void_email_tokens(&txn, user.id(), PURPOSE_RESET, now).await?;
    }
    let mut active = users::Entity::find_by_id(user.id())
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("user"))?
        .into_active_model();
    if let Some(name) = req.name {
        active.name = Set(name.trim().to_string());
    }
    if let Some(h) = new_hash {
        active.password_hash = Set(h);
    }
    active.updated_at = Set(now);
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
    let (access_token, expires_in) = if changed_password {
        accounts::announce_sessions_ended(&state, updated.id).await;
        let (t, _) = state
            .jwt
            .issue(updated.id, updated.token_version, user.claims().sid, now)?;
        (Some(t), Some(state.jwt.ttl_secs()))
    } else {
        (None, None)
    };
    Ok(web::Json(ProfileResponse {
        user: (&updated).into(),
        access_token,
        expires_in,
    }))
}

#[utoipa::path(post, path = "/api/auth/ws-ticket", tag = "auth", security(("bearer" = [])),
    responses((status = 201, body = TicketResponse, description = "A single-use ticket for `?ticket=` on /api/collab and /api/events"),
              (status = 401, body = ErrorBody)))]
pub async fn ws_ticket(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let ticket = tickets::issue(&state, &user.0, tokens::expiry(user.claims())).await?;
    Ok(HttpResponse::Created().json(TicketResponse {
        ticket,
        expires_in: state.settings.auth.ws_ticket_ttl_secs,
    }))
}

#[utoipa::path(get, path = "/api/setup", tag = "setup",
    responses((status = 200, body = SetupStatus)))]
pub async fn setup_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let needed = !crate::setup::has_super_admin(&state.db).await?;
    Ok(HttpResponse::Ok().json(SetupStatus { needed }))
}

#[utoipa::path(post, path = "/api/setup", tag = "setup", request_body = SetupRequest,
    responses((status = 201, body = AuthResponse, description = "The first super admin, verified and signed in"),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "Unknown or used token, or the instance is set up")))]
pub async fn setup(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<SetupRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let check = RegisterRequest {
        email: req.email.clone(),
        password: req.password.clone(),
        name: req.name.clone(),
        invitation_token: None,
    };
    let email = check_new_account(&check)?;
    let user =
        crate::setup::claim_with_token(&state, &req.token, &email, req.name.trim(), &req.password)
            .await?;
    Ok(HttpResponse::Created().json(accounts::sign_in(&state, &user, &meta).await?))
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
            .route("/reset-password", web::post().to(reset_password))
            .route("/ws-ticket", web::post().to(ws_ticket)),
    )
    .service(
        web::resource("/users/profile")
            .route(web::get().to(get_profile))
            .route(web::put().to(update_profile)),
    )
    .service(
        web::resource("/setup")
            .route(web::get().to(setup_status))
            .route(web::post().to(setup)),
    );
}
