//! Web Push against a local push service that checks the VAPID JWT (PyJWT, against `k`,
//! `aud`, `exp`) and decrypts the payload (`http_ece`) with the subscription's private key:
//! subscriptions and their validation, delivery, and the push service's answers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::notify_support::*;

async fn subscribe(app: &TestApp, s: &Session, body: serde_json::Value) -> serde_json::Value {
    let r = app
        .post("/api/push/subscriptions", Some(&s.access), body)
        .await;
    let status = r.status();
    let b = crate::helpers::body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b
}

#[actix_web::test]
async fn subscriptions_are_validated_listed_and_private() {
    let app = spawn_app_with(|s| {
        s.jobs.poll_ms = 50;
        // No allowed networks: plain http to loopback is refused.
    })
    .await;
    let push = PushService::start();
    let a = app.register_verified(&email("a"), "A").await;
    let b = app.register_verified(&email("b"), "B").await;
    let ok = push.subscription("/sub/a");
    let r = app
        .post("/api/push/subscriptions", Some(&a.access), ok.clone())
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_endpoint").await;
    let mut https = ok.clone();
    https["endpoint"] = json!("https://127.0.0.1:1/x");
    let r = app
        .post("/api/push/subscriptions", Some(&a.access), https)
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "url_forbidden_address").await;

    let app = spawn_app_with(settings).await;
    let a = app.register_verified(&email("a"), "A").await;
    let b2 = app.register_verified(&email("b"), "B").await;
    let _ = b;
    for (field, value, code) in [
        ("p256dh", json!("AAAA"), "invalid_push_key"),
        // 65 bytes starting with 4 but not on the curve
        (
            "p256dh",
            json!(format!("B{}", "A".repeat(86))),
            "invalid_push_key",
        ),
        ("auth", json!("AAAAAAAA"), "invalid_push_key"),
    ] {
        let mut body = push.subscription("/sub/a");
        body["keys"][field] = value;
        let r = app
            .post("/api/push/subscriptions", Some(&a.access), body)
            .await;
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    let mut ftp = push.subscription("/sub/a");
    ftp["endpoint"] = json!("ftp://127.0.0.1/x");
    let r = app
        .post("/api/push/subscriptions", Some(&a.access), ftp)
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_endpoint").await;

    let created = subscribe(&app, &a, push.subscription("/sub/a")).await;
    assert_eq!(created["endpoint_origin"], push.url(""));
    assert_eq!(created["user_agent"], "Test browser");
    let r = app.get("/api/push/subscriptions", &a.access).await;
    let list = body(r).await;
    assert_eq!(list["subscriptions"].as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains("/sub/a"),
        "the endpoint itself is not shown"
    );
    let r = app.get("/api/push/subscriptions", &b2.access).await;
    assert_eq!(body(r).await["subscriptions"], json!([]));
    let id = created["id"].as_str().unwrap();
    let r = app
        .delete(&format!("/api/push/subscriptions/{id}"), &b2.access)
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .delete(&format!("/api/push/subscriptions/{id}"), &a.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.get("/api/push/subscriptions", &a.access).await;
    assert_eq!(body(r).await["subscriptions"], json!([]));

    // The VAPID key: stable, sealed at rest.
    let r = app.get("/api/push/vapid-public-key", &a.access).await;
    let k1 = body(r).await["public_key"].as_str().unwrap().to_string();
    let r = app.get("/api/push/vapid-public-key", &b2.access).await;
    assert_eq!(body(r).await["public_key"], k1.as_str());
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&k1)
        .unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 4));
}

