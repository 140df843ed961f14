//! One attempt on the wire: vet the URL again, sign with the current secrets (the previous
//! one too during a rotation), POST through the guarded client (no redirects, the
//! configured timeout), and keep the status, `Retry-After` and the start of the answer.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::delivery::{Deps, EXCERPT_BYTES};
use super::entities::{endpoints, messages};
use super::service;

/// How one attempt went.
pub struct Outcome {
    pub http_status: Option<u16>,
    pub response: String,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    pub duration_ms: i64,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.http_status.is_some_and(|s| (200..300).contains(&s))
    }
}

fn retry_after(h: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok()
}

pub async fn send(d: &Deps, ep: &endpoints::Model, msg: &messages::Model) -> Outcome {
    let started = Instant::now();
    let fail = |error: String, started: Instant| Outcome {
        http_status: None,
        response: String::new(),
        error: Some(error),
        retry_after: None,
        duration_ms: started.elapsed().as_millis() as i64,
    };
    // Literal addresses skip the resolver: vet the URL as it is now, every time.
    if let Err(e) = d.guard.check_url(&ep.url).await {
        return fail(format!("refused: {e}"), started);
    }
    let now = d.now();
    let secrets = match service::signing_secrets(&d.encryption_key, ep, now) {
        Ok(s) => s,
        Err(e) => return fail(e, started),
    };
    let ts = now.timestamp();
    let sig = match super::signing::signature_header(&secrets, &msg.id, ts, msg.payload.as_bytes())
    {
        Ok(s) => s,
        Err(e) => return fail(e, started),
    };
    let mut rq = d
        .client
        .post(&ep.url)
        .header("content-type", "application/json")
        .header("webhook-id", &msg.id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig);
    let headers: std::collections::BTreeMap<String, String> =
        serde_json::from_value(ep.headers.clone()).unwrap_or_default();
    for (k, v) in headers {
        rq = rq.header(k, v);
    }
    match rq.body(msg.payload.clone()).send().await {
        Err(e) => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            fail(s, started)
        }
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let retry_after = retry_after(resp.headers(), now);
            let mut excerpt = Vec::new();
            while excerpt.len() < EXCERPT_BYTES {
                match resp.chunk().await {
                    Ok(Some(c)) => excerpt.extend_from_slice(&c),
                    _ => break,
                }
            }
            excerpt.truncate(EXCERPT_BYTES);
            let mut text = String::from_utf8_lossy(&excerpt).into_owned();
            if text.ends_with('\u{FFFD}') {
                text.pop();
            }
            Outcome {
                http_status: Some(status),
                response: text,
                error: None,
                retry_after,
                duration_ms: started.elapsed().as_millis() as i64,
            }
        }
    }
}
