//! What the posts API reads and answers: [`PostView`], [`PostInput`], [`ValidationResponse`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::content::{MediaRef, PlatformContent, PostContent, ValidationReport};
use super::status::PostStatus;
use crate::store::entities::posts;

#[derive(Serialize, ToSchema)]
pub struct PostView {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub title: String,
    pub caption: String,
    #[schema(example = json!(["x", "linkedin"]))]
    pub platforms: Vec<String>,
    pub platform_content: BTreeMap<String, PlatformContent>,
    pub media: Vec<MediaRef>,
    pub tags: Vec<String>,
    pub campaign: Option<String>,
    pub labels: Vec<String>,
    pub status: PostStatus,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Shared with the workspace's clients.
    pub client_visible: bool,
    /// Problems per selected platform; empty lists mean ready for that platform.
    #[schema(value_type = Object)]
    pub validation: ValidationReport,
    pub is_valid: bool,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A JSON list of strings stored on the row (`platforms`, `tags`, `labels`).
pub(crate) fn strings(v: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

impl From<&posts::Model> for PostView {
    fn from(p: &posts::Model) -> Self {
        let c = PostContent::from_json(&p.content);
        Self {
            id: p.id,
            workspace_id: p.workspace_id,
            title: p.title.clone(),
            caption: c.caption,
            platforms: strings(&p.platforms),
            platform_content: c.platform_content,
            media: c.media,
            tags: strings(&p.tags),
            campaign: p.campaign.clone(),
            labels: strings(&p.labels),
            status: PostStatus::from_db(&p.status),
            scheduled_at: p.scheduled_at,
            client_visible: p.client_visible,
            validation: serde_json::from_value(p.validation.clone()).unwrap_or_default(),
            is_valid: p.is_valid,
            created_by: p.created_by,
            updated_by: p.updated_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Distinguishes an absent field (keep) from `null` (clear) in updates.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A post to create, or the fields to change (every field optional on update; `null`
/// clears `campaign` and `scheduled_at`).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    pub title: Option<String>,
    pub caption: Option<String>,
    pub platforms: Option<Vec<String>>,
    pub platform_content: Option<BTreeMap<String, PlatformContent>>,
    pub media: Option<Vec<MediaRef>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub campaign: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    /// `draft` or `archived`.
    pub status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub scheduled_at: Option<Option<DateTime<Utc>>>,
    pub client_visible: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ValidationResponse {
    #[schema(value_type = Object)]
    pub validation: ValidationReport,
    pub is_valid: bool,
    /// Each selected platform's rules (lengths, limits, required fields) for counters.
    #[schema(value_type = Object)]
    pub rules: BTreeMap<String, serde_json::Value>,
}
