//! Cross-cutting HTTP: health checks, metrics, the OpenAPI document and its contract, static
//! files for the web app, and middleware (request ids, security headers, 405s, NUL in text).

pub mod contract;
pub mod health;
pub mod input;
pub mod methods;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod static_files;
pub mod upgrade;
pub mod websocket;
