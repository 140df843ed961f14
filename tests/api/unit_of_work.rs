//! One write path: every committed write leaves exactly its events in `events` — each with
//! its audit row, same action and same details — and a write that fails leaves neither its
//! change nor its event, and announces nothing.

use std::collections::HashSet;

use copydesk::store::entities::{audit_log, events, posts, workspaces};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::evclient::EvClient;
use crate::helpers::*;

/// What `events` and `audit_log` held when last looked at.
struct Ledger {
    events: HashSet<Uuid>,
    audits: HashSet<Uuid>,
}

impl Ledger {
    async fn new(app: &TestApp) -> Self {
        let mut l = Ledger {
            events: HashSet::new(),
            audits: HashSet::new(),
        };
        l.take(app).await;
        l
    }

    /// The events written since the last look, in commit order, as `(type, data)`; asserts
    /// that each has exactly one audit row with the same action and details, and that no
    /// audit row was written without its event.
    async fn take(&mut self, app: &TestApp) -> Vec<(String, Value)> {
        let evs: Vec<events::Model> = events::Entity::find()
            .order_by_asc(events::Column::Seq)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            // `notification.*` events are the notifier consumer's own writes, made after
            // (and apart from) the write under test.
            .filter(|e| !e.event_type.starts_with("notification."))
            .filter(|e| self.events.insert(e.id))
            .collect();
        let mut audits: Vec<audit_log::Model> = audit_log::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| !a.action.starts_with("notification."))
            .filter(|a| self.audits.insert(a.id))
            .collect();
        for e in &evs {
            let i = audits
                .iter()
                .position(|a| {
                    a.action == e.event_type
                        && a.details == e.data
                        && a.workspace_id == e.workspace_id
                        && a.actor_id == e.actor_id
                })
                .unwrap_or_else(|| panic!("no audit row for {} {}", e.event_type, e.data));
            audits.remove(i);
        }
        assert!(audits.is_empty(), "audit rows without events: {audits:?}");
        evs.into_iter().map(|e| (e.event_type, e.data)).collect()
    }

    /// Asserts the event types written since the last look; answers their data.
    async fn expect(&mut self, app: &TestApp, types: &[&str]) -> Vec<Value> {
        let got = self.take(app).await;
        let names: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, types, "{got:?}");
        got.into_iter().map(|(_, d)| d).collect()
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

async fn ok(r: reqwest::Response, status: StatusCode) -> Value {
    let got = r.status();
    let b = body(r).await;
    assert_eq!(got, status, "{b}");
    b
}

