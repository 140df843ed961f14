//! Notification emails: one `multipart/alternative` message (HTML and plain text) per
//! notification, rendered from templates; `List-Unsubscribe` with RFC 8058 one-click; the
//! daily digest ([`digest`]).
//!
//! Templates: `minijinja` rather than `askama`. Both are well kept; minijinja needs no
//! proc-macro (a lighter build on small machines), escapes HTML automatically for `.html`
//! templates (every user-written value — post titles, names, comments — goes through it),
//! leaves `.txt` templates alone, and supports layout inheritance. The templates are
//! compiled into the binary (`include_str!`) and parsed once.

pub mod digest;
pub mod unsubscribe;

use std::sync::LazyLock;

use async_trait::async_trait;
use copydesk_actors::ports::{ClaimedJob, JobHandler};
use minijinja::{context, Environment};
use sea_orm::{ConnectionTrait, FromQueryResult};
use uuid::Uuid;

use super::store::{self, Row};
use super::types::{NotificationType, DIGEST_DAILY};
use super::{prefs, Notify};
use crate::jobs::store::stmt;
use crate::mail::RichEmail;

/// The job that sends one notification's email.
pub const EMAIL_JOB: &str = "notify.email";
/// The job that sends one user's daily digest.
pub const DIGEST_JOB: &str = "notify.digest";
/// Where people manage their notifications in the web app.
pub const PREFERENCES_PATH: &str = "/settings/notifications";

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, src) in [
        ("layout.html", include_str!("../templates/layout.html")),
        (
            "notification.html",
            include_str!("../templates/notification.html"),
        ),
        (
            "notification.txt",
            include_str!("../templates/notification.txt"),
        ),
        ("digest.html", include_str!("../templates/digest.html")),
        ("digest.txt", include_str!("../templates/digest.txt")),
        (
            "unsubscribe.html",
            include_str!("../templates/unsubscribe.html"),
        ),
    ] {
        env.add_template(name, src)
            .expect("the notification templates parse");
    }
    env
});

/// A link for an `href`: our links (the public URL, ids, base64url tokens) need no escaping
/// beyond refusing the characters that would; marked safe so `/` stays readable.
pub fn link(url: String) -> minijinja::Value {
    if url.contains(['<', '>', '"', '\'', '&']) {
        return minijinja::Value::from(url);
    }
    minijinja::Value::from_safe_string(url)
}

/// Renders one of the templates (`.html` ones escape every value).
pub fn render(name: &str, ctx: minijinja::Value) -> Result<String, String> {
    TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("template {name}: {e}"))
}

/// The words that differ per type: the subject's lead, the line under the title, the button.
fn wording(t: NotificationType, actor: &str) -> (String, &'static str) {
    match t {
        NotificationType::ApprovalRequested => (format!("Requested by {actor}"), "Review the post"),
        NotificationType::Approved => (format!("Approved by {actor}"), "Open the post"),
        NotificationType::Rejected => (format!("Rejected by {actor}"), "Open the post"),
        NotificationType::ChangesRequested => {
            (format!("{actor} asked for changes"), "Edit the post")
        }
        NotificationType::Mentioned => (format!("{actor} wrote"), "Reply"),
        NotificationType::DeadlineNear => (String::new(), "Review the post"),
        NotificationType::Published => (String::new(), "See the post"),
        NotificationType::Failed => (String::new(), "Fix the post"),
    }
}

/// One notification's email (to `to`); `public_url` prefixes the links.
pub fn compose(
    n: &Row,
    to: &str,
    public_url: &str,
    unsubscribe_token: &str,
) -> Result<RichEmail, String> {
    let t = n.kind().ok_or("unknown notification type")?;
    let actor = n.actor_name.clone().unwrap_or_default();
    let (lead, action) = wording(t, &actor);
    let unsubscribe_url =
        format!("{public_url}/api/notifications/unsubscribe?token={unsubscribe_token}");
    let ctx = context! {
        subject => n.title,
        title => n.title,
        body => n.body,
        actor => !actor.is_empty(),
        lead => lead,
        action => action,
        label => t.label(),
        link => link(format!("{public_url}{}", n.url)),
        unsubscribe_url => link(unsubscribe_url.clone()),
        preferences_url => link(format!("{public_url}{PREFERENCES_PATH}")),
    };
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "copydesk.invalid".into());
    Ok(RichEmail {
        to: to.to_string(),
        subject: n.title.clone(),
        text: render("notification.txt", ctx.clone())?,
        html: render("notification.html", ctx)?,
        headers: one_click(&unsubscribe_url),
        message_id: Some(format!("{}.notification@{host}", n.id.simple())),
    })
}

