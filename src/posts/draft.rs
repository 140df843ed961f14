//! A post's editable fields as one value: an input applied to a base (checking every
//! field), the live document's text laid over it, and everything derived from it written
//! onto the row.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use copydesk_actors::doc::ContentEdit;
use copydesk_actors::ports::DocContent;
use sea_orm::Set;
use serde_json::json;

use super::content::{self, PostContent, ValidationReport};
use super::listing;
use super::status::{can_transition, settable_by_edit, PostStatus, Transition};
use super::views::{strings, PostInput};
use crate::error::{ApiError, FieldErrors};
use crate::platforms::Platform;
use crate::store::entities::posts;

/// The post's editable fields after applying an input to a base.
#[derive(Clone)]
pub(crate) struct Draft {
    pub(crate) title: String,
    pub(crate) content: PostContent,
    pub(crate) platforms: Vec<Platform>,
    pub(crate) tags: Vec<String>,
    pub(crate) campaign: Option<String>,
    pub(crate) labels: Vec<String>,
    pub(crate) status: PostStatus,
    pub(crate) scheduled_at: Option<DateTime<Utc>>,
    pub(crate) client_visible: bool,
}

impl Draft {
    pub(crate) fn empty() -> Self {
        Self {
            title: String::new(),
            content: PostContent::default(),
            platforms: Vec::new(),
            tags: Vec::new(),
            campaign: None,
            labels: Vec::new(),
            status: PostStatus::Draft,
            scheduled_at: None,
            client_visible: false,
        }
    }

    pub(crate) fn from_model(p: &posts::Model) -> Self {
        Self {
            title: p.title.clone(),
            content: PostContent::from_json(&p.content),
            platforms: strings(&p.platforms)
                .iter()
                .filter_map(|s| Platform::parse(s))
                .collect(),
            tags: strings(&p.tags),
            campaign: p.campaign.clone(),
            labels: strings(&p.labels),
            status: PostStatus::from_db(&p.status),
            scheduled_at: p.scheduled_at,
            client_visible: p.client_visible,
        }
    }

    /// Applies `input`, collecting every field problem.
    pub(crate) fn apply(mut self, input: PostInput) -> Result<Self, ApiError> {
        let mut errs = FieldErrors::default();
        if let Some(t) = input.title {
            errs.check(
                t.chars().count() <= 200,
                "title",
                "must be at most 200 characters",
            );
            self.title = t.trim().to_string();
        }
        if let Some(c) = input.caption {
            errs.check(
                c.chars().count() <= 100_000,
                "caption",
                "must be at most 100,000 characters",
            );
            self.content.caption = c;
        }
        if let Some(ps) = input.platforms {
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for p in &ps {
                match Platform::parse(p) {
                    Some(pl) if seen.insert(pl) => out.push(pl),
                    Some(_) => {}
                    None => errs.add(
                        "platforms",
                        format!("unknown platform {p:?}; known: {}", known_platforms()),
                    ),
                }
            }
            self.platforms = out;
        }
        if let Some(pc) = input.platform_content {
            for (k, v) in &pc {
                if Platform::parse(k).is_none() {
                    errs.add(
                        format!("platform_content.{k}"),
                        format!("unknown platform; known: {}", known_platforms()),
                    );
                }
                if v.text.as_ref().is_some_and(|t| t.chars().count() > 100_000) {
                    errs.add(
                        format!("platform_content.{k}.text"),
                        "must be at most 100,000 characters",
                    );
                }
                errs.check(
                    v.hashtags.len() <= 100,
                    &format!("platform_content.{k}.hashtags"),
                    "at most 100 hashtags",
                );
                errs.check(
                    v.mentions.len() <= 100,
                    &format!("platform_content.{k}.mentions"),
                    "at most 100 mentions",
                );
                errs.check(
                    v.fields.len() <= 50
                        && v.fields
                            .iter()
                            .all(|(k, v)| k.len() <= 64 && v.chars().count() <= 5_000),
                    &format!("platform_content.{k}.fields"),
                    "at most 50 fields, names up to 64 and values up to 5,000 characters",
                );
            }
            self.content.platform_content = pc;
        }
        if let Some(media) = input.media {
            errs.check(media.len() <= 35, "media", "at most 35 media items");
            for (i, m) in media.iter().enumerate() {
                let ok = (m.url.starts_with("https://")
                    || m.url.starts_with("http://")
                    || m.url.starts_with("media:"))
                    && m.url.len() <= 2048;
                errs.check(
                    ok,
                    &format!("media[{i}].url"),
                    "must be an http(s) URL or a media: reference",
                );
                errs.check(
                    m.alt_text
                        .as_ref()
                        .is_none_or(|a| a.chars().count() <= 1_500),
                    &format!("media[{i}].alt_text"),
                    "must be at most 1,500 characters",
                );
            }
            self.content.media = media;
        }
        if let Some(tags) = input.tags {
            self.tags = clean_list(&mut errs, "tags", tags, 50);
        }
        if let Some(labels) = input.labels {
            self.labels = clean_list(&mut errs, "labels", labels, 20);
        }
        if let Some(c) = input.campaign {
            let c = c.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            errs.check(
                c.as_ref().is_none_or(|s| s.chars().count() <= 100),
                "campaign",
                "must be at most 100 characters",
            );
            self.campaign = c;
        }
        if let Some(s) = input.status {
            match PostStatus::parse(&s) {
                None => errs.add(
                    "status",
                    format!("unknown status; one of {}", PostStatus::list()),
                ),
                Some(to) if to == self.status => {}
                Some(to) if !settable_by_edit(to) => errs.add(
                    "status",
                    "only draft and archived can be set directly; use the approval and publishing actions",
                ),
                Some(to) if !can_transition(self.status, to, Transition::Edit) => errs.add(
                    "status",
                    format!("a {} post cannot be moved to {to}", self.status),
                ),
                Some(to) => self.status = to,
            }
        }
        if let Some(at) = input.scheduled_at {
            self.scheduled_at = at;
        }
        if let Some(v) = input.client_visible {
            self.client_visible = v;
        }
        errs.into_result()?;
        Ok(self)
    }

