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

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::auth::password;
use crate::comments::input as comment_input;

mod annotations;
mod constraints;
mod statuses;

use annotations::*;
pub use constraints::*;
pub use statuses::*;

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
