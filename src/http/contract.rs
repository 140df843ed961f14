//! What `/api/openapi.json` says beyond the handlers' own annotations, so that the document
//! describes every status and constraint the server has:
//!
//! - **Statuses.** Every operation gets the answers the server can really give, as shared
//!   responses (`#/components/responses/*`): 401 wherever a bearer token is required, 400 and
//!   413 wherever a JSON body is read (malformed JSON, wrong shape, wrong content type, too
//!   large), 400 wherever a query string is parsed, 404 wherever a path has ids (ids that are
//!   not UUIDs answer 404 too), 500 wherever the database is touched, and the handler-specific
//!   ones of [`EXTRA_STATUSES`] (429 from throttles, 403 for clients, 409 from races, ...).
//! - **Constraints.** [`schema_constraints`] and [`param_constraints`] are tables of what the
//!   handlers check (lengths, patterns, ranges, enums), read from the handlers' validation
//!   code and, where the code has a named constant, taken from it.
//! - **Fixes** of annotations that do not say what the handler answers ([`fix_annotations`];
//!   each should move into its handler's annotation one day).
//!
//! `tests/api/openapi_contract.rs` fuzzes a running server from this document and fails on
//! any status or body the document does not describe, so it stays true.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::auth::password;
use crate::comments::input as comment_input;

/// The [`utoipa::Modify`] that applies everything above to the generated document.
pub struct Contract;

impl utoipa::Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(Extra::openapi());
        openapi.merge(crate::webhooks::WebhooksDoc::openapi());
        openapi.merge(crate::notify::NotifyDoc::openapi());
        openapi.merge(crate::approvals::ApprovalsDoc::openapi());
        let mut doc = serde_json::to_value(&*openapi).expect("the OpenAPI document serialises");
        for problem in patch(&mut doc) {
            tracing::error!(%problem, "openapi contract table out of date");
        }
        match serde_json::from_value(doc) {
            Ok(patched) => *openapi = patched,
            Err(e) => tracing::error!(error = %e, "patched OpenAPI document does not parse"),
        }
    }
}

/// Operations and schemas that have annotations but were not listed in `ApiDoc`.
#[derive(OpenApi)]
#[openapi(
    paths(
        crate::jobs::admin::list_jobs, crate::jobs::admin::retry_job, crate::jobs::admin::discard_job,
        crate::jobs::admin::list_consumers, crate::jobs::admin::retry_parked,
        crate::jobs::admin::discard_parked, crate::events::catalogue::serve_catalogue,
    ),
    components(schemas(
        crate::events::catalogue::EventType, crate::events::catalogue::Audience,
        crate::events::catalogue::PostEvent, crate::events::catalogue::VersionEvent,
        crate::events::catalogue::CommentEvent, crate::events::catalogue::MemberEvent,
        crate::events::catalogue::WorkspaceEvent, crate::events::catalogue::UserEvent,
        crate::events::catalogue::ApprovalEvent, crate::events::catalogue::ApprovalActor,
        crate::events::catalogue::ApprovalStepRef, crate::events::catalogue::ShareLinkEvent,
        crate::events::catalogue::NotificationEvent,
        crate::events::catalogue::Catalogue, crate::events::catalogue::CatalogueEntry,
        crate::http::health::Probe,
    )),
    tags(
        (name = "admin", description = "Jobs and outbox consumers, for super admins"),
        (name = "events", description = "The event catalogue (payload schemas are components)"),
    )
)]
struct Extra;

// ---------------------------------------------------------------------------------------
// Values the handlers check against, from the code where it names them.

fn platforms() -> Vec<&'static str> {
    crate::platforms::Platform::ALL
        .iter()
        .map(|p| p.as_str())
        .collect()
}

fn post_statuses() -> Vec<&'static str> {
    crate::posts::PostStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// Roles a membership can hold (`super_admin` is refused with 400).
fn assignable_roles() -> Vec<&'static str> {
    crate::roles::Role::ALL
        .into_iter()
        .filter(|r| r.is_assignable())
        .map(|r| r.as_str())
        .collect()
}