    pub(crate) fn report(&self) -> ValidationReport {
        self.content.validate(&self.platforms)
    }

    /// Writes the draft and everything derived from it onto an active model.
    pub(crate) fn write(&self, m: &mut posts::ActiveModel) {
        let d = self.derived();
        let platforms: Vec<&str> = self.platforms.iter().map(Platform::as_str).collect();
        m.title = Set(self.title.clone());
        m.content = Set(self.content.to_json());
        m.platforms = Set(json!(platforms));
        m.tags = Set(json!(self.tags));
        m.labels = Set(json!(self.labels));
        m.campaign = Set(self.campaign.clone());
        m.status = Set(self.status.as_str().to_string());
        m.scheduled_at = Set(self.scheduled_at);
        m.client_visible = Set(self.client_visible);
        m.is_valid = Set(d.is_valid);
        m.validation = Set(d.validation);
        m.search_text = Set(d.search_text);
        m.tags_index = Set(listing::index_of(self.tags.iter().map(String::as_str)));
        m.platforms_index = Set(listing::index_of(platforms.iter().copied()));
    }
}

/// The columns computed from a draft's text, platforms, tags and campaign.
pub(crate) struct Derived {
    pub(crate) validation: serde_json::Value,
    pub(crate) is_valid: bool,
    pub(crate) search_text: String,
}

impl Draft {
    pub(crate) fn derived(&self) -> Derived {
        let report = self.report();
        let mut extra: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        extra.extend(self.campaign.as_deref());
        Derived {
            is_valid: content::is_valid(&report),
            validation: json!(report),
            search_text: self.content.search_text(&self.title, &extra),
        }
    }

    /// Takes the text fields from the live document, which is their source of truth.
    pub(crate) fn overlay(&mut self, c: &DocContent) {
        self.title = c.title.clone();
        self.content.caption = c.caption.clone();
        for (p, pc) in self.content.platform_content.iter_mut() {
            pc.text = c.overrides.get(p).cloned();
        }
        for (p, text) in &c.overrides {
            self.content
                .platform_content
                .entry(p.clone())
                .or_default()
                .text = Some(text.clone());
        }
        self.content.media = c
            .media
            .iter()
            .filter_map(|m| serde_json::from_value(m.clone()).ok())
            .collect();
    }
}

/// The part of an input that edits the live document (title, texts, media): every field
/// given, set to exactly its value. The session computes the change against its own current
/// state, so concurrent `PUT`s never blend; the last one wins.
pub(crate) fn content_edit(input: &PostInput) -> Option<ContentEdit> {
    let mut edit = ContentEdit {
        title: input.title.as_ref().map(|t| t.trim().to_string()),
        caption: input.caption.clone(),
        media: input.media.as_ref().map(|m| {
            m.iter()
                .map(|x| serde_json::to_value(x).unwrap_or_default())
                .collect()
        }),
        ..Default::default()
    };
    if let Some(pc) = &input.platform_content {
        // Only texts that are given change (`""` clears an override); a missing or null
        // `text` leaves the live text alone, so saving hashtags or custom fields can never
        // undo what someone is typing in that override.
        for (p, c) in pc {
            if let Some(t) = &c.text {
                edit.overrides.insert(p.clone(), t.clone());
            }
        }
    }
    let touches = edit.title.is_some()
        || edit.caption.is_some()
        || edit.media.is_some()
        || !edit.overrides.is_empty();
    touches.then_some(edit)
}

/// The input without the parts that live in the document (they are applied there).
pub(crate) fn rest_only(input: &PostInput) -> PostInput {
    PostInput {
        title: None,
        caption: None,
        media: None,
        platform_content: input.platform_content.as_ref().map(|pc| {
            pc.iter()
                .map(|(k, v)| {
                    let mut v = v.clone();
                    v.text = None;
                    (k.clone(), v)
                })
                .collect()
        }),
        platforms: input.platforms.clone(),
        tags: input.tags.clone(),
        campaign: input.campaign.clone(),
        labels: input.labels.clone(),
        status: input.status.clone(),
        scheduled_at: input.scheduled_at,
        client_visible: input.client_visible,
    }
}

fn known_platforms() -> String {
    Platform::ALL
        .iter()
        .map(Platform::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Trims, drops empties and duplicates (case-insensitively), and bounds a tag-like list.
fn clean_list(errs: &mut FieldErrors, field: &str, items: Vec<String>, max: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for raw in items {
        let t = raw.trim().to_string();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 50 || t.contains('|') {
            errs.add(
                field,
                "each entry must be at most 50 characters and must not contain |",
            );
        }
        if seen.insert(t.to_lowercase()) {
            out.push(t);
        }
    }
    errs.check(out.len() <= max, field, &format!("at most {max} entries"));
    out
}
