//! Text the database cannot store: U+0000 (NUL).
//!
//! PostgreSQL refuses NUL in `text` and `jsonb`, so a string that contains one — `"\u0000"` in
//! a JSON body, `%00` in a query string — used to fail deep inside a write or a search with a
//! 500, and only on PostgreSQL (SQLite stores it). [`refuse_nul`] makes every backend answer
//! 400 instead: a query string with `%00` is refused at once (`invalid_query`); a JSON body is
//! watched as the handler reads it, and a `\u0000` escape in it fails the read, which the JSON
//! extractor answers `invalid_body` (see `error::extractors`) — so credentials and the other
//! extractors are still checked in their usual order. The OpenAPI document says so
//! (`info.description`, and the shared 400 response). Found by the contract fuzzer
//! (`tests/api/openapi_contract.rs`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::{HttpMessage, ResponseError};
use futures_util::StreamExt;

use crate::error::ApiError;

pub const NUL_MESSAGE: &str = "text must not contain U+0000 (NUL)";

/// The error a guarded body's read fails with.
#[derive(Debug)]
pub struct NulInText;

impl std::fmt::Display for NulInText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(NUL_MESSAGE)
    }
}

impl std::error::Error for NulInText {}

/// Whether a payload error is [`NulInText`].
pub fn is_nul_error(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.get_ref().is_some_and(|x| x.is::<NulInText>()))
}

/// Finds `\u0000` escapes in JSON text fed in chunks (an escaped backslash followed by
/// `u0000` is not one).
#[derive(Default)]
pub struct NulScanner {
    /// 0: plain text; 1: after an escaping backslash; 2: after `\u`; 3–5: after `\u0`,
    /// `\u00`, `\u000`.
    state: u8,
}

impl NulScanner {
    /// Feeds the next bytes; `true` once a `\u0000` escape has been seen.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            self.state = match (self.state, b) {
                (0, b'\\') => 1,
                (1, b'u') => 2,
                (2..=4, b'0') => self.state + 1,
                (5, b'0') => return true,
                // `\\`, `\"`, `\uXXXX` with another digit: the escape is over.
                _ => 0,
            };
        }
        false
    }
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
    if req
        .query_string()
        .as_bytes()
        .windows(3)
        .any(|w| w == b"%00")
    {
        let (req, _) = req.into_parts();
        let e = ApiError::BadRequest("invalid_query", NUL_MESSAGE.into());
        return Ok(ServiceResponse::new(req, e.error_response()).map_into_right_body());
    }
    if is_json(&req) {
        let mut scanner = NulScanner::default();
        let guarded = req
            .take_payload()
            .map(move |chunk: Result<web::Bytes, PayloadError>| {
                let chunk = chunk?;
                if scanner.feed(&chunk) {
                    return Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        NulInText,
                    )));
                }
                Ok(chunk)
            });
        req.set_payload(Payload::Stream {
            payload: Box::pin(guarded),
        });
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::NulScanner;

    fn has_nul(chunks: &[&[u8]]) -> bool {
        let mut s = NulScanner::default();
        chunks.iter().any(|c| s.feed(c))
    }

    #[test]
    fn nul_escapes() {
        assert!(has_nul(&[br#"{"a":"x\u0000y"}"#]));
        assert!(has_nul(&[br#"["\\\u0000"]"#]));
        assert!(has_nul(&[br#"{"a":"x\u0"#, br#"000y"}"#]));
        assert!(has_nul(&[br#"{"a":"x\"#, br#"u0000y"}"#]));
        assert!(!has_nul(&[br#"{"a":"x\\u0000y"}"#]));
        assert!(!has_nul(&[br#"{"a":"x\\"#, br#"u0000y"}"#]));
        assert!(!has_nul(&[br#"{"a":"\u0001"}"#]));
        assert!(!has_nul(&[br#"{"a":"\u1000\u0100"}"#]));
        assert!(!has_nul(&[br#"{"a":"\\"}"#]));
    }
}
