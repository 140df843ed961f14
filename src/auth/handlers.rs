//! `/api/auth/*`, `/api/users/profile` and `/api/setup`: HTTP only — the rules live in
//! [`super::signup`], [`super::credentials`], [`super::accounts`], [`super::sessions`],
//! [`super::tickets`] and [`crate::setup`].
//!
//! No account enumeration: register, forgot-password and failed logins answer identically
//! (status, body, and work done — every path hashes or verifies once) whether or not the
//! email has an account; what differs is only the email the address's owner receives.

use actix_web::{web, HttpResponse};

use super::accounts;
use super::credentials;
use super::extract::{AuthUser, RequestMeta};
use super::signup::{self, Registered};
pub use super::views::*;
use super::{tickets, tokens};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = MessageResponse, description = "Check your email (same answer for new and known emails)"),
              (status = 201, body = AuthResponse, description = "Signed up through an invitation"),
              (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(
        match signup::register(&state, &meta, body.into_inner()).await? {
            Registered::SignedIn(resp) => HttpResponse::Created().json(resp),
            Registered::CheckEmail => HttpResponse::Accepted().json(MessageResponse {
                message: "Check your inbox: we sent a link to finish signing up.".into(),
            }),
        },
    )
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
    let resp = signup::verify_email(&state, &meta, &req.token, &req.password).await?;
    Ok(HttpResponse::Ok().json(resp))
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
    Ok(HttpResponse::Ok().json(credentials::login(&state, &meta, body.into_inner()).await?))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(credentials::refresh(&state, &meta, &body.refresh_token).await?))
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere; open sockets close (4401)"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    user: AuthUser,
    meta: RequestMeta,
) -> Result<HttpResponse, ApiError> {
    credentials::logout(&state, &user, &meta).await?;
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
    credentials::forgot_password(&state, &meta, &body.email).await?;
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
    credentials::reset_password(&state, &meta, &body.token, &body.password).await?;
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
    let resp = credentials::update_profile(&state, &user, &meta, body.into_inner()).await?;
    Ok(web::Json(resp))
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
    let email = signup::check_new_account(&check)?;
    let user = crate::setup::claim_with_token(
        &state,
        &meta,
        &req.token,
        &email,
        req.name.trim(),
        &req.password,
    )
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
