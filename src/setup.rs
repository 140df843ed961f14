//! The first super admin.
//!
//! Nobody becomes super admin by registering. A fresh instance gets one either from the
//! operator's shell (`copydesk admin create --email … --name …`, password from
//! `COPYDESK_ADMIN_PASSWORD` or stdin) or through a one-time setup token that the server
//! prints to stderr at start while no super admin exists (`/setup?token=…` in the web app,
//! `POST /api/setup` in the API). Claiming a token spends every outstanding token in the
//! same transaction, so two simultaneous claims — even with tokens printed by two nodes —
//! can never both succeed.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use uuid::Uuid;

use crate::auth::extract::RequestMeta;
use crate::auth::signup::record_signup;
use crate::auth::{normalize_email, password, tokens};
use crate::error::ApiError;
use crate::events::UnitOfWork;
use crate::state::AppState;
use crate::store::entities::{setup_tokens, users};

pub async fn has_super_admin<C: ConnectionTrait>(db: &C) -> Result<bool, ApiError> {
    Ok(users::Entity::find()
        .filter(users::Column::IsSuperAdmin.eq(true))
        .count(db)
        .await?
        > 0)
}

/// A fresh setup token when the instance has no super admin yet (stored hashed).
pub async fn issue_token_if_needed(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Option<String>, ApiError> {
    if has_super_admin(db).await? {
        return Ok(None);
    }
    let (token, hash) = tokens::opaque();
    setup_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(hash),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Some(token))
}

/// Spends every outstanding setup token.
async fn spend_all<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<(), ApiError> {
    setup_tokens::Entity::update_many()
        .col_expr(setup_tokens::Column::UsedAt, Expr::value(now))
        .filter(setup_tokens::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Creates the first super admin with a setup token: 404 for an unknown or spent token, or
/// once a super admin exists.
pub async fn claim_with_token(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    email: &str,
    name: &str,
    pw: &str,
) -> Result<users::Model, ApiError> {
    let now = state.clock.now();
    let live = setup_tokens::Entity::find()
        .filter(setup_tokens::Column::TokenHash.eq(tokens::hash_opaque(token)))
        .filter(setup_tokens::Column::UsedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("setup token"))?;
    let hash = crate::auth::accounts::hash_blocking(pw.to_string()).await?;
    let mut uow = UnitOfWork::begin(state, None, meta).await?;
    let txn = uow.txn();
    let claimed = setup_tokens::Entity::update_many()
        .col_expr(setup_tokens::Column::UsedAt, Expr::value(now))
        .filter(setup_tokens::Column::Id.eq(live.id))
        .filter(setup_tokens::Column::UsedAt.is_null())
        .exec(txn)
        .await?
        .rows_affected
        == 1;
    if !claimed || has_super_admin(txn).await? {
        return Err(ApiError::NotFound("setup token"));
    }
    spend_all(txn, now).await?;
    let taken = users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .count(txn)
        .await?
        > 0;
    if taken {
        return Err(ApiError::Conflict(
            "email_taken",
            "an account with that email exists; run `copydesk admin create` to promote it".into(),
        ));
    }
    let user = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.to_string()),
        name: Set(name.to_string()),
        password_hash: Set(hash),
        email_verified_at: Set(Some(now)),
        is_super_admin: Set(true),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    record_signup(&mut uow, &user).await?;
    uow.commit().await?;
    tracing::info!(user_id = %user.id, "first super admin created with the setup token");
    Ok(user)
}

/// `copydesk admin create`: makes `email` a verified super admin with `pw`, creating the
/// account or promoting an existing one, and spends outstanding setup tokens.
pub async fn create_super_admin(
    db: &DatabaseConnection,
    email: &str,
    name: &str,
    pw: &str,
) -> anyhow::Result<Uuid> {
    let email = normalize_email(email)
        .ok_or_else(|| anyhow::anyhow!("not a valid email address: {email}"))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        anyhow::bail!("the name must be 1–100 characters");
    }
    if let Some(p) = password::policy_problem(pw, &email) {
        anyhow::bail!("password {p}");
    }
    let hash = password::hash(pw)?;
    let now = Utc::now();
    let txn = crate::store::begin(db).await?;
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(&txn)
        .await?;
    let id = match existing {
        Some(u) => {
            let id = u.id;
            let mut a = u.into_active_model();
            a.is_super_admin = Set(true);
            a.password_hash = Set(hash);
            a.email_verified_at = Set(Some(now));
            a.token_version = Set(a.token_version.as_ref() + 1);
            a.updated_at = Set(now);
            a.update(&txn).await?;
            id
        }
        None => {
            users::ActiveModel {
                id: Set(Uuid::now_v7()),
                email: Set(email.clone()),
                name: Set(name.to_string()),
                password_hash: Set(hash),
                email_verified_at: Set(Some(now)),
                is_super_admin: Set(true),
                token_version: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
            .id
        }
    };
    spend_all(&txn, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    txn.commit().await?;
    Ok(id)
}
