//! The activity feed: newest first from the outbox, keyset pages that stay stable while
//! events arrive, type and post filters, and who may read it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn setup() -> (TestApp, Session, String) {
    let app = spawn_app().await;
    let s = app.register_verified(&email("lead"), "Lea Lead").await;
    let ws = app.create_workspace(&s, "Activity").await;
    (app, s, ws)
}

async fn feed(app: &TestApp, s: &Session, ws: &str, query: &str) -> Value {
    let r = app
        .get(&format!("/api/workspaces/{ws}/activity?{query}"), &s.access)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn pages_newest_first_and_stay_stable_while_events_arrive() {
    let (app, s, ws) = setup().await;
    for i in 0..7 {
        app.create_post(&s, &ws, json!({ "title": format!("p{i}") }))
            .await;
    }
    let all = feed(&app, &s, &ws, "").await;
    assert_eq!(all["next_cursor"], Value::Null);
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    assert_eq!(items[0]["type"], "post.created");
    assert_eq!(items[0]["data"]["title"], "p6", "newest first");
    assert_eq!(items[0]["workspace_id"], ws.as_str());
    assert_eq!(
        items[0]["actor"],
        json!({ "id": s.user_id, "name": "Lea Lead" })
    );
    assert!(items[0]["at"].is_string());
    assert_eq!(items[7]["type"], "workspace.created");

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = "limit=3".to_string();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = feed(&app, &s, &ws, &q).await;
        seen.extend(ids(&page));
        pages += 1;
        if pages == 1 {
            // Written while paging: it lands before the first page and is never repeated.
            app.create_post(&s, &ws, json!({ "title": "late" })).await;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all), "no event skipped or repeated");
    assert_eq!(pages, 3);
    let now = feed(&app, &s, &ws, "limit=1").await;
    assert_eq!(now["items"][0]["data"]["title"], "late");
}

#[actix_web::test]
async fn filters_by_type_and_by_post() {
    let (app, s, ws) = setup().await;
    let a = app.create_post(&s, &ws, json!({ "title": "A" })).await;
    let b = app.create_post(&s, &ws, json!({ "title": "B" })).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let r = app
        .post(
            &format!("/api/posts/{a}/comments"),
            Some(&s.access),
            json!({ "body": "Nice" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.put(
        &format!("/api/posts/{a}"),
        &s.access,
        json!({ "title": "A2" }),
    )
    .await;
    app.put(
        &format!("/api/posts/{b}"),
        &s.access,
        json!({ "status": "archived" }),
    )
    .await;

    assert_eq!(
        types(&feed(&app, &s, &ws, "type=post.*").await),
        [
            "post.status_changed",
            "post.updated",
            "post.updated",
            "post.created",
            "post.created"
        ]
    );
    assert_eq!(
        types(&feed(&app, &s, &ws, "type=post.updated").await),
        ["post.updated", "post.updated"]
    );
    assert_eq!(
        types(&feed(&app, &s, &ws, "type=comment.*").await),
        ["comment.created"]
    );
    assert_eq!(
        types(&feed(&app, &s, &ws, "type=post").await),
        Vec::<String>::new(),
        "without .* a type is exact"
    );
    let about_a = feed(&app, &s, &ws, &format!("post_id={a}")).await;
    assert_eq!(
        types(&about_a),
        ["post.updated", "comment.created", "post.created"]
    );
    assert!(about_a["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["data"]["post_id"] == a));
    assert_eq!(
        types(&feed(&app, &s, &ws, &format!("post_id={b}&type=post.*&limit=1")).await),
        ["post.status_changed"]
    );

    for (q, field) in [
        ("type=post%25", "type"),
        ("type=*", "type"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=%25%25", "cursor"),
    ] {
        let r = app
            .get(&format!("/api/workspaces/{ws}/activity?{q}"), &s.access)
            .await;
        let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert!(
            b["error"]["details"]["fields"][field].is_string(),
            "{q}: {b}"
        );
    }
    let r = app
        .get(
            &format!("/api/workspaces/{ws}/activity?post_id=nope"),
            &s.access,
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[actix_web::test]
async fn clients_are_denied_and_account_events_never_appear() {
    use copydesk::store::entities::events;
    use sea_orm::{ActiveModelTrait, NotSet, Set};
    let (app, s, ws) = setup().await;
    let client = app.member_with_role(&s, &ws, "client").await;
    let reviewer = app.member_with_role(&s, &ws, "reviewer").await;
    let stranger = app.register_verified(&email("stranger"), "Stranger").await;
    let path = format!("/api/workspaces/{ws}/activity");
    assert_error(
        app.get(&path, &client.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.get(&path, &stranger.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let r = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Account events are not workspace activity, even were one scoped to a workspace.
    app.put(
        "/api/users/profile",
        &s.access,
        json!({ "name": "Lea Renamed" }),
    )
    .await;
    for t in ["user.profile_updated", "session.reuse_detected"] {
        events::ActiveModel {
            seq: NotSet,
            txid: NotSet,
            id: Set(uuid::Uuid::now_v7()),
            workspace_id: Set(Some(ws.parse().unwrap())),
            event_type: Set(t.into()),
            data: Set(json!({})),
            actor_id: Set(None),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let page = feed(&app, &reviewer, &ws, "").await;
    // Members join by accepting an invitation: invited, then joined, for each of the two.
    assert_eq!(
        types(&page),
        [
            "member.joined",
            "member.invited",
            "member.joined",
            "member.invited",
            "workspace.created"
        ]
    );
    assert_eq!(
        page["items"][4]["actor"]["name"], "Lea Renamed",
        "actors are shown by their current name"
    );
    assert_eq!(
        feed(&app, &reviewer, &ws, "type=user.*").await["items"],
        json!([])
    );
    assert_eq!(
        feed(&app, &reviewer, &ws, "type=session.reuse_detected").await["items"],
        json!([])
    );
}
