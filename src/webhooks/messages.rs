//! Messages: one per event and endpoint, created in one transaction with the durable job
//! that makes its first attempt. Also the reads of the message and attempt log, replay,
//! test-send, manual retry and stats.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::entities::{attempts, endpoints, messages};
use super::views::*;
use crate::error::ApiError;
use crate::jobs::store::stmt;
use crate::jobs::NewJob;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// The job kind that makes one attempt of one message.
pub const ATTEMPT: &str = "webhook.attempt";

/// What a message id looks like (documented for the path parameter).
pub const MESSAGE_ID_PATTERN: &str = "^msg_[0-9a-f]{32}$";

/// A message id: `msg_` + 32 hex digits, derived from what it carries so that a redelivered
/// event makes the same message (and no second one).
pub fn message_id(endpoint: Uuid, event: Uuid, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(endpoint.as_bytes());
    h.update(event.as_bytes());
    h.update(salt.as_bytes());
    format!("msg_{}", &hex::encode(h.finalize())[..32])
}

/// The body: `{"type","timestamp","data"}` (Standard Webhooks).
pub fn body(event_type: &str, at: DateTime<Utc>, data: &Value) -> String {
    json!({
        "type": event_type,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// The job of attempt `n` of `msg` (the idempotency key keeps one per attempt, so a rerun
/// after a crash does not schedule twice).
pub fn attempt_job(msg: &str, n: i32, run_at: DateTime<Utc>, tag: &str) -> NewJob {
    let mut j = NewJob::new(ATTEMPT, json!({ "message_id": msg, "attempt": n }));
    j.run_at = Some(run_at);
    j.max_attempts = 5;
    j.idempotency_key = Some(format!("webhook:{msg}:{n}{tag}"));
    j
}

pub struct NewMessage<'a> {
    pub id: String,
    pub endpoint: &'a endpoints::Model,
    pub event_id: Option<Uuid>,
    pub event_type: &'a str,
    pub at: DateTime<Utc>,
    pub data: &'a Value,
}

/// Stores a message and its first attempt's job on `conn` (the caller's transaction).
/// False when the message already existed.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    m: NewMessage<'_>,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let payload = body(m.event_type, m.at, m.data);
    let res = conn
        .execute_raw(stmt(
            conn,
            "INSERT INTO webhook_messages (id, endpoint_id, workspace_id, event_id, event_type, payload, status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) ON CONFLICT (id) DO NOTHING",
            vec![
                m.id.clone().into(),
                m.endpoint.id.into(),
                m.endpoint.workspace_id.into(),
                m.event_id.into(),
                m.event_type.to_string().into(),
                payload.into(),
                now.into(),
            ],
        ))
        .await?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    crate::jobs::enqueue(conn, attempt_job(&m.id, 1, now, ""), now).await?;
    Ok(true)
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    endpoint: Uuid,
    id: &str,
) -> Result<messages::Model, ApiError> {
    messages::Entity::find_by_id(id.to_string())
        .filter(messages::Column::EndpointId.eq(endpoint))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("webhook message"))
}

fn cursor_of(m: &messages::Model) -> String {
    format!("{}_{}", m.created_at.timestamp_micros(), m.id)
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    endpoint: Uuid,
    q: &MessageQuery,
) -> Result<MessagePage, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    let mut find = messages::Entity::find().filter(messages::Column::EndpointId.eq(endpoint));
    if let Some(s) = q.status {
        find = find.filter(messages::Column::Status.eq(s.as_str()));
    }
    if let Some(c) = &q.before {
        let (micros, id) = c
            .split_once('_')
            .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id)))
            .ok_or_else(|| ApiError::validation("before", "is not a cursor from this list"))?;
        let t = DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| ApiError::validation("before", "is not a cursor from this list"))?;
        use sea_orm::Condition;
        find = find.filter(
            Condition::any().add(messages::Column::CreatedAt.lt(t)).add(
                Condition::all()
                    .add(messages::Column::CreatedAt.eq(t))
                    .add(messages::Column::Id.lt(id.to_string())),
            ),
        );
    }
    let rows = find
        .order_by_desc(messages::Column::CreatedAt)
        .order_by_desc(messages::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    let items: Vec<_> = rows.iter().take(limit as usize).collect();
    Ok(MessagePage {
        next_cursor: if more {
            items.last().map(|m| cursor_of(m))
        } else {
            None
        },
        items: items.into_iter().map(MessageView::new).collect(),
    })
}

