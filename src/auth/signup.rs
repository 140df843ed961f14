//! Signing up: new accounts (never super admins), email verification (the link and the
//! password of that sign-up), and sign-up through an invitation (the token proves the
//! address).
//!
//! No account enumeration: registering answers the same whether or not the address has an
//! account, and does the same work (one hash); what differs is only the email the address's
//! owner receives.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use super::accounts::{self, PURPOSE_VERIFY};
use super::extract::RequestMeta;
use super::normalize_email;
use super::password;
use super::views::{AuthResponse, RegisterRequest};
use crate::error::{ApiError, FieldErrors};
use crate::events::catalogue::UserEvent;
use crate::events::{EventType, UnitOfWork};
use crate::mail::Email;
use crate::state::AppState;
use crate::store::entities::users;
use crate::workspaces::invites;

/// Checks a new account's fields; answers the normalised email.
pub fn check_new_account(req: &RegisterRequest) -> Result<String, ApiError> {
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

/// A new account. Never a super admin: the first one comes from `copydesk admin create` or
/// the setup token (see `crate::setup`).
pub async fn insert_user<C: ConnectionTrait>(
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

/// Records `user.registered` for a new account, by that account.
pub async fn record_signup(uow: &mut UnitOfWork<'_>, user: &users::Model) -> Result<(), ApiError> {
    uow.set_actor(Some(user.id));
    uow.record(
        EventType::UserRegistered,
        None,
        ("user", Some(user.id.to_string())),
        &UserEvent {
            user_id: Some(user.id),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// What a registration came to.
pub enum Registered {
    /// Through an invitation to this address: verified, a member, signed in.
    SignedIn(AuthResponse),
    /// Everything else: "check your inbox" (same answer for new and known addresses).
    CheckEmail,
}

pub async fn register(
    state: &AppState,
    meta: &RequestMeta,
    req: RegisterRequest,
) -> Result<Registered, ApiError> {
    let email = check_new_account(&req)?;
    accounts::throttle_email_requests(state, meta).await?;
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
                    let mut uow = UnitOfWork::begin(state, Some(user.id), meta).await?;
                    let mut active = users::Entity::find_by_id(user.id)
                        .one(uow.txn())
                        .await?
                        .ok_or(ApiError::NotFound("user"))?
                        .into_active_model();
                    active.password_hash = Set(hash.clone());
                    active.name = Set(name.clone());
                    active.email_verified_at = Set(Some(now));
                    active.updated_at = Set(now);
                    active.update(uow.txn()).await?;
                    accounts::void_email_tokens(uow.txn(), user.id, PURPOSE_VERIFY, now).await?;
                    accounts::end_sessions(&mut uow, user.id, None, "email_verified").await?;
                    let user = users::Entity::find_by_id(user.id)
                        .one(uow.txn())
                        .await?
                        .ok_or(ApiError::NotFound("user"))?;
                    invites::accept(&mut uow, &invite, &user).await?;
                    uow.commit().await?;
                    let resp = accounts::sign_in(state, &user, meta).await?;
                    return Ok(Registered::SignedIn(resp));
                }
            }
        }
    }
    // For a new address, it creates the account verified and signs in.
    if let (None, Some(invite_token)) = (&existing, &req.invitation_token) {
        if let Some(invite) = invites::find_valid(&state.db, invite_token, now).await? {
            if invite.email == email {
                let mut uow = UnitOfWork::begin(state, None, meta).await?;
                let user = insert_user(uow.txn(), &email, &name, hash, Some(now), now).await?;
                record_signup(&mut uow, &user).await?;
                invites::accept(&mut uow, &invite, &user).await?;
                uow.commit().await?;
                let resp = accounts::sign_in(state, &user, meta).await?;
                return Ok(Registered::SignedIn(resp));
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
            accounts::mail_verification(state, &user, Some((hash, name))).await?;
        }
        None => {
            let mut uow = UnitOfWork::begin(state, None, meta).await?;
            let user = insert_user(uow.txn(), &email, &name, hash.clone(), None, now).await?;
            record_signup(&mut uow, &user).await?;
            uow.commit().await?;
            accounts::mail_verification(state, &user, Some((hash, name))).await?;
        }
    }
    Ok(Registered::CheckEmail)
}

/// Follows a verification link with the password chosen at that sign-up (or, for a link
/// sent at sign-in, the account's): the address is proven, the password and name chosen
/// with the link are set, every other link dies, and every other session of the account
/// ends.
pub async fn verify_email(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &str,
) -> Result<AuthResponse, ApiError> {
    let now = state.clock.now();
    // Checked before any hashing; spent only once the password matched.
    let link = accounts::find_email_token(&state.db, token, PURPOSE_VERIFY, now).await?;
    let expected = match &link.password_hash {
        Some(h) => h.clone(),
        None => users::Entity::find_by_id(link.user_id.unwrap_or_default())
            .one(&state.db)
            .await?
            .map(|u| u.password_hash)
            .unwrap_or_default(),
    };
    if !accounts::verify_blocking(password.to_string(), Some(expected)).await? {
        return Err(ApiError::BadRequest(
            "password_mismatch",
            "enter the password you chose when you signed up with this link".into(),
        ));
    }
    let mut uow = UnitOfWork::begin(state, None, meta).await?;
    let now = uow.now();
    let (token, user) =
        accounts::consume_email_token(uow.txn(), token, PURPOSE_VERIFY, now).await?;
    let user_id = user.id;
    accounts::apply_verification(uow.txn(), &token, user, now).await?;
    // Every other link dies with this one, and whoever held a session before the address
    // was proven loses it.
    accounts::void_email_tokens(uow.txn(), user_id, PURPOSE_VERIFY, now).await?;
    accounts::end_sessions(&mut uow, user_id, None, "email_verified").await?;
    let user = users::Entity::find_by_id(user_id)
        .one(uow.txn())
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    uow.commit().await?;
    accounts::sign_in(state, &user, meta).await
}
