//! Sending: `notify.push` fans one notification out to one `notify.push_one` job per
//! subscription of its user (key `notify:<notification>:push:<subscription>`), so a retry
//! never resends to a browser that already has it. `notify.push_one` encrypts, signs and
//! POSTs through the SSRF guard's client:
//!
//! - 2xx: sent. 404/410: the subscription is gone — deleted.
//! - 429: retried after `Retry-After` (a deferred job), or with the runner's backoff.
//! - 5xx, network errors: the job fails and the runner retries with backoff.
//! - other 4xx (400, 403, 413, …): given up, recorded in the delivery row.
//!
//! Headers: `TTL` (`push.ttl_secs`), `Urgency` (high for approval requests, mentions and
//! deadlines), `Topic` (the notification id: a push service replaces an undelivered
//! duplicate), `Content-Encoding: aes128gcm`, `Authorization: vapid t=…, k=…`.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::{ClaimedJob, JobHandler};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{ece, find, list, Subscription, PUSH_ONE_JOB};
use crate::jobs::store::stmt;
use crate::jobs::NewJob;
use crate::notify::email::{delivery, notification_id, record_delivery};
use crate::notify::store::{self, Row};
use crate::notify::types::NotificationType;
use crate::notify::{prefs, Notify};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// `notify.push`: one `notify.push_one` per subscription.
pub struct PushJob(pub Notify);

#[async_trait]
impl JobHandler for PushJob {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        let (n, job) = (self.0.clone(), job.clone());
        self.0.on_main(async move { fan_out(&n, &job).await }).await
    }
}

async fn fan_out(n: &Notify, job: &ClaimedJob) -> Result<(), String> {
    {
        let id = notification_id(job)?;
        match delivery(n, id, "push").await? {
            Some(d) if d.status == "pending" => {}
            _ => return Ok(()),
        }
        let Some(row) = store::find(&n.db, id).await.map_err(err)? else {
            return Ok(());
        };
        let Some(t) = row.kind() else {
            return Ok(());
        };
        let ch = prefs::channels(&n.db, row.user_id).await.map_err(err)?[&t];
        if !ch.push {
            return record_delivery(n, id, "push", "skipped", Some("push turned off".into())).await;
        }
        let subs = list(&n.db, row.user_id).await.map_err(err)?;
        if subs.is_empty() {
            return record_delivery(n, id, "push", "skipped", Some("no subscriptions".into()))
                .await;
        }
        let txn = crate::store::begin(&n.db).await.map_err(err)?;
        for s in &subs {
            let mut j = NewJob::new(
                PUSH_ONE_JOB,
                json!({ "notification_id": id, "subscription_id": s.id }),
            );
            j.idempotency_key = Some(format!("notify:{id}:push:{}", s.id));
            crate::jobs::enqueue(&txn, j, n.now()).await.map_err(err)?;
        }
        txn.execute_raw(stmt(
            &txn,
            "UPDATE notification_deliveries SET status = 'queued', updated_at = $2 WHERE notification_id = $1 AND channel = 'push' AND status = 'pending'",
            vec![id.into(), n.now().into()],
        ))
        .await
        .map_err(err)?;
        txn.commit().await.map_err(err)?;
        n.announcer.work.wake_jobs();
        Ok(())
    }
}

/// What the service worker receives (decrypted): enough to show the notification and open
/// its link.
pub fn payload(row: &Row) -> Value {
    let mut body: String = row.body.chars().take(500).collect();
    if body.len() < row.body.len() {
        body.push('…');
    }
    json!({
        "id": row.id,
        "type": row.kind,
        "workspace_id": row.workspace_id,
        "post_id": row.post_id,
        "title": row.title.chars().take(200).collect::<String>(),
        "body": body,
        "url": row.url,
    })
}

fn urgency(t: Option<NotificationType>) -> &'static str {
    match t {
        Some(
            NotificationType::ApprovalRequested
            | NotificationType::Mentioned
            | NotificationType::DeadlineNear,
        ) => "high",
        _ => "normal",
    }
}

/// How one push went.
pub enum Outcome {
    Sent,
    Gone,
    /// Retry later (`Some`: when the push service asked).
    Retry(String, Option<Duration>),
    GiveUp(String),
}

