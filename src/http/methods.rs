//! 405 for a path that exists but not with the request's method.
//!
//! actix answers such requests 404 when a route was registered with `.route(path, method)`
//! (the method guard sits on the resource, so routing falls through to the default
//! service), and an empty 405 when it was registered as `web::resource(path).route(..)`.
//! [`method_not_allowed`] turns both into the API's error shape, `405 method_not_allowed`
//! with an `Allow` header. Which methods a path has comes from the router when it says so
//! (the `Allow` of its own 405), else from [`MethodTable`]: the OpenAPI document's paths
//! plus the few routes it does not describe ([`UNDOCUMENTED`]). The table is only consulted
//! after the router found nothing for the method, so it can never hide a route; the contract
//! fuzzer (`tests/api/openapi_contract.rs`) checks that both agree with the document.
//! Unknown paths stay 404 (under `/api/`, always with the API's error shape).

use std::sync::LazyLock;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::ResponseError;

use crate::error::ApiError;

/// Routes the OpenAPI document does not describe: the document itself, the WebSockets and
/// the Prometheus endpoint.
pub const UNDOCUMENTED: &[(&str, &[&str])] = &[
    ("/api/openapi.json", &["GET"]),
    ("/api/collab/{post_id}", &["GET"]),
    ("/api/events", &["GET"]),
    ("/metrics", &["GET"]),
];

/// Canonical order of methods in `Allow`.
const ORDER: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

enum Segment {
    Literal(String),
    Param,
}

/// Path templates (`/api/posts/{id}`) and their methods.
pub struct MethodTable {
    routes: Vec<(Vec<Segment>, Vec<String>)>,
}

impl MethodTable {
    /// From an OpenAPI document's `paths` (as JSON) and [`UNDOCUMENTED`].
    pub fn from_document(doc: &serde_json::Value) -> Self {
        let mut routes: Vec<(String, Vec<String>)> = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                let methods = item
                    .as_object()
                    .map(|o| {
                        o.keys()
                            .map(|m| m.to_ascii_uppercase())
                            .filter(|m| ORDER.contains(&m.as_str()))
                            .collect()
                    })
                    .unwrap_or_default();
                routes.push((path.clone(), methods));
            }
        }
        for (path, methods) in UNDOCUMENTED {
            match routes.iter_mut().find(|(p, _)| p == path) {
                Some((_, ms)) => ms.extend(methods.iter().map(|m| m.to_string())),
                None => routes.push((
                    path.to_string(),
                    methods.iter().map(|m| m.to_string()).collect(),
                )),
            }
        }
        Self {
            routes: routes
                .into_iter()
                .map(|(p, ms)| (parse(&p), canonical(ms)))
                .collect(),
        }
    }

    /// The methods of the most specific template matching `path` (a request path, still
    /// percent-encoded), or `None` when no template matches.
    pub fn allowed(&self, path: &str) -> Option<&[String]> {
        let segs: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        self.routes
            .iter()
            .filter(|(tpl, _)| {
                tpl.len() == segs.len()
                    && tpl.iter().zip(&segs).all(|(t, s)| match t {
                        Segment::Literal(l) => l == s,
                        Segment::Param => !s.is_empty(),
                    })
            })
            .max_by_key(|(tpl, _)| {
                tpl.iter()
                    .filter(|t| matches!(t, Segment::Literal(_)))
                    .count()
            })
            .map(|(_, ms)| ms.as_slice())
    }
}

fn parse(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

fn canonical(mut methods: Vec<String>) -> Vec<String> {
    methods.sort_by_key(|m| ORDER.iter().position(|o| o == m).unwrap_or(ORDER.len()));
    methods.dedup();
    methods
}

/// The table for this server's document.
pub static TABLE: LazyLock<MethodTable> =
    LazyLock::new(|| MethodTable::from_document(crate::http::openapi::document_json()));

/// Middleware: see the module docs.
pub async fn method_not_allowed<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let method = req.method().as_str().to_string();
    let path = req.path().to_string();
    let res = next.call(req).await?;
    let status = res.status();
    if status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(res.map_into_left_body());
    }
    // The router's own 405 knows the resource's methods.
    let from_router: Option<Vec<String>> = (status == StatusCode::METHOD_NOT_ALLOWED)
        .then(|| res.headers().get(header::ALLOW))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            canonical(
                v.split(',')
                    .map(|m| m.trim().to_ascii_uppercase())
                    .filter(|m| !m.is_empty())
                    .collect(),
            )
        });
    let allow = match from_router {
        Some(allow) => allow,
        None => match TABLE.allowed(&path) {
            Some(allow) if !allow.contains(&method) => allow.to_vec(),
            // An unknown path under /api that fell through to the app's bare default
            // (nested scopes such as /api/auth have none of their own): the API's 404.
            None if status == StatusCode::NOT_FOUND
                && path.starts_with("/api/")
                && res.response().body().size() == actix_web::body::BodySize::Sized(0) =>
            {
                let (req, _) = res.into_parts();
                let response = ApiError::NotFound("route").error_response();
                return Ok(ServiceResponse::new(req, response).map_into_right_body());
            }
            // A handler's own 404 (the method exists), or an unknown path.
            _ if status == StatusCode::NOT_FOUND => return Ok(res.map_into_left_body()),
            // A bare 405 from elsewhere (static files): keep the status, give it our shape.
            _ => Vec::new(),
        },
    };
    let (req, _) = res.into_parts();
    let response = ApiError::MethodNotAllowed { method, allow }.error_response();
    Ok(ServiceResponse::new(req, response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segments() {
        let doc = serde_json::json!({ "paths": {
            "/api/workspaces": { "get": {}, "post": {} },
            "/api/workspaces/{id}": { "get": {}, "put": {}, "delete": {}, "parameters": [] },
            "/api/workspaces/{id}/posts/validate": { "post": {} },
            "/api/events/catalogue": { "get": {} },
        }});
        let t = MethodTable::from_document(&doc);
        assert_eq!(t.allowed("/api/workspaces").unwrap(), ["GET", "POST"]);
        assert_eq!(
            t.allowed("/api/workspaces/x").unwrap(),
            ["GET", "PUT", "DELETE"]
        );
        assert_eq!(
            t.allowed("/api/workspaces/x/posts/validate").unwrap(),
            ["POST"]
        );
        assert_eq!(t.allowed("/api/events").unwrap(), ["GET"]);
        assert_eq!(t.allowed("/api/events/catalogue").unwrap(), ["GET"]);
        assert!(t.allowed("/api/workspaces/").is_none());
        assert!(t.allowed("/api/nope").is_none());
        assert!(t.allowed("/api/workspaces/x/posts").is_none());
    }
}