/// `^(a|b|c)$`-style alternation of literal words (none of ours need escaping).
fn one_of(words: &[&str]) -> String {
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

fn name_1_100() -> Value {
    json!({ "minLength": 1, "maxLength": 100, "pattern": NOT_BLANK_PATTERN,
            "description": "1–100 characters once trimmed." })
}

fn new_password() -> Value {
    json!({ "minLength": password::MIN_LEN, "maxLength": password::MAX_LEN,
            "description": format!("{}–{} characters; not one of the most common passwords, not the email address.",
                                   password::MIN_LEN, password::MAX_LEN) })
}

fn email() -> Value {
    json!({ "format": "email", "maxLength": 254 })
}

fn slug() -> Value {
    json!({ "minLength": 2, "maxLength": 63, "pattern": SLUG_PATTERN, "example": "acme-social" })
}

fn tag_list(max_items: usize) -> Value {
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
fn payload_names() -> Vec<&'static str> {
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

// ---------------------------------------------------------------------------------------
// Statuses.

/// The shared error responses: status, component name, description.
pub const SHARED_RESPONSES: [(u16, &str, &str); 11] = [
    (400, "BadRequest", "Malformed request — invalid JSON (`malformed_json`), a body of the wrong shape \
        (`invalid_body`), a body that is not `application/json` (`unsupported_content_type`), a bad query \
        string (`invalid_query`), text containing U+0000 (`invalid_body`, `invalid_query`) — or invalid \
        values (`validation_failed`, with `details.fields`)."),
    (401, "Unauthorized", "No bearer token, or one that is invalid, expired or voided by a sign-out or \
        password change (`unauthenticated`, `invalid_token`)."),
    (403, "Forbidden", "The caller's role does not allow this (`forbidden`)."),
    (404, "NotFound", "Not found, or not visible to the caller — other workspaces' ids answer this too, \
        and so do ids that are not UUIDs (`not_found`)."),
    (405, "MethodNotAllowed", "The path exists but not with this method (`method_not_allowed`); \
        `Allow` lists its methods."),
    (409, "Conflict", "The request conflicts with the current state (`conflict`, or a specific code)."),
    (413, "PayloadTooLarge", "The body is larger than the server accepts (`payload_too_large`)."),
    (422, "UnprocessableEntity", "The live document refused the edit (`invalid_edit`)."),
    (429, "TooManyRequests", "Too many attempts (`too_many_requests`, with `details.retry_after_secs`); \
        wait `Retry-After` seconds."),
    (500, "InternalError", "Something failed on the server's side (`internal_error`); the message says \
        nothing more."),
    (503, "ServiceUnavailable", "A dependency is unavailable (`service_unavailable`); try again."),
];

/// Statuses beyond the generic ones that an operation can answer: `(method, path, statuses,
/// why)` — read from the handlers.
pub const EXTRA_STATUSES: &[(&str, &str, &[u16], &str)] = &[
    (
        "post",
        "/api/auth/register",
        &[409],
        "two sign-ups of one address at once, or an invitation spent meanwhile",
    ),
    (
        "post",
        "/api/auth/login",
        &[409],
        "an invitation_token spent meanwhile (invitation_used)",
    ),
    (
        "post",
        "/api/setup",
        &[409],
        "an account with that email exists (email_taken)",
    ),
    (
        "post",
        "/api/invitations/accept",
        &[409],
        "accepted twice at once (invitation_used)",
    ),
    (
        "post",
        "/api/workspaces/{id}/members",
        &[429],
        "invitations per inviter and per address are throttled",
    ),
    (
        "put",
        "/api/workspaces/{id}/members/{user_id}",
        &[400],
        "super_admin cannot be assigned",
    ),
    (
        "post",
        "/api/workspaces/{id}/posts/validate",
        &[403],
        "clients may not see every post (PostViewAll)",
    ),
    (
        "put",
        "/api/posts/{id}",
        &[422, 503],
        "the live document refuses the edit, or cannot take it now",
    ),
    (
        "get",
        "/api/posts/{id}/versions",
        &[403],
        "clients may not see versions (PostViewAll)",
    ),
    (
        "get",
        "/api/posts/{id}/versions/{version_id}",
        &[403],
        "clients may not see versions (PostViewAll)",
    ),
    (
        "get",
        "/api/posts/{id}/versions/{version_id}/diff",
        &[403],
        "clients may not see versions (PostViewAll)",
    ),
];

/// Operations that never touch the database (or map its failure to 503 themselves).
pub const NO_INTERNAL_ERROR: &[(&str, &str)] = &[
    ("get", "/api/platforms"),
    ("get", "/api/events/catalogue"),
    ("get", "/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
];

pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Applies everything to the document as JSON; returns the table entries that no longer
/// match it (a renamed schema, a removed property), which a unit test keeps empty.
pub fn patch(doc: &mut Value) -> Vec<String> {
    let mut problems = Vec::new();
    add_schemas(doc);
    fix_annotations(doc, &mut problems);
    for (schema, prop, c) in schema_constraints() {
        if refers_to_same_enum(doc, schema, prop, &c) {
            continue;
        }
        match property_mut(doc, schema, prop) {
            Some(target) => constrain(target, &c),
            None => problems.push(format!("schema {schema}.{prop} not found")),
        }
    }
    for (method, path, name, c) in param_constraints() {
        match param_mut(doc, method, path, name) {
            Some(target) => constrain(target, &c),
            None => problems.push(format!("parameter {name} of {method} {path} not found")),
        }
    }
    add_shared_responses(doc);
    complete_responses(doc, &mut problems);
    describe_rules(doc);
    problems
}

fn schemas_mut(doc: &mut Value) -> &mut Map<String, Value> {
    doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas is an object")
}

fn property_mut<'a>(doc: &'a mut Value, schema: &str, prop: &str) -> Option<&'a mut Value> {
    let s = schemas_mut(doc).get_mut(schema)?;
    find_property(s, prop)
}

/// The property in an object schema, or in one of an `allOf`'s parts.
fn find_property<'a>(s: &'a mut Value, prop: &str) -> Option<&'a mut Value> {
    if s.get("properties").and_then(|p| p.get(prop)).is_some() {
        return s.get_mut("properties")?.get_mut(prop);
    }
    for part in s.get_mut("allOf")?.as_array_mut()? {
        if let Some(p) = find_property(part, prop) {
            return Some(p);
        }
    }
    None
}

