//! Schemas the handlers answer with but do not derive, annotation fixes, and the rules
//! the document states once for every operation.

use serde_json::{json, Value};

use super::*;

// Schemas the handlers answer with but do not derive, and annotation fixes.

pub(super) fn add_schemas(doc: &mut Value) {
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
pub(super) fn fix_annotations(doc: &mut Value, problems: &mut Vec<String>) {
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

pub(super) fn describe_rules(doc: &mut Value) {
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
