//! Webhook delivery beyond the basics: rotation overlap, manual retry, replay, test-send,
//! the per-endpoint rate limit, and a slow endpoint that must not hold up the others.

use std::time::Duration;

use copydesk_actors::ports::Clock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::webhook_support::*;
use crate::webhooks::{create_endpoint, webhook_app};

async fn items(app: &TestApp, s: &Session, path: &str) -> Vec<Value> {
    let r = app.get(path, &s.access).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    body(r).await["items"].as_array().unwrap().clone()
}

async fn setup(app: &TestApp) -> (Session, String) {
    let admin = app.register_verified(&email("whd-admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Hooks").await;
    (admin, ws)
}

async fn post(app: &TestApp, s: &Session, ws: &str, title: &str) {
    app.create_post(
        s,
        ws,
        json!({ "title": title, "caption": "Hi", "platforms": ["x"] }),
    )
    .await;
}

#[actix_web::test]
async fn a_rotated_secret_signs_alongside_the_new_one_for_a_day() {
    let app = webhook_app(None, |_| {}).await;
    let rx = Receiver::start().await;
    let (admin, ws) = setup(&app).await;
    let ep = create_endpoint(&app, &admin, &ws, json!({ "url": rx.url("/rot") })).await;
    let (eid, old) = (
        ep["id"].as_str().unwrap().to_string(),
        ep["secret"].as_str().unwrap().to_string(),
    );
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/webhooks/{eid}/secret/rotate"),
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    let new = b["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(b["previous_secret_expires_at"].is_string());
    post(&app, &admin, &ws, "During the overlap").await;
    until(&app.clock, Duration::ZERO, "first delivery", || async {
        rx.got("/rot").len() == 1
    })
    .await;
    let d = &rx.got("/rot")[0];
    assert_eq!(
        d.headers["webhook-signature"].split(' ').count(),
        2,
        "{:?}",
        d.headers
    );
    assert_eq!((signed_by(d, &new), signed_by(d, &old)), (1, 1));
    verify_with_official_library(&[(d, new.as_str()), (d, old.as_str())]);
    app.clock.advance(Duration::from_secs(25 * 3600));
    let admin = relogin(&app, &admin).await;
    post(&app, &admin, &ws, "After it").await;
    until(&app.clock, Duration::ZERO, "second delivery", || async {
        rx.got("/rot").len() == 2
    })
    .await;
    let d = &rx.got("/rot")[1];
    assert_eq!(d.headers["webhook-signature"].split(' ').count(), 1);
    assert_eq!((signed_by(d, &new), signed_by(d, &old)), (1, 0));
    let e = body(
        app.get(
            &format!("/api/workspaces/{ws}/webhooks/{eid}"),
            &admin.access,
        )
        .await,
    )
    .await;
    assert!(e["previous_secret_expires_at"].is_null(), "{e}");
}

#[actix_web::test]
async fn manual_retry_replay_and_test_send() {
    let app = webhook_app(None, |_| {}).await;
    let rx = Receiver::start().await;
    rx.plan("/m", 500, &[]);
    let (admin, ws) = setup(&app).await;
    let t0 = app.clock.now() - chrono::Duration::seconds(1);
    let ep = create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": rx.url("/m"), "event_types": ["post.created"] }),
    )
    .await;
    let eid = ep["id"].as_str().unwrap().to_string();
    let base = format!("/api/workspaces/{ws}/webhooks/{eid}");
    post(&app, &admin, &ws, "A").await;
    until(&app.clock, Duration::ZERO, "failed attempt", || async {
        rx.got("/m").len() == 1
    })
    .await;
    until(&app.clock, Duration::ZERO, "recorded", || async {
        items(&app, &admin, &format!("{base}/messages")).await[0]["attempts"] == 1
    })
    .await;
    let mid = items(&app, &admin, &format!("{base}/messages")).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Retry now, well before the 5 s step: same webhook-id.
    let r = app
        .post(
            &format!("{base}/messages/{mid}/retry"),
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    until(&app.clock, Duration::ZERO, "retried", || async {
        rx.got("/m").len() == 2
    })
    .await;
    assert_eq!(rx.got("/m")[1].id(), mid);
    until(&app.clock, Duration::ZERO, "succeeded", || async {
        items(&app, &admin, &format!("{base}/messages")).await[0]["status"] == "succeeded"
    })
    .await;
    // The 5 s retry that was scheduled before finds the message done and sends nothing.
    app.clock.advance(Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got("/m").len(), 2);
    assert_error(
        app.post(
            &format!("{base}/messages/msg_nope/retry"),
            Some(&admin.access),
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Replay: every matching event since t0 again, with new ids.
    post(&app, &admin, &ws, "B").await;
    until(&app.clock, Duration::ZERO, "B", || async {
        rx.got("/m").len() == 3
    })
    .await;
    let r = app
        .post(
            &format!("{base}/replay"),
            Some(&admin.access),
            json!({ "since": t0.to_rfc3339() }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(body(r).await["messages"], 2);
    until(&app.clock, Duration::ZERO, "replayed", || async {
        rx.got("/m").len() == 5
    })
    .await;
    let got = rx.got("/m");
    let replayed: Vec<_> = got[3..].iter().map(|d| d.id().to_string()).collect();
    assert!(!replayed.contains(&mid) && replayed[0] != replayed[1]);
    // Test-send: a webhook.test message to this endpoint only (its filter does not matter).
    let r = app
        .post(&format!("{base}/test"), Some(&admin.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(body(r).await["event_type"], "webhook.test");
    until(&app.clock, Duration::ZERO, "test", || async {
        rx.got("/m").len() == 6
    })
    .await;
    assert_eq!(rx.got("/m")[5].json()["type"], "webhook.test");
    let stats = body(app.get(&format!("{base}/stats"), &admin.access).await).await;
    assert_eq!(stats["attempts"], 6, "{stats}");
    assert_eq!(stats["failed"], 1);
}

#[actix_web::test]
async fn the_rate_limit_spaces_sends_to_an_endpoint() {
    let app = webhook_app(None, |_| {}).await;
    let rx = Receiver::start().await;
    rx.use_clock(&app.clock);
    let (admin, ws) = setup(&app).await;
    create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": rx.url("/slowly"), "rate_limit": 2 }),
    )
    .await;
    create_endpoint(&app, &admin, &ws, json!({ "url": rx.url("/freely") })).await;
    let t0 = app.clock.now();
    for i in 0..5 {
        post(&app, &admin, &ws, &format!("P{i}")).await;
    }
    until(
        &app.clock,
        Duration::from_millis(100),
        "all delivered",
        || async { rx.got("/slowly").len() == 5 && rx.got("/freely").len() == 5 },
    )
    .await;
    let mut at: Vec<_> = rx
        .got("/slowly")
        .iter()
        .map(|d| d.clock_at.unwrap())
        .collect();
    at.sort();
    for (i, t) in at.iter().enumerate() {
        // Two per second: the i-th send cannot start before t0 + i/2 s.
        let earliest = t0 + chrono::Duration::milliseconds(500 * i as i64 - 20);
        assert!(*t >= earliest, "send {i} at {t}, before {earliest}");
    }
}

#[actix_web::test]
async fn a_slow_endpoint_does_not_hold_up_the_others() {
    let app = webhook_app(None, |s| s.jobs.concurrency = 4).await;
    let rx = Receiver::start().await;
    rx.hold("/slow");
    let (admin, ws) = setup(&app).await;
    create_endpoint(&app, &admin, &ws, json!({ "url": rx.url("/slow") })).await;
    create_endpoint(&app, &admin, &ws, json!({ "url": rx.url("/fast") })).await;
    for i in 0..8 {
        post(&app, &admin, &ws, &format!("P{i}")).await;
    }
    // Every message reaches the fast endpoint while the slow one sits on its requests
    // (at most two of them at once: the rest wait their turn without taking the runner).
    // (Real time, not clock jumps: the held sends must keep their leases by heartbeat.)
    until(
        &app.clock,
        Duration::ZERO,
        "fast endpoint served",
        || async { rx.got("/fast").len() == 8 },
    )
    .await;
    assert!(
        rx.got("/slow").len() <= 2,
        "in flight to the slow endpoint: {}",
        rx.got("/slow").len()
    );
    rx.release("/slow");
    until(
        &app.clock,
        Duration::ZERO,
        "slow endpoint served",
        || async { rx.got("/slow").len() == 8 },
    )
    .await;
}
