//! The one API error type and its HTTP mapping.
//!
//! Handlers return `Result<_, ApiError>`; every failure leaves the server as
//! `{"error": {"code", "message", "details"?}}` with the matching status. Database and other
//! internal errors are logged with their cause and answered with an opaque 500, so internals
//! never reach a client.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with per-field messages.
    #[error("{message}")]
    Validation {
        message: String,
        fields: BTreeMap<String, String>,
    },
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    Unauthorized(&'static str, String),
    #[error("{1}")]
    Forbidden(&'static str, String),
    /// 404; the string names what was not found ("post", "workspace", ...).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("request body is too large (limit {0} bytes)")]
    PayloadTooLarge(usize),
    #[error("{1}")]
    Unprocessable(&'static str, String),
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// 429: this user or address already holds its cap of open sockets.
    #[error("too many open connections; close some and try again")]
    TooManyConnections,
    #[error("a dependency is unavailable")]
    Unavailable(String),
    /// 405: the path exists, but not with this method; `allow` lists the methods it has
    /// (sent in the `Allow` header too).
    #[error("{method} is not allowed here; use {}", allow.join(", "))]
    MethodNotAllowed { method: String, allow: Vec<String> },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// The JSON body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case, for programs.
    pub code: String,
    /// For people.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = BTreeMap::new();
        fields.insert(field.to_string(), message.clone());
        ApiError::Validation {
            message: format!("{field}: {message}"),
            fields,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest("bad_request", message.into())
    }

    pub fn forbidden() -> Self {
        ApiError::Forbidden("forbidden", "your role does not allow this action".into())
    }

    pub fn unauthenticated() -> Self {
        ApiError::Unauthorized("unauthenticated", "sign in to continue".into())
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    fn code(&self) -> &str {
        match self {
            ApiError::Validation { .. } => "validation_failed",
            ApiError::BadRequest(c, _)
            | ApiError::Unauthorized(c, _)
            | ApiError::Forbidden(c, _)
            | ApiError::Conflict(c, _)
            | ApiError::Unprocessable(c, _) => c,
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::TooManyConnections => "too_many_connections",
            ApiError::Unavailable(_) => "service_unavailable",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

/// Collects field problems so a handler can report all of them at once.
#[derive(Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let message = self
            .0
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ");
        Err(ApiError::Validation {
            message,
            fields: self.0,
        })
    }
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                ApiError::Conflict("conflict", "that already exists".into())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                ApiError::Conflict("conflict", "a referenced record does not exist".into())
            }
            _ => ApiError::Internal(anyhow::Error::new(e).context("database")),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. } | ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(..) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } | ApiError::TooManyConnections => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let details = match self {
            ApiError::Validation { fields, .. } => Some(serde_json::json!({ "fields": fields })),
            ApiError::TooManyRequests { retry_after_secs } => {
                Some(serde_json::json!({ "retry_after_secs": retry_after_secs }))
            }
            ApiError::MethodNotAllowed { allow, .. } => Some(serde_json::json!({ "allow": allow })),
            _ => None,
        };
        let message = match self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "something went wrong on our side".to_string()
            }
            ApiError::Unavailable(what) => {
                tracing::warn!(dependency = %what, "dependency unavailable");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            res.insert_header((header::ALLOW, allow.join(", ")));
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
                details,
            },
        })
    }
}

/// Turns actix's extractor failures (bad JSON, bad path or query) into our error shape.
pub mod extractors {
    use super::ApiError;
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::{web, HttpRequest};

    pub fn json_config(limit: usize) -> web::JsonConfig {
        web::JsonConfig::default()
            .limit(limit)
            .error_handler(move |err, _req: &HttpRequest| {
                let e = match &err {
                    JsonPayloadError::Overflow { .. }
                    | JsonPayloadError::OverflowKnownLength { .. } => {
                        ApiError::PayloadTooLarge(limit)
                    }
                    JsonPayloadError::Payload(p) if crate::http::input::is_nul_error(p) => {
                        ApiError::BadRequest("invalid_body", crate::http::input::NUL_MESSAGE.into())
                    }
                    JsonPayloadError::ContentType => ApiError::BadRequest(
                        "unsupported_content_type",
                        "send the body as application/json".into(),
                    ),
                    JsonPayloadError::Deserialize(de) if de.is_data() => {
                        ApiError::BadRequest("invalid_body", format!("invalid request body: {de}"))
                    }
                    _ => ApiError::BadRequest("malformed_json", format!("malformed JSON: {err}")),
                };
                e.into()
            })
    }

    pub fn path_config() -> web::PathConfig {
        web::PathConfig::default().error_handler(|err: PathError, _req| {
            let _ = err;
            ApiError::NotFound("resource").into()
        })
    }

    pub fn query_config() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
            ApiError::BadRequest("invalid_query", format!("invalid query string: {err}")).into()
        })
    }
}