#[actix_web::test]
async fn each_committed_write_has_exactly_its_events() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let writer = app.register_verified(&email("writer"), "Writer").await;
    let mut ledger = Ledger::new(&app).await;

    // Workspaces.
    let r = app
        .post(
            "/api/workspaces",
            Some(&admin.access),
            json!({ "name": "Ledger", "slug": "ledger" }),
        )
        .await;
    let ws = ok(r, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = ledger.expect(&app, &["workspace.created"]).await;
    assert_eq!(keys(&d[0]), ["name", "slug", "workspace_id"]);
    assert_eq!(d[0]["slug"], "ledger");
    let r = app
        .put(
            &format!("/api/workspaces/{ws}"),
            &admin.access,
            json!({ "name": "Ledger 2" }),
        )
        .await;
    ok(r, StatusCode::OK).await;
    let d = ledger.expect(&app, &["workspace.updated"]).await;
    assert_eq!(d[0]["name"], "Ledger 2");

    // Members: invite (no address in the event), join, role change.
    let token = app.invite(&admin, &ws, &writer.email, "reviewer").await;
    let d = ledger.expect(&app, &["member.invited"]).await;
    assert_eq!(keys(&d[0]), ["invitation_id", "role"]);
    assert!(!d[0].to_string().contains(&writer.email));
    ok(app.accept(&writer, &token).await, StatusCode::OK).await;
    let d = ledger.expect(&app, &["member.joined"]).await;
    assert_eq!(keys(&d[0]), ["invitation_id", "role", "user_id"]);
    assert_eq!(d[0]["user_id"], writer.user_id.as_str());
    let r = app
        .put(
            &format!("/api/workspaces/{ws}/members/{}", writer.user_id),
            &admin.access,
            json!({ "role": "content_creator" }),
        )
        .await;
    ok(r, StatusCode::OK).await;
    let d = ledger.expect(&app, &["member.role_changed"]).await;
    assert_eq!(
        d[0],
        json!({ "user_id": writer.user_id, "role": "content_creator" })
    );

    // Posts.
    let p = app
        .create_post(
            &writer,
            &ws,
            json!({ "title": "Launch", "caption": "Soon" }),
        )
        .await;
    let post = p["id"].as_str().unwrap().to_string();
    let d = ledger.expect(&app, &["post.created"]).await;
    assert_eq!(
        keys(&d[0]),
        ["client_visible", "post_id", "status", "title"]
    );
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &writer.access,
            json!({ "title": "Launch day", "status": "archived" }),
        )
        .await;
    ok(r, StatusCode::OK).await;
    let d = ledger
        .expect(&app, &["post.updated", "post.status_changed"])
        .await;
    assert_eq!(d[0]["title"], "Launch day");
    assert_eq!(
        (&d[1]["from"], &d[1]["to"]),
        (&json!("draft"), &json!("archived"))
    );
    let r = app
        .post(
            &format!("/api/posts/{post}/duplicate"),
            Some(&writer.access),
            json!({}),
        )
        .await;
    let copy = ok(r, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = ledger.expect(&app, &["post.created"]).await;
    assert_eq!(d[0]["duplicated_from"], post.as_str());

    // Comments, with a mention.
    let r = app
        .post(
            &format!("/api/posts/{post}/comments"),
            Some(&writer.access),
            json!({ "body": "Looks good?", "mentions": [admin.user_id] }),
        )
        .await;
    let comment = ok(r, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = ledger
        .expect(&app, &["comment.created", "comment.mentioned"])
        .await;
    assert_eq!(
        keys(&d[0]),
        ["comment", "comment_id", "post_id", "visibility"]
    );
    assert_eq!(d[1]["user_id"], admin.user_id.as_str());
    assert_eq!(d[1]["by"], writer.user_id.as_str());

    // Versions: saved by name, then restored — each in its own unit of work.
    let r = app
        .post(
            &format!("/api/posts/{post}/versions"),
            Some(&writer.access),
            json!({ "name": "First cut" }),
        )
        .await;
    let vid = ok(r, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = ledger.expect(&app, &["post.version_saved"]).await;
    assert_eq!(
        d[0],
        json!({ "post_id": post, "version_id": vid, "name": "First cut", "client_visible": false })
    );
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &writer.access,
            json!({ "caption": "Changed" }),
        )
        .await;
    ok(r, StatusCode::OK).await;
    ledger.expect(&app, &["post.updated"]).await;
    let r = app
        .post(
            &format!("/api/posts/{post}/versions/{vid}/restore"),
            Some(&writer.access),
            json!({}),
        )
        .await;
    assert_eq!(ok(r, StatusCode::OK).await["caption"], "Soon");
    let d = ledger.expect(&app, &["post.version_restored"]).await;
    assert_eq!(
        d[0],
        json!({ "post_id": post, "version_id": vid, "client_visible": false })
    );

    // Deletions.
    let r = app
        .delete(&format!("/api/comments/{comment}"), &writer.access)
        .await;
    ok(r, StatusCode::NO_CONTENT).await;
    let d = ledger.expect(&app, &["comment.deleted"]).await;
    assert_eq!(d[0]["reply_ids"], json!([]));
    let r = app
        .delete(&format!("/api/posts/{copy}"), &admin.access)
        .await;
    ok(r, StatusCode::NO_CONTENT).await;
    ledger.expect(&app, &["post.deleted"]).await;
    let r = app
        .delete(
            &format!("/api/workspaces/{ws}/members/{}", writer.user_id),
            &admin.access,
        )
        .await;
    ok(r, StatusCode::NO_CONTENT).await;
    let d = ledger.expect(&app, &["member.removed"]).await;
    assert_eq!(d[0], json!({ "user_id": writer.user_id }));

    // Account writes are on the same path.
    let r = app
        .put(
            "/api/users/profile",
            &writer.access,
            json!({ "name": "Writer Two" }),
        )
        .await;
    ok(r, StatusCode::OK).await;
    let d = ledger.expect(&app, &["user.profile_updated"]).await;
    assert_eq!(d[0], json!({ "password_changed": false }));
    let r = app
        .post("/api/auth/logout", Some(&writer.access), json!({}))
        .await;
    ok(r, StatusCode::NO_CONTENT).await;
    let d = ledger.expect(&app, &["user.logged_out"]).await;
    assert_eq!(d[0], json!({}));
}

#[actix_web::test]
async fn refused_writes_leave_no_change_and_no_event() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Refusals").await;
    let p = app
        .create_post(&admin, &ws, json!({ "title": "Stays" }))
        .await;
    let post = p["id"].as_str().unwrap().to_string();
    let mut ledger = Ledger::new(&app).await;

    // A validation error: nothing of the input is applied (the title neither).
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &admin.access,
            json!({ "title": "Changed", "status": "published" }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let row = posts::Entity::find_by_id(post.parse::<Uuid>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.title.as_str(), row.status.as_str()),
        ("Stays", "draft")
    );

    // A conflict found inside the transaction: the last admin cannot step down.
    let r = app
        .put(
            &format!("/api/workspaces/{ws}/members/{}", admin.user_id),
            &admin.access,
            json!({ "role": "reviewer" }),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "last_admin").await;
    let r = app
        .get(&format!("/api/workspaces/{ws}"), &admin.access)
        .await;
    assert_eq!(body(r).await["role"], "workspace_admin");

    // A taken slug.
    let r = app
        .post(
            "/api/workspaces",
            Some(&admin.access),
            json!({ "name": "Again", "slug": "again" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    ledger.expect(&app, &["workspace.created"]).await;
    let r = app
        .post(
            "/api/workspaces",
            Some(&admin.access),
            json!({ "name": "Third", "slug": "again" }),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "slug_taken").await;

    ledger.expect(&app, &[]).await;
}

/// Makes the database refuse one statement of a write, after the write's change already
/// ran in its transaction: inserting the event row of `event_type` (`table` = `events`,
/// column `type`) or its audit row (`audit_log`, column `action`).
async fn sabotage(app: &TestApp, name: &str, table: &str, column: &str, value: &str) {
    let sql = if is_postgres() {
        vec![
            format!(
                "CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN \
                 IF NEW.{column} = '{value}' THEN RAISE EXCEPTION 'sabotaged'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
            ),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN NEW.{column} = '{value}' \
             BEGIN SELECT RAISE(ABORT, 'sabotaged'); END"
        )]
    };
    for s in sql {
        app.db.execute_unprepared(&s).await.unwrap();
    }
}

async fn repair(app: &TestApp, name: &str, table: &str) {
    let sql = if is_postgres() {
        format!("DROP TRIGGER {name} ON {table}")
    } else {
        format!("DROP TRIGGER {name}")
    };
    app.db.execute_unprepared(&sql).await.unwrap();
}

#[actix_web::test]
async fn a_write_whose_event_fails_rolls_back_and_announces_nothing() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Atomic").await;
    let mut stream = EvClient::open(&app, &admin).await;
    let p = app
        .create_post(&admin, &ws, json!({ "title": "Survivor" }))
        .await;
    let post = p["id"].as_str().unwrap().to_string();
    // The stream has caught up with the post's creation.
    stream
        .next_matching("post.created", |v| {
            v["type"] == "post.created" && v["data"]["post_id"] == post.as_str()
        })
        .await;
    let mut ledger = Ledger::new(&app).await;

    // The post's row is deleted in the transaction, then its event cannot be written.
    sabotage(&app, "no_post_deleted", "events", "type", "post.deleted").await;
    let r = app
        .delete(&format!("/api/posts/{post}"), &admin.access)
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());
    let r = app.get(&format!("/api/posts/{post}"), &admin.access).await;
    assert_eq!(r.status(), StatusCode::OK, "the deletion rolled back");
    repair(&app, "no_post_deleted", "events").await;

    // The workspace and its admin membership are written, then the audit row fails.
    sabotage(
        &app,
        "no_workspace_audit",
        "audit_log",
        "action",
        "workspace.created",
    )
    .await;
    let r = app
        .post(
            "/api/workspaces",
            Some(&admin.access),
            json!({ "name": "Doomed", "slug": "doomed" }),
        )
        .await;
    assert!(r.status().is_server_error(), "{}", r.status());
    let doomed = workspaces::Entity::find()
        .filter(workspaces::Column::Slug.eq("doomed"))
        .all(&app.db)
        .await
        .unwrap();
    assert!(doomed.is_empty(), "the workspace rolled back");
    repair(&app, "no_workspace_audit", "audit_log").await;
    ledger.expect(&app, &[]).await;

    // Nothing was announced: the next event the stream delivers is the next one that
    // committed.
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &admin.access,
            json!({ "title": "Still here" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    ledger.expect(&app, &["post.updated"]).await;
    let first = stream
        .next_matching("an event of the failed writes or the next one", |v| {
            v["data"]["post_id"] == post.as_str() || v["data"]["name"] == "Doomed"
        })
        .await;
    assert_eq!(first["type"], "post.updated", "{first}");
    assert_eq!(first["data"]["title"], "Still here");

    // And the same writes succeed once the database takes their events.
    let r = app
        .delete(&format!("/api/posts/{post}"), &admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    ledger.expect(&app, &["post.deleted"]).await;
}
