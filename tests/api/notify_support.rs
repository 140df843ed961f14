//! Test support for notifications: a Web Push service (tests/support/push_receiver.py —
//! PyJWT checks the VAPID token, `http_ece` decrypts, both independent of our code), a way
//! to record approval events as the approvals domain will, and small waits.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use copydesk::events::catalogue::ApprovalEvent;
use copydesk::events::{Announcer, EventType, UnitOfWork, NO_REQUEST};
use copydesk_actors::memory_bus::MemoryBus;
use copydesk_actors::ports::ManualClock;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

pub struct PushService {
    child: Child,
    pub port: u16,
    pub p256dh: String,
    pub auth: String,
    lines: Arc<(Mutex<Vec<Value>>, Condvar)>,
}

impl Drop for PushService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PushService {
    pub fn start() -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/push_receiver.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the push receiver (pip install http-ece cryptography pyjwt)");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let hello: Value = serde_json::from_str(&first).unwrap_or_else(|e| {
            panic!("the push receiver did not start ({e}): {first:?} (pip install http-ece cryptography pyjwt)")
        });
        let lines: Arc<(Mutex<Vec<Value>>, Condvar)> = Arc::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line) {
                    l.0.lock().unwrap().push(v);
                    l.1.notify_all();
                }
            }
        });
        Self {
            child,
            port: hello["port"].as_u64().unwrap() as u16,
            p256dh: hello["p256dh"].as_str().unwrap().to_string(),
            auth: hello["auth"].as_str().unwrap().to_string(),
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The body of `POST /api/push/subscriptions` for an endpoint at `path`.
    pub fn subscription(&self, path: &str) -> Value {
        json!({ "endpoint": self.url(path), "keys": { "p256dh": self.p256dh, "auth": self.auth },
                "user_agent": "Test browser" })
    }

    pub fn got(&self, path: &str) -> Vec<Value> {
        self.lines
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["path"] == path)
            .cloned()
            .collect()
    }

    /// Waits until `n` pushes reached `path`, moving `clock` by `step` meanwhile.
    pub async fn wait_for(
        &self,
        clock: &ManualClock,
        step: Duration,
        path: &str,
        n: usize,
    ) -> Vec<Value> {
        until(clock, step, &format!("{n} push(es) to {path}"), || async {
            self.got(path).len() >= n
        })
        .await;
        self.got(path)
    }

    pub async fn plan(&self, path: &str, status: u16, headers: Value) {
        let r = http_client()
            .post(self.url("/_plan"))
            .json(&json!({ "path": path, "status": status, "headers": headers }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    pub async fn hold(&self, path: &str) {
        http_client()
            .post(self.url(&format!("/_hold?path={path}")))
            .send()
            .await
            .unwrap();
    }

    pub async fn release(&self, path: &str) {
        http_client()
            .post(self.url(&format!("/_release?path={path}")))
            .send()
            .await
            .unwrap();
    }
}

/// Polls `cond`, moving the clock by `step` between polls; fails after 30 s.
pub async fn until<F, Fut>(clock: &ManualClock, step: Duration, what: &str, cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    crate::webhook_support::until(clock, step, what, cond).await
}

/// Records an `approval.*` event as the approvals domain does (one unit of work). The
/// notifier reads it from the outbox like any other event.
pub async fn record_approval(
    app: &TestApp,
    ty: EventType,
    ws: &str,
    post: &Value,
    actor: &Session,
    recipients: &[&Session],
    extra: Value,
) {
    let announcer = Announcer {
        bus: Arc::new(MemoryBus::new()),
        work: Default::default(),
        clock: app.clock.clone(),
    };
    let actor_id: Uuid = actor.user_id.parse().unwrap();
    let mut payload = ApprovalEvent {
        post_id: post["id"].as_str().unwrap().parse().unwrap(),
        title: post["title"].as_str().unwrap_or_default().to_string(),
        request_id: Uuid::now_v7(),
        client_visible: false,
        status: "in_review".into(),
        content_hash: "0".repeat(64),
        step: None,
        decision: None,
        comment: extra["comment"].as_str().map(str::to_string),
        by: Some(copydesk::events::catalogue::ApprovalActor {
            user_id: Some(actor_id),
            name: "Ann Approver".into(),
            share_link_id: None,
        }),
        action: extra["action"].as_str().map(str::to_string),
        deadline_at: None,
        recipients: recipients
            .iter()
            .map(|s| s.user_id.parse().unwrap())
            .collect(),
    };
    if let Some(name) = extra["step"].as_str() {
        payload.step = Some(copydesk::events::catalogue::ApprovalStepRef {
            id: Uuid::now_v7(),
            name: name.into(),
            order: 1,
        });
    }
    let mut uow = UnitOfWork::begin_on(&app.db, announcer, Some(actor_id), &NO_REQUEST)
        .await
        .unwrap();
    uow.record(
        ty,
        Some(ws.parse().unwrap()),
        ("post", Some(payload.post_id.to_string())),
        &payload,
    )
    .await
    .unwrap();
    uow.commit().await.unwrap();
}

/// A comment on `post` by `by` mentioning `who`.
pub async fn mention(
    app: &TestApp,
    by: &Session,
    post: &str,
    body: &str,
    who: &[&Session],
) -> Value {
    let ids: Vec<&str> = who.iter().map(|s| s.user_id.as_str()).collect();
    let r = app
        .post(
            &format!("/api/posts/{post}/comments"),
            Some(&by.access),
            json!({ "body": body, "mentions": ids }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    body_of(r).await
}

async fn body_of(r: reqwest::Response) -> Value {
    crate::helpers::body(r).await
}

/// Settings every notify test uses: quick polling, the receiver's network allowed.
pub fn settings(s: &mut copydesk::config::Settings) {
    s.jobs.poll_ms = 50;
    s.outbound.allowed_networks = vec!["127.0.0.0/8".into()];
    s.push.subject = "mailto:ops@copydesk.test".into();
}

/// A workspace with an admin, an editor (both members) and a post by the admin.
pub struct Team {
    pub admin: Session,
    pub editor: Session,
    pub ws: String,
    pub post: Value,
}

pub async fn team(app: &TestApp) -> Team {
    let admin = app.register_verified(&email("admin"), "Ada Admin").await;
    let ws = app.create_workspace(&admin, "Notify").await;
    let editor = app.member_with_role(&admin, &ws, "content_creator").await;
    let post = app
        .create_post(
            &admin,
            &ws,
            json!({ "title": "Launch <b>day</b>", "caption": "Hello", "platforms": ["x"] }),
        )
        .await;
    Team {
        admin,
        editor,
        ws,
        post,
    }
}

/// `(notification rows, notification.created events)` for a user.
pub async fn counts(app: &TestApp, user: &str) -> (usize, usize) {
    use copydesk::store::entities::events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let id: Uuid = user.parse().unwrap();
    let n = notification_rows(app, user).await.len();
    let e = events::Entity::find()
        .filter(events::Column::EventType.eq("notification.created"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.data["user_id"] == json!(id))
        .count();
    (n, e)
}

#[derive(sea_orm::FromQueryResult, Debug, Clone)]
pub struct NotificationRow {
    pub id: Uuid,
    pub kind: String,
    pub in_app: bool,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn notification_rows(app: &TestApp, user: &str) -> Vec<NotificationRow> {
    use sea_orm::FromQueryResult;
    let id: Uuid = user.parse().unwrap();
    NotificationRow::find_by_statement(copydesk::jobs::store::stmt(
        &app.db,
        "SELECT id, \"type\" AS kind, in_app, read_at FROM notifications WHERE user_id = $1 ORDER BY created_at",
        vec![id.into()],
    ))
    .all(&app.db)
    .await
    .unwrap()
}

#[derive(sea_orm::FromQueryResult, Debug, Clone)]
pub struct DeliveryRow {
    pub channel: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
}

pub async fn deliveries(app: &TestApp, notification: Uuid) -> Vec<DeliveryRow> {
    use sea_orm::FromQueryResult;
    DeliveryRow::find_by_statement(copydesk::jobs::store::stmt(
        &app.db,
        "SELECT channel, status, attempts, last_error FROM notification_deliveries WHERE notification_id = $1 ORDER BY channel",
        vec![notification.into()],
    ))
    .all(&app.db)
    .await
    .unwrap()
}

/// How many jobs of `kind` exist (any status).
pub async fn jobs_of(db: &sea_orm::DatabaseConnection, kind: &str) -> usize {
    #[derive(sea_orm::FromQueryResult)]
    struct C {
        n: i64,
    }
    use sea_orm::FromQueryResult;
    C::find_by_statement(copydesk::jobs::store::stmt(
        db,
        "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1",
        vec![kind.into()],
    ))
    .one(db)
    .await
    .unwrap()
    .map_or(0, |c| c.n as usize)
}
