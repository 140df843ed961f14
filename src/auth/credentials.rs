//! Signing in and out, refreshing, and passwords (reset by link, changed in the profile).
//! Every write is one [`UnitOfWork`]; ending sessions is announced after it commits, so
//! open sockets of the account re-check and close.
//!
//! No account enumeration: failed logins and forgot-password answer identically (status,
//! body, and work done — every path hashes or verifies once) whether or not the email has
//! an account.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

use super::accounts::{self, PURPOSE_RESET};
use super::extract::{AuthUser, RequestMeta};
use super::sessions::{self, Rotation};
use super::views::{AuthResponse, LoginRequest, ProfileResponse, ProfileUpdate};
use super::{normalize_email, password};
use crate::access::AccessChange;
use crate::error::{ApiError, FieldErrors};
use crate::events::catalogue::UserEvent;
use crate::events::{EventType, UnitOfWork};
use crate::mail::Email;
use crate::state::AppState;
use crate::store::entities::users;
use crate::workspaces::invites;

fn user_target(user_id: uuid::Uuid) -> crate::events::Target {
    ("user", Some(user_id.to_string()))
}

/// Checks the password with throttling (per account and per IP, counted before checking,
/// so parallel guesses cannot get past the limit); accepts the invitation passed along when
/// it is for this address; signs in.
pub async fn login(
    state: &AppState,
    meta: &RequestMeta,
    req: LoginRequest,
) -> Result<AuthResponse, ApiError> {
    let cfg = &state.settings.auth;
    let email = normalize_email(&req.email).unwrap_or_else(|| req.email.trim().to_lowercase());
    let acct_key = format!("login:acct:{email}");
    let ip_key = accounts::ip_key("login", meta);
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
        accounts::mail_verification(state, &user, None).await?;
        return Err(ApiError::Forbidden(
            "email_not_verified",
            "confirm your email first: we sent you a new link".into(),
        ));
    }
    if let Some(t) = &req.invitation_token {
        if let Some(invite) = invites::find_valid(&state.db, t, state.clock.now()).await? {
            if invite.email == user.email {
                let mut uow = UnitOfWork::begin(state, Some(user.id), meta).await?;
                invites::accept(&mut uow, &invite, &user).await?;
                uow.commit().await?;
            }
        }
    }
    accounts::sign_in(state, &user, meta).await
}

/// Rotates a refresh token. A replayed one revokes its family (`session.reuse_detected`,
/// in the same transaction) and every open socket of the account re-checks.
pub async fn refresh(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
) -> Result<AuthResponse, ApiError> {
    let invalid = || {
        ApiError::Unauthorized(
            "invalid_refresh_token",
            "the refresh token is invalid or expired; sign in again".into(),
        )
    };
    let mut uow = UnitOfWork::begin(state, None, meta).await?;
    let now = uow.now();
    match sessions::rotate(uow.txn(), token, &state.settings.auth, now).await? {
        Rotation::Rotated {
            user,
            refresh_token,
            family,
        } => {
            uow.commit().await?;
            let (access_token, _) =
                state
                    .jwt
                    .issue(user.id, user.token_version, Some(family), now)?;
            Ok(AuthResponse {
                access_token,
                refresh_token,
                token_type: "Bearer",
                expires_in: state.jwt.ttl_secs(),
                user: (&user).into(),
            })
        }
        Rotation::ReuseDetected { user_id } => {
            tracing::warn!(%user_id, "refresh token reuse detected; family revoked");
            uow.set_actor(Some(user_id));
            uow.record(
                EventType::SessionReuseDetected,
                None,
                user_target(user_id),
                &UserEvent {
                    user_id: Some(user_id),
                    ..Default::default()
                },
            )
            .await?;
            uow.access_changed(AccessChange::User { user_id });
            uow.commit().await?;
            Err(invalid())
        }
        Rotation::Expired => {
            uow.commit().await?;
            Err(invalid())
        }
    }
}

