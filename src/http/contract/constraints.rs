//! What the handlers check (lengths, patterns, ranges, enums), as tables.

use serde_json::{json, Value};

use super::*;

// Values the handlers check against, from the code where it names them.

pub(super) fn platforms() -> Vec<&'static str> {
    crate::platforms::Platform::ALL
        .iter()
        .map(|p| p.as_str())
        .collect()
}

pub(super) fn post_statuses() -> Vec<&'static str> {
    crate::posts::PostStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// Roles a membership can hold (`super_admin` is refused with 400).
pub(super) fn assignable_roles() -> Vec<&'static str> {
    crate::roles::Role::ALL
        .into_iter()
        .filter(|r| r.is_assignable())
        .map(|r| r.as_str())
        .collect()
}

/// `^(a|b|c)$`-style alternation of literal words (none of ours need escaping).
pub(super) fn one_of(words: &[&str]) -> String {
    words.join("|")
}

/// Lowercase letters, digits and single inner dashes (`workspaces::service::valid_slug`).
pub const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";
/// Contains something besides whitespace: the handlers trim and refuse what is left empty.
pub const NOT_BLANK_PATTERN: &str = r"\S";
/// Canonical padded standard base64 (`base64::STANDARD` refuses other padding and stray
/// trailing bits), as anchors' Yjs positions must be.
pub const BASE64_PATTERN: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";
/// Opaque page cursors are unpadded base64url.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";
/// A reaction: no whitespace, no control characters (`comments::input::valid_emoji`).
pub const EMOJI_PATTERN: &str = r"^[^\s\x00-\x1F\x7F-\x9F]+$";
/// An activity `type` filter: an event type, or a prefix ending in `.*` (`activity::type_filter`).
pub const EVENT_TYPE_FILTER_PATTERN: &str = r"^[a-z0-9_]([a-z0-9_.]*[a-z0-9_])?(\.\*)?$";
/// Tag-like entries are stored in `|a|b|` indexes.
pub const NO_PIPE_PATTERN: &str = r"^[^|]*$";
/// Media: an http(s) URL or a `media:` reference.
pub const MEDIA_URL_PATTERN: &str = "^(https?://|media:)";
/// Error codes are stable snake_case words.
pub const ERROR_CODE_PATTERN: &str = "^[a-z][a-z0-9_]*$";

pub(super) fn name_1_100() -> Value {
    json!({ "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK_PATTERN,
            "description": "1–100 characters once trimmed." })
}

pub(super) fn new_password() -> Value {
    json!({ "minLength": password::MIN_LEN, "maxLength": password::MAX_LEN,
            "description": format!("{}–{} characters; not one of the most common passwords, not the email address.",
                                   password::MIN_LEN, password::MAX_LEN) })
}

pub(super) fn email() -> Value {
    json!({ "format": "email", "maxLength": 254 })
}

pub(super) fn slug() -> Value {
    json!({ "minLength": 2, "maxLength": 63, "pattern": SLUG_PATTERN, "example": "acme-social" })
}

pub(super) fn tag_list(max_items: usize) -> Value {
    json!({ "maxItems": max_items,
            "items": { "maxLength": 50, "pattern": NO_PIPE_PATTERN },
            "description": format!("At most {max_items} entries (after trimming, dropping empty ones and case-insensitive duplicates), each at most 50 characters without `|`.") })
}

