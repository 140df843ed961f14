//! The `notifier` outbox consumer: events → notifications, their `notification.created`
//! events and their delivery jobs, one unit of work per event.

use std::collections::BTreeSet;

use async_trait::async_trait;
use copydesk_actors::ports::{EventHandler, OutboxEvent};
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde_json::json;
use uuid::Uuid;

use super::store::{self, NewNotification};
use super::types::{NotificationType, DIGEST_DAILY};
use super::{email, prefs, push, Notify};
use crate::error::ApiError;
use crate::events::catalogue::NotificationEvent;
use crate::events::{EventType, UnitOfWork, NO_REQUEST};
use crate::jobs::store::stmt;
use crate::jobs::NewJob;

/// The consumer's name in `outbox_consumers`.
pub const CONSUMER: &str = "notifier";

pub struct Notifier(pub Notify);

#[async_trait]
impl EventHandler for Notifier {
    async fn handle(&self, ev: &OutboxEvent) -> Result<(), String> {
        let (n, ev) = (self.0.clone(), ev.clone());
        self.0
            .on_main(async move { handle(&n, &ev).await.map_err(|e| e.to_string()) })
            .await
    }
}

/// Who is told about `ev`: the approval's `recipients`, or the mentioned member — never the
/// actor, each once.
pub fn recipients(ev: &OutboxEvent) -> Vec<Uuid> {
    let ids: Vec<Uuid> = if ev.event_type == "comment.mentioned" {
        ev.data["user_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .into_iter()
            .collect()
    } else {
        ev.data["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str()?.parse().ok())
            .collect()
    };
    let mut seen = BTreeSet::new();
    ids.into_iter()
        .filter(|id| Some(*id) != ev.actor_id && seen.insert(*id))
        .collect()
}

#[derive(FromQueryResult)]
struct Name {
    name: String,
}

#[derive(FromQueryResult)]
struct Title {
    title: String,
}

async fn user_name<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<String>, ApiError> {
    Ok(Name::find_by_statement(stmt(
        db,
        "SELECT name FROM users WHERE id = $1",
        vec![id.into()],
    ))
    .one(db)
    .await?
    .map(|n| n.name))
}

async fn post_title<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<String>, ApiError> {
    Ok(Title::find_by_statement(stmt(
        db,
        "SELECT title FROM posts WHERE id = $1",
        vec![id.into()],
    ))
    .one(db)
    .await?
    .map(|t| t.title))
}

async fn is_member<C: ConnectionTrait>(db: &C, ws: Uuid, user: Uuid) -> Result<bool, ApiError> {
    #[derive(FromQueryResult)]
    struct One {
        #[allow(dead_code)]
        user_id: Uuid,
    }
    Ok(One::find_by_statement(stmt(
        db,
        "SELECT user_id FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
        vec![ws.into(), user.into()],
    ))
    .one(db)
    .await?
    .is_some())
}

/// Shortens user-written text for a notification line.
pub fn excerpt(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// What a notification says: title, body, the post, who did it.
struct Content {
    title: String,
    body: String,
    post_id: Option<Uuid>,
    actor: Option<(Option<Uuid>, String)>,
}

async fn content(n: &Notify, t: NotificationType, ev: &OutboxEvent) -> Result<Content, ApiError> {
    let d = &ev.data;
    let post_id: Option<Uuid> = d["post_id"].as_str().and_then(|s| s.parse().ok());
    let mut post = d["title"].as_str().map(str::to_string);
    if post.is_none() {
        if let Some(p) = post_id {
            post = post_title(&n.db, p).await?;
        }
    }
    let post = match post.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => excerpt(t, 120),
        _ => "Untitled post".to_string(),
    };
    let actor = if ev.event_type == "comment.mentioned" {
        match d["by"].as_str().and_then(|s| s.parse::<Uuid>().ok()) {
            Some(id) => user_name(&n.db, id).await?.map(|name| (Some(id), name)),
            None => None,
        }
    } else {
        d["by"]["name"].as_str().map(|name| {
            let id = d["by"]["user_id"].as_str().and_then(|s| s.parse().ok());
            (id, name.to_string())
        })
    };
    let who = actor
        .as_ref()
        .map_or("Someone".to_string(), |(_, name)| name.clone());
    let comment = d["comment"]
        .as_str()
        .map(|c| excerpt(c, 280))
        .filter(|c| !c.is_empty());
    let step = d["step"]["name"].as_str().map(str::to_string);
    let (title, body) = match t {
        NotificationType::ApprovalRequested => {
            let why = match (ev.event_type.as_str(), d["action"].as_str()) {
                ("approval.voided", _) => {
                    "The content changed, so it needs approving again.".to_string()
                }
                ("approval.deadline_passed", Some("escalate")) => {
                    "Its approval deadline passed and it was escalated to you.".to_string()
                }
                ("approval.deadline_passed", _) => {
                    "Its approval deadline passed and it was handed to you.".to_string()
                }
                _ => match &step {
                    Some(s) => format!("{who} submitted it for review (step: {s})."),
                    None => format!("{who} submitted it for review."),
                },
            };
            (format!("\u{201c}{post}\u{201d} needs your approval"), why)
        }
        NotificationType::Approved => (
            format!("\u{201c}{post}\u{201d} was approved"),
            comment
                .clone()
                .unwrap_or_else(|| format!("Approved by {who}.")),
        ),
        NotificationType::Rejected => (
            format!("\u{201c}{post}\u{201d} was rejected"),
            comment
                .clone()
                .unwrap_or_else(|| format!("Rejected by {who}.")),
        ),
        NotificationType::ChangesRequested => (
            format!("Changes requested on \u{201c}{post}\u{201d}"),
            comment
                .clone()
                .unwrap_or_else(|| format!("{who} asked for changes.")),
        ),
        NotificationType::Mentioned => {
            let text = d["comment"]["body"].as_str().map(|c| excerpt(c, 280));
            (
                format!("{who} mentioned you on \u{201c}{post}\u{201d}"),
                text.unwrap_or_default(),
            )
        }
        NotificationType::DeadlineNear => {
            let when = d["deadline_at"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| {
                    t.with_timezone(&chrono::Utc)
                        .format("%Y-%m-%d %H:%M UTC")
                        .to_string()
                });
            (
                format!("Approval of \u{201c}{post}\u{201d} is due soon"),
                match when {
                    Some(w) => format!("Your decision is needed by {w}."),
                    None => "Your decision is needed soon.".into(),
                },
            )
        }
        NotificationType::Published => (
            format!("\u{201c}{post}\u{201d} was published"),
            String::new(),
        ),
        NotificationType::Failed => (
            format!("\u{201c}{post}\u{201d} failed to publish"),
            d["error"]
                .as_str()
                .map(|e| excerpt(e, 280))
                .unwrap_or_default(),
        ),
    };
    Ok(Content {
        title,
        body,
        post_id,
        actor,
    })
}

/// The in-app link of a notification.
pub fn app_url(workspace: Uuid, post: Option<Uuid>) -> String {
    match post {
        Some(p) => format!("/w/{workspace}/posts/{p}"),
        None => format!("/w/{workspace}/posts"),
    }
}

fn job(kind: &str, notification: Uuid, channel: &str) -> NewJob {
    let mut j = NewJob::new(kind, json!({ "notification_id": notification }));
    j.idempotency_key = Some(format!("notify:{notification}:{channel}"));
    j
}

async fn handle(n: &Notify, ev: &OutboxEvent) -> Result<(), ApiError> {
    let Some(ws) = ev.workspace_id else {
        return Ok(());
    };
    let Some(t) = NotificationType::of_event(&ev.event_type, &ev.data) else {
        return Ok(());
    };
    let who = recipients(ev);
    if who.is_empty() {
        return Ok(());
    }
    let c = content(n, t, ev).await?;
    let mut uow = UnitOfWork::begin_on(&n.db, n.announcer.clone(), None, &NO_REQUEST).await?;
    let now = uow.now();
    for user in who {
        if !is_member(uow.txn(), ws, user).await? {
            continue;
        }
        let ch = prefs::channels(uow.txn(), user).await?[&t];
        if !ch.any() {
            continue;
        }
        let digest = prefs::digest(uow.txn(), user).await? == DIGEST_DAILY;
        let new = NewNotification {
            id: Uuid::now_v7(),
            user_id: user,
            workspace_id: ws,
            kind: t,
            title: c.title.clone(),
            body: c.body.clone(),
            url: app_url(ws, c.post_id),
            post_id: c.post_id,
            actor_user_id: c.actor.as_ref().and_then(|a| a.0),
            actor_name: c.actor.as_ref().map(|a| a.1.clone()),
            event_id: ev.id,
            in_app: ch.in_app,
            created_at: now,
        };
        if !store::insert(uow.txn(), &new).await? {
            continue; // this event already notified them (a redelivery)
        }
        if ch.in_app {
            let payload = NotificationEvent {
                user_id: user,
                notification: serde_json::to_value(new.view()).map_err(ApiError::internal)?,
            };
            uow.record(
                EventType::NotificationCreated,
                Some(ws),
                ("notification", Some(new.id.to_string())),
                &payload,
            )
            .await?;
        }
        let mut channels = Vec::new();
        if ch.email && !digest {
            channels.push(("email", email::EMAIL_JOB));
        }
        if ch.push {
            channels.push(("push", push::PUSH_JOB));
        }
        for (channel, kind) in channels {
            uow.txn()
                .execute_raw(stmt(
                    uow.txn(),
                    "INSERT INTO notification_deliveries (notification_id, channel, status, attempts, last_error, sent_at, created_at, updated_at) \
                     VALUES ($1, $2, 'pending', 0, NULL, NULL, $3, $3) ON CONFLICT (notification_id, channel) DO NOTHING",
                    vec![new.id.into(), channel.into(), now.into()],
                ))
                .await?;
            uow.enqueue(job(kind, new.id, channel)).await?;
        }
    }
    uow.commit().await?;
    Ok(())
}
