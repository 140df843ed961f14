//! Notification emails: multipart (text + HTML, user-written text escaped), the RFC 8058
//! unsubscribe headers and link (GET shows a page, POST one-click turns the type off), and
//! the daily digest on the injectable clock.

use std::time::Duration;

use copydesk::events::EventType;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::notify_support::*;

/// The header's value in a raw message (unfolded).
fn header(data: &str, name: &str) -> Option<String> {
    let unfolded = data.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim().to_string())
}

async fn prefs(app: &TestApp, s: &Session) -> serde_json::Value {
    let r = app.get("/api/notifications/preferences", &s.access).await;
    let b = body(r).await;
    b["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "mentioned")
        .unwrap()["email"]
        .clone()
}

/// POSTs a one-click unsubscribe to `url`, as a mail provider does (RFC 8058).
async fn one_click(app: &TestApp, url: &str) -> reqwest::Response {
    app.client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_mention_email_is_multipart_escaped_and_one_click_unsubscribes() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let post = t.post["id"].as_str().unwrap();
    mention(
        &app,
        &t.admin,
        post,
        "Look at <script>alert(1)</script> & this",
        &[&t.editor],
    )
    .await;
    let mail = app.mail.containing(&t.editor.email, "Look at").await;
    let data = mail.text();
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    // Plain text as written; HTML escaped (the title has markup too).
    assert!(
        data.contains("Look at <script>alert(1)</script> & this"),
        "{data}"
    );
    assert!(
        data.contains("Look at &lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; this"),
        "{data}"
    );
    assert!(
        data.contains("Launch &lt;b&gt;day&lt;&#x2f;b&gt;"),
        "{data}"
    );
    assert!(!data.contains("<b>day</b>\u{201d}</td>"), "{data}");
    let link = format!("{}/w/{}/posts/{post}", app.addr, t.ws);
    assert!(data.contains(&link), "{data}");
    assert_eq!(
        header(&mail.data, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let lu = header(&mail.data, "List-Unsubscribe").expect("List-Unsubscribe");
    let prefix = format!("<{}/api/notifications/unsubscribe?token=", app.addr);
    assert!(lu.starts_with(&prefix) && lu.ends_with('>'), "{lu}");
    let url = lu.trim_start_matches('<').trim_end_matches('>').to_string();
    let msg_id = header(&mail.data, "Message-ID").unwrap();
    let n = notification_rows(&app, &t.editor.user_id).await;
    assert!(msg_id.contains(&n[0].id.simple().to_string()), "{msg_id}");
    let d = deliveries(&app, n[0].id).await;
    until(&app.clock, Duration::ZERO, "delivery recorded", || async {
        deliveries(&app, n[0].id)
            .await
            .iter()
            .any(|d| d.channel == "email" && d.status == "sent")
    })
    .await;
    assert!(d.iter().any(|d| d.channel == "email"));

    // GET: a confirmation page; nothing changes.
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Someone mentioned me") && page.contains("<form method=\"post\""),
        "{page}"
    );
    assert_eq!(prefs(&app, &t.editor).await, json!(true));
    // A forged or altered token: 404.
    let forged = format!("{}x", &url[..url.len() - 1]);
    let r = app.client.post(&forged).send().await.unwrap();
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // POST one-click, as a mail provider does.
    let r = one_click(&app, &url).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("no longer get emails"));
    assert_eq!(prefs(&app, &t.editor).await, json!(false));

    // The next mention is in-app only.
    mention(&app, &t.admin, post, "second mention", &[&t.editor]).await;
    until(
        &app.clock,
        Duration::ZERO,
        "the second notification",
        || async { notification_rows(&app, &t.editor.user_id).await.len() == 2 },
    )
    .await;
    assert_eq!(jobs_of(&app.db, "notify.email").await, 1);
    assert!(app
        .mail
        .all_containing(&t.editor.email, "second mention")
        .is_empty());
}

