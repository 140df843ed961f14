//! What `/api/auth/*` and `/api/users/*` take and answer.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::entities::users;

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

/// Confirming an address: the emailed link's token and the password chosen at sign-up.
/// The password proves that whoever follows the link also made the sign-up it belongs to,
/// so a link that someone else's sign-up sent to your inbox cannot set their password.
#[derive(Deserialize, ToSchema)]
pub struct VerifyRequest {
    pub token: String,
    pub password: String,
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

/// The profile after an update. A password change ends every other session and voids the
/// caller's access token too, so it carries a fresh one for this session.
#[derive(Serialize, ToSchema)]
pub struct ProfileResponse {
    #[serde(flatten)]
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// A single-use ticket for a WebSocket URL (`?ticket=`).
#[derive(Serialize, ToSchema)]
pub struct TicketResponse {
    pub ticket: String,
    /// Seconds the ticket stays usable.
    pub expires_in: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// Whether the instance still needs its first super admin.
    pub needed: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct SetupRequest {
    /// The one-time setup token printed in the server log at first start.
    pub token: String,
    pub email: String,
    pub password: String,
    pub name: String,
}