/// Whether `schema.prop` is a `$ref` to a schema that already has exactly the enum `c`
/// asks for (then the reference stays).
fn refers_to_same_enum(doc: &mut Value, schema: &str, prop: &str, c: &Value) -> bool {
    let Some(target) = property_mut(doc, schema, prop) else {
        return false;
    };
    let Some(name) = target["$ref"].as_str().and_then(|r| r.rsplit('/').next()) else {
        return false;
    };
    let name = name.to_string();
    c.as_object().is_some_and(|o| o.len() == 1)
        && schemas_mut(doc)
            .get(&name)
            .is_some_and(|s| s.get("enum").is_some() && s["enum"] == c["enum"])
}

fn param_mut<'a>(
    doc: &'a mut Value,
    method: &str,
    path: &str,
    name: &str,
) -> Option<&'a mut Value> {
    doc.get_mut("paths")?
        .get_mut(path)?
        .get_mut(method)?
        .get_mut("parameters")?
        .as_array_mut()?
        .iter_mut()
        .find(|p| p["name"] == name)?
        .get_mut("schema")
}

fn is_nullable(s: &Value) -> bool {
    match &s["type"] {
        Value::Array(types) => types.iter().any(|t| t == "null"),
        t => t == "null",
    }
}

/// Merges `c` into schema `s`. An `enum` on a nullable schema keeps `null` allowed; a
/// `$ref` (or `oneOf [null, $ref]`) that gets an `enum` becomes an inline string schema.
fn constrain(s: &mut Value, c: &Value) {
    let Some(c) = c.as_object() else { return };
    if c.contains_key("enum") {
        let description = s.get("description").cloned();
        if s.get("$ref").is_some() {
            *s = json!({ "type": "string" });
        } else if let Some(parts) = s.get("oneOf").and_then(Value::as_array) {
            if parts.iter().any(|p| p.get("$ref").is_some()) {
                *s = json!({ "type": ["string", "null"] });
            }
        }
        if let (Some(d), Some(o)) = (description, s.as_object_mut()) {
            o.entry("description").or_insert(d);
        }
    }
    let nullable = is_nullable(s);
    let Some(target) = s.as_object_mut() else {
        return;
    };
    for (k, v) in c {
        match (k.as_str(), target.get_mut(k)) {
            ("enum", _) => {
                let mut values = v.as_array().cloned().unwrap_or_default();
                if nullable {
                    values.push(Value::Null);
                }
                target.insert(k.clone(), Value::Array(values));
            }
            (_, Some(existing)) if existing.is_object() && v.is_object() => constrain(existing, v),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Schemas the handlers answer with but do not derive, and annotation fixes.

fn add_schemas(doc: &mut Value) {
    let platforms = platforms();
    let schemas = schemas_mut(doc);
    // events::catalogue::EventType: its derive lists the variants' Rust names, but they
    // serialise as their `#[serde(rename)]`s.
    schemas.insert(
        "EventType".into(),
        json!({
            "type": "string",
            "description": "Every event type.",
            "enum": crate::events::catalogue::EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()
        }),
    );
    // platforms::PlatformRules (serialised by GET /api/platforms and in `rules`).
    schemas.insert(
        "PlatformRules".into(),
        json!({
            "type": "object",
            "description": "A platform's limits, for counters in editors.",
            "required": ["platform", "name", "max_length", "max_hashtags", "max_mentions", "max_media",
                         "requires_media", "required_fields"],
            "properties": {
                "platform": { "type": "string", "enum": platforms },
                "name": { "type": "string", "description": "The name people know the network by." },
                "max_length": { "type": "integer", "minimum": 0, "description": "Longest text, counted the platform's way." },
                "max_hashtags": { "type": ["integer", "null"], "minimum": 0 },
                "max_mentions": { "type": ["integer", "null"], "minimum": 0 },
                "max_media": { "type": "integer", "minimum": 0 },
                "requires_media": { "type": "boolean" },
                "required_fields": { "type": "array", "items": { "type": "string" },
                                     "description": "Keys of `platform_content.<platform>.fields` it needs." }
            }
        }),
    );
    // platforms::Problem
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "One reason a platform would refuse the post.",
            "required": ["code", "field", "message"],
            "properties": {
                "code": { "type": "string", "pattern": ERROR_CODE_PATTERN },
                "field": { "type": "string" },
                "message": { "type": "string" },
                "limit": { "type": "integer", "minimum": 0 },
                "actual": { "type": "integer", "minimum": 0 }
            }
        }),
    );
    // posts::content::ValidationReport
    schemas.insert(
        "ValidationReport".into(),
        json!({
            "type": "object",
            "description": "Problems per selected platform; an empty list means ready for that platform.",
            "propertyNames": { "type": "string", "enum": platforms },
            "additionalProperties": { "type": "array", "items": { "$ref": "#/components/schemas/Problem" } }
        }),
    );
}