#[actix_web::test]
async fn a_mention_is_pushed_encrypted_and_signed_and_a_test_push_works() {
    let app = spawn_app_with(settings).await;
    let push = PushService::start();
    let t = team(&app).await;
    subscribe(&app, &t.editor, push.subscription("/sub/editor")).await;
    let post = t.post["id"].as_str().unwrap();
    mention(&app, &t.admin, post, "pushed to you", &[&t.editor]).await;
    let got = push
        .wait_for(&app.clock, Duration::ZERO, "/sub/editor", 1)
        .await;
    let p = &got[0];
    assert_eq!(p["ok"], true, "the push service refused it: {p}");
    assert_eq!(p["encoding"], "aes128gcm");
    assert_eq!(p["ttl"], "86400");
    assert_eq!(p["urgency"], "high");
    assert_eq!(p["sub"], "mailto:ops@copydesk.test");
    let n = notification_rows(&app, &t.editor.user_id).await;
    assert_eq!(p["topic"], n[0].id.simple().to_string());
    assert_eq!(p["payload"]["id"], n[0].id.to_string());
    assert_eq!(p["payload"]["type"], "mentioned");
    assert_eq!(p["payload"]["body"], "pushed to you");
    assert_eq!(p["payload"]["url"], format!("/w/{}/posts/{post}", t.ws));
    until(
        &app.clock,
        Duration::ZERO,
        "push delivery recorded",
        || async {
            deliveries(&app, n[0].id)
                .await
                .iter()
                .any(|d| d.channel == "push" && d.status == "sent")
        },
    )
    .await;

    let r = app
        .post("/api/push/test", Some(&t.editor.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let got = push
        .wait_for(&app.clock, Duration::ZERO, "/sub/editor", 2)
        .await;
    assert_eq!(got[1]["ok"], true, "{}", got[1]);
    assert_eq!(got[1]["payload"]["type"], "test");
    // The author has no subscription and gets nothing; push is off by default for approvals.
    assert_eq!(push.got("/sub/editor").len(), 2);
}

#[actix_web::test]
async fn the_push_services_answers_are_followed() {
    let app = spawn_app_with(settings).await;
    let push = PushService::start();
    let t = team(&app).await;
    let post = t.post["id"].as_str().unwrap();
    subscribe(&app, &t.editor, push.subscription("/sub/flaky")).await;

    // 503, then 429 with Retry-After: 120, then 201: three requests, delivered once.
    push.plan("/sub/flaky", 503, json!({})).await;
    push.plan("/sub/flaky", 429, json!({ "Retry-After": "120" }))
        .await;
    mention(&app, &t.admin, post, "eventually", &[&t.editor]).await;
    let got = push
        .wait_for(&app.clock, Duration::from_secs(10), "/sub/flaky", 3)
        .await;
    assert!(got.iter().all(|p| p["ok"] == true));
    let n = notification_rows(&app, &t.editor.user_id).await[0].id;
    until(&app.clock, Duration::ZERO, "sent", || async {
        deliveries(&app, n)
            .await
            .iter()
            .any(|d| d.channel == "push" && d.status == "sent")
    })
    .await;
    let d = deliveries(&app, n)
        .await
        .into_iter()
        .find(|d| d.channel == "push")
        .unwrap();
    assert_eq!(d.attempts, 3, "{d:?}");

    // 400: given up and recorded, not retried.
    push.plan("/sub/flaky", 400, json!({})).await;
    mention(&app, &t.admin, post, "refused", &[&t.editor]).await;
    push.wait_for(&app.clock, Duration::ZERO, "/sub/flaky", 4)
        .await;
    let n2 = notification_rows(&app, &t.editor.user_id).await[1].id;
    until(&app.clock, Duration::ZERO, "given up", || async {
        deliveries(&app, n2)
            .await
            .iter()
            .any(|d| d.channel == "push" && d.status == "failed")
    })
    .await;
    let d = deliveries(&app, n2)
        .await
        .into_iter()
        .find(|d| d.channel == "push")
        .unwrap();
    assert!(d.last_error.unwrap().contains("400"));

    // 410: the subscription is deleted.
    push.plan("/sub/flaky", 410, json!({})).await;
    mention(&app, &t.admin, post, "gone", &[&t.editor]).await;
    push.wait_for(&app.clock, Duration::ZERO, "/sub/flaky", 5)
        .await;
    until(
        &app.clock,
        Duration::ZERO,
        "subscription removed",
        || async {
            let r = app.get("/api/push/subscriptions", &t.editor.access).await;
            body(r).await["subscriptions"] == json!([])
        },
    )
    .await;
    // Nothing more reaches the deleted subscription.
    mention(&app, &t.admin, post, "after gone", &[&t.editor]).await;
    until(
        &app.clock,
        Duration::ZERO,
        "the last notification",
        || async {
            let rows = notification_rows(&app, &t.editor.user_id).await;
            match rows.get(3) {
                Some(r) => deliveries(&app, r.id)
                    .await
                    .iter()
                    .any(|d| d.channel == "push" && d.status == "skipped"),
                None => false,
            }
        },
    )
    .await;
    assert_eq!(push.got("/sub/flaky").len(), 5);
}
