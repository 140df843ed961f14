//! Endpoints: the rules for their fields, and create / update / delete / reveal / rotate —
//! each write one [`UnitOfWork`] with its event and audit row. Secrets never leave here
//! unsealed except in the answer to the admin who asked.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::entities::endpoints;
use super::signing;
use super::views::{EndpointCreate, EndpointUpdate};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::events::catalogue::WebhookEvent;
use crate::events::{EventType, UnitOfWork};
use crate::state::AppState;

/// How long a rotated-out secret keeps signing alongside the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_DESCRIPTION: usize = 500;
pub const MAX_EVENT_TYPES: usize = 100;
pub const MAX_HEADERS: usize = 20;
pub const MAX_RATE_LIMIT: i32 = 1000;

fn unprocessable(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(code, msg.into())
}

/// Does `pattern` (a catalogue name, `prefix.*`, or `*`) name any event type?
fn known_pattern(p: &str) -> bool {
    if p == "*" {
        return true;
    }
    match p.strip_suffix(".*") {
        Some(prefix) => EventType::ALL
            .iter()
            .any(|t| t.as_str().starts_with(&format!("{prefix}."))),
        None => EventType::parse(p).is_some(),
    }
}

/// Whether an endpoint with `patterns` (empty: all) wants `event_type`.
pub fn matches(patterns: &[String], event_type: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            p == "*"
                || p == event_type
                || p.strip_suffix('*')
                    .is_some_and(|prefix| prefix.ends_with('.') && event_type.starts_with(prefix))
        })
}