/// Annotations that say something else than the handler answers. Each is listed in the
/// returned problems if it no longer applies (then the handler was fixed: drop it here).
fn fix_annotations(doc: &mut Value, problems: &mut Vec<String>) {
    // GET /api/platforms answers an array of PlatformRules (`body = Object` in posts).
    match doc.pointer_mut("/paths/~1api~1platforms/get/responses/200") {
        Some(ok) if ok.is_object() => {
            ok["content"] = json!({ "application/json": { "schema": {
                "type": "array", "items": { "$ref": "#/components/schemas/PlatformRules" } } } });
        }
        _ => problems.push("GET /api/platforms has no 200".into()),
    }
    let fixes: [(&str, &str, Value); 6] = [
        // `#[schema(value_type = Object)]` on these maps.
        (
            "PostView",
            "validation",
            json!({ "$ref": "#/components/schemas/ValidationReport" }),
        ),
        (
            "ValidationResponse",
            "validation",
            json!({ "$ref": "#/components/schemas/ValidationReport" }),
        ),
        (
            "ValidationResponse",
            "rules",
            json!({ "type": "object",
            "description": "Each selected platform's rules (lengths, limits, required fields) for counters.",
            "additionalProperties": { "$ref": "#/components/schemas/PlatformRules" } }),
        ),
        (
            "VersionContent",
            "platform_content",
            json!({ "type": "object",
            "description": "Per-platform text overrides.",
            "additionalProperties": { "type": "string" } }),
        ),
        // `type` is one of the catalogue's event types.
        (
            "ActivityItem",
            "type",
            json!({ "$ref": "#/components/schemas/EventType" }),
        ),
        (
            "CatalogueEntry",
            "type",
            json!({ "$ref": "#/components/schemas/EventType" }),
        ),
    ];
    for (schema, prop, replacement) in fixes {
        match property_mut(doc, schema, prop) {
            Some(p) => *p = replacement,
            None => problems.push(format!("schema {schema}.{prop} not found")),
        }
    }
}

