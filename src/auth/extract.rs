//! Request extractors: the signed-in user, and who/where a request came from (for audit).

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use sea_orm::EntityTrait;

use super::tokens::Claims;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::entities::users;

/// The authenticated user: a valid access JWT whose `ver` still matches the account's
/// `token_version` (so logout and password reset void tokens already handed out), and the
/// token's claims.
pub struct AuthUser(pub users::Model, pub Claims);

impl AuthUser {
    pub fn id(&self) -> uuid::Uuid {
        self.0.id
    }

    pub fn claims(&self) -> &Claims {
        &self.1
    }
}

/// The bearer token from `Authorization`. (WebSockets use tickets, see `auth::tickets`.)
pub fn bearer(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    None
}

pub async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<(users::Model, Claims), ApiError> {
    let claims = state.jwt.verify(token, state.clock.now()).ok_or_else(|| {
        ApiError::Unauthorized(
            "invalid_token",
            "the access token is invalid or expired".into(),
        )
    })?;
    let user = users::Entity::find_by_id(claims.sub).one(&state.db).await?;
    match user {
        Some(u) if u.token_version == claims.ver => Ok((u, claims)),
        _ => Err(ApiError::Unauthorized(
            "invalid_token",
            "the access token is no longer valid; sign in again".into(),
        )),
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("state missing")))?;
            let token = token.ok_or_else(ApiError::unauthenticated)?;
            let (user, claims) = authenticate(&state, &token).await?;
            Ok(AuthUser(user, claims))
        })
    }
}

/// Where a request came from, for the audit log and per-IP throttling.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn from_request(req: &HttpRequest) -> Self {
        let trust_proxy = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.server.trust_proxy)
            .unwrap_or(false);
        let info = req.connection_info();
        let ip = if trust_proxy {
            info.realip_remote_addr().map(str::to_string)
        } else {
            req.peer_addr().map(|a| a.ip().to_string())
        };
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        Self { ip, user_agent }
    }
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(RequestMeta::from_request(req)))
    }
}
