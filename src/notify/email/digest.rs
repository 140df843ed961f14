//! The daily digest: users with `email_digest = daily` get no single emails; once a day (the
//! `notify.digest` cron, `notifications.digest_cron` in `jobs.time_zone`) one
//! `notify.digest` job per user with something new since their last digest — idempotency key
//! `digest:<user>:<day>`, so two nodes or a rerun of the tick queue one — sends them one
//! email listing it, then moves their `last_digest_at` to the tick.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use copydesk_actors::ports::{ClaimedJob, CronTask, JobHandler};
use minijinja::context;
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::json;
use uuid::Uuid;

use super::{recipient, render, DIGEST_JOB, PREFERENCES_PATH};
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
}

/// The cron task: one digest job per user who has something new.
pub struct DigestSchedule(pub Notify);

#[async_trait]
impl CronTask for DigestSchedule {
    async fn run(&self, tick: DateTime<Utc>) -> Result<(), String> {
        let n = &self.0;
        let due = Due::find_by_statement(stmt(
            &n.db,
            "SELECT DISTINCT s.user_id AS user_id FROM notification_settings s JOIN notifications n ON n.user_id = s.user_id \
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
        let day = tick.format("%Y-%m-%d");
        let txn = crate::store::begin(&n.db)
            .await
            .map_err(|e| e.to_string())?;
        for d in due {
            let mut j = NewJob::new(
                DIGEST_JOB,
                json!({ "user_id": d.user_id, "until": tick.to_rfc3339() }),
            );
            j.idempotency_key = Some(format!("digest:{}:{day}", d.user_id));
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
        let n = &self.0;
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
        let ch = prefs::channels(&n.db, user)
            .await
            .map_err(|e| e.to_string())?;
        let items: Vec<&Row> = rows
            .iter()
            .filter(|r| r.kind().is_some_and(|t| ch[&t].email))
            .collect();
        if !items.is_empty() {
            let Some(to) = recipient(&n.db, user).await? else {
                return Ok(());
            };
            let mail = compose(&items, &to.email, &n.public_url, user, until)?;
            let Some(mailer) = n.mailer.upgrade() else {
                return Err("shutting down".into());
            };
            mailer.send_rich(&mail).await.map_err(|e| e.to_string())?;
        }
        n.db.execute_raw(stmt(
            &n.db,
            "UPDATE notification_settings SET last_digest_at = $2 WHERE user_id = $1 \
             AND (last_digest_at IS NULL OR last_digest_at < $2)",
            vec![user.into(), until.into()],
        ))
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn compose(
    items: &[&Row],
    to: &str,
    public_url: &str,
    user: Uuid,
    until: DateTime<Utc>,
) -> Result<RichEmail, String> {
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
                link => format!("{public_url}{}", r.url),
                when => r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            }
        })
        .collect();
    let ctx = context! {
        subject => subject,
        items => list,
        preferences_url => format!("{public_url}{PREFERENCES_PATH}"),
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
        headers: Vec::new(),
        message_id: Some(format!(
            "digest.{}.{}@{host}",
            user.simple(),
            until.format("%Y%m%d")
        )),
    })
}