/// RFC 8058 one-click unsubscribe headers (RFC 2369 `List-Unsubscribe` with an HTTPS URL,
/// plus `List-Unsubscribe-Post`): mail providers POST to the URL without showing a page.
pub(crate) fn one_click(unsubscribe_url: &str) -> Vec<(String, String)> {
    vec![
        ("List-Unsubscribe".into(), format!("<{unsubscribe_url}>")),
        (
            "List-Unsubscribe-Post".into(),
            "List-Unsubscribe=One-Click".into(),
        ),
    ]
}

#[derive(FromQueryResult)]
pub(crate) struct Recipient {
    pub email: String,
}

pub(crate) async fn recipient<C: ConnectionTrait>(
    db: &C,
    user: Uuid,
) -> Result<Option<Recipient>, String> {
    Recipient::find_by_statement(stmt(
        db,
        "SELECT email FROM users WHERE id = $1",
        vec![user.into()],
    ))
    .one(db)
    .await
    .map_err(|e| e.to_string())
}

/// Records the outcome of one channel's delivery.
pub(crate) async fn record_delivery(
    n: &Notify,
    id: Uuid,
    channel: &str,
    status: &str,
    error: Option<String>,
) -> Result<(), String> {
    let now = n.now();
    let sent_at = (status == "sent").then_some(now);
    n.db.execute_raw(stmt(
        &n.db,
        "UPDATE notification_deliveries SET status = $3, attempts = attempts + 1, last_error = $4, \
         sent_at = COALESCE(sent_at, $5), updated_at = $6 WHERE notification_id = $1 AND channel = $2",
        vec![
            id.into(),
            channel.into(),
            status.into(),
            error.into(),
            sent_at.into(),
            now.into(),
        ],
    ))
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[derive(FromQueryResult)]
pub(crate) struct Delivery {
    pub status: String,
}

pub(crate) async fn delivery(
    n: &Notify,
    id: Uuid,
    channel: &str,
) -> Result<Option<Delivery>, String> {
    Delivery::find_by_statement(stmt(
        &n.db,
        "SELECT status FROM notification_deliveries WHERE notification_id = $1 AND channel = $2",
        vec![id.into(), channel.into()],
    ))
    .one(&n.db)
    .await
    .map_err(|e| e.to_string())
}

pub(crate) fn notification_id(job: &ClaimedJob) -> Result<Uuid, String> {
    job.payload["notification_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "the job has no notification_id".to_string())
}

/// `notify.email`: sends one notification's email, once.
pub struct EmailJob(pub Notify);

#[async_trait]
impl JobHandler for EmailJob {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        let (n, job) = (self.0.clone(), job.clone());
        self.0
            .on_main(async move { send_email(&n, &job).await })
            .await
    }
}

async fn send_email(n: &Notify, job: &ClaimedJob) -> Result<(), String> {
    {
        let id = notification_id(job)?;
        match delivery(n, id, "email").await? {
            Some(d) if d.status == "pending" => {}
            _ => return Ok(()), // sent, skipped, or gone with its notification
        }
        let Some(row) = store::find(&n.db, id).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let Some(t) = row.kind() else {
            return record_delivery(n, id, "email", "skipped", Some("unknown type".into())).await;
        };
        // The preferences may have changed since the notification was made.
        let ch = prefs::channels(&n.db, row.user_id)
            .await
            .map_err(|e| e.to_string())?[&t];
        let digest = prefs::digest(&n.db, row.user_id)
            .await
            .map_err(|e| e.to_string())?;
        if !ch.email || digest == DIGEST_DAILY {
            return record_delivery(n, id, "email", "skipped", Some("email turned off".into()))
                .await;
        }
        let Some(to) = recipient(&n.db, row.user_id).await? else {
            return Ok(());
        };
        let token = unsubscribe::token(&n.encryption_key, row.user_id, t);
        let mail = compose(&row, &to.email, &n.public_url, &token)?;
        let Some(mailer) = n.mailer.upgrade() else {
            return Err("shutting down".into());
        };
        if let Err(e) = mailer.send_rich(&mail).await {
            let msg = e.to_string();
            record_delivery(n, id, "email", "pending", Some(msg.clone())).await?;
            return Err(msg);
        }
        record_delivery(n, id, "email", "sent", None).await
    }
}
