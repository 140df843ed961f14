//! Outgoing webhooks: the endpoints API (admin-only, workspace-scoped, validated, SSRF-safe)
//! and delivery to a local receiver — signatures checked by the official library and by a
//! hand-written verifier, retries driven by the injectable clock, 410, the 5-day rule,
//! rotation overlap, manual retry, replay, test-send, rate limit and isolation of a slow
//! endpoint. Crash mid-delivery is in `webhooks_cluster.rs`.

use std::sync::Arc;
use std::time::Duration;

use copydesk_actors::ports::ManualClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::webhook_support::*;

pub async fn webhook_app(
    resolver: Option<Arc<TestResolver>>,
    tweak: impl FnOnce(&mut copydesk::config::Settings),
) -> TestApp {
    let r = resolver.map(|r| r as Arc<dyn copydesk::outbound::Resolve>);
    spawn_node_with_resolver(
        |s| {
            s.outbound.allowed_networks = vec!["127.0.0.0/8".into()];
            s.jobs.poll_ms = 100;
            tweak(s);
        },
        None,
        Arc::new(ManualClock::new()),
        r,
    )
    .await
}

pub async fn create_endpoint(app: &TestApp, s: &Session, ws: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/webhooks"),
            Some(&s.access),
            body,
        )
        .await;
    let status = r.status();
    let b = crate::helpers::body(r).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b
}