fn add_shared_responses(doc: &mut Value) {
    let components = doc["components"]
        .as_object_mut()
        .expect("components is an object");
    let responses = components
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("components.responses is an object");
    for (status, name, description) in SHARED_RESPONSES {
        let mut r = json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
        });
        if status == 429 {
            r["headers"] = json!({ "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": { "type": "integer", "minimum": 0 } } });
        }
        if status == 405 {
            r["headers"] = json!({ "Allow": {
                "description": "The methods the path has.",
                "schema": { "type": "string" } } });
        }
        responses.insert(name.to_string(), r);
    }
}

fn shared_name(status: u16) -> Option<&'static str> {
    SHARED_RESPONSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, n, _)| *n)
}

/// The statuses every operation gets from what it reads (see the module docs).
pub fn generic_statuses(method: &str, path: &str, op: &Value) -> BTreeSet<u16> {
    let mut out = BTreeSet::new();
    if op["security"].as_array().is_some_and(|s| {
        s.iter()
            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    }) {
        out.insert(401);
    }
    if op.get("requestBody").is_some() {
        out.extend([400, 413]);
    }
    for p in op["parameters"].as_array().into_iter().flatten() {
        match p["in"].as_str() {
            Some("query") => {
                out.insert(400);
            }
            Some("path") => {
                out.insert(404);
            }
            _ => {}
        }
    }
    if !NO_INTERNAL_ERROR.contains(&(method, path)) {
        out.insert(500);
    }
    out
}

fn complete_responses(doc: &mut Value, problems: &mut Vec<String>) {
    let mut seen_extra = BTreeSet::new();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            let mut wanted = generic_statuses(method, path, op);
            for (m, p, statuses, _) in EXTRA_STATUSES {
                if *m == method && p == path {
                    wanted.extend(statuses.iter().copied());
                    seen_extra.insert((*m, *p));
                }
            }
            let responses = op["responses"]
                .as_object_mut()
                .expect("an operation has responses");
            for status in wanted {
                let key = status.to_string();
                if !responses.contains_key(&key) {
                    if let Some(name) = shared_name(status) {
                        responses.insert(
                            key,
                            json!({ "$ref": format!("#/components/responses/{name}") }),
                        );
                    }
                }
            }
            // Error answers the annotation left bare get the shared description and shape.
            for (key, r) in responses.iter_mut() {
                let Ok(status) = key.parse::<u16>() else {
                    continue;
                };
                if status < 400 || r.get("$ref").is_some() {
                    continue;
                }
                let bare = r["description"].as_str().is_none_or(str::is_empty);
                match shared_name(status) {
                    Some(name) if bare => {
                        *r = json!({ "$ref": format!("#/components/responses/{name}") });
                    }
                    _ if r.get("content").is_none() => {
                        r["content"] = json!({ "application/json": { "schema": {
                            "$ref": "#/components/schemas/ErrorBody" } } });
                    }
                    _ => {}
                }
            }
        }
    }
    for (m, p, _, _) in EXTRA_STATUSES {
        if !seen_extra.contains(&(*m, *p)) {
            problems.push(format!("operation {m} {p} (extra statuses) not found"));
        }
    }
}

