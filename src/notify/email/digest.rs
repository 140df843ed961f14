//! The daily digest: users with `email_digest = daily` get no single emails; once a day (the
//! `notify.digest` cron, `notifications.digest_cron` in `jobs.time_zone`) one
//! `notify.digest` job per user with something new since their last digest sends them one
//! email listing it, then moves their `last_digest_at` to the tick. The job's idempotency
//! key is `digest:<user>:<last_digest_at>` — the window it covers — so two nodes, a rerun of
//! a tick, or ticks caught up after downtime queue one job per window, never two digests of
//! the same notifications (a key per day would let two days' jobs race over one window).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::{ClaimedJob, CronTask, JobHandler};
use minijinja::context;
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::json;
use uuid::Uuid;

use super::{recipient, render, unsubscribe, DIGEST_JOB, PREFERENCES_PATH};
use crate::jobs::store::stmt;
use crate::jobs::NewJob;
use crate::mail::RichEmail;
use crate::notify::store::{Row, COLUMNS};
use crate::notify::types::DIGEST_DAILY;
use crate::notify::{prefs, Notify};

/// New since the last digest, up to `$2`: unread in-app ones, and those kept for email only.
const PENDING: &str =
    "n.user_id = $1 AND n.created_at <= $2 AND (n.read_at IS NULL OR n.in_app = $3) \
    AND (s.last_digest_at IS NULL OR n.created_at > s.last_digest_at)";

#[derive(FromQueryResult)]
struct Due {
    user_id: Uuid,
    last_digest_at: Option<DateTime<Utc>>,
}

/// The cron task: one digest job per user who has something new.
pub struct DigestSchedule(pub Notify);

#[async_trait]
impl CronTask for DigestSchedule {
    async fn run(&self, tick: DateTime<Utc>) -> Result<(), String> {
        let n = self.0.clone();
        self.0
            .on_main(async move { schedule(&n, tick).await })
            .await
    }
}

async fn schedule(n: &Notify, tick: DateTime<Utc>) -> Result<(), String> {
    {
        let due = Due::find_by_statement(stmt(
            &n.db,
            "SELECT DISTINCT s.user_id AS user_id, s.last_digest_at AS last_digest_at FROM notification_settings s JOIN notifications n ON n.user_id = s.user_id \
             WHERE s.email_digest = $1 AND n.created_at <= $2 AND (n.read_at IS NULL OR n.in_app = $3) \
             AND (s.last_digest_at IS NULL OR n.created_at > s.last_digest_at)",
            vec![DIGEST_DAILY.into(), tick.into(), false.into()],
        ))
        .all(&n.db)
        .await
        .map_err(|e| e.to_string())?;
        if due.is_empty() {
            return Ok(());
        }
        let txn = crate::store::begin(&n.db)
            .await
            .map_err(|e| e.to_string())?;
        for d in due {
            let mut j = NewJob::new(
                DIGEST_JOB,
                json!({ "user_id": d.user_id, "until": tick.to_rfc3339() }),
            );
            let window = d.last_digest_at.map_or(0, |t| t.timestamp_micros());
            j.idempotency_key = Some(format!("digest:{}:{window}", d.user_id));
            crate::jobs::enqueue(&txn, j, n.now())
                .await
                .map_err(|e| e.to_string())?;
        }
        txn.commit().await.map_err(|e| e.to_string())?;
        n.announcer.work.wake_jobs();
        Ok(())
    }
}

/// `notify.digest`: one user's digest.
pub struct DigestJob(pub Notify);

#[async_trait]
impl JobHandler for DigestJob {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        let (n, job) = (self.0.clone(), job.clone());
        self.0.on_main(async move { digest(&n, &job).await }).await
    }
}

