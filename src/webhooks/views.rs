//! Request and response bodies of the webhooks API.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::entities::{attempts, endpoints, messages};

/// An endpoint. `secret` is only present when just created, revealed or rotated.
#[derive(Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub url: String,
    pub description: String,
    /// Catalogue event types or `prefix.*` patterns; empty: every event.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it (`410 Gone`, failing for 5 days), if it did.
    pub disabled_reason: Option<String>,
    /// Sends per second; absent: no limit.
    pub rate_limit: Option<i32>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Until when the previous secret still signs alongside (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Failing continuously since (cleared by a success).
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointView {
    pub fn new(e: &endpoints::Model, now: DateTime<Utc>) -> Self {
        Self {
            id: e.id,
            workspace_id: e.workspace_id,
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: serde_json::from_value(e.event_types.clone()).unwrap_or_default(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            rate_limit: e.rate_limit,
            headers: serde_json::from_value(e.headers.clone()).unwrap_or_default(),
            previous_secret_expires_at: e.old_secret_expires_at.filter(|t| *t > now),
            failing_since: e.failing_since,
            secret: None,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }

    pub fn with_secret(mut self, secret: String) -> Self {
        self.secret = Some(secret);
        self
    }
}

#[derive(Deserialize, ToSchema)]
pub struct EndpointCreate {
    /// http(s) URL; its host must not be or resolve to a private or reserved address.
    pub url: String,
    /// Catalogue event types or `prefix.*` patterns (`post.*`); empty or absent: every event.
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Default true.
    pub enabled: Option<bool>,
    /// Sends per second, 1–1000; absent: no limit.
    pub rate_limit: Option<i32>,
    /// Extra request headers (not `webhook-*`, `host`, `content-*` and other transport headers).
    pub headers: Option<BTreeMap<String, String>>,
}

/// Every field optional; `rate_limit: null` removes the limit.
#[derive(Deserialize, ToSchema)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Enabling clears `disabled_reason` and the failure streak.
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub rate_limit: Option<Option<i32>>,
    pub headers: Option<BTreeMap<String, String>>,
}

fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct SecretView {
    pub secret: String,
    /// After a rotation: until when the previous secret still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    /// `msg_…`, sent as `webhook-id` on every attempt.
    pub id: String,
    pub endpoint_id: Uuid,
    pub event_id: Option<Uuid>,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The body as sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MessageView {
    pub fn new(m: &messages::Model) -> Self {
        Self {
            id: m.id.clone(),
            endpoint_id: m.endpoint_id,
            event_id: m.event_id,
            event_type: m.event_type.clone(),
            status: m.status.clone(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            payload: serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::Null),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// Pass as `before` for the next (older) page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub id: Uuid,
    pub attempt: i32,
    /// `succeeded` or `failed`.
    pub status: String,
    pub http_status: Option<i32>,
    /// The start of the response body (at most 1 KB).
    pub response: String,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When the next attempt is due (none after the last, or a success).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl AttemptView {
    pub fn new(a: &attempts::Model) -> Self {
        Self {
            id: a.id,
            attempt: a.attempt,
            status: a.status.clone(),
            http_status: a.http_status,
            response: a.response.clone(),
            error: a.error.clone(),
            duration_ms: a.duration_ms,
            next_attempt_at: a.next_attempt_at,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttemptList {
    pub items: Vec<AttemptView>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReplayRequest {
    /// Every event since this time (RFC 3339) that the endpoint's filter matches is sent again, as new messages.
    pub since: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayResponse {
    /// Messages created.
    pub messages: u64,
}

/// Over the endpoint's most recent attempts (at most 1,000).
#[derive(Serialize, ToSchema)]
pub struct EndpointStats {
    pub attempts: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// `succeeded / attempts` (null without attempts).
    pub success_rate: Option<f64>,
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
    /// Messages not yet delivered nor given up.
    pub pending_messages: u64,
}

/// Where a message stands.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Pending,
    Succeeded,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Succeeded => "succeeded",
            MessageStatus::Failed => "failed",
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct MessageQuery {
    pub status: Option<MessageStatus>,
    /// 1–100, default 50.
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub before: Option<String>,
}