fn describe_rules(doc: &mut Value) {
    if let Some(d) = doc["info"]["description"].as_str() {
        let d = format!(
            "{d} A path that exists answers 405 `method_not_allowed` with an `Allow` header to the \
             methods it does not have (see `#/components/responses/MethodNotAllowed`); unknown \
             paths answer 404. No text — in bodies or query strings — may contain U+0000 (NUL): \
             such requests answer 400."
        );
        doc["info"]["description"] = Value::String(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_table_entry_applies() {
        let mut doc = serde_json::to_value(crate::http::openapi::ApiDoc::openapi()).unwrap();
        // The modifier already ran: running the tables again finds every target.
        let problems = patch(&mut doc);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn the_patched_document_survives_utoipa() {
        // The modifier round-trips the document through JSON: nothing may be lost.
        let mut doc = serde_json::to_value(crate::http::openapi::ApiDoc::openapi()).unwrap();
        patch(&mut doc);
        let back: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();
        assert!(serde_json::to_value(back).unwrap() == doc);
    }

    #[test]
    fn the_document_has_the_contract() {
        let doc = serde_json::to_value(crate::http::openapi::ApiDoc::openapi()).unwrap();
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["RegisterRequest"]["properties"]["password"]["minLength"],
            8
        );
        assert_eq!(
            s["WorkspaceCreate"]["properties"]["slug"]["pattern"],
            SLUG_PATTERN
        );
        assert!(s["PostInput"]["properties"]["status"]["enum"]
            .as_array()
            .unwrap()
            .contains(&Value::Null));
        let list = &doc["paths"]["/api/workspaces/{id}/posts"]["get"];
        assert!(list["responses"]["401"].is_object());
        let limit = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], 100);
        assert_eq!(
            doc["paths"]["/api/platforms"]["get"]["responses"]["200"]["content"]
                ["application/json"]["schema"]["type"],
            "array"
        );
        assert_eq!(
            doc["components"]["securitySchemes"]
                .as_object()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn patterns_mean_what_the_code_checks() {
        let slug = regex::Regex::new(SLUG_PATTERN).unwrap();
        for ok in ["ab", "acme-2", "a-b-c"] {
            assert!(slug.is_match(ok), "{ok}");
        }
        for bad in ["-a", "a-", "a--b", "Acme", "a_b"] {
            assert!(!slug.is_match(bad), "{bad}");
        }
        // Base64 positions: the pattern (with minLength 4) accepts exactly what the
        // anchor check decodes to something.
        let b64 = regex::Regex::new(BASE64_PATTERN).unwrap();
        use base64::Engine;
        let decodes = |s: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .is_ok_and(|b| !b.is_empty())
        };
        let alphabet = b"ABCQgwEIz09+/=";
        let mut x: u64 = 7;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 60) as usize % 9;
            let s: String = (0..len)
                .map(|i| alphabet[((x >> (i * 5)) % alphabet.len() as u64) as usize] as char)
                .collect();
            assert_eq!(s.len() >= 4 && b64.is_match(&s), decodes(&s), "{s:?}");
        }
        let emoji = regex::Regex::new(EMOJI_PATTERN).unwrap();
        for (e, ok) in [
            ("👍", true),
            (":tada:", true),
            ("a b", false),
            ("x\n", false),
            ("\u{85}", false),
        ] {
            assert_eq!(emoji.is_match(e), ok, "{e:?}");
            assert_eq!(crate::comments::input::valid_emoji(e), ok, "{e:?}");
        }
        let filter = regex::Regex::new(EVENT_TYPE_FILTER_PATTERN).unwrap();
        for (t, ok) in [
            ("post.created", true),
            ("post.*", true),
            ("comment.reaction_added", true),
            (".*", false),
            ("post.", false),
            ("Post.created", false),
            ("*", false),
            ("a.*.*", false),
        ] {
            assert_eq!(filter.is_match(t), ok, "{t}");
        }
    }
}
