//! Two nodes on one database: each event notifies once and each channel is delivered by
//! one node; a node killed while a push is on the wire is replaced, and the push is sent
//! again with the same `Topic` — one notification, one job, one delivery record.

use std::sync::Arc;
use std::time::Duration;

use copydesk::config::{Secret, Settings, SmtpTls};
use copydesk::startup::{Application, Options};
use copydesk::state::AppState;
use copydesk_actors::ports::{Clock, ManualClock};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::notify_support::*;
use crate::smtp::SmtpSink;

struct Node {
    state: AppState,
    addr: String,
}

async fn node(dir: &std::path::Path, db: &str, clock: &Arc<ManualClock>, smtp: u16) -> Node {
    let sub = dir.join(Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&sub).unwrap();
    for k in ["jwt.key", "encryption.key"] {
        if dir.join(k).exists() {
            std::fs::copy(dir.join(k), sub.join(k)).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(sub.join(k), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let mut s = Settings::default();
    s.server.port = 0;
    s.server.workers = Some(1);
    s.database.data_dir = sub.clone();
    s.database.max_connections = 5;
    s.database.url = Some(Secret::new(db.to_string()));
    s.static_files.dir = sub.join("no-web");
    s.log.level = "error".into();
    s.jobs.lease_secs = 30;
    s.smtp.host = Some("127.0.0.1".into());
    s.smtp.port = smtp;
    s.smtp.tls = SmtpTls::None;
    s.smtp.from = "Copydesk <noreply@copydesk.test>".into();
    settings(&mut s);
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let app = Application::build_with_options(
        s,
        Options {
            bus: None,
            clock: Some(dyn_clock),
            extra: Default::default(),
            resolver: None,
        },
    )
    .await
    .expect("node builds");
    for k in ["jwt.key", "encryption.key"] {
        if !dir.join(k).exists() {
            std::fs::copy(sub.join(k), dir.join(k)).unwrap();
        }
    }
    let state = app.state().clone();
    let addr = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Node { state, addr }
}

async fn shared_db(dir: &std::path::Path) -> String {
    if is_postgres() {
        fresh_postgres_url().await
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("shared.db").display())
    }
}

struct People {
    admin: String,
    editor: String,
    editor_email: String,
    editor_id: String,
    post: String,
}

/// An admin and an editor of one workspace with one post, through node `a`.
async fn people(a: &Node) -> People {
    let http = http_client();
    let login = |e: String| {
        let http = http.clone();
        let addr = a.addr.clone();
        async move {
            let r = http
                .post(format!("{addr}/api/auth/login"))
                .json(&json!({ "email": e, "password": PASSWORD }))
                .send()
                .await
                .unwrap();
            body(r).await
        }
    };
    let (ea, ee) = (email("admin"), email("editor"));
    copydesk::setup::create_super_admin(&a.state.db, &ea, "Ada", PASSWORD)
        .await
        .unwrap();
    let editor_id = copydesk::setup::create_super_admin(&a.state.db, &ee, "Ed", PASSWORD)
        .await
        .unwrap();
    let admin = login(ea).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let editor = login(ee.clone()).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{}/api/workspaces", a.addr))
        .bearer_auth(&admin)
        .json(&json!({ "name": "Cluster" }))
        .send()
        .await
        .unwrap();
    let ws = body(r).await["id"].as_str().unwrap().to_string();
    let now = a.state.clock.now();
    a.state
        .db
        .execute_raw(copydesk::jobs::store::stmt(
            &a.state.db,
            "INSERT INTO workspace_members (id, workspace_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, 'content_creator', $4, $4)",
            vec![Uuid::now_v7().into(), ws.parse::<Uuid>().unwrap().into(), editor_id.into(), now.into()],
        ))
        .await
        .unwrap();
    let r = http
        .post(format!("{}/api/workspaces/{ws}/posts", a.addr))
        .bearer_auth(&admin)
        .json(&json!({ "title": "Cluster post", "caption": "x", "platforms": ["x"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let post = body(r).await["id"].as_str().unwrap().to_string();
    People {
        admin,
        editor,
        editor_email: ee.to_lowercase(),
        editor_id: editor_id.to_string(),
        post,
    }
}

async fn post_json(addr: &str, path: &str, token: &str, b: Value) -> reqwest::Response {
    http_client()
        .post(format!("{addr}{path}"))
        .bearer_auth(token)
        .json(&b)
        .send()
        .await
        .unwrap()
}

async fn rows(db: &sea_orm::DatabaseConnection, user: &str) -> Vec<NotificationRow> {
    use sea_orm::FromQueryResult;
    NotificationRow::find_by_statement(copydesk::jobs::store::stmt(
        db,
        "SELECT id, \"type\" AS kind, in_app, read_at FROM notifications WHERE user_id = $1",
        vec![user.parse::<Uuid>().unwrap().into()],
    ))
    .all(db)
    .await
    .unwrap()
}

#[actix_web::test]
async fn two_nodes_notify_once_per_event_and_channel() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let (mail, smtp) = SmtpSink::start().await;
    let a = node(dir.path(), &db, &clock, smtp).await;
    let b = node(dir.path(), &db, &clock, smtp).await;
    let push = PushService::start();
    let p = people(&a).await;
    let r = post_json(
        &b.addr,
        "/api/push/subscriptions",
        &p.editor,
        push.subscription("/sub/two"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for (i, node) in [&a, &b, &a, &b].iter().enumerate() {
        let r = post_json(
            &node.addr,
            &format!("/api/posts/{}/comments", p.post),
            &p.admin,
            json!({ "body": format!("ping {i}"), "mentions": [p.editor_id] }),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    push.wait_for(&clock, Duration::ZERO, "/sub/two", 4).await;
    for i in 0..4 {
        mail.containing(&p.editor_email, &format!("ping {i}")).await;
    }
    until(
        &clock,
        Duration::ZERO,
        "all deliveries recorded",
        || async {
            #[derive(sea_orm::FromQueryResult)]
            struct C {
                n: i64,
            }
            use sea_orm::FromQueryResult;
            C::find_by_statement(copydesk::jobs::store::stmt(
                &a.state.db,
                "SELECT COUNT(*) AS n FROM notification_deliveries WHERE status = 'sent'",
                vec![],
            ))
            .one(&a.state.db)
            .await
            .unwrap()
            .unwrap()
            .n == 8
        },
    )
    .await;
    assert_eq!(rows(&a.state.db, &p.editor_id).await.len(), 4);
    assert_eq!(mail.count_to(&p.editor_email), 4);
    assert_eq!(jobs_of(&a.state.db, "notify.email").await, 4);
    assert_eq!(jobs_of(&a.state.db, "notify.push").await, 4);
    assert_eq!(jobs_of(&a.state.db, "notify.push_one").await, 4);
    let got = push.got("/sub/two");
    assert_eq!(got.len(), 4, "one push per notification: {got:?}");
    let topics: std::collections::BTreeSet<_> =
        got.iter().map(|g| g["topic"].to_string()).collect();
    assert_eq!(topics.len(), 4);
}

#[actix_web::test]
async fn a_node_killed_mid_push_is_replaced_and_the_push_sent_once_more_with_its_topic() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let (mail, smtp) = SmtpSink::start().await;
    let a = node(dir.path(), &db, &clock, smtp).await;
    let push = PushService::start();
    let p = people(&a).await;
    let r = post_json(
        &a.addr,
        "/api/push/subscriptions",
        &p.editor,
        push.subscription("/sub/crash"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    push.hold("/sub/crash").await;
    let r = post_json(
        &a.addr,
        &format!("/api/posts/{}/comments", p.post),
        &p.admin,
        json!({ "body": "during the crash", "mentions": [p.editor_id] }),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    push.wait_for(&clock, Duration::ZERO, "/sub/crash", 1).await;
    // Node a dies with the push on the wire: no answer recorded, its job still leased.
    a.state.work.kill();
    let b = node(dir.path(), &db, &clock, smtp).await;
    push.release("/sub/crash").await;
    let got = push
        .wait_for(&clock, Duration::from_secs(5), "/sub/crash", 2)
        .await;
    assert_eq!(
        got[0]["topic"], got[1]["topic"],
        "the same Topic: the push service folds it"
    );
    assert!(got.iter().all(|g| g["ok"] == true));
    let n = rows(&b.state.db, &p.editor_id).await;
    assert_eq!(n.len(), 1);
    until(&clock, Duration::ZERO, "recorded as sent", || async {
        deliveries_on(&b.state.db, n[0].id)
            .await
            .iter()
            .any(|d| d.channel == "push" && d.status == "sent")
    })
    .await;
    assert_eq!(jobs_of(&b.state.db, "notify.push_one").await, 1);
    // The email went once (the crash did not touch it).
    mail.containing(&p.editor_email, "during the crash").await;
    assert_eq!(mail.count_to(&p.editor_email), 1);
}

async fn deliveries_on(db: &sea_orm::DatabaseConnection, id: Uuid) -> Vec<DeliveryRow> {
    use sea_orm::FromQueryResult;
    DeliveryRow::find_by_statement(copydesk::jobs::store::stmt(
        db,
        "SELECT channel, status, attempts, last_error FROM notification_deliveries WHERE notification_id = $1",
        vec![id.into()],
    ))
    .all(db)
    .await
    .unwrap()
}
