//! Notifications in-app: the notifier turns events into notifications (once, for members
//! only, never for the actor), the list with its cursor and unread count, marking read,
//! preferences and their validation, and the live `notification.created` event.

use std::time::Duration;

use copydesk::events::EventType;
use reqwest::StatusCode;
use serde_json::json;

use crate::evclient::EvClient;
use crate::helpers::*;
use crate::notify_support::*;

async fn list(app: &TestApp, s: &Session, query: &str) -> serde_json::Value {
    let r = app
        .get(&format!("/api/notifications{query}"), &s.access)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

async fn wait_count(app: &TestApp, s: &Session, n: usize) -> serde_json::Value {
    until(
        &app.clock,
        Duration::ZERO,
        "notifications arrive",
        || async {
            list(app, s, "").await["notifications"]
                .as_array()
                .unwrap()
                .len()
                >= n
        },
    )
    .await;
    list(app, s, "").await
}

#[actix_web::test]
async fn a_mention_notifies_the_member_live_and_marking_read_works() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let post = t.post["id"].as_str().unwrap();
    let ticket = app.ticket(&t.editor).await;
    let mut live = EvClient::connect(&app.addr, &ticket, None).await;
    let ticket = app.ticket(&t.admin).await;
    let mut admin_live = EvClient::connect(&app.addr, &ticket, None).await;

    mention(&app, &t.admin, post, "Can you check <this>?", &[&t.editor]).await;
    let page = wait_count(&app, &t.editor, 1).await;
    let n = &page["notifications"][0];
    assert_eq!(n["type"], "mentioned");
    assert_eq!(n["workspace_id"], t.ws.as_str());
    assert_eq!(n["post_id"], post);
    assert_eq!(n["url"], format!("/w/{}/posts/{post}", t.ws));
    assert_eq!(n["actor"]["user_id"], t.admin.user_id.as_str());
    assert_eq!(n["actor"]["name"], "Ada Admin");
    assert_eq!(n["body"], "Can you check <this>?");
    assert!(
        n["title"].as_str().unwrap().contains("Launch <b>day</b>"),
        "{n}"
    );
    assert!(n["read_at"].is_null());
    assert_eq!(page["unread_count"], 1);
    assert!(page["next_before"].is_null());

    // The live event reaches the recipient's stream, not the author's.
    let ev = live.next_of("notification.created").await;
    assert_eq!(ev["data"]["user_id"], t.editor.user_id.as_str());
    assert_eq!(ev["data"]["notification"]["id"], n["id"]);
    // The author's stream never carries it: a later event arrives, the notification did not.
    let r = app
        .post(
            &format!("/api/posts/{post}/comments"),
            Some(&t.admin.access),
            json!({ "body": "later" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    admin_live
        .next_matching("the later comment", |e| {
            e["type"] == "comment.created" && e["data"]["comment"]["body"] == "later"
        })
        .await;
    assert!(!admin_live
        .seen
        .iter()
        .any(|e| e["type"] == "notification.created"));

    // The author is not notified, the activity feed does not show it.
    assert_eq!(list(&app, &t.admin, "").await["unread_count"], 0);
    let r = app
        .get(
            &format!("/api/workspaces/{}/activity", t.ws),
            &t.admin.access,
        )
        .await;
    let feed = body(r).await.to_string();
    assert!(!feed.contains("notification.created"));

    let r = app
        .get("/api/notifications/unread-count", &t.editor.access)
        .await;
    assert_eq!(body(r).await, json!({ "unread_count": 1 }));

    // Someone else's id: 404, and nothing changes.
    let id = n["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/notifications/{id}/read"),
            Some(&t.admin.access),
            json!({}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .post(
            &format!("/api/notifications/{}/read", uuid::Uuid::now_v7()),
            Some(&t.editor.access),
            json!({}),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(list(&app, &t.editor, "").await["unread_count"], 1);

    let r = app
        .post(
            &format!("/api/notifications/{id}/read"),
            Some(&t.editor.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let page = list(&app, &t.editor, "").await;
    assert_eq!(page["unread_count"], 0);
    assert!(page["notifications"][0]["read_at"].is_string());
    assert_eq!(
        list(&app, &t.editor, "?unread=true").await["notifications"],
        json!([])
    );
    // Twice is fine.
    let r = app
        .post(
            &format!("/api/notifications/{id}/read"),
            Some(&t.editor.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn approval_events_notify_their_recipients_who_are_members_and_pages_follow_the_cursor() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let outsider = app.register_verified(&email("outsider"), "Out Sider").await;
    // Recipients: the editor (a member), the actor herself and an outsider: only the editor.
    for i in 0..3 {
        record_approval(
            &app,
            EventType::ApprovalSubmitted,
            &t.ws,
            &t.post,
            &t.admin,
            &[&t.editor, &t.admin, &outsider],
            json!({ "step": format!("Legal {i}") }),
        )
        .await;
    }
    record_approval(
        &app,
        EventType::ApprovalDecided,
        &t.ws,
        &t.post,
        &t.admin,
        &[],
        json!({}),
    )
    .await;
    record_approval(
        &app,
        EventType::ApprovalChangesRequested,
        &t.ws,
        &t.post,
        &t.admin,
        &[&t.editor],
        json!({ "comment": "Shorter, please" }),
    )
    .await;
    let page = wait_count(&app, &t.editor, 4).await;
    assert_eq!(page["unread_count"], 4);
    let first = &page["notifications"][0];
    assert_eq!(first["type"], "changes_requested");
    assert_eq!(first["body"], "Shorter, please");
    assert_eq!(first["actor"]["name"], "Ann Approver");
    assert_eq!(page["notifications"][3]["type"], "approval_requested");
    assert!(page["notifications"][3]["body"]
        .as_str()
        .unwrap()
        .contains("Legal 0"));
    assert_eq!(counts(&app, &t.admin.user_id).await, (0, 0));
    assert_eq!(counts(&app, &outsider.user_id).await, (0, 0));

    // Pages of 3 then 1, newest first, no overlap.
    let p1 = list(&app, &t.editor, "?limit=3").await;
    assert_eq!(p1["notifications"].as_array().unwrap().len(), 3);
    let next = p1["next_before"].as_str().unwrap();
    let p2 = list(&app, &t.editor, &format!("?limit=3&before={next}")).await;
    assert_eq!(p2["notifications"].as_array().unwrap().len(), 1);
    assert!(p2["next_before"].is_null());
    assert_eq!(p2["notifications"][0]["id"], page["notifications"][3]["id"]);
    let r = app
        .get("/api/notifications?before=not-a-cursor", &t.editor.access)
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let r = app
        .get("/api/notifications?limit=0", &t.editor.access)
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;

    let r = app
        .post(
            "/api/notifications/read-all",
            Some(&t.editor.access),
            json!({}),
        )
        .await;
    assert_eq!(body(r).await, json!({ "marked": 4 }));
    assert_eq!(list(&app, &t.editor, "").await["unread_count"], 0);

    // Removed from the workspace: its notifications are no longer listed.
    record_approval(
        &app,
        EventType::ApprovalApproved,
        &t.ws,
        &t.post,
        &t.admin,
        &[&t.editor],
        json!({}),
    )
    .await;
    wait_count(&app, &t.editor, 5).await;
    let r = app
        .delete(
            &format!("/api/workspaces/{}/members/{}", t.ws, t.editor.user_id),
            &t.admin.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let page = list(&app, &t.editor, "").await;
    assert_eq!(page["notifications"], json!([]));
    assert_eq!(page["unread_count"], 0);
}

#[actix_web::test]
async fn preferences_have_defaults_change_partially_and_refuse_unknown_names() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let r = app
        .get("/api/notifications/preferences", &t.editor.access)
        .await;
    let p = body(r).await;
    assert_eq!(p["email_digest"], "off");
    let types = p["types"].as_array().unwrap();
    assert_eq!(types.len(), 8);
    let find = |p: &serde_json::Value, ty: &str| {
        p["types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == ty)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        find(&p, "approval_requested"),
        json!({ "type": "approval_requested", "label": "A post waits for my approval", "in_app": true, "email": true, "push": true })
    );
    let m = find(&p, "deadline_near");
    assert_eq!(
        (m["in_app"].clone(), m["email"].clone(), m["push"].clone()),
        (json!(true), json!(true), json!(false))
    );
    let m = find(&p, "published");
    assert_eq!(
        (m["email"].clone(), m["push"].clone()),
        (json!(false), json!(false))
    );

    let r = app
        .put(
            "/api/notifications/preferences",
            &t.editor.access,
            json!({ "types": [{ "type": "mentioned", "push": false }], "email_digest": "daily" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p = body(r).await;
    assert_eq!(p["email_digest"], "daily");
    let m = find(&p, "mentioned");
    assert_eq!(
        (m["in_app"].clone(), m["email"].clone(), m["push"].clone()),
        (json!(true), json!(true), json!(false))
    );
    // Sending the GET shape back changes nothing.
    let r = app
        .put(
            "/api/notifications/preferences",
            &t.editor.access,
            p.clone(),
        )
        .await;
    assert_eq!(body(r).await, p);

    for (bad, code) in [
        (
            json!({ "types": [{ "type": "birthday", "email": true }] }),
            "unknown_notification_type",
        ),
        (
            json!({ "types": [{ "type": "mentioned", "sms": true }] }),
            "unknown_channel",
        ),
        (
            json!({ "types": [{ "type": "mentioned", "email": "yes" }] }),
            "invalid_preferences",
        ),
        (json!({ "email_digest": "hourly" }), "invalid_email_digest"),
        (json!({ "volume": 11 }), "unknown_field"),
    ] {
        let r = app
            .put(
                "/api/notifications/preferences",
                &t.editor.access,
                bad.clone(),
            )
            .await;
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    // Nothing of the refused bodies was applied.
    let r = app
        .get("/api/notifications/preferences", &t.editor.access)
        .await;
    assert_eq!(body(r).await, p);
    // Another user's preferences are their own.
    let r = app
        .get("/api/notifications/preferences", &t.admin.access)
        .await;
    assert_eq!(body(r).await["email_digest"], "off");
}

#[actix_web::test]
async fn in_app_off_keeps_email_and_everything_off_stores_nothing() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let post = t.post["id"].as_str().unwrap();
    let r = app
        .put(
            "/api/notifications/preferences",
            &t.editor.access,
            json!({ "types": [{ "type": "mentioned", "in_app": false }, { "type": "approval_requested", "in_app": false, "email": false, "push": false }] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    record_approval(
        &app,
        EventType::ApprovalSubmitted,
        &t.ws,
        &t.post,
        &t.admin,
        &[&t.editor],
        json!({}),
    )
    .await;
    mention(&app, &t.admin, post, "hidden in-app, emailed", &[&t.editor]).await;
    // The email comes; the list and the count stay empty; no live event.
    let mail = app
        .mail
        .containing(&t.editor.email, "hidden in-app, emailed")
        .await;
    assert!(mail.data.contains("multipart/alternative"));
    let rows = notification_rows(&app, &t.editor.user_id).await;
    assert_eq!(rows.len(), 1, "only the mention is stored: {rows:?}");
    assert_eq!(rows[0].kind, "mentioned");
    assert!(!rows[0].in_app && rows[0].read_at.is_some());
    assert_eq!(counts(&app, &t.editor.user_id).await, (1, 0));
    let page = list(&app, &t.editor, "").await;
    assert_eq!(page["notifications"], json!([]));
    assert_eq!(page["unread_count"], 0);
}

#[actix_web::test]
async fn a_redelivered_event_never_notifies_twice() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let post = t.post["id"].as_str().unwrap();
    mention(&app, &t.admin, post, "once only", &[&t.editor]).await;
    app.mail.containing(&t.editor.email, "once only").await;
    wait_count(&app, &t.editor, 1).await;
    let jobs = jobs_of(&app.db, "notify.email").await;
    assert_eq!(jobs, 1);

    // Rewind the notifier's cursor: every event is handed to it again.
    use sea_orm::ConnectionTrait;
    let pos = |db: sea_orm::DatabaseConnection| async move {
        #[derive(sea_orm::FromQueryResult)]
        struct P {
            txid: i64,
            seq: i64,
        }
        use sea_orm::FromQueryResult;
        let p = P::find_by_statement(copydesk::jobs::store::stmt(
            &db,
            "SELECT txid, seq FROM outbox_consumers WHERE name = 'notifier'",
            vec![],
        ))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
        (p.txid, p.seq)
    };
    let before = pos(app.db.clone()).await;
    app.db
        .execute_raw(copydesk::jobs::store::stmt(
            &app.db,
            "UPDATE outbox_consumers SET txid = 0, seq = 0 WHERE name = 'notifier'",
            vec![],
        ))
        .await
        .unwrap();
    until(
        &app.clock,
        Duration::ZERO,
        "the notifier read everything again",
        || async { pos(app.db.clone()).await >= before },
    )
    .await;
    assert_eq!(counts(&app, &t.editor.user_id).await, (1, 1));
    assert_eq!(jobs_of(&app.db, "notify.email").await, 1);
    assert_eq!(
        app.mail.all_containing(&t.editor.email, "once only").len(),
        1
    );
}