async fn digest(n: &Notify, job: &ClaimedJob) -> Result<(), String> {
    {
        let user: Uuid = job.payload["user_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or("the job has no user_id")?;
        let until: DateTime<Utc> = job.payload["until"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or("the job has no until")?;
        if prefs::digest(&n.db, user)
            .await
            .map_err(|e| e.to_string())?
            != DIGEST_DAILY
        {
            return Ok(());
        }
        // The window: (last_digest_at, until].
        let prev = Window::find_by_statement(stmt(
            &n.db,
            "SELECT last_digest_at FROM notification_settings WHERE user_id = $1",
            vec![user.into()],
        ))
        .one(&n.db)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|w| w.last_digest_at);
        if prev.is_some_and(|p| p >= until) {
            return Ok(()); // already sent
        }
        let rows = Row::find_by_statement(stmt(
            &n.db,
            &format!(
                "SELECT {COLUMNS} FROM notifications n JOIN notification_settings s ON s.user_id = n.user_id \
                 WHERE {PENDING} ORDER BY n.created_at, n.id"
            ),
            vec![user.into(), until.into(), false.into()],
        ))
        .all(&n.db)
        .await
        .map_err(|e| e.to_string())?;
        // Claim the window before sending: of two runs of this job at once (a lease that
        // ran out under a slow send), one sends. A node dying between the claim and the
        // send loses that digest — the notifications stay in the app — rather than risk two.
        if !move_window(n, user, prev, Some(until)).await? {
            return Ok(());
        }
        let ch = prefs::channels(&n.db, user)
            .await
            .map_err(|e| e.to_string())?;
        let items: Vec<&Row> = rows
            .iter()
            .filter(|r| r.kind().is_some_and(|t| ch[&t].email))
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        let Some(to) = recipient(&n.db, user).await? else {
            return Ok(());
        };
        let token = unsubscribe::token_for(&n.encryption_key, user, unsubscribe::Target::Digest);
        let mail = compose(&items, &to.email, &n.public_url, user, until, &token)?;
        let sent = match n.mailer.upgrade() {
            Some(mailer) => mailer.send_rich(&mail).await.map_err(|e| e.to_string()),
            None => Err("shutting down".into()),
        };
        if let Err(e) = sent {
            // Give the window back so the retry sends it.
            move_window(n, user, Some(until), prev).await?;
            return Err(e);
        }
        Ok(())
    }
}

#[derive(FromQueryResult)]
struct Window {
    last_digest_at: Option<DateTime<Utc>>,
}

/// Moves `last_digest_at` from `from` to `to` if it is still `from`; whether it did.
async fn move_window(
    n: &Notify,
    user: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<bool, String> {
    let res = match from {
        Some(f) => n.db.execute_raw(stmt(
            &n.db,
            "UPDATE notification_settings SET last_digest_at = $2 WHERE user_id = $1 AND last_digest_at = $3",
            vec![user.into(), to.into(), f.into()],
        )),
        None => n.db.execute_raw(stmt(
            &n.db,
            "UPDATE notification_settings SET last_digest_at = $2 WHERE user_id = $1 AND last_digest_at IS NULL",
            vec![user.into(), to.into()],
        )),
    }
    .await
    .map_err(|e| e.to_string())?;
    Ok(res.rows_affected() == 1)
}

fn compose(
    items: &[&Row],
    to: &str,
    public_url: &str,
    user: Uuid,
    until: DateTime<Utc>,
    unsubscribe_token: &str,
) -> Result<RichEmail, String> {
    let unsubscribe_url =
        format!("{public_url}/api/notifications/unsubscribe?token={unsubscribe_token}");
    let subject = match items.len() {
        1 => "Your Copydesk digest: 1 new notification".to_string(),
        k => format!("Your Copydesk digest: {k} new notifications"),
    };
    let list: Vec<_> = items
        .iter()
        .map(|r| {
            context! {
                title => r.title,
                body => r.body,
                link => super::link(format!("{public_url}{}", r.url)),
                when => r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            }
        })
        .collect();
    let ctx = context! {
        subject => subject,
        items => list,
        preferences_url => super::link(format!("{public_url}{PREFERENCES_PATH}")),
        unsubscribe_url => super::link(unsubscribe_url.clone()),
    };
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "copydesk.invalid".into());
    Ok(RichEmail {
        to: to.to_string(),
        subject,
        text: render("digest.txt", ctx.clone())?,
        html: render("digest.html", ctx)?,
        headers: super::one_click(&unsubscribe_url),
        message_id: Some(format!(
            "digest.{}.{}@{host}",
            user.simple(),
            until.format("%Y%m%d")
        )),
    })
}
