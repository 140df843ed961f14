//! Two nodes on one database: a message is sent by one node at a time, and a node killed
//! mid-delivery leads to a redelivery with the same `webhook-id`, never a loss.

use std::sync::Arc;
use std::time::Duration;

use copydesk::config::{Secret, Settings};
use copydesk::jobs::Extra;
use copydesk::startup::{Application, Options};
use copydesk::state::AppState;
use copydesk_actors::ports::{Clock, ManualClock};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;
use crate::webhook_support::*;

struct Node {
    state: AppState,
    addr: String,
}

async fn node(dir: &std::path::Path, db: &str, clock: &Arc<ManualClock>) -> Node {
    let sub = dir.join(Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&sub).unwrap();
    // Same keys on every node (the encryption key opens the webhook secrets).
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
    s.jobs.poll_ms = 50;
    s.jobs.lease_secs = 30;
    s.outbound.allowed_networks = vec!["127.0.0.0/8".into()];
    s.mail.outbox_dir = Some(sub.join("mail"));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let app = Application::build_with_options(
        s,
        Options {
            bus: None,
            clock: Some(dyn_clock),
            extra: Extra::default(),
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

#[actix_web::test]
async fn a_node_killed_mid_delivery_is_replaced_and_the_message_redelivered_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = if is_postgres() {
        fresh_postgres_url().await
    } else {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shared.db").display()
        )
    };
    let clock = Arc::new(ManualClock::new());
    let a = node(dir.path(), &db, &clock).await;
    let rx = Receiver::start().await;
    rx.hold("/crash");
    let http = http_client();
    let e = email("root");
    copydesk::setup::create_super_admin(&a.state.db, &e, "Root", PASSWORD)
        .await
        .unwrap();
    let r = http
        .post(format!("{}/api/auth/login", a.addr))
        .json(&json!({ "email": e, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let token = body(r).await["access_token"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{}/api/workspaces", a.addr))
        .bearer_auth(&token)
        .json(&json!({ "name": "Cluster" }))
        .send()
        .await
        .unwrap();
    let ws = body(r).await["id"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{}/api/workspaces/{ws}/webhooks", a.addr))
        .bearer_auth(&token)
        .json(&json!({ "url": rx.url("/crash"), "event_types": ["post.created"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let secret = body(r).await["secret"].as_str().unwrap().to_string();
    let r = http
        .post(format!("{}/api/workspaces/{ws}/posts", a.addr))
        .bearer_auth(&token)
        .json(&json!({ "title": "Crash", "caption": "x", "platforms": ["x"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    until(&clock, Duration::ZERO, "node a is sending", || async {
        rx.got("/crash").len() == 1
    })
    .await;
    // Node a dies while the receiver holds its request: no answer recorded, the job leased.
    a.state.work.kill();
    let b = node(dir.path(), &db, &clock).await;
    rx.release("/crash");
    // Node b takes the job over once a's lease has run out, and sends the same message.
    until(
        &clock,
        Duration::from_secs(5),
        "redelivered by node b",
        || async { rx.got("/crash").len() >= 2 },
    )
    .await;
    let got = rx.got("/crash");
    assert_eq!(got[0].id(), got[1].id(), "the same webhook-id");
    assert_eq!(signed_by(&got[1], &secret), 1);
    until(&clock, Duration::ZERO, "recorded", || async {
        use sea_orm::EntityTrait;
        copydesk::webhooks::entities::messages::Entity::find()
            .all(&b.state.db)
            .await
            .unwrap()
            .iter()
            .all(|m| m.status == "succeeded")
    })
    .await;
    let ms: Vec<(String, i32)> = {
        use sea_orm::EntityTrait;
        copydesk::webhooks::entities::messages::Entity::find()
            .all(&b.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.status, m.attempts))
            .collect()
    };
    assert_eq!(ms.len(), 1, "one message, never a second: {ms:?}");
}
