//! Request and response bodies of the version history API.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
pub struct Author {
    pub id: Uuid,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct VersionView {
    pub id: Uuid,
    pub post_id: Uuid,
    pub name: Option<String>,
    /// `auto`, `named`, `restore` (the state just before a restore), and later `submit`,
    /// `approve`, `publish`.
    pub kind: String,
    pub created_by: Option<Author>,
    pub created_at: chrono::DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionContent {
    pub title: String,
    pub caption: String,
    #[schema(value_type = Object)]
    pub platform_content: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub version: VersionView,
    pub content: VersionContent,
}

#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub items: Vec<VersionView>,
}

#[derive(Deserialize, ToSchema)]
pub struct VersionCreate {
    pub name: String,
}

#[derive(Serialize, ToSchema, PartialEq, Debug)]
pub struct DiffOp {
    /// `equal`, `insert` (in the current text) or `delete` (only in the version).
    pub op: &'static str,
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct FieldDiff {
    /// `title`, `caption` or `content:<platform>`.
    pub field: String,
    pub before: String,
    pub after: String,
    pub changes: Vec<DiffOp>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDiff {
    pub fields: Vec<FieldDiff>,
}
