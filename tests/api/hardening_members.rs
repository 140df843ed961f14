//! Issue 6, membership: adding by email is always an invitation the person accepts (and the
//! answer reveals nothing), invitations are throttled, invitee emails are for admins only,
//! and the last-admin rule and acceptance hold under concurrent requests.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::evclient::EvClient;
use crate::helpers::*;

/// The structure of a JSON value: keys and value kinds, no values.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

async fn add(app: &TestApp, admin: &Session, ws: &str, e: &str, role: &str) -> reqwest::Response {
    app.post(
        &format!("/api/workspaces/{ws}/members"),
        Some(&admin.access),
        json!({ "email": e, "role": role }),
    )
    .await
}

async fn my_workspaces(app: &TestApp, s: &Session) -> Vec<String> {
    let b = body(app.get("/api/users/workspaces", &s.access).await).await;
    b.as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect()
}

async fn role_of(app: &TestApp, admin: &Session, ws: &str, user_id: &str) -> Option<String> {
    let m = body(
        app.get(&format!("/api/workspaces/{ws}/members"), &admin.access)
            .await,
    )
    .await;
    m["members"]
        .as_array()
        .unwrap_or_else(|| panic!("{m}"))
        .iter()
        .find(|x| x["user_id"] == user_id)
        .map(|x| x["role"].as_str().unwrap().to_string())
}

async fn admins(app: &TestApp, ws: &str) -> Vec<String> {
    use copydesk::store::entities::workspace_members;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ws: uuid::Uuid = ws.parse().unwrap();
    workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(ws))
        .filter(workspace_members::Column::Role.eq("workspace_admin"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id.to_string())
        .collect()
}