#[actix_web::test]
async fn approval_emails_go_to_recipients_with_their_own_wording() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    record_approval(
        &app,
        EventType::ApprovalSubmitted,
        &t.ws,
        &t.post,
        &t.admin,
        &[&t.editor, &t.admin],
        json!({ "step": "Legal" }),
    )
    .await;
    let mail = app
        .mail
        .containing(&t.editor.email, "needs your approval")
        .await;
    let text = mail.text();
    assert!(text.contains("Review the post"), "{text}");
    assert!(text.contains("Requested by Ann Approver"), "{text}");
    assert!(text.contains("step: Legal"), "{text}");
    // Approved is not emailed by default (in-app only), deadline_near is.
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
    record_approval(
        &app,
        EventType::ApprovalDeadlineNear,
        &t.ws,
        &t.post,
        &t.admin,
        &[&t.editor],
        json!({}),
    )
    .await;
    app.mail.containing(&t.editor.email, "is due soon").await;
    assert_eq!(notification_rows(&app, &t.editor.user_id).await.len(), 3);
    assert!(app
        .mail
        .all_containing(&t.editor.email, "was approved")
        .is_empty());
    assert_eq!(
        app.mail.count_to(&t.admin.email.to_lowercase()),
        1,
        "only the admin's sign-up mail"
    );
}

#[actix_web::test]
async fn the_daily_digest_replaces_single_emails() {
    let app = spawn_app_with(settings).await;
    let t = team(&app).await;
    let post = t.post["id"].as_str().unwrap();
    let r = app
        .put(
            "/api/notifications/preferences",
            &t.editor.access,
            json!({ "email_digest": "daily" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    mention(&app, &t.admin, post, "first for the digest", &[&t.editor]).await;
    mention(&app, &t.admin, post, "second for the digest", &[&t.editor]).await;
    until(&app.clock, Duration::ZERO, "two notifications", || async {
        notification_rows(&app, &t.editor.user_id).await.len() == 2
    })
    .await;
    assert_eq!(
        jobs_of(&app.db, "notify.email").await,
        0,
        "no single emails"
    );
    let before = app.mail.count_to(&t.editor.email.to_lowercase());
    // A day later the 08:00 run has happened: one digest with both.
    let mail = {
        let step = Duration::from_secs(3600);
        until(&app.clock, step, "the digest", || async {
            !app.mail
                .all_containing(&t.editor.email, "Your Copydesk digest")
                .is_empty()
        })
        .await;
        app.mail
            .all_containing(&t.editor.email, "Your Copydesk digest")[0]
            .clone()
    };
    let text = mail.text();
    assert!(text.contains("2 new notifications"), "{text}");
    assert!(
        text.contains("first for the digest") && text.contains("second for the digest"),
        "{text}"
    );
    assert!(text.contains("multipart/alternative"));
    assert_eq!(
        app.mail.count_to(&t.editor.email.to_lowercase()),
        before + 1
    );
    assert_eq!(jobs_of(&app.db, "notify.digest").await, 1);
    // The next digest has only what came after this one.
    let admin = crate::webhook_support::relogin(&app, &t.admin).await;
    mention(&app, &admin, post, "third", &[&t.editor]).await;
    until(
        &app.clock,
        Duration::from_secs(3600),
        "the next digest",
        || async {
            app.mail
                .all_containing(&t.editor.email, "Your Copydesk digest")
                .len()
                == 2
        },
    )
    .await;
    let last = app
        .mail
        .all_containing(&t.editor.email, "Your Copydesk digest")[1]
        .text();
    assert!(
        last.contains("1 new notification")
            && last.contains("third")
            && !last.contains("first for"),
        "{last}"
    );

    // The digest has its own one-click unsubscribe (RFC 8058): it stops the digest and
    // every other notification email, and leaves the notifications in the app.
    let data = &app
        .mail
        .all_containing(&t.editor.email, "Your Copydesk digest")[1]
        .data;
    assert_eq!(
        header(data, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let lu = header(data, "List-Unsubscribe").expect("List-Unsubscribe");
    let url = lu.trim_start_matches('<').trim_end_matches('>').to_string();
    assert!(
        url.starts_with(&format!(
            "{}/api/notifications/unsubscribe?token=",
            app.addr
        )),
        "{lu}"
    );
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Stop the daily digest"));
    let r = one_click(&app, &url).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("no more digests"));
    // (The test's clock has moved two days: a fresh sign-in.)
    let editor = crate::webhook_support::relogin(&app, &t.editor).await;
    let p = body(
        app.get("/api/notifications/preferences", &editor.access)
            .await,
    )
    .await;
    assert_eq!(p["email_digest"], "off", "{p}");
    assert!(
        p["types"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["email"] == json!(false)),
        "{p}"
    );
    assert!(
        p["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["in_app"] == json!(true)),
        "in-app stays as it was: {p}"
    );
}
