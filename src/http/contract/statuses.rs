//! The statuses every operation can answer, as shared responses.

use std::collections::BTreeSet;

use serde_json::{json, Value};

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

pub(super) fn add_shared_responses(doc: &mut Value) {
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

pub(super) fn shared_name(status: u16) -> Option<&'static str> {
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

pub(super) fn complete_responses(doc: &mut Value, problems: &mut Vec<String>) {
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