fn retry_after(h: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// Encrypts `message` for `s` and POSTs it.
pub async fn deliver(
    n: &Notify,
    s: &Subscription,
    message: &Value,
    topic: Option<String>,
    urgency: &str,
) -> Outcome {
    let url = match n.guard.check_url(&s.endpoint).await {
        Ok(u) => u,
        Err(e) => return Outcome::GiveUp(format!("refused: {e}")),
    };
    let key = match n.vapid().await {
        Ok(k) => k,
        Err(e) => return Outcome::Retry(e, None),
    };
    let (Ok(ua), Ok(auth)) = (
        B64.decode(s.p256dh.trim_end_matches('=')),
        B64.decode(s.auth.trim_end_matches('=')),
    ) else {
        return Outcome::GiveUp("the subscription's keys are not base64url".into());
    };
    let body = match ece::encrypt(&ua, &auth, message.to_string().as_bytes()) {
        Ok(b) => b,
        Err(e) => return Outcome::GiveUp(e),
    };
    let now = n.now();
    let mut rq = n
        .client
        .post(url.as_str())
        .header("TTL", n.push.ttl_secs.to_string())
        .header("Urgency", urgency)
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header(
            "Authorization",
            key.authorization(&url, &n.push.subject, now),
        );
    if let Some(t) = topic {
        rq = rq.header("Topic", t);
    }
    match rq.body(body).send().await {
        Err(e) => Outcome::Retry(format!("push service unreachable: {e}"), None),
        Ok(resp) => {
            let status = resp.status().as_u16();
            match status {
                200..=299 => Outcome::Sent,
                404 | 410 => Outcome::Gone,
                429 => Outcome::Retry(
                    "push service answered 429".into(),
                    retry_after(resp.headers(), now),
                ),
                500..=599 => Outcome::Retry(format!("push service answered {status}"), None),
                _ => Outcome::GiveUp(format!("push service answered {status}")),
            }
        }
    }
}

/// `notify.push_one`: one push to one subscription (a notification's, or a test).
pub struct PushOneJob(pub Notify);

#[async_trait]
impl JobHandler for PushOneJob {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        let (n, job) = (self.0.clone(), job.clone());
        self.0
            .on_main(async move { push_one(&n, &job).await })
            .await
    }
}

async fn push_one(n: &Notify, job: &ClaimedJob) -> Result<(), String> {
    {
        let sub_id: Uuid = job.payload["subscription_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or("the job has no subscription_id")?;
        let Some(sub) = find(&n.db, sub_id).await.map_err(err)? else {
            return Ok(()); // unsubscribed meanwhile
        };
        let (message, topic, urg, id) = if job.payload["test"].as_bool() == Some(true) {
            let m = json!({
                "id": Uuid::now_v7(), "type": "test", "title": "Copydesk test notification",
                "body": "Push notifications work in this browser.", "url": "/",
            });
            (m, None, "normal", None)
        } else {
            let id = notification_id(job)?;
            let Some(row) = store::find(&n.db, id).await.map_err(err)? else {
                return Ok(());
            };
            if row.user_id != sub.user_id {
                return Ok(()); // the browser was taken over by another account
            }
            (
                payload(&row),
                Some(id.simple().to_string()),
                urgency(row.kind()),
                Some(id),
            )
        };
        let outcome = deliver(n, &sub, &message, topic, urg).await;
        let now = n.now();
        let (status, error, result) = match outcome {
            Outcome::Sent => {
                n.db.execute_raw(stmt(
                    &n.db,
                    "UPDATE push_subscriptions SET last_success_at = $2, failures = 0 WHERE id = $1",
                    vec![sub.id.into(), now.into()],
                ))
                .await
                .map_err(err)?;
                ("sent", None, Ok(()))
            }
            Outcome::Gone => {
                tracing::info!(subscription_id = %sub.id, "push subscription expired; removed");
                n.db.execute_raw(stmt(
                    &n.db,
                    "DELETE FROM push_subscriptions WHERE id = $1",
                    vec![sub.id.into()],
                ))
                .await
                .map_err(err)?;
                (
                    "gone",
                    Some("the subscription expired (404/410)".to_string()),
                    Ok(()),
                )
            }
            Outcome::Retry(e, after) => {
                bump_failures(n, sub.id).await?;
                match after {
                    Some(wait) => {
                        let attempt = job.payload["deferred"].as_u64().unwrap_or(0) + 1;
                        let mut p = job.payload.clone();
                        p["deferred"] = json!(attempt);
                        let mut j = NewJob::new(PUSH_ONE_JOB, p);
                        j.run_at = Some(
                            now + chrono::Duration::from_std(wait.min(Duration::from_secs(86_400)))
                                .unwrap_or_default(),
                        );
                        j.idempotency_key =
                            id.map(|id| format!("notify:{id}:push:{}:r{attempt}", sub.id));
                        crate::jobs::enqueue(&n.db, j, now).await.map_err(err)?;
                        n.announcer.work.wake_jobs();
                        ("retrying", Some(e), Ok(()))
                    }
                    None => ("retrying", Some(e.clone()), Err(e)),
                }
            }
            Outcome::GiveUp(e) => {
                tracing::info!(subscription_id = %sub.id, reason = %e, "push given up");
                bump_failures(n, sub.id).await?;
                ("failed", Some(e), Ok(()))
            }
        };
        if let Some(id) = id {
            // The channel counts as sent once any browser got it.
            let current = delivery(n, id, "push").await?.map(|d| d.status);
            let next = if current.as_deref() == Some("sent") {
                "sent"
            } else {
                status
            };
            record_delivery(n, id, "push", next, error).await?;
        }
        result
    }
}

async fn bump_failures(n: &Notify, sub: Uuid) -> Result<(), String> {
    n.db.execute_raw(stmt(
        &n.db,
        "UPDATE push_subscriptions SET failures = failures + 1 WHERE id = $1",
        vec![sub.into()],
    ))
    .await
    .map_err(err)?;
    Ok(())
}

/// Queues a test push to each of `user`'s subscriptions.
pub async fn queue_test<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<usize, crate::error::ApiError> {
    let subs = list(db, user).await?;
    for s in &subs {
        let j = NewJob::new(
            PUSH_ONE_JOB,
            json!({ "subscription_id": s.id, "test": true }),
        );
        crate::jobs::enqueue(db, j, now).await?;
    }
    Ok(subs.len())
}