async fn memberships(app: &TestApp, ws: &str, user: &str) -> usize {
    use copydesk::store::entities::workspace_members;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let ws: uuid::Uuid = ws.parse().unwrap();
    let user: uuid::Uuid = user.parse().unwrap();
    workspace_members::Entity::find()
        .filter(workspace_members::Column::WorkspaceId.eq(ws))
        .filter(workspace_members::Column::UserId.eq(user))
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

#[actix_web::test]
async fn adding_by_email_is_an_invitation_that_reveals_nothing() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    let known = app.register_verified(&email("known"), "Known").await;
    let unknown = email("unknown");

    let a = add(&app, &admin, &ws, &known.email, "content_creator").await;
    let b = add(&app, &admin, &ws, &unknown, "content_creator").await;
    assert_eq!(a.status(), StatusCode::CREATED);
    assert_eq!(b.status(), StatusCode::CREATED);
    let (a, b) = (body(a).await, body(b).await);
    assert_eq!(a["status"], "invited", "{a}");
    assert_eq!(b["status"], "invited", "{b}");
    assert_eq!(shape(&a), shape(&b), "the same shape: {a} / {b}");
    assert_eq!(a["invitation"]["email"], known.email.as_str());
    assert_eq!(a["invitation"]["role"], "content_creator");
    for k in ["id", "email", "role", "expires_at", "created_at"] {
        assert!(a["invitation"][k].is_string(), "{k}: {a}");
    }

    // No silent add: the existing account is not a member until it accepts.
    assert!(!my_workspaces(&app, &known).await.contains(&ws));
    assert_error(
        app.get(&format!("/api/workspaces/{ws}"), &known.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(role_of(&app, &admin, &ws, &known.user_id).await, None);

    // The mail carries an invitation to accept, not news of a done deal.
    let token = app
        .mail
        .containing(&known.email, INVITE_MARKER)
        .await
        .token_after(INVITE_MARKER)
        .unwrap();
    // Only the invited address can accept it.
    let stranger = app.register_verified(&email("stranger"), "Stranger").await;
    assert_error(
        app.accept(&stranger, &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = app.accept(&known, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(my_workspaces(&app, &known).await.contains(&ws));
    assert_eq!(
        role_of(&app, &admin, &ws, &known.user_id).await.as_deref(),
        Some("content_creator")
    );
}

#[actix_web::test]
async fn inviting_a_member_again_reveals_nothing_and_keeps_their_role() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    let member = app.member_with_role(&admin, &ws, "reviewer").await;
    let fresh = email("fresh");
    let a = add(&app, &admin, &ws, &member.email, "workspace_admin").await;
    let b = add(&app, &admin, &ws, &fresh, "workspace_admin").await;
    assert_eq!(a.status(), StatusCode::CREATED);
    assert_eq!(b.status(), StatusCode::CREATED);
    let (a, b) = (body(a).await, body(b).await);
    assert_eq!(a["status"], "invited");
    assert_eq!(shape(&a), shape(&b));

    let token = app
        .mail
        .next_containing(&member.email, INVITE_MARKER, 2)
        .await
        .token_after(INVITE_MARKER)
        .unwrap();
    let r = app.accept(&member, &token).await;
    assert!(r.status().is_success() || r.status() == StatusCode::NOT_FOUND);
    assert_eq!(
        role_of(&app, &admin, &ws, &member.user_id).await.as_deref(),
        Some("reviewer"),
        "accepting does not change an existing membership"
    );
    assert_eq!(memberships(&app, &ws, &member.user_id).await, 1);
}

#[actix_web::test]
async fn invitations_are_throttled_per_inviter() {
    let app = spawn_app_with(|s| {
        s.auth.invitations_per_inviter = 3;
        s.auth.invitations_per_recipient = 100;
        s.auth.email_window_secs = 3600;
    })
    .await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    for _ in 0..3 {
        let r = add(&app, &admin, &ws, &email("guest"), "client").await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let over = email("over");
    let r = add(&app, &admin, &ws, &over, "client").await;
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // Nothing was sent to the address that was refused.
    let m = body(
        app.get(&format!("/api/workspaces/{ws}/members"), &admin.access)
            .await,
    )
    .await;
    assert!(!m.to_string().contains(&over), "{m}");
    // Another admin is not affected.
    let other = app.register_verified(&email("other"), "Other").await;
    let ws2 = app.create_workspace(&other, "Other").await;
    let r = add(&app, &other, &ws2, &email("guest"), "client").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // The window ends.
    app.clock.advance(Duration::from_secs(3601));
    let admin = session(body(app.login(&admin.email, PASSWORD).await).await);
    let r = add(&app, &admin, &ws, &over, "client").await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn invitations_are_throttled_per_recipient() {
    let app = spawn_app_with(|s| {
        s.auth.invitations_per_inviter = 100;
        s.auth.invitations_per_recipient = 2;
        s.auth.email_window_secs = 3600;
    })
    .await;
    let target = email("popular");
    for i in 0..2 {
        let admin = app.register_verified(&email("admin"), "Admin").await;
        let ws = app.create_workspace(&admin, &format!("Team {i}")).await;
        let r = add(&app, &admin, &ws, &target, "client").await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team 3").await;
    let r = add(&app, &admin, &ws, &target, "client").await;
    assert!(r.headers().get("retry-after").is_some());
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // Someone else can still be invited by the same admin.
    let r = add(&app, &admin, &ws, &email("calm"), "client").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.clock.advance(Duration::from_secs(3601));
    let admin = session(body(app.login(&admin.email, PASSWORD).await).await);
    let r = add(&app, &admin, &ws, &target, "client").await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn invitee_emails_are_shown_to_admins_only() {
    use copydesk::store::entities::events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    let manager = app.member_with_role(&admin, &ws, "content_manager").await;
    let reviewer = app.member_with_role(&admin, &ws, "reviewer").await;
    let mut stream = EvClient::open(&app, &manager).await;

    let secret = email("invitee-secret");
    let r = add(&app, &admin, &ws, &secret, "client").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // A later event: by the time it arrives, the invitation's event has been streamed.
    let p = app
        .create_post(&admin, &ws, json!({ "title": "after" }))
        .await;
    stream
        .next_matching("post.created", |v| {
            v["type"] == "post.created" && v["data"]["post_id"] == p["id"]
        })
        .await;
    assert!(
        stream.seen.iter().any(|v| v["type"] == "member.invited"),
        "the invitation was announced: {:?}",
        stream.seen
    );
    assert!(
        stream.seen_mentioning(&secret).is_empty(),
        "no email in the stream: {:?}",
        stream.seen
    );

    // The admin sees the pending invitation with its address.
    let m = body(
        app.get(&format!("/api/workspaces/{ws}/members"), &admin.access)
            .await,
    )
    .await;
    assert!(
        m["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["email"] == secret.as_str()),
        "{m}"
    );
    // Other members do not.
    for s in [&manager, &reviewer] {
        let r = app
            .get(&format!("/api/workspaces/{ws}/members"), &s.access)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let m = body(r).await;
        assert!(!m.to_string().contains(&secret), "{m}");
        assert!(m["members"].as_array().is_some_and(|a| a.len() == 3), "{m}");
        let activity = body(
            app.get(&format!("/api/workspaces/{ws}/activity"), &s.access)
                .await,
        )
        .await;
        assert!(
            activity["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|e| e["type"] == "member.invited")),
            "{activity}"
        );
        assert!(!activity.to_string().contains(&secret), "{activity}");
    }
    // Nor is it stored in the event's data (the outbox is what streams and feeds replay).
    let ws_id: uuid::Uuid = ws.parse().unwrap();
    let invited = events::Entity::find()
        .filter(events::Column::WorkspaceId.eq(ws_id))
        .filter(events::Column::EventType.eq("member.invited"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(invited.len(), 3, "three invitations");
    for e in invited {
        assert!(!e.data.to_string().contains('@'), "{}", e.data);
    }
}

#[actix_web::test]
async fn one_invitation_accepted_in_parallel_makes_one_membership() {
    use copydesk::store::entities::events;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    let guest = app.register_verified(&email("guest"), "Guest").await;
    let token = app
        .invite(&admin, &ws, &guest.email, "content_creator")
        .await;
    let answers = join_all((0..10).map(|_| app.accept(&guest, &token))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    assert!(
        statuses.iter().any(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK
            || *s == StatusCode::NOT_FOUND
            || *s == StatusCode::CONFLICT),
        "no errors: {statuses:?}"
    );
    assert_eq!(memberships(&app, &ws, &guest.user_id).await, 1);
    let ws_id: uuid::Uuid = ws.parse().unwrap();
    let joined = events::Entity::find()
        .filter(events::Column::WorkspaceId.eq(ws_id))
        .filter(events::Column::EventType.eq("member.joined"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.data["user_id"] == guest.user_id.as_str())
        .count();
    assert_eq!(joined, 1, "one join announced");
}

/// A workspace with `n` admins (the creator first).
async fn workspace_with_admins(app: &TestApp, n: usize) -> (String, Vec<Session>) {
    let first = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&first, "Admins").await;
    let mut all = vec![first];
    for _ in 1..n {
        let s = app.member_with_role(&all[0], &ws, "workspace_admin").await;
        all.push(s);
    }
    (ws, all)
}

#[actix_web::test]
async fn admins_demoting_themselves_at_once_leave_one_admin() {
    let app = spawn_app().await;
    for round in 0..3 {
        let (ws, admins_) = workspace_with_admins(&app, 4).await;
        let answers = join_all(admins_.iter().map(|a| {
            let (app, ws) = (&app, &ws);
            async move {
                app.put(
                    &format!("/api/workspaces/{ws}/members/{}", a.user_id),
                    &a.access,
                    json!({ "role": "reviewer" }),
                )
                .await
            }
        }))
        .await;
        let mut statuses = Vec::new();
        for r in answers {
            let st = r.status();
            let b = body(r).await;
            statuses.push((st, b["error"]["code"].clone()));
        }
        let ok = statuses
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .count();
        let last = statuses
            .iter()
            .filter(|(s, c)| *s == StatusCode::CONFLICT && c == "last_admin")
            .count();
        assert_eq!((ok, last), (3, 1), "round {round}: {statuses:?}");
        assert_eq!(admins(&app, &ws).await.len(), 1, "round {round}");
    }
}

#[actix_web::test]
async fn admins_leaving_at_once_leave_one_admin() {
    let app = spawn_app().await;
    for round in 0..3 {
        let (ws, admins_) = workspace_with_admins(&app, 4).await;
        let answers = join_all(admins_.iter().map(|a| {
            let (app, ws) = (&app, &ws);
            async move {
                app.delete(
                    &format!("/api/workspaces/{ws}/members/{}", a.user_id),
                    &a.access,
                )
                .await
            }
        }))
        .await;
        let mut statuses = Vec::new();
        for r in answers {
            let st = r.status();
            let b = body(r).await;
            statuses.push((st, b["error"]["code"].clone()));
        }
        let gone = statuses
            .iter()
            .filter(|(s, _)| *s == StatusCode::NO_CONTENT)
            .count();
        let last = statuses
            .iter()
            .filter(|(s, c)| *s == StatusCode::CONFLICT && c == "last_admin")
            .count();
        assert_eq!((gone, last), (3, 1), "round {round}: {statuses:?}");
        assert_eq!(admins(&app, &ws).await.len(), 1, "round {round}");
    }
}

#[actix_web::test]
async fn two_admins_demoting_or_removing_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    for round in 0..4 {
        let (ws, a) = workspace_with_admins(&app, 2).await;
        let (x, y) = (&a[0], &a[1]);
        let remove = round % 2 == 1;
        let go = |by: &Session, whom: &Session| {
            let path = format!("/api/workspaces/{ws}/members/{}", whom.user_id);
            let by = by.access.clone();
            let app = &app;
            async move {
                if remove {
                    app.delete(&path, &by).await
                } else {
                    app.put(&path, &by, json!({ "role": "content_creator" }))
                        .await
                }
            }
        };
        let answers = join_all([go(x, y), go(y, x)]).await;
        let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
        let won = statuses.iter().filter(|s| s.is_success()).count();
        assert_eq!(won, 1, "round {round} (remove: {remove}): {statuses:?}");
        // The loser either met the last-admin rule or was no longer an admin by then.
        assert!(
            statuses.iter().all(|s| s.is_success()
                || *s == StatusCode::CONFLICT
                || *s == StatusCode::FORBIDDEN
                || *s == StatusCode::NOT_FOUND),
            "round {round}: {statuses:?}"
        );
        assert_eq!(admins(&app, &ws).await.len(), 1, "round {round}");
    }
}
