//! Text the database cannot store: U+0000 (NUL).
//!
//! PostgreSQL refuses NUL in `text` and `jsonb`, so a string that contains one — `"\u0000"` in
//! a JSON body, `%00` in a query string — used to fail deep inside a write or a search with a
//! 500, and only on PostgreSQL (SQLite stores it). [`refuse_nul`] answers such requests 400
//! before any handler runs, on every backend alike: `invalid_body` or `invalid_query`, "text
//! must not contain U+0000". The OpenAPI document says so (`info.description`, and the shared
//! 400 response). Found by the contract fuzzer (`tests/api/openapi_contract.rs`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};

use crate::error::ApiError;
use crate::state::AppState;

pub const NUL_MESSAGE: &str = "text must not contain U+0000 (NUL)";

/// Whether a JSON text has a `\u0000` escape inside a string (an escaped backslash followed
/// by `u0000` is not one).
pub fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
}

/// Middleware: see the module docs.
pub async fn refuse_nul<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let refuse = |req: ServiceRequest, e: ApiError| {
        let (req, _) = req.into_parts();
        Ok(ServiceResponse::new(req, e.error_response()).map_into_right_body())
    };
    if req
        .query_string()
        .as_bytes()
        .windows(3)
        .any(|w| w == b"%00")
    {
        return refuse(
            req,
            ApiError::BadRequest("invalid_query", NUL_MESSAGE.into()),
        );
    }
    if is_json(&req) {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.server.body_limit_bytes)
            .unwrap_or(usize::MAX);
        let bytes = match req.extract::<web::Bytes>().await {
            Ok(b) => b,
            Err(e) => {
                let overflow = e
                    .as_error::<PayloadError>()
                    .is_some_and(|p| matches!(p, PayloadError::Overflow));
                let e = if overflow {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::BadRequest("malformed_json", format!("cannot read the body: {e}"))
                };
                return refuse(req, e);
            }
        };
        if has_nul_escape(&bytes) {
            return refuse(
                req,
                ApiError::BadRequest("invalid_body", NUL_MESSAGE.into()),
            );
        }
        req.set_payload(Payload::from(bytes));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn nul_escapes() {
        assert!(has_nul_escape(br#"{"a":"x\u0000y"}"#));
        assert!(has_nul_escape(br#"["\\\u0000"]"#));
        assert!(!has_nul_escape(br#"{"a":"x\\u0000y"}"#));
        assert!(!has_nul_escape(br#"{"a":"\u0001"}"#));
        assert!(!has_nul_escape(br#"{"a":"\\"}"#));
    }
}