pub async fn attempts_of<C: ConnectionTrait>(db: &C, msg: &str) -> Result<AttemptList, ApiError> {
    let rows = attempts::Entity::find()
        .filter(attempts::Column::MessageId.eq(msg.to_string()))
        .order_by_asc(attempts::Column::Attempt)
        .order_by_asc(attempts::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(AttemptList {
        items: rows.iter().map(AttemptView::new).collect(),
    })
}

#[derive(FromQueryResult)]
struct Sample {
    status: String,
    duration_ms: i64,
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub async fn stats<C: ConnectionTrait>(db: &C, endpoint: Uuid) -> Result<EndpointStats, ApiError> {
    let rows = Sample::find_by_statement(stmt(
        db,
        "SELECT status, duration_ms FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY created_at DESC LIMIT 1000",
        vec![endpoint.into()],
    ))
    .all(db)
    .await?;
    let pending = Count::find_by_statement(stmt(
        db,
        "SELECT COUNT(*) AS n FROM webhook_messages WHERE endpoint_id = $1 AND status = 'pending'",
        vec![endpoint.into()],
    ))
    .one(db)
    .await?
    .map_or(0, |c| c.n);
    let succeeded = rows.iter().filter(|r| r.status == SUCCEEDED).count() as u64;
    let mut lat: Vec<i64> = rows.iter().map(|r| r.duration_ms).collect();
    lat.sort_unstable();
    let n = rows.len() as u64;
    Ok(EndpointStats {
        attempts: n,
        succeeded,
        failed: n - succeeded,
        success_rate: (n > 0).then(|| succeeded as f64 / n as f64),
        latency_p50_ms: percentile(&lat, 50.0),
        latency_p95_ms: percentile(&lat, 95.0),
        pending_messages: pending.max(0) as u64,
    })
}

#[derive(FromQueryResult)]
struct PastEvent {
    id: Uuid,
    event_type: String,
    data: Value,
    created_at: DateTime<Utc>,
}

/// Events of the endpoint's workspace since `since` that it wants, oldest first (at most
/// 10,000; `webhook.*` management events are never delivered).
pub async fn events_since<C: ConnectionTrait>(
    db: &C,
    e: &endpoints::Model,
    since: DateTime<Utc>,
) -> Result<Vec<(Uuid, String, Value, DateTime<Utc>)>, ApiError> {
    let patterns: Vec<String> = serde_json::from_value(e.event_types.clone()).unwrap_or_default();
    let rows = PastEvent::find_by_statement(stmt(
        db,
        "SELECT id, \"type\" AS event_type, data, created_at FROM events WHERE workspace_id = $1 AND created_at >= $2 ORDER BY seq LIMIT 10000",
        vec![e.workspace_id.into(), since.into()],
    ))
    .all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            !r.event_type.starts_with("webhook.")
                && !r.event_type.starts_with("notification.")
                && super::service::matches(&patterns, &r.event_type)
        })
        .map(|r| (r.id, r.event_type, r.data, r.created_at))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_match_their_documented_pattern() {
        let (e, ev) = (Uuid::new_v4(), Uuid::new_v4());
        let id = message_id(e, ev, "");
        assert_eq!(
            id,
            message_id(e, ev, ""),
            "a redelivered event makes the same message"
        );
        assert_ne!(id, message_id(e, ev, "replay:1"));
        assert!(
            regex::Regex::new(MESSAGE_ID_PATTERN).unwrap().is_match(&id),
            "{id}"
        );
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 95.0), Some(4));
    }
}