async fn messages(app: &TestApp, s: &Session, ws: &str, ep: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/workspaces/{ws}/webhooks/{ep}/messages"),
            &s.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    crate::helpers::body(r).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn attempts(app: &TestApp, s: &Session, ws: &str, ep: &str, msg: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/workspaces/{ws}/webhooks/{ep}/messages/{msg}/attempts"),
            &s.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    crate::helpers::body(r).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn endpoint(app: &TestApp, s: &Session, ws: &str, ep: &str) -> Value {
    crate::helpers::body(
        app.get(&format!("/api/workspaces/{ws}/webhooks/{ep}"), &s.access)
            .await,
    )
    .await
}

async fn admin_and_workspace(app: &TestApp) -> (Session, String) {
    let admin = app.register_verified(&email("wh-admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Hooks").await;
    (admin, ws)
}

async fn post(app: &TestApp, s: &Session, ws: &str, title: &str) -> String {
    app.create_post(
        s,
        ws,
        json!({ "title": title, "caption": "Hello", "platforms": ["x"] }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn every_event_arrives_signed_and_verifies_with_the_official_library() {
    let app = webhook_app(None, |_| {}).await;
    let rx = Receiver::start().await;
    let (admin, ws) = admin_and_workspace(&app).await;
    let ep = create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": rx.url("/all"), "event_types": [], "description": "everything" }),
    )
    .await;
    let secret = ep["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{ep}");
    let only_posts = create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": rx.url("/posts"), "event_types": ["post.*"] }),
    )
    .await;
    let pid = post(&app, &admin, &ws, "Launch").await;
    let r = app
        .put(
            &format!("/api/posts/{pid}"),
            &admin.access,
            json!({ "title": "Launch 2" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.create_workspace(&admin, "Elsewhere").await; // another workspace: not delivered here
    let r = app
        .post(
            &format!("/api/posts/{pid}/comments"),
            Some(&admin.access),
            json!({ "body": "Nice" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    until(&app.clock, Duration::ZERO, "deliveries", || async {
        rx.got("/all").len() >= 3 && rx.got("/posts").len() >= 2
    })
    .await;
    // Nothing from before the endpoints existed, nor from the other workspace.
    assert!(!rx
        .got("/all")
        .iter()
        .any(|d| d.json()["type"] == "workspace.created"));
    let all = rx.got("/all");
    let mut types: Vec<String> = all
        .iter()
        .map(|d| d.json()["type"].as_str().unwrap().to_string())
        .collect();
    types.sort(); // order per endpoint is not promised
    assert_eq!(types, ["comment.created", "post.created", "post.updated"]);
    assert!(rx
        .got("/posts")
        .iter()
        .all(|d| d.json()["type"].as_str().unwrap().starts_with("post.")));
    for d in &all {
        assert!(d.id().starts_with("msg_"), "{:?}", d.headers);
        assert_eq!(d.headers["content-type"], "application/json");
        let p = d.json();
        assert!(p["timestamp"].is_string() && p["data"].is_object(), "{p}");
        assert_eq!(signed_by(d, &secret), 1, "hand-written verifier");
    }
    assert!(all
        .iter()
        .all(|d| d.json()["data"]["post_id"] == pid.as_str()));
    let posts_secret = only_posts["secret"].as_str().unwrap().to_string();
    let mut batch: Vec<(&Delivery, &str)> = all.iter().map(|d| (d, secret.as_str())).collect();
    let posts = rx.got("/posts");
    batch.extend(posts.iter().map(|d| (d, posts_secret.as_str())));
    verify_with_official_library(&batch);
    // A tampered body does not verify (the official library is really checking).
    let mut forged = all[0].clone();
    forged.body = forged
        .body
        .replace(pid.as_str(), "00000000-0000-0000-0000-000000000000");
    assert_eq!(signed_by(&forged, &secret), 0);
    // The attempt log and stats say the same.
    let eid = ep["id"].as_str().unwrap();
    until(&app.clock, Duration::ZERO, "succeeded", || async {
        messages(&app, &admin, &ws, eid)
            .await
            .iter()
            .filter(|m| m["status"] == "succeeded")
            .count()
            == 3
    })
    .await;
    let ms = messages(&app, &admin, &ws, eid).await;
    let a = attempts(&app, &admin, &ws, eid, ms[0]["id"].as_str().unwrap()).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["http_status"], 200);
    assert!(a[0]["response"].as_str().unwrap().contains("answer 200"));
    let stats = crate::helpers::body(
        app.get(
            &format!("/api/workspaces/{ws}/webhooks/{eid}/stats"),
            &admin.access,
        )
        .await,
    )
    .await;
    assert_eq!(stats["attempts"], 3, "{stats}");
    assert_eq!(stats["success_rate"], 1.0);
    assert!(stats["latency_p95_ms"].is_i64());
    // The secret is stored sealed, never in clear.
    let stored = find_secret_column(&app, eid).await;
    assert!(!stored.contains(&secret[6..]) && !stored.is_empty());
    // Reveal answers the same secret.
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/webhooks/{eid}/secret/reveal"),
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(crate::helpers::body(r).await["secret"], secret.as_str());
}

async fn find_secret_column(app: &TestApp, id: &str) -> String {
    use sea_orm::EntityTrait;
    let m = copydesk::webhooks::entities::endpoints::Entity::find_by_id(
        id.parse::<uuid::Uuid>().unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap()
    .unwrap();
    m.secret_enc
}

#[actix_web::test]
async fn endpoints_are_for_admins_validated_and_scoped_to_their_workspace() {
    let app = webhook_app(None, |_| {}).await;
    let (admin, ws) = admin_and_workspace(&app).await;
    let manager = app.member_with_role(&admin, &ws, "content_manager").await;
    let client = app.member_with_role(&admin, &ws, "client").await;
    let (other_admin, other_ws) = admin_and_workspace(&app).await;
    let base = format!("/api/workspaces/{ws}/webhooks");
    let body = json!({ "url": "http://127.0.0.1:9/hook", "event_types": ["post.created", "comment.*"], "description": "CRM" });
    for who in [&manager, &client] {
        assert_error(
            app.post(&base, Some(&who.access), body.clone()).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_error(
            app.get(&base, &who.access).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_error(
        app.post(&base, Some(&other_admin.access), body.clone())
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let ep = create_endpoint(&app, &admin, &ws, body).await;
    let id = ep["id"].as_str().unwrap();
    assert_eq!(ep["event_types"], json!(["post.created", "comment.*"]));
    assert_eq!(ep["enabled"], true);
    let listed = crate::helpers::body(app.get(&base, &admin.access).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is not listed"
    );
    // Another workspace's ids answer 404, for every operation.
    let foreign = format!("/api/workspaces/{other_ws}/webhooks/{id}");
    assert_error(
        app.get(&foreign, &other_admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.patch(&foreign, &other_admin.access, json!({ "enabled": false }))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post(
            &format!("{foreign}/secret/reveal"),
            Some(&other_admin.access),
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete(&format!("{base}/{id}"), &other_admin.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post(
            &format!("{base}/{id}/secret/reveal"),
            Some(&manager.access),
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Validation.
    for (b, code) in [
        (
            json!({ "url": "http://127.0.0.1:9/", "event_types": ["post.exploded"] }),
            "unknown_event_type",
        ),
        (
            json!({ "url": "http://127.0.0.1:9/", "event_types": ["nothing.*"] }),
            "unknown_event_type",
        ),
        (json!({ "url": "ftp://127.0.0.1/" }), "url_invalid"),
        (
            json!({ "url": "http://127.0.0.1:9/", "headers": { "webhook-signature": "x" } }),
            "header_not_allowed",
        ),
        (
            json!({ "url": "http://127.0.0.1:9/", "headers": { "Host": "evil" } }),
            "header_not_allowed",
        ),
        (
            json!({ "url": "http://127.0.0.1:9/", "headers": { "x-a": "a\r\nb: c" } }),
            "invalid_header",
        ),
        (
            json!({ "url": "http://127.0.0.1:9/", "rate_limit": 0 }),
            "invalid_rate_limit",
        ),
    ] {
        assert_error(
            app.post(&base, Some(&admin.access), b).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
    }
    // Update, then delete.
    let r = app
        .patch(
            &format!("{base}/{id}"),
            &admin.access,
            json!({ "enabled": false, "rate_limit": 5, "headers": { "X-Api-Key": "k1" } }),
        )
        .await;
    let b = crate::helpers::body(r).await;
    assert_eq!(
        (
            b["enabled"].clone(),
            b["rate_limit"].clone(),
            b["headers"]["x-api-key"].clone()
        ),
        (json!(false), json!(5), json!("k1")),
        "{b}"
    );
    let r = app
        .patch(
            &format!("{base}/{id}"),
            &admin.access,
            json!({ "rate_limit": null }),
        )
        .await;
    assert_eq!(crate::helpers::body(r).await["rate_limit"], Value::Null);
    assert_eq!(
        app.delete(&format!("{base}/{id}"), &admin.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&format!("{base}/{id}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn forbidden_addresses_are_refused_in_every_disguise() {
    let resolver = Arc::new(TestResolver::default());
    resolver.set("internal.example", &[&["10.0.0.5"]]);
    resolver.set("mixed.example", &[&["93.184.216.34", "192.168.1.1"]]);
    // Nothing allowed: loopback is refused too.
    let app = webhook_app(Some(resolver.clone()), |s| {
        s.outbound.allowed_networks.clear()
    })
    .await;
    let (admin, ws) = admin_and_workspace(&app).await;
    let base = format!("/api/workspaces/{ws}/webhooks");
    for url in [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:127.0.0.1]:80/",
        "http://169.254.169.254/latest/",
        "http://100.64.1.1/",
        "http://[fd00::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[2002:c0a8:101::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://internal.example/hook",
        "http://mixed.example/",
    ] {
        let b = assert_error(
            app.post(&base, Some(&admin.access), json!({ "url": url }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "url_forbidden_address",
        )
        .await;
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allowed_networks"),
            "{url}: {b}"
        );
    }
    // https only.
    let app2 = webhook_app(Some(resolver.clone()), |s| s.outbound.https_only = true).await;
    let (admin2, ws2) = admin_and_workspace(&app2).await;
    assert_error(
        app2.post(
            &format!("/api/workspaces/{ws2}/webhooks"),
            Some(&admin2.access),
            json!({ "url": "http://127.0.0.1:9/" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "url_https_required",
    )
    .await;
}

#[actix_web::test]
async fn a_name_that_rebinds_to_a_private_address_is_refused_at_send_time() {
    let resolver = Arc::new(TestResolver::default());
    // Resolves to the (allowed) loopback receiver when created, then to a private address.
    resolver.set("rebind.example", &[&["127.0.0.1"], &["10.0.0.9"]]);
    resolver.set("internal.example", &[&["10.0.0.5"]]);
    let app = webhook_app(Some(resolver.clone()), |_| {}).await;
    let rx = Receiver::start().await;
    let (admin, ws) = admin_and_workspace(&app).await;
    let base = format!("/api/workspaces/{ws}/webhooks");
    // 127.0.0.0/8 is allowed here, but a name resolving to 10/8 still is not.
    assert_error(
        app.post(
            &base,
            Some(&admin.access),
            json!({ "url": "http://internal.example/" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "url_forbidden_address",
    )
    .await;
    let port = rx.base.rsplit(':').next().unwrap();
    let ep = create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": format!("http://rebind.example:{port}/r") }),
    )
    .await;
    let eid = ep["id"].as_str().unwrap();
    post(&app, &admin, &ws, "P").await;
    until(&app.clock, Duration::ZERO, "a failed attempt", || async {
        let ms = messages(&app, &admin, &ws, eid).await;
        !ms.is_empty() && ms[0]["attempts"] == 1
    })
    .await;
    let ms = messages(&app, &admin, &ws, eid).await;
    let a = attempts(&app, &admin, &ws, eid, ms[0]["id"].as_str().unwrap()).await;
    assert_eq!(a[0]["status"], "failed");
    assert!(a[0]["http_status"].is_null());
    assert!(
        a[0]["error"].as_str().unwrap().contains("10.0.0.9"),
        "{}",
        a[0]
    );
    assert!(rx.got("/r").is_empty(), "nothing was sent");
}

#[actix_web::test]
async fn failures_are_retried_on_schedule_with_the_same_id_and_retry_after_is_honoured() {
    let app = webhook_app(None, |_| {}).await;
    let rx = Receiver::start().await;
    rx.plan("/flaky", 500, &[]);
    rx.plan("/flaky", 503, &[("retry-after", "3600")]);
    let (admin, ws) = admin_and_workspace(&app).await;
    let ep = create_endpoint(&app, &admin, &ws, json!({ "url": rx.url("/flaky") })).await;
    let eid = ep["id"].as_str().unwrap().to_string();
    post(&app, &admin, &ws, "Retry me").await;
    until(&app.clock, Duration::ZERO, "attempt 1", || async {
        message_rows(&app, &eid)
            .await
            .first()
            .is_some_and(|m| m.attempts >= 1)
    })
    .await;
    let mid = message_rows(&app, &eid).await[0].id.clone();
    let gap = |a: &Value| {
        let next: chrono::DateTime<chrono::Utc> =
            a["next_attempt_at"].as_str().unwrap().parse().unwrap();
        let at: chrono::DateTime<chrono::Utc> = a["created_at"].as_str().unwrap().parse().unwrap();
        (next - at).num_milliseconds()
    };
    let a = attempts(&app, &admin, &ws, &eid, &mid).await;
    assert_eq!(a[0]["http_status"], 500);
    assert!(
        (4_500..=5_500).contains(&gap(&a[0])),
        "retry after 5 s ± 10 %, got {} ms",
        gap(&a[0])
    );
    app.clock.advance(Duration::from_secs(7));
    until(&app.clock, Duration::ZERO, "attempt 2 recorded", || async {
        message_rows(&app, &eid).await[0].attempts == 2
    })
    .await;
    let a = attempts(&app, &admin, &ws, &eid, &mid).await;
    assert_eq!(a[1]["http_status"], 503);
    assert_eq!(
        gap(&a[1]),
        3_600_000,
        "Retry-After 3600 beats the 5 min step"
    );
    assert_eq!(message_rows(&app, &eid).await[0].status, "pending");
    // The schedule's 5 minutes pass: still waiting for the receiver's hour.
    app.clock.advance(Duration::from_secs(6 * 60));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.got("/flaky").len(), 2);
    app.clock.advance(Duration::from_secs(3600));
    until(&app.clock, Duration::ZERO, "attempt 3", || async {
        message_rows(&app, &eid).await[0].status == "succeeded"
    })
    .await;
    let admin = relogin(&app, &admin).await;
    let got = rx.got("/flaky");
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|d| d.id() == mid),
        "the same webhook-id on every attempt"
    );
    assert_ne!(
        got[0].headers["webhook-timestamp"], got[2].headers["webhook-timestamp"],
        "each attempt is stamped when sent"
    );
    let a = attempts(&app, &admin, &ws, &eid, &mid).await;
    let codes: Vec<_> = a.iter().map(|x| x["http_status"].clone()).collect();
    assert_eq!(codes, [json!(500), json!(503), json!(200)]);
    assert!(a[2]["next_attempt_at"].is_null());
    assert!(
        endpoint(&app, &admin, &ws, &eid).await["failing_since"].is_null(),
        "a success ends the failure streak"
    );
}

#[actix_web::test]
async fn gone_disables_at_once_and_five_failing_days_disable_and_tell_the_admins() {
    let app = webhook_app(None, |_| {}).await;
    let rx = Receiver::start().await;
    rx.plan("/gone", 410, &[]);
    rx.plan_many("/down", &[500; 40]);
    let (admin, ws) = admin_and_workspace(&app).await;
    let gone = create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": rx.url("/gone"), "description": "Old CRM" }),
    )
    .await;
    let down = create_endpoint(
        &app,
        &admin,
        &ws,
        json!({ "url": rx.url("/down"), "description": "Flaky CRM" }),
    )
    .await;
    let (gid, did) = (
        gone["id"].as_str().unwrap().to_string(),
        down["id"].as_str().unwrap().to_string(),
    );
    post(&app, &admin, &ws, "One").await;
    until(&app.clock, Duration::ZERO, "410 disables", || async {
        endpoint(&app, &admin, &ws, &gid).await["enabled"] == false
    })
    .await;
    let e = endpoint(&app, &admin, &ws, &gid).await;
    assert!(
        e["disabled_reason"].as_str().unwrap().contains("410"),
        "{e}"
    );
    let ms = messages(&app, &admin, &ws, &gid).await;
    assert_eq!(
        (ms[0]["status"].clone(), ms[0]["attempts"].clone()),
        (json!("failed"), json!(1))
    );
    app.mail.containing(&admin.email, "410 Gone").await;
    // A disabled endpoint gets nothing more, and cannot be test-sent.
    assert_error(
        app.post(
            &format!("/api/workspaces/{ws}/webhooks/{gid}/test"),
            Some(&admin.access),
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "endpoint_disabled",
    )
    .await;
    // The failing one keeps trying; after five days without a success it is disabled.
    until(&app.clock, Duration::ZERO, "first failure", || async {
        !endpoint(&app, &admin, &ws, &did).await["failing_since"].is_null()
    })
    .await;
    app.clock.advance(Duration::from_secs(4 * 86_400));
    let admin = relogin(&app, &admin).await;
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/webhooks/{did}/test"),
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    until(&app.clock, Duration::ZERO, "test attempt", || async {
        message_rows(&app, &did)
            .await
            .iter()
            .any(|m| m.event_type == "webhook.test" && m.attempts == 1)
    })
    .await;
    assert!(
        endpoint_row(&app, &did).await.enabled,
        "four days are not five"
    );
    app.clock.advance(Duration::from_secs(86_400 + 60));
    until(
        &app.clock,
        Duration::from_secs(60),
        "disabled after 5 days",
        || async { !endpoint_row(&app, &did).await.enabled },
    )
    .await;
    let admin = relogin(&app, &admin).await;
    let e = endpoint(&app, &admin, &ws, &did).await;
    assert!(
        e["disabled_reason"].as_str().unwrap().contains("5 days"),
        "{e}"
    );
    let mail = app.mail.containing(&admin.email, "Flaky CRM").await;
    assert!(mail.text().contains("disabled"), "{}", mail.text());
    // Enabling again clears the reason and the streak.
    let r = app
        .patch(
            &format!("/api/workspaces/{ws}/webhooks/{did}"),
            &admin.access,
            json!({ "enabled": true }),
        )
        .await;
    let b = crate::helpers::body(r).await;
    assert!(
        b["disabled_reason"].is_null() && b["failing_since"].is_null(),
        "{b}"
    );
}
