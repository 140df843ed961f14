//! Approvals: workflows with parallel steps and N of M, decisions and their events, content
//! binding (an edit voids an approval), concurrency on decisions, review links, deadlines.

use std::sync::Arc;
use std::time::Duration;

use copydesk_actors::ports::{ApprovalDeadlines, Clock};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{json, Value};

use crate::helpers::*;

struct World {
    app: TestApp,
    admin: Session,
    ws: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Ada Admin").await;
    let ws = app.create_workspace(&admin, "Approvals").await;
    World { app, admin, ws }
}

/// A fresh session (after the clock moved past the access token's lifetime).
async fn relogin(app: &TestApp, s: &Session) -> Session {
    session(body(app.login(&s.email, PASSWORD).await).await)
}

impl World {
    async fn mode(&self, mode: &str) {
        let r = self
            .app
            .put(
                &format!("/api/workspaces/{}", self.ws),
                &self.admin.access,
                json!({ "approval_mode": mode }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{:?}", body(r).await);
    }

    async fn workflow(&self, wf: Value) -> Value {
        let r = self
            .app
            .post(
                &format!("/api/workspaces/{}/approval-workflows", self.ws),
                Some(&self.admin.access),
                wf,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        body(r).await
    }

    async fn post(&self, s: &Session, title: &str) -> String {
        self.app
            .create_post(
                s,
                &self.ws,
                json!({ "title": title, "caption": "Hello", "platforms": ["x"] }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn act(&self, s: &Session, post: &str, action: &str) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/posts/{post}/{action}"),
                Some(&s.access),
                json!({ "comment": format!("{action} by me") }),
            )
            .await
    }

    async fn status(&self, post: &str) -> String {
        let r = self
            .app
            .get(&format!("/api/posts/{post}"), &self.admin.access)
            .await;
        body(r).await["status"].as_str().unwrap().to_string()
    }

    async fn approval(&self, post: &str) -> Value {
        let r = self
            .app
            .get(&format!("/api/posts/{post}/approval"), &self.admin.access)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await
    }

    /// Types of the post's approval events in the activity feed, oldest first.
    async fn feed(&self, post: &str) -> Vec<String> {
        let r = self
            .app
            .get(
                &format!(
                    "/api/workspaces/{}/activity?post_id={post}&limit=100",
                    self.ws
                ),
                &self.admin.access,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let mut v: Vec<String> = body(r).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .filter(|t| t.starts_with("approval.") || t == "post.status_changed")
            .collect();
        v.reverse();
        v
    }

    async fn link(&self, post: &str, perms: Value) -> String {
        let r = self
            .app
            .post(
                &format!("/api/workspaces/{}/share-links", self.ws),
                Some(&self.admin.access),
                json!({ "post_ids": [post], "permissions": perms, "label": "Client" }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let b = body(r).await;
        assert!(b["url"]
            .as_str()
            .unwrap()
            .ends_with(b["token"].as_str().unwrap()));
        b["token"].as_str().unwrap().to_string()
    }
}

fn step<'a>(a: &'a Value, name: &str) -> &'a Value {
    a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {a}"))
}

#[actix_web::test]
async fn a_two_level_workflow_with_a_parallel_step_and_n_of_m_runs_to_approval() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    let creator = app.member_with_role(&w.admin, ws, "content_creator").await;
    let legal1 = app.member_with_role(&w.admin, ws, "reviewer").await;
    let legal2 = app.member_with_role(&w.admin, ws, "reviewer").await;
    let brand = app.member_with_role(&w.admin, ws, "content_manager").await;
    // Two levels need the multi_level mode.
    let two_levels = json!({
        "name": "Legal, brand, then client",
        "is_default": true,
        "steps": [
            { "name": "Legal", "order": 1, "approvers": { "user_ids": [legal1.user_id, legal2.user_id] }, "required": 1 },
            { "name": "Brand", "order": 1, "approvers": { "user_ids": [brand.user_id] } },
            { "name": "Client", "order": 2, "approvers": { "roles": ["client"] }, "required": 1 }
        ]
    });
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/approval-workflows"),
            Some(&w.admin.access),
            two_levels.clone(),
        )
        .await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "multi_level_required").await;
    w.mode("multi_level").await;
    w.workflow(two_levels).await;

    let post = w.post(&creator, "Launch").await;
    // A creator cannot approve; nobody can approve what is not in review.
    assert_error(
        w.act(&legal1, &post, "approve").await,
        StatusCode::CONFLICT,
        "not_in_review",
    )
    .await;
    let r = w.act(&creator, &post, "submit").await;
    assert_eq!(r.status(), StatusCode::OK);
    let a = body(r).await;
    assert_eq!(a["status"], "pending");
    assert_eq!(a["current_order"], 1);
    assert_eq!(step(&a, "Legal")["status"], "active");
    assert_eq!(step(&a, "Brand")["status"], "active");
    assert_eq!(step(&a, "Client")["status"], "waiting");
    assert_eq!(step(&a, "Legal")["waiting_on"].as_array().unwrap().len(), 2);
    assert!(a["version_id"].is_string());
    assert_eq!(w.status(&post).await, "in_review");
    assert_error(
        w.act(&creator, &post, "approve").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        w.act(&creator, &post, "submit").await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;

    // One of the two legal reviewers is enough (1 of 2); the other then has nothing to do.
    let a = body(w.act(&legal1, &post, "approve").await).await;
    assert_eq!(step(&a, "Legal")["status"], "approved");
    assert_eq!(step(&a, "Legal")["approvals"], 1);
    assert_eq!(step(&a, "Brand")["status"], "active");
    assert_eq!(
        step(&a, "Client")["status"],
        "waiting",
        "order 2 waits for all of order 1"
    );
    assert_error(
        w.act(&legal2, &post, "approve").await,
        StatusCode::FORBIDDEN,
        "not_an_approver",
    )
    .await;
    let inbox = body(
        app.get(
            &format!("/api/workspaces/{ws}/approvals/inbox"),
            &brand.access,
        )
        .await,
    )
    .await;
    assert_eq!(inbox["items"][0]["post"]["id"], post.as_str());
    let a = body(w.act(&brand, &post, "approve").await).await;
    assert_eq!(step(&a, "Brand")["status"], "approved");
    assert_eq!(step(&a, "Client")["status"], "active");
    assert_eq!(a["current_order"], 2);

    // The client decides through a review link, with no account.
    let token = w.link(&post, json!(["comment", "approve"])).await;
    let review = body(app.get(&format!("/api/review/{token}"), "").await).await;
    assert_eq!(review["link"]["workspace_name"], "Approvals");
    assert_eq!(review["posts"][0]["title"], "Launch");
    assert_eq!(review["posts"][0]["previews"][0]["platform"], "x");
    assert_eq!(review["posts"][0]["previews"][0]["limit"], 280);
    let r = app
        .post(
            &format!("/api/review/{token}/posts/{post}/approve"),
            None,
            json!({ "name": "Cleo Client", "comment": "Lovely" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let a = body(r).await;
    assert_eq!(a["status"], "approved");
    let d = &step(&a, "Client")["decisions"][0];
    assert_eq!(d["by"]["name"], "Cleo Client");
    assert!(d["by"]["share_link_id"].is_string());
    assert!(a["approved_version_id"].is_string());
    assert_eq!(w.status(&post).await, "approved");

    assert_eq!(
        w.feed(&post).await,
        [
            "post.status_changed",
            "approval.submitted",
            "approval.step_started",
            "approval.step_started",
            "approval.decided",
            "approval.decided",
            "approval.step_started",
            "approval.decided",
            "post.status_changed",
            "approval.approved",
        ]
    );
    // Versions were saved at submit and at approval.
    let versions = body(
        app.get(&format!("/api/posts/{post}/versions"), &w.admin.access)
            .await,
    )
    .await;
    let kinds: Vec<&str> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"submitted") && kinds.contains(&"approved"),
        "{kinds:?}"
    );
    // The guest's decision is audited with the name and the link.
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT details FROM audit_log WHERE action = 'approval.decided' ORDER BY created_at DESC LIMIT 1".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    let details: Value = row.try_get("", "details").unwrap();
    assert_eq!(details["by"]["name"], "Cleo Client");
}

#[actix_web::test]
async fn a_live_edit_after_approval_voids_it_once_the_document_writes_back() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    w.mode("required").await;
    let reviewer = app.member_with_role(&w.admin, ws, "reviewer").await;
    let post = w.post(&w.admin, "Bound live").await;
    body(w.act(&w.admin, &post, "submit").await).await;
    let approved = body(w.act(&reviewer, &post, "approve").await).await;
    assert_eq!(approved["status"], "approved");
    // Typed in the editor, not sent through REST: the document's hook writes the text back
    // onto the row (on SQLite on the log writer's thread) and finds the round open.
    let mut y = crate::yclient::YClient::open(app, &post, &w.admin).await;
    y.append(" and changed live").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = w.approval(&post).await;
        if now["round"] == 2 {
            assert_eq!(now["status"], "pending");
            assert_ne!(now["content_hash"], approved["content_hash"]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the live edit never voided the approval: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.status(&post).await, "in_review");
    let history = body(
        app.get(&format!("/api/posts/{post}/approvals"), &w.admin.access)
            .await,
    )
    .await;
    assert_eq!(history["rounds"][1]["status"], "voided");
}

#[actix_web::test]
async fn an_edit_after_approval_voids_it_and_the_post_goes_back_for_approval() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    w.mode("required").await;
    let reviewer = app.member_with_role(&w.admin, ws, "reviewer").await;
    let post = w.post(&w.admin, "Bound").await;
    let submitted = body(w.act(&w.admin, &post, "submit").await).await;
    let approved = body(w.act(&reviewer, &post, "approve").await).await;
    assert_eq!(approved["status"], "approved");
    let hash = approved["content_hash"].as_str().unwrap().to_string();
    assert_eq!(hash, submitted["content_hash"].as_str().unwrap());

    let row =
        copydesk::store::entities::posts::Entity::find_by_id(post.parse::<uuid::Uuid>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    copydesk::approvals::check_publishable(&app.db, &row, &hash)
        .await
        .expect("the approved content may go out");

    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &w.admin.access,
            json!({ "caption": "Hello, changed" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(w.status(&post).await, "in_review");
    let now = w.approval(&post).await;
    assert_eq!(now["round"], 2);
    assert_eq!(now["status"], "pending");
    assert_ne!(now["content_hash"], hash.as_str());
    let history = body(
        app.get(&format!("/api/posts/{post}/approvals"), &w.admin.access)
            .await,
    )
    .await;
    assert_eq!(history["rounds"][1]["status"], "voided");
    let feed = w.feed(&post).await;
    assert_eq!(
        &feed[feed.len() - 4..],
        [
            "post.status_changed",
            "approval.voided",
            "approval.submitted",
            "approval.step_started"
        ]
    );
    // The publisher's check refuses the old content and the new, unapproved one.
    let row =
        copydesk::store::entities::posts::Entity::find_by_id(post.parse::<uuid::Uuid>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    for h in [hash.clone(), copydesk::approvals::rounds::row_hash(&row)] {
        let e = copydesk::approvals::check_publishable(&app.db, &row, &h)
            .await
            .unwrap_err();
        assert!(
            matches!(e, copydesk::error::ApiError::Conflict("not_approved", _)),
            "{e:?}"
        );
    }
    // Approved again, the new content may go out.
    body(w.act(&reviewer, &post, "approve").await).await;
    copydesk::approvals::check_publishable(
        &app.db,
        &row,
        &copydesk::approvals::rounds::row_hash(&row),
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn approvers_deciding_at_once_never_over_count_or_double_count() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    let mut approvers = Vec::new();
    for _ in 0..4 {
        approvers.push(app.member_with_role(&w.admin, ws, "reviewer").await);
    }
    let ids: Vec<&str> = approvers.iter().map(|s| s.user_id.as_str()).collect();
    w.workflow(json!({
        "name": "Two of four", "is_default": true,
        "steps": [{ "name": "Team", "order": 1, "approvers": { "user_ids": ids }, "required": 2 }]
    }))
    .await;
    let post = w.post(&w.admin, "Race").await;
    body(w.act(&w.admin, &post, "submit").await).await;
    // Every approver twice, all at once.
    let mut calls = Vec::new();
    for s in approvers.iter().chain(approvers.iter()) {
        calls.push(w.act(s, &post, "approve"));
    }
    let results = futures_util::future::join_all(calls).await;
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 2, "exactly two approvals count");
    for r in &results {
        assert!(
            [StatusCode::OK, StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(&r.status()),
            "{}",
            r.status()
        );
    }
    let a = w.approval(&post).await;
    assert_eq!(a["status"], "approved");
    assert_eq!(a["steps"][0]["approvals"], 2);
    assert_eq!(a["steps"][0]["decisions"].as_array().unwrap().len(), 2);
    let approved = w
        .feed(&post)
        .await
        .iter()
        .filter(|t| *t == "approval.approved")
        .count();
    assert_eq!(approved, 1);
}

#[actix_web::test]
async fn review_links_are_signed_scoped_expiring_and_revocable() {
    let w = world().await;
    let app = &w.app;
    let post = w.post(&w.admin, "Shared").await;
    let other = w.post(&w.admin, "Not shared").await;
    let token = w.link(&post, json!(["comment"])).await;
    assert_eq!(
        app.get(&format!("/api/review/{token}"), "").await.status(),
        StatusCode::OK
    );
    // Tampered: one character changed.
    let mut bad: Vec<char> = token.chars().collect();
    bad[20] = if bad[20] == 'A' { 'B' } else { 'A' };
    let bad: String = bad.into_iter().collect();
    assert_error(
        app.get(&format!("/api/review/{bad}"), "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Another post of the workspace, through this link: 404, and nothing is written.
    assert_error(
        app.post(
            &format!("/api/review/{token}/posts/{other}/comments"),
            None,
            json!({ "name": "Eve", "body": "hi" }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Comment allowed, approve not.
    let r = app
        .post(
            &format!("/api/review/{token}/posts/{post}/comments"),
            None,
            json!({ "name": "Cleo", "body": "Nice one" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_error(
        app.post(
            &format!("/api/review/{token}/posts/{post}/approve"),
            None,
            json!({ "name": "Cleo" }),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_allowed_by_link",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/review/{token}/posts/{post}/comments"),
            None,
            json!({ "name": " ", "body": "x" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    let review = body(app.get(&format!("/api/review/{token}"), "").await).await;
    assert_eq!(review["posts"].as_array().unwrap().len(), 1);
    assert_eq!(review["posts"][0]["comments"][0]["author"], "Cleo");
    // The team sees the guest's comment with their name.
    let comments = body(
        app.get(&format!("/api/posts/{post}/comments"), &w.admin.access)
            .await,
    )
    .await;
    assert_eq!(comments["items"][0]["guest_name"], "Cleo");
    // Expired: the clock moves past the default week.
    let soon = w.link(&post, json!([])).await;
    app.clock.advance(Duration::from_secs(169 * 3600));
    assert_error(
        app.get(&format!("/api/review/{soon}"), "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let mut w = w;
    w.admin = relogin(&w.app, &w.admin).await;
    let app = &w.app;
    // Revoked.
    let links = body(
        app.get(
            &format!("/api/workspaces/{}/share-links", w.ws),
            &w.admin.access,
        )
        .await,
    )
    .await;
    let fresh = w.link(&post, json!([])).await;
    let id = body(
        app.get(
            &format!("/api/workspaces/{}/share-links", w.ws),
            &w.admin.access,
        )
        .await,
    )
    .await["share_links"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(links["share_links"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.delete(&format!("/api/share-links/{id}"), &w.admin.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&format!("/api/review/{fresh}"), "").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Another workspace's admin cannot see or revoke it.
    let stranger = app.register_verified(&email("stranger"), "Stranger").await;
    app.create_workspace(&stranger, "Elsewhere").await;
    assert_error(
        app.delete(&format!("/api/share-links/{id}"), &stranger.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn modes_and_roles_guard_the_actions() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    let client = app.member_with_role(&w.admin, ws, "client").await;
    let post = w.post(&w.admin, "Guarded").await;
    assert_error(
        w.act(&client, &post, "submit").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    w.mode("none").await;
    assert_error(
        w.act(&w.admin, &post, "submit").await,
        StatusCode::CONFLICT,
        "approval_disabled",
    )
    .await;
    w.mode("optional").await;
    body(w.act(&w.admin, &post, "submit").await).await;
    assert_error(
        w.act(&w.admin, &post, "submit").await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    // Withdrawn: back to draft, the round ends.
    let a = body(w.act(&w.admin, &post, "withdraw").await).await;
    assert_eq!(a["status"], "withdrawn");
    assert_eq!(w.status(&post).await, "draft");
    // Changes requested, then resubmitted as round 2.
    let reviewer = app.member_with_role(&w.admin, ws, "reviewer").await;
    body(w.act(&w.admin, &post, "submit").await).await;
    let a = body(w.act(&reviewer, &post, "request-changes").await).await;
    assert_eq!(a["status"], "changes_requested");
    assert_eq!(w.status(&post).await, "changes_requested");
    let a = body(w.act(&w.admin, &post, "submit").await).await;
    assert_eq!(a["round"], 3);
    let a = body(w.act(&reviewer, &post, "reject").await).await;
    assert_eq!(a["status"], "rejected");
    assert_eq!(w.status(&post).await, "draft");
    // Another workspace's ids answer 404.
    let stranger = app.register_verified(&email("stranger"), "Stranger").await;
    app.create_workspace(&stranger, "Elsewhere").await;
    assert_error(
        w.act(&stranger, &post, "submit").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.get(
            &format!("/api/workspaces/{ws}/approval-workflows"),
            &stranger.access,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_deadline_reminds_then_escalates_once_even_with_two_keepers_and_a_crash() {
    let mut w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    let reviewer = app.member_with_role(&w.admin, ws, "reviewer").await;
    w.workflow(json!({
        "name": "Fast", "is_default": true,
        "steps": [{ "name": "Review", "order": 1, "approvers": { "user_ids": [reviewer.user_id] },
                    "deadline_hours": 4, "on_deadline": "escalate" }]
    }))
    .await;
    let post = w.post(&w.admin, "Deadline").await;
    let a = body(w.act(&w.admin, &post, "submit").await).await;
    assert!(a["steps"][0]["deadline_at"].is_string());

    // Two more "nodes" racing the server's own keeper, on the same database.
    let announcer = |app: &TestApp| copydesk::events::Announcer {
        bus: Arc::new(copydesk_actors::memory_bus::MemoryBus::new()),
        work: copydesk::jobs::Work::default(),
        clock: app.clock.clone(),
    };
    let n1 = copydesk::approvals::deadlines::SqlDeadlines::new(app.db.clone(), announcer(app));
    let n2 = copydesk::approvals::deadlines::SqlDeadlines::new(app.db.clone(), announcer(app));
    assert_eq!(
        n1.fire_due(app.clock.now()).await.unwrap(),
        0,
        "nothing due yet"
    );

    // Three hours in: "deadline near" (a quarter of the time before). A node claims it
    // and dies before committing (its transaction is dropped): another node sends it, once.
    let crashed = copydesk::store::begin(&app.db).await.unwrap();
    crashed
        .execute_unprepared("UPDATE approval_steps SET reminded_at = CURRENT_TIMESTAMP")
        .await
        .unwrap();
    app.clock.advance(Duration::from_secs(3 * 3600 + 60));
    let now = app.clock.now();
    let racer = {
        let n2 = n2.clone();
        tokio::spawn(async move { n2.fire_due(now).await })
    };
    drop(crashed);
    racer.await.unwrap().unwrap();
    n1.fire_due(now).await.unwrap();
    w.admin = relogin(&w.app, &w.admin).await;
    until_events(&w, &post, "approval.deadline_near", 1).await;
    // Past the deadline: escalated to the admins, once.
    app.clock.advance(Duration::from_secs(3600));
    let now = app.clock.now();
    let (a, b) = tokio::join!(n1.fire_due(now), n2.fire_due(now));
    let _ = (a.unwrap(), b.unwrap());
    w.admin = relogin(&w.app, &w.admin).await;
    until_events(&w, &post, "approval.deadline_passed", 1).await;
    let (a, b) = tokio::join!(n1.fire_due(now), n2.fire_due(now));
    assert_eq!(a.unwrap() + b.unwrap(), 0, "nothing left to run");
    let feed = w.feed(&post).await;
    assert_eq!(
        feed.iter()
            .filter(|t| *t == "approval.deadline_near")
            .count(),
        1
    );
    assert_eq!(
        feed.iter()
            .filter(|t| *t == "approval.deadline_passed")
            .count(),
        1
    );
    // The admin may now decide the step.
    let a = body(w.act(&w.admin, &post, "approve").await).await;
    assert_eq!(a["status"], "approved");
}

/// Waits until the post's feed holds `n` events of type `ty` (the server's own keeper may
/// be the one that ran it), then checks it stays at `n`.
async fn until_events(w: &World, post: &str, ty: &str, n: usize) {
    for _ in 0..200 {
        if w.feed(post).await.iter().filter(|t| *t == ty).count() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        w.feed(post).await.iter().filter(|t| *t == ty).count(),
        n,
        "{ty}"
    );
}

#[actix_web::test]
async fn final_approval_puts_a_post_with_a_time_on_the_schedule_and_withdrawing_takes_it_off() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    let reviewer = app.member_with_role(&w.admin, ws, "reviewer").await;
    let at = (app.clock.now() + chrono::Duration::days(2)).to_rfc3339();
    let post = app
        .create_post(
            &w.admin,
            ws,
            json!({ "title": "Timed", "caption": "Soon", "platforms": ["x"], "scheduled_at": at }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    body(w.act(&w.admin, &post, "submit").await).await;
    let a = body(w.act(&reviewer, &post, "approve").await).await;
    assert_eq!(a["status"], "approved");
    assert_eq!(w.status(&post).await, "scheduled");
    let a = body(w.act(&w.admin, &post, "withdraw").await).await;
    assert_eq!(a["status"], "withdrawn");
    assert_eq!(w.status(&post).await, "draft");
}

#[actix_web::test]
async fn a_post_taken_out_of_review_by_hand_ends_its_round() {
    let w = world().await;
    let (app, ws) = (&w.app, &w.ws);
    let reviewer = app.member_with_role(&w.admin, ws, "reviewer").await;
    let post = w.post(&w.admin, "Archived").await;
    body(w.act(&w.admin, &post, "submit").await).await;
    // Archived with a new caption in one edit: the edit stands, the round ends.
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &w.admin.access,
            json!({ "status": "archived", "caption": "Changed and shelved" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(w.status(&post).await, "archived");
    assert_eq!(w.approval(&post).await["status"], "withdrawn");
    assert_error(
        w.act(&reviewer, &post, "approve").await,
        StatusCode::CONFLICT,
        "not_in_review",
    )
    .await;
}