/// Signs the user out everywhere (`user.logged_out`).
pub async fn logout(state: &AppState, user: &AuthUser, meta: &RequestMeta) -> Result<(), ApiError> {
    let mut uow = UnitOfWork::begin(state, Some(user.id()), meta).await?;
    accounts::end_sessions(&mut uow, user.id(), None, "logout").await?;
    uow.record(
        EventType::UserLoggedOut,
        None,
        user_target(user.id()),
        &UserEvent::default(),
    )
    .await?;
    uow.commit().await?;
    Ok(())
}

/// Mails a reset link when the address has an account (the answer never tells).
pub async fn forgot_password(
    state: &AppState,
    meta: &RequestMeta,
    email: &str,
) -> Result<(), ApiError> {
    accounts::throttle_email_requests(state, meta).await?;
    let Some(email) = normalize_email(email) else {
        return Ok(());
    };
    let Some(user) = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(&state.db)
        .await?
    else {
        return Ok(());
    };
    let token = accounts::create_email_token(state, &user, PURPOSE_RESET, None).await?;
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
    Ok(())
}

/// Sets a new password through an emailed link (`user.password_reset`); every session ends.
pub async fn reset_password(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    new_password: &str,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    // The link is checked before any hashing: no unauthenticated argon2 work.
    let link = accounts::find_email_token(&state.db, token, PURPOSE_RESET, now).await?;
    if let Some(p) = password::policy_problem(new_password, &link.email) {
        return Err(ApiError::validation("password", p));
    }
    let hash = accounts::hash_blocking(new_password.to_string()).await?;
    let mut uow = UnitOfWork::begin(state, None, meta).await?;
    let now = uow.now();
    let (_, user) = accounts::consume_email_token(uow.txn(), token, PURPOSE_RESET, now).await?;
    uow.set_actor(Some(user.id));
    accounts::end_sessions(&mut uow, user.id, None, "password_reset").await?;
    accounts::void_email_tokens(uow.txn(), user.id, PURPOSE_RESET, now).await?;
    let mut active = users::Entity::find_by_id(user.id)
        .one(uow.txn())
        .await?
        .ok_or(ApiError::NotFound("user"))?
        .into_active_model();
    active.password_hash = Set(hash);
    // The link came to the inbox, so the address is proven.
    if user.email_verified_at.is_none() {
        active.email_verified_at = Set(Some(now));
    }
    active.updated_at = Set(now);
    active.update(uow.txn()).await?;
    uow.record(
        EventType::UserPasswordReset,
        None,
        user_target(user.id),
        &UserEvent::default(),
    )
    .await?;
    uow.commit().await?;
    Ok(())
}

/// Changes the name and/or the password (`user.profile_updated`). A password change ends
/// every other session and answers a fresh access token for this one.
pub async fn update_profile(
    state: &AppState,
    user: &AuthUser,
    meta: &RequestMeta,
    req: ProfileUpdate,
) -> Result<ProfileResponse, ApiError> {
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
    let changed_password = new_hash.is_some();
    let mut uow = UnitOfWork::begin(state, Some(user.id()), meta).await?;
    let now = uow.now();
    if changed_password {
        // Every other sign-in ends; this one goes on with a fresh access token.
        let keep = user.claims().sid;
        accounts::end_sessions(&mut uow, user.id(), keep, "password_changed").await?;
        accounts::void_email_tokens(uow.txn(), user.id(), PURPOSE_RESET, now).await?;
    }
    let mut active = users::Entity::find_by_id(user.id())
        .one(uow.txn())
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
    let updated = active.update(uow.txn()).await?;
    uow.record(
        EventType::UserProfileUpdated,
        None,
        user_target(updated.id),
        &UserEvent {
            password_changed: Some(changed_password),
            ..Default::default()
        },
    )
    .await?;
    uow.commit().await?;
    let (access_token, expires_in) = if changed_password {
        let (t, _) = state
            .jwt
            .issue(updated.id, updated.token_version, user.claims().sid, now)?;
        (Some(t), Some(state.jwt.ttl_secs()))
    } else {
        (None, None)
    };
    Ok(ProfileResponse {
        user: (&updated).into(),
        access_token,
        expires_in,
    })
}
