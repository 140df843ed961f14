//! End to end with the approvals domain: a submit notifies the step's approvers (in-app,
//! email, push), a request for changes notifies the submitter, and nobody hears of their own
//! action.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::notify_support::*;

#[actix_web::test]
async fn a_submitted_post_notifies_its_approver_and_the_decision_its_submitter() {
    let app = spawn_app_with(settings).await;
    let push = PushService::start();
    let admin = app.register_verified(&email("admin"), "Ada Admin").await;
    let ws = app.create_workspace(&admin, "Flow").await;
    let creator = app.member_with_role(&admin, &ws, "content_creator").await;
    let reviewer = app.member_with_role(&admin, &ws, "reviewer").await;
    let r = app
        .post(
            "/api/push/subscriptions",
            Some(&reviewer.access),
            push.subscription("/sub/reviewer"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/approval-workflows"),
            Some(&admin.access),
            json!({ "name": "Review", "is_default": true,
                    "steps": [{ "name": "Legal", "order": 1, "approvers": { "user_ids": [reviewer.user_id] } }] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", body(r).await);
    let post = app
        .create_post(
            &creator,
            &ws,
            json!({ "title": "Spring launch", "caption": "Hello", "platforms": ["x"] }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            &format!("/api/posts/{post}/submit"),
            Some(&creator.access),
            json!({ "comment": "please" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", body(r).await);

    // The approver: in-app, email and push.
    let mail = app
        .mail
        .containing(&reviewer.email, "needs your approval")
        .await;
    assert!(mail.text().contains("Spring launch"));
    let got = push
        .wait_for(&app.clock, Duration::ZERO, "/sub/reviewer", 1)
        .await;
    assert_eq!(got[0]["ok"], true, "{}", got[0]);
    assert_eq!(got[0]["payload"]["type"], "approval_requested");
    let r = app.get("/api/notifications", &reviewer.access).await;
    let page = body(r).await;
    let n = &page["notifications"][0];
    assert_eq!(n["type"], "approval_requested");
    assert_eq!(n["post_id"], post.as_str());
    assert_eq!(n["actor"]["user_id"], creator.user_id.as_str());
    assert_eq!(page["unread_count"], 1);

    // The decision reaches the submitter (in-app only by default), not the reviewer.
    let r = app
        .post(
            &format!("/api/posts/{post}/request-changes"),
            Some(&reviewer.access),
            json!({ "comment": "Shorter" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", body(r).await);
    until(
        &app.clock,
        Duration::ZERO,
        "the submitter's notification",
        || async {
            let r = app.get("/api/notifications", &creator.access).await;
            body(r).await["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["type"] == "changes_requested")
        },
    )
    .await;
    let r = app.get("/api/notifications", &creator.access).await;
    let page = body(r).await;
    let types: Vec<&str> = page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["changes_requested"],
        "the submitter hears only of the decision"
    );
    assert_eq!(page["notifications"][0]["body"], "Shorter");
    let r = app.get("/api/notifications", &reviewer.access).await;
    assert_eq!(body(r).await["notifications"].as_array().unwrap().len(), 1);
    assert!(app
        .mail
        .all_containing(&creator.email, "Changes requested")
        .is_empty());
}
