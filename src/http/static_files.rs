//! Serves the built web app (`web/dist`) with a single-page-app fallback: any GET that is
//! not an API route and not a file answers `index.html`, so deep links like
//! `/w/<id>/posts` work on reload. Unknown `/api/...` paths get a JSON 404 instead.

use std::path::PathBuf;

use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::{HttpResponse, Responder};

use crate::error::ApiError;

pub fn service(dir: PathBuf) -> Files {
    let index = dir.join("index.html");
    Files::new("/", dir)
        .index_file("index.html")
        .prefer_utf8(true)
        .default_handler(fn_service(move |req: ServiceRequest| {
            let index = index.clone();
            async move {
                let (req, _) = req.into_parts();
                if req.path().starts_with("/api/") {
                    let res =
                        actix_web::ResponseError::error_response(&ApiError::NotFound("route"));
                    return Ok(ServiceResponse::new(req, res));
                }
                let res = match NamedFile::open_async(&index).await {
                    Ok(f) => f.respond_to(&req).map_into_boxed_body(),
                    Err(_) => HttpResponse::NotFound().body("web app not built"),
                };
                Ok(ServiceResponse::new(req, res))
            }
        }))
}

/// When `web/dist` is missing the API still works; `/` says how to build the UI.
pub async fn not_built() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
        "<!doctype html><title>Copydesk</title><h1>Copydesk is running</h1>\
         <p>The web app is not built. Run <code>scripts/start</code> (or <code>cd web && npm ci && npm run build</code>) \
         and reload. The API is at <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>",
    )
}