/// `schema name → property → constraints` (merged into the property's schema; nested keys
/// such as `items` merge into the nested schema). Each entry names where the server checks.
pub fn schema_constraints() -> Vec<(&'static str, &'static str, Value)> {
    let platforms = platforms();
    let anchor_field = format!("^(caption|title|content:({}))$", one_of(&platforms));
    let position = json!({ "minLength": 4, "maxLength": comment_input::MAX_POSITION_BYTES,
                           "pattern": BASE64_PATTERN, "example": "AQID" });
    vec![
        // auth::signup::check_new_account, password::policy_problem
        ("RegisterRequest", "email", email()),
        ("RegisterRequest", "password", new_password()),
        ("RegisterRequest", "name", name_1_100()),
        ("SetupRequest", "email", email()),
        ("SetupRequest", "password", new_password()),
        ("SetupRequest", "name", name_1_100()),
        // auth::credentials::reset_password
        ("ResetPasswordRequest", "password", new_password()),
        // auth::credentials::update_profile
        ("ProfileUpdate", "name", name_1_100()),
        ("ProfileUpdate", "new_password", new_password()),
        // workspaces: check_name, valid_slug
        ("WorkspaceCreate", "name", name_1_100()),
        ("WorkspaceCreate", "slug", slug()),
        ("WorkspaceUpdate", "name", name_1_100()),
        ("WorkspaceUpdate", "slug", slug()),
        ("WorkspaceView", "slug", slug()),
        // workspaces::handlers::add_member (normalize_email), members::assignable
        ("MemberAdd", "email", email()),
        ("MemberAdd", "role", json!({ "enum": assignable_roles() })),
        (
            "MemberRoleUpdate",
            "role",
            json!({ "enum": assignable_roles() }),
        ),
        (
            "MemberAddResponse",
            "status",
            json!({ "enum": ["invited"] }),
        ),
        // posts::draft::Draft::apply, clean_list, PostStatus
        ("PostInput", "title", json!({ "maxLength": 200 })),
        ("PostInput", "caption", json!({ "maxLength": 100_000 })),
        (
            "PostInput",
            "platforms",
            json!({ "items": { "enum": platforms } }),
        ),
        (
            "PostInput",
            "platform_content",
            json!({ "propertyNames": { "enum": platforms } }),
        ),
        ("PostInput", "media", json!({ "maxItems": 35 })),
        ("PostInput", "tags", tag_list(50)),
        ("PostInput", "labels", tag_list(20)),
        ("PostInput", "campaign", json!({ "maxLength": 100 })),
        (
            "PostInput",
            "status",
            json!({ "enum": post_statuses(),
            "description": "Any status the post already has; `draft` or `archived` to move it (others come from the approval and publishing actions)." }),
        ),
        ("PlatformContent", "text", json!({ "maxLength": 100_000 })),
        ("PlatformContent", "hashtags", json!({ "maxItems": 100 })),
        ("PlatformContent", "mentions", json!({ "maxItems": 100 })),
        (
            "PlatformContent",
            "fields",
            json!({ "maxProperties": 50,
            "propertyNames": { "maxLength": 64 }, "additionalProperties": { "maxLength": 5_000 },
            "description": "Platform-specific fields, e.g. YouTube `title`, Pinterest `board_id`: at most 50, names at most 64 bytes, values at most 5,000 characters." }),
        ),
        (
            "MediaRef",
            "url",
            json!({ "maxLength": 2048, "pattern": MEDIA_URL_PATTERN,
            "description": "An http(s) URL or a `media:<uuid>` reference to an uploaded file; at most 2,048 bytes." }),
        ),
        (
            "MediaRef",
            "kind",
            json!({ "enum": ["image", "video", "gif"] }),
        ),
        ("MediaRef", "alt_text", json!({ "maxLength": 1_500 })),
        ("PostView", "status", json!({ "enum": post_statuses() })),
        (
            "PostView",
            "platforms",
            json!({ "items": { "enum": platforms } }),
        ),
        (
            "PostView",
            "platform_content",
            json!({ "propertyNames": { "enum": platforms } }),
        ),
        // comments::input
        (
            "CommentCreate",
            "body",
            json!({ "minLength": 1, "maxLength": comment_input::MAX_BODY_CHARS,
            "pattern": NOT_BLANK_PATTERN }),
        ),
        (
            "CommentCreate",
            "mentions",
            json!({ "maxItems": comment_input::MAX_MENTIONS }),
        ),
        (
            "CommentUpdate",
            "body",
            json!({ "minLength": 1, "maxLength": comment_input::MAX_BODY_CHARS,
            "pattern": NOT_BLANK_PATTERN }),
        ),
        (
            "CommentUpdate",
            "mentions",
            json!({ "maxItems": comment_input::MAX_MENTIONS }),
        ),
        ("Anchor", "field", json!({ "pattern": anchor_field })),
        ("Anchor", "start", position.clone()),
        ("Anchor", "end", position),
        (
            "Anchor",
            "quote",
            json!({ "maxLength": comment_input::MAX_QUOTE_CHARS }),
        ),
        (
            "ReactionView",
            "emoji",
            json!({ "minLength": 1, "maxLength": comment_input::MAX_EMOJI_CHARS,
            "pattern": EMOJI_PATTERN }),
        ),
        // versions::create
        ("VersionCreate", "name", name_1_100()),
        (
            "VersionView",
            "kind",
            json!({ "enum": ["auto", "named", "restore", "submitted", "approved"] }),
        ),
        (
            "DiffOp",
            "op",
            json!({ "enum": ["equal", "insert", "delete"] }),
        ),
        // approvals::workflow::validate
        ("WorkflowInput", "name", name_1_100()),
        (
            "WorkflowInput",
            "steps",
            json!({ "minItems": 1, "maxItems": crate::approvals::workflow::MAX_STEPS }),
        ),
        ("StepSpec", "name", name_1_100()),
        (
            "StepSpec",
            "order",
            json!({ "minimum": 1, "maximum": crate::approvals::workflow::MAX_STEPS }),
        ),
        (
            "StepSpec",
            "required",
            json!({ "minimum": 1, "maximum": 100 }),
        ),
        (
            "StepSpec",
            "deadline_hours",
            json!({ "minimum": 1, "maximum": crate::approvals::workflow::MAX_DEADLINE_HOURS }),
        ),
        (
            "Approvers",
            "roles",
            json!({ "items": { "enum": assignable_roles() } }),
        ),
        (
            "Conditions",
            "platforms",
            json!({ "items": { "enum": platforms.clone() } }),
        ),
        (
            "Conditions",
            "tags",
            json!({ "maxItems": 50, "items": { "maxLength": 50 } }),
        ),
        ("Conditions", "campaign", name_1_100()),
        // approvals::service::clean_comment
        ("ActionInput", "comment", json!({ "maxLength": 5000 })),
        // approvals::share
        (
            "LinkCreate",
            "post_ids",
            json!({ "minItems": 1, "maxItems": 50 }),
        ),
        (
            "LinkCreate",
            "permissions",
            json!({ "items": { "enum": ["view", "comment", "approve"] } }),
        ),
        (
            "LinkCreate",
            "expires_in_hours",
            json!({ "minimum": 1, "maximum": 24 * 90 }),
        ),
        ("LinkCreate", "label", json!({ "maxLength": 100 })),
        (
            "GuestAction",
            "name",
            json!({ "minLength": 1, "maxLength": 80, "pattern": NOT_BLANK_PATTERN }),
        ),
        ("GuestAction", "comment", json!({ "maxLength": 5000 })),
        (
            "GuestCommentInput",
            "name",
            json!({ "minLength": 1, "maxLength": 80, "pattern": NOT_BLANK_PATTERN }),
        ),
        (
            "GuestCommentInput",
            "body",
            json!({ "minLength": 1, "maxLength": 10_000, "pattern": NOT_BLANK_PATTERN }),
        ),
        // answers with fixed values
        ("AuthResponse", "token_type", json!({ "enum": ["Bearer"] })),
        ("Health", "status", json!({ "enum": ["ok", "degraded"] })),
        (
            "Probe",
            "status",
            json!({ "enum": ["ok", "ready", "not_ready"] }),
        ),
        (
            "ErrorDetail",
            "code",
            json!({ "pattern": ERROR_CODE_PATTERN }),
        ),
        (
            "CatalogueEntry",
            "payload",
            json!({ "enum": payload_names() }),
        ),
        // notify::prefs::parse_update, notify::push::validate
        (
            "PreferencesUpdate",
            "email_digest",
            json!({ "enum": ["off", "daily"] }),
        ),
        (
            "Preferences",
            "email_digest",
            json!({ "enum": ["off", "daily"] }),
        ),
        (
            "SubscriptionCreate",
            "endpoint",
            json!({ "minLength": 1, "maxLength": crate::notify::push::MAX_ENDPOINT_LEN,
            "pattern": "^https?://",
            "description": "The push service's URL: https (plain http only inside `outbound.allowed_networks`), reachable under the SSRF guard." }),
        ),
        (
            "SubscriptionCreate",
            "user_agent",
            json!({ "maxLength": crate::notify::push::MAX_USER_AGENT_LEN }),
        ),
        (
            "SubscriptionKeys",
            "p256dh",
            json!({ "pattern": PUSH_KEY_PATTERN }),
        ),
        (
            "SubscriptionKeys",
            "auth",
            json!({ "pattern": PUSH_KEY_PATTERN }),
        ),
    ]
}

