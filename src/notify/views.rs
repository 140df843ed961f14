//! Request and response bodies of the notify API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::types::NotificationType;

/// Who caused a notification: a member, or a guest through a review link (no `user_id`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NotificationActor {
    pub user_id: Option<Uuid>,
    pub name: String,
}

/// One in-app notification.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub workspace_id: Uuid,
    pub post_id: Option<Uuid>,
    pub title: String,
    pub body: String,
    /// Where it leads in the web app, e.g. `/w/<workspace>/posts/<post>`.
    pub url: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub actor: Option<NotificationActor>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<NotificationView>,
    /// Pass as `before` for the next (older) page; `null` at the end.
    pub next_before: Option<String>,
    pub unread_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked: i64,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only unread notifications.
    pub unread: Option<bool>,
    /// 1–100 (default 50).
    pub limit: Option<u64>,
    /// `next_before` of the previous page.
    pub before: Option<String>,
}

/// One type's channels.
#[derive(Serialize, ToSchema)]
pub struct PreferenceView {
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub label: String,
    pub in_app: bool,
    pub email: bool,
    pub push: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Preferences {
    pub types: Vec<PreferenceView>,
    /// `off`: emails as things happen; `daily`: one digest a day instead.
    pub email_digest: String,
}

/// One type's channels to change (omitted channels keep their value).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PreferenceInput {
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// Ignored (the GET shape may be sent back as it is).
    pub label: Option<String>,
    pub in_app: Option<bool>,
    pub email: Option<bool>,
    pub push: Option<bool>,
}

/// `PUT /api/notifications/preferences`: the GET shape, every part optional. An unknown type
/// or channel answers 422.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PreferencesUpdate {
    pub types: Option<Vec<PreferenceInput>>,
    pub email_digest: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VapidPublicKey {
    /// The application server key for `PushManager.subscribe` (base64url, uncompressed P-256).
    pub public_key: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key: base64url of a 65-byte uncompressed point.
    pub p256dh: String,
    /// The browser's authentication secret: base64url of 16 bytes.
    pub auth: String,
}

/// A browser's `PushSubscription.toJSON()` (plus an optional label).
#[derive(Deserialize, ToSchema)]
pub struct SubscriptionCreate {
    /// The push service URL (https).
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    pub user_agent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: Uuid,
    /// Scheme, host and port of the push service (the full endpoint is a capability).
    pub endpoint_origin: String,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<SubscriptionView>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The signed token from the email's unsubscribe link.
    pub token: String,
}
