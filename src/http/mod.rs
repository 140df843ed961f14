//! Cross-cutting HTTP: health checks, metrics, the OpenAPI document, static files for the
//! web app, and middleware (request ids, security headers).

pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod static_files;