pub fn check_event_types(types: &[String]) -> Result<Vec<String>, ApiError> {
    if types.len() > MAX_EVENT_TYPES {
        return Err(unprocessable(
            "too_many_event_types",
            format!("at most {MAX_EVENT_TYPES} event types"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        let t = t.trim().to_string();
        if !known_pattern(&t) {
            return Err(unprocessable(
                "unknown_event_type",
                format!("{t:?} is not an event type of the catalogue (GET /api/events/catalogue) nor a pattern such as post.*"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Headers the transport or the signature owns.
fn reserved_header(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "host",
        "content-length",
        "content-type",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "user-agent",
        "proxy-authorization",
        "proxy-connection",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
    ];
    RESERVED.contains(&name) || name.starts_with("webhook-") || name.starts_with("proxy-")
}

pub fn check_headers(h: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    if h.len() > MAX_HEADERS {
        return Err(unprocessable(
            "invalid_header",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in h {
        let name = k.trim().to_ascii_lowercase();
        let token = !name.is_empty()
            && name.len() <= 100
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(unprocessable(
                "invalid_header",
                format!("{k:?} is not a valid header name"),
            ));
        }
        if reserved_header(&name) {
            return Err(unprocessable(
                "header_not_allowed",
                format!("the header {name} is set by the server and cannot be overridden"),
            ));
        }
        if v.len() > 1000
            || v.bytes()
                .any(|b| b == b'\r' || b == b'\n' || (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(unprocessable(
                "invalid_header",
                format!("the value of {name} must be at most 1000 visible characters"),
            ));
        }
        if out.insert(name.clone(), v.trim().to_string()).is_some() {
            return Err(unprocessable(
                "invalid_header",
                format!("{name} is given twice"),
            ));
        }
    }
    Ok(out)
}

fn check_rate(r: Option<i32>) -> Result<Option<i32>, ApiError> {
    match r {
        Some(n) if !(1..=MAX_RATE_LIMIT).contains(&n) => Err(unprocessable(
            "invalid_rate_limit",
            format!("rate_limit is sends per second, 1–{MAX_RATE_LIMIT}"),
        )),
        r => Ok(r),
    }
}

fn check_description(d: &str) -> Result<String, ApiError> {
    let d = d.trim();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(unprocessable(
            "invalid_description",
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(d.to_string())
}

pub async fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    if url.len() > MAX_URL_LEN {
        return Err(unprocessable(
            "url_invalid",
            format!("the URL is longer than {MAX_URL_LEN} characters"),
        ));
    }
    let parsed = state
        .outbound
        .check_url(url)
        .await
        .map_err(|e| unprocessable(e.code(), e.to_string()))?;
    Ok(parsed.to_string())
}

/// An endpoint of `workspace` (another workspace's id answers 404).
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace: Uuid,
    id: Uuid,
) -> Result<endpoints::Model, ApiError> {
    endpoints::Entity::find_by_id(id)
        .filter(endpoints::Column::WorkspaceId.eq(workspace))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    workspace: Uuid,
) -> Result<Vec<endpoints::Model>, ApiError> {
    Ok(endpoints::Entity::find()
        .filter(endpoints::Column::WorkspaceId.eq(workspace))
        .order_by_asc(endpoints::Column::CreatedAt)
        .all(db)
        .await?)
}

fn event(e: &endpoints::Model, reason: Option<String>) -> WebhookEvent {
    WebhookEvent {
        endpoint_id: e.id,
        description: e.description.clone(),
        reason,
    }
}

fn target(id: Uuid) -> crate::events::Target {
    ("webhook_endpoint", Some(id.to_string()))
}

/// Creates an endpoint; answers it with its secret in clear (the only time besides reveal).
pub async fn create(
    state: &AppState,
    actor: Uuid,
    meta: &RequestMeta,
    workspace: Uuid,
    req: EndpointCreate,
) -> Result<(endpoints::Model, String), ApiError> {
    let url = check_url(state, &req.url).await?;
    let event_types = check_event_types(&req.event_types)?;
    let description = check_description(&req.description)?;
    let rate_limit = check_rate(req.rate_limit)?;
    let headers = check_headers(&req.headers.unwrap_or_default())?;
    let mut uow = UnitOfWork::begin(state, Some(actor), meta).await?;
    let now = uow.now();
    let id = Uuid::now_v7();
    let secret = signing::new_secret();
    let model = endpoints::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace),
        url: Set(url),
        description: Set(description),
        event_types: Set(serde_json::json!(event_types)),
        enabled: Set(req.enabled.unwrap_or(true)),
        disabled_reason: Set(None),
        rate_limit: Set(rate_limit),
        headers: Set(serde_json::json!(headers)),
        secret_enc: Set(signing::seal(&state.encryption_key, id, &secret)),
        old_secret_enc: Set(None),
        old_secret_expires_at: Set(None),
        failing_since: Set(None),
        rate_next_ms: Set(0),
        created_by: Set(Some(actor)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(uow.txn())
    .await?;
    uow.record(
        EventType::WebhookEndpointCreated,
        Some(workspace),
        target(id),
        &event(&model, None),
    )
    .await?;
    uow.commit().await?;
    Ok((model, secret))
}

pub async fn update(
    state: &AppState,
    actor: Uuid,
    meta: &RequestMeta,
    current: endpoints::Model,
    req: EndpointUpdate,
) -> Result<endpoints::Model, ApiError> {
    let mut m: endpoints::ActiveModel = current.clone().into();
    if let Some(u) = &req.url {
        m.url = Set(check_url(state, u).await?);
    }
    if let Some(t) = &req.event_types {
        m.event_types = Set(serde_json::json!(check_event_types(t)?));
    }
    if let Some(d) = &req.description {
        m.description = Set(check_description(d)?);
    }
    if let Some(r) = req.rate_limit {
        m.rate_limit = Set(check_rate(r)?);
    }
    if let Some(h) = &req.headers {
        m.headers = Set(serde_json::json!(check_headers(h)?));
    }
    if let Some(on) = req.enabled {
        m.enabled = Set(on);
        if on && !current.enabled {
            m.disabled_reason = Set(None);
            m.failing_since = Set(None);
        }
    }
    let mut uow = UnitOfWork::begin(state, Some(actor), meta).await?;
    m.updated_at = Set(uow.now());
    let model = m.update(uow.txn()).await?;
    uow.record(
        EventType::WebhookEndpointUpdated,
        Some(model.workspace_id),
        target(model.id),
        &event(&model, None),
    )
    .await?;
    uow.commit().await?;
    Ok(model)
}

pub async fn delete(
    state: &AppState,
    actor: Uuid,
    meta: &RequestMeta,
    e: endpoints::Model,
) -> Result<(), ApiError> {
    let mut uow = UnitOfWork::begin(state, Some(actor), meta).await?;
    // Messages and attempts go with it; their pending jobs find nothing and end.
    uow.txn()
        .execute_raw(crate::jobs::store::stmt(
            uow.txn(),
            "DELETE FROM webhook_attempts WHERE endpoint_id = $1",
            vec![e.id.into()],
        ))
        .await?;
    uow.txn()
        .execute_raw(crate::jobs::store::stmt(
            uow.txn(),
            "DELETE FROM webhook_messages WHERE endpoint_id = $1",
            vec![e.id.into()],
        ))
        .await?;
    endpoints::Entity::delete_by_id(e.id)
        .exec(uow.txn())
        .await?;
    uow.record(
        EventType::WebhookEndpointDeleted,
        Some(e.workspace_id),
        target(e.id),
        &event(&e, None),
    )
    .await?;
    uow.commit().await?;
    Ok(())
}

/// The secrets that sign now: the current one, and the previous one during its overlap.
pub fn signing_secrets(
    key: &[u8; 32],
    e: &endpoints::Model,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let mut out = vec![signing::open(key, e.id, &e.secret_enc)?];
    if let (Some(old), Some(until)) = (&e.old_secret_enc, e.old_secret_expires_at) {
        if until > now {
            out.push(signing::open(key, e.id, old)?);
        }
    }
    Ok(out)
}

/// The current secret, in clear (audited as `webhook.secret_revealed`).
pub async fn reveal(
    state: &AppState,
    actor: Uuid,
    meta: &RequestMeta,
    e: &endpoints::Model,
) -> Result<String, ApiError> {
    let secret = signing::open(&state.encryption_key, e.id, &e.secret_enc)
        .map_err(|m| ApiError::internal(anyhow::anyhow!(m)))?;
    let mut uow = UnitOfWork::begin(state, Some(actor), meta).await?;
    uow.record(
        EventType::WebhookSecretRevealed,
        Some(e.workspace_id),
        target(e.id),
        &event(e, None),
    )
    .await?;
    uow.commit().await?;
    Ok(secret)
}

/// A new secret; the current one keeps signing alongside for [`ROTATION_OVERLAP_HOURS`].
pub async fn rotate(
    state: &AppState,
    actor: Uuid,
    meta: &RequestMeta,
    e: endpoints::Model,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let mut uow = UnitOfWork::begin(state, Some(actor), meta).await?;
    let now = uow.now();
    let until = now + Duration::hours(ROTATION_OVERLAP_HOURS);
    let secret = signing::new_secret();
    let (id, ws) = (e.id, e.workspace_id);
    let mut m: endpoints::ActiveModel = e.clone().into();
    m.old_secret_enc = Set(Some(e.secret_enc.clone()));
    m.old_secret_expires_at = Set(Some(until));
    m.secret_enc = Set(signing::seal(&state.encryption_key, id, &secret));
    m.updated_at = Set(now);
    m.update(uow.txn()).await?;
    uow.record(
        EventType::WebhookSecretRotated,
        Some(ws),
        target(id),
        &event(&e, None),
    )
    .await?;
    uow.commit().await?;
    Ok((secret, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_patterns() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(matches(&[], "post.created"));
        assert!(matches(&s(&["post.*"]), "post.status_changed"));
        assert!(!matches(&s(&["post.*"]), "comment.created"));
        assert!(matches(&s(&["comment.created"]), "comment.created"));
        assert!(!matches(&s(&["comment.created"]), "comment.created2"));
        assert!(
            check_event_types(&s(&["post.*", "member.joined", "post.*"]))
                .unwrap()
                .len()
                == 2
        );
        assert!(check_event_types(&s(&["post.exploded"])).is_err());
        assert!(check_event_types(&s(&["nothing.*"])).is_err());
        assert!(check_event_types(&s(&["po*"])).is_err());
    }

    #[test]
    fn headers_are_checked() {
        let h = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(check_headers(&h("X-Api-Key", "abc")).is_ok());
        for bad in [
            "webhook-signature",
            "Host",
            "content-length",
            "bad header",
            "",
        ] {
            assert!(check_headers(&h(bad, "x")).is_err(), "{bad}");
        }
        assert!(check_headers(&h("x-a", "a\r\nb")).is_err());
    }
}
