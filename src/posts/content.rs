//! The post content model — the one place that knows how a post's text is held.
//!
//! Today the content is a JSON document on the post row: a shared caption, per-platform
//! overrides (text, hashtags, mentions, custom fields) and media references. Issue #3 moves
//! it into a live Yjs document; only this module changes then. Everything derived from the
//! content (validation per platform, search text) is computed here too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platforms::{self, MediaKind, Platform, PlatformDraft, Problem};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PlatformContent {
    /// Replaces the shared caption on this platform when set.
    pub text: Option<String>,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    /// Platform-specific fields, e.g. YouTube `title`, Pinterest `board_id`.
    pub fields: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaRef {
    /// An http(s) URL or a `media:<uuid>` reference to an uploaded file.
    pub url: String,
    #[schema(value_type = String, example = "image")]
    pub kind: MediaKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
}

/// The stored content document (`posts.content`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostContent {
    pub caption: String,
    pub platform_content: BTreeMap<String, PlatformContent>,
    pub media: Vec<MediaRef>,
}

pub type ValidationReport = BTreeMap<String, Vec<Problem>>;

impl PostContent {
    pub fn from_json(v: &serde_json::Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("content serialises")
    }

    /// Problems per selected platform (every selected platform has an entry, maybe empty).
    pub fn validate(&self, platforms: &[Platform]) -> ValidationReport {
        let empty = PlatformContent::default();
        let kinds: Vec<MediaKind> = self.media.iter().map(|m| m.kind).collect();
        platforms
            .iter()
            .map(|p| {
                let pc = self.platform_content.get(p.as_str()).unwrap_or(&empty);
                let draft = PlatformDraft {
                    text: pc.text.as_deref().unwrap_or(&self.caption),
                    hashtags: &pc.hashtags,
                    mentions: &pc.mentions,
                    fields: &pc.fields,
                    media: &kinds,
                };
                (p.as_str().to_string(), platforms::validate(*p, &draft))
            })
            .collect()
    }

    /// Lowercased text searched by `?q=`: title, caption, overrides and hashtags.
    pub fn search_text(&self, title: &str, extra: &[&str]) -> String {
        let mut parts: Vec<&str> = vec![title, &self.caption];
        for pc in self.platform_content.values() {
            if let Some(t) = &pc.text {
                parts.push(t);
            }
            parts.extend(pc.hashtags.iter().map(String::as_str));
        }
        parts.extend_from_slice(extra);
        parts.join("\n").to_lowercase()
    }
}

pub fn is_valid(report: &ValidationReport) -> bool {
    report.values().all(Vec::is_empty)
}
