//! What a comment request may contain, and the checks on it that need no database.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::FieldErrors;
use crate::platforms::Platform;

/// Longest comment body, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;
/// Most people one comment can mention.
pub const MAX_MENTIONS: usize = 50;
/// Largest anchor position, as sent (base64 text).
pub const MAX_POSITION_BYTES: usize = 1_024;
/// Longest quoted excerpt of an anchor, in characters.
pub const MAX_QUOTE_CHARS: usize = 500;
/// Longest reaction, in characters (an emoji with modifiers, or a short code).
pub const MAX_EMOJI_CHARS: usize = 16;
/// Most different reactions one person can leave on one comment.
pub const MAX_REACTIONS_PER_PERSON: u64 = 20;

/// Who may read a comment: the team only (`internal`) or the workspace's clients too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Internal,
    Client,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Internal => "internal",
            Visibility::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "internal" => Some(Visibility::Internal),
            "client" => Some(Visibility::Client),
            _ => None,
        }
    }
}

/// Where in the post a thread is anchored. `start` and `end` are Yjs relative positions
/// (`Y.encodeRelativePosition`, base64) made by the browser in the post's document; the
/// server stores them as they are, so the anchor follows the text as people edit it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// `caption`, `title`, or `content:<platform>` (e.g. `content:x`).
    #[schema(example = "caption")]
    pub field: String,
    /// Base64 of an encoded Yjs RelativePosition; at most 1 KB.
    pub start: String,
    /// Base64 of an encoded Yjs RelativePosition; at most 1 KB.
    pub end: String,
    /// The text that was selected, for display when the anchor no longer resolves; at
    /// most 500 characters.
    pub quote: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentCreate {
    /// 1–10,000 characters.
    pub body: String,
    /// Reply to this comment. A reply to a reply joins the same thread (its root).
    pub parent_id: Option<Uuid>,
    /// Default `internal` for the team and `client` for clients, who may only post
    /// comments visible to clients. A reply always has its thread's visibility.
    pub visibility: Option<Visibility>,
    /// Members to notify; each must be able to see the comment.
    #[serde(default)]
    pub mentions: Vec<Uuid>,
    /// Only on a thread's first comment.
    pub anchor: Option<Anchor>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentUpdate {
    pub body: String,
    /// Replaces the mentions when given; newly mentioned people are notified.
    pub mentions: Option<Vec<Uuid>>,
}

/// Checks a body; returns it trimmed.
pub fn check_body(errs: &mut FieldErrors, body: &str) -> String {
    let t = body.trim();
    errs.check(
        !t.is_empty() && t.chars().count() <= MAX_BODY_CHARS,
        "body",
        "must be 1–10,000 characters",
    );
    t.to_string()
}

/// Drops duplicates (keeping the first order) and bounds the list.
pub fn dedupe_mentions(errs: &mut FieldErrors, ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    errs.check(
        out.len() <= MAX_MENTIONS,
        "mentions",
        "at most 50 people per comment",
    );
    out
}

fn check_position(errs: &mut FieldErrors, field: &str, p: &str) {
    let ok = !p.is_empty()
        && p.len() <= MAX_POSITION_BYTES
        && STANDARD.decode(p).is_ok_and(|b| !b.is_empty());
    errs.check(
        ok,
        field,
        "must be a base64-encoded Yjs relative position of at most 1 KB",
    );
}

/// Checks an anchor's fields (`anchor.field`, `anchor.start`, ...).
pub fn check_anchor(errs: &mut FieldErrors, a: &Anchor) {
    let field_ok = match a.field.as_str() {
        "caption" | "title" => true,
        f => f
            .strip_prefix("content:")
            .is_some_and(|p| Platform::parse(p).is_some()),
    };
    errs.check(
        field_ok,
        "anchor.field",
        "must be caption, title or content:<platform>",
    );
    check_position(errs, "anchor.start", &a.start);
    check_position(errs, "anchor.end", &a.end);
    errs.check(
        a.quote
            .as_ref()
            .is_none_or(|q| q.chars().count() <= MAX_QUOTE_CHARS),
        "anchor.quote",
        "must be at most 500 characters",
    );
}

/// A reaction: 1–16 characters, no whitespace or control characters.
pub fn valid_emoji(e: &str) -> bool {
    let n = e.chars().count();
    (1..=MAX_EMOJI_CHARS).contains(&n) && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(field: &str, start: &str, quote: Option<String>) -> Anchor {
        Anchor {
            field: field.into(),
            start: start.into(),
            end: "AQID".into(),
            quote,
        }
    }

    fn problems(a: &Anchor) -> Vec<String> {
        let mut errs = FieldErrors::default();
        check_anchor(&mut errs, a);
        match errs.into_result() {
            Ok(()) => vec![],
            Err(crate::error::ApiError::Validation { fields, .. }) => fields.into_keys().collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn anchors() {
        assert!(problems(&anchor("caption", "AQID", None)).is_empty());
        assert!(problems(&anchor("content:linkedin", "AQID", Some("hi".into()))).is_empty());
        assert_eq!(
            problems(&anchor("content:myspace", "AQID", None)),
            ["anchor.field"]
        );
        assert_eq!(problems(&anchor("body", "AQID", None)), ["anchor.field"]);
        assert_eq!(
            problems(&anchor("title", "not base64!", None)),
            ["anchor.start"]
        );
        assert_eq!(problems(&anchor("title", "", None)), ["anchor.start"]);
        let big = STANDARD.encode(vec![7u8; 1_000]);
        assert_eq!(problems(&anchor("title", &big, None)), ["anchor.start"]);
        assert_eq!(
            problems(&anchor("title", "AQID", Some("q".repeat(501)))),
            ["anchor.quote"]
        );
    }

    #[test]
    fn emoji() {
        assert!(valid_emoji("👍"));
        assert!(valid_emoji("👨‍👩‍👧‍👦"));
        assert!(valid_emoji(":tada:"));
        assert!(!valid_emoji(""));
        assert!(!valid_emoji("a b"));
        assert!(!valid_emoji("x\n"));
        assert!(!valid_emoji(&"a".repeat(17)));
    }

    #[test]
    fn mentions_are_deduplicated() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let mut errs = FieldErrors::default();
        assert_eq!(dedupe_mentions(&mut errs, vec![a, b, a]), [a, b]);
        assert!(errs.into_result().is_ok());
    }
}