/// base64url (padding tolerated), as browsers give subscription keys.
pub const PUSH_KEY_PATTERN: &str = "^[A-Za-z0-9_-]+={0,2}$";

/// The payload schemas of the catalogue, once each.
pub(super) fn payload_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for t in crate::events::catalogue::EventType::ALL {
        if !names.contains(&t.payload()) {
            names.push(t.payload());
        }
    }
    names
}

/// `(method, path, parameter) → constraints` for path and query parameters.
pub fn param_constraints() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let statuses = one_of(&post_statuses());
    let sorts: Vec<String> = ["created_at", "updated_at", "scheduled_at", "title"]
        .iter()
        .flat_map(|k| [k.to_string(), format!("-{k}")])
        .collect();
    let emoji = json!({ "minLength": 1, "maxLength": comment_input::MAX_EMOJI_CHARS,
                        "pattern": EMOJI_PATTERN, "example": "👍" });
    let posts = "/api/workspaces/{id}/posts";
    let activity = "/api/workspaces/{id}/activity";
    let review_token = json!({ "minLength": 43, "maxLength": 43, "pattern": CURSOR_PATTERN,
                        "description": "A review link's token (unpadded base64url of the link id and its signature)." });
    vec![
        // posts::listing::list_posts
        (
            "get",
            posts,
            "status",
            json!({ "pattern": format!("^({statuses})(,({statuses}))*$") }),
        ),
        ("get", posts, "platform", json!({ "enum": platforms() })),
        ("get", posts, "q", json!({ "maxLength": 200 })),
        (
            "get",
            posts,
            "sort",
            json!({ "enum": sorts, "default": "-created_at" }),
        ),
        (
            "get",
            posts,
            "limit",
            json!({ "minimum": 1, "maximum": 100, "default": 25 }),
        ),
        ("get", posts, "cursor", json!({ "pattern": CURSOR_PATTERN })),
        // activity::list_activity, type_filter
        (
            "get",
            activity,
            "limit",
            json!({ "minimum": 1, "maximum": 100, "default": 50 }),
        ),
        (
            "get",
            activity,
            "cursor",
            json!({ "pattern": CURSOR_PATTERN }),
        ),
        (
            "get",
            activity,
            "type",
            json!({ "maxLength": 100, "pattern": EVENT_TYPE_FILTER_PATTERN }),
        ),
        // approvals::share::verify
        ("get", "/api/review/{token}", "token", review_token.clone()),
        (
            "post",
            "/api/review/{token}/posts/{post_id}/comments",
            "token",
            review_token.clone(),
        ),
        (
            "post",
            "/api/review/{token}/posts/{post_id}/approve",
            "token",
            review_token.clone(),
        ),
        (
            "post",
            "/api/review/{token}/posts/{post_id}/reject",
            "token",
            review_token.clone(),
        ),
        (
            "post",
            "/api/review/{token}/posts/{post_id}/request-changes",
            "token",
            review_token,
        ),
        // comments::input::valid_emoji
        (
            "put",
            "/api/comments/{id}/reactions/{emoji}",
            "emoji",
            emoji.clone(),
        ),
        (
            "delete",
            "/api/comments/{id}/reactions/{emoji}",
            "emoji",
            emoji,
        ),
        // notify::handlers::list
        (
            "get",
            "/api/notifications",
            "limit",
            json!({ "minimum": 1, "maximum": 100, "default": 50 }),
        ),
        (
            "get",
            "/api/notifications",
            "before",
            json!({ "pattern": CURSOR_PATTERN }),
        ),
        (
            "get",
            "/api/notifications/unsubscribe",
            "token",
            json!({ "pattern": crate::notify::email::unsubscribe::TOKEN_PATTERN }),
        ),
        (
            "post",
            "/api/notifications/unsubscribe",
            "token",
            json!({ "pattern": crate::notify::email::unsubscribe::TOKEN_PATTERN }),
        ),
        // webhooks::messages::message_id
        (
            "get",
            "/api/workspaces/{id}/webhooks/{endpoint_id}/messages/{message_id}/attempts",
            "message_id",
            json!({ "pattern": crate::webhooks::messages::MESSAGE_ID_PATTERN }),
        ),
        (
            "post",
            "/api/workspaces/{id}/webhooks/{endpoint_id}/messages/{message_id}/retry",
            "message_id",
            json!({ "pattern": crate::webhooks::messages::MESSAGE_ID_PATTERN }),
        ),
    ]
}
