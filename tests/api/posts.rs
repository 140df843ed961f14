//! Posts: create, read, update, duplicate, delete; per-platform validation; listing with
//! filters, search and keyset pagination.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn setup() -> (TestApp, Session, String) {
    let app = spawn_app().await;
    let s = app.register_verified(&email("writer"), "Writer").await;
    let ws = app.create_workspace(&s, "Posts").await;
    (app, s, ws)
}

#[actix_web::test]
async fn create_read_update_duplicate_delete() {
    let (app, s, ws) = setup().await;
    let p = app
        .create_post(
            &s,
            &ws,
            json!({
                "title": "Launch day",
                "caption": "We launch today! #launch",
                "platforms": ["x", "linkedin", "youtube"],
                "platform_content": { "x": { "text": "Launch 🚀 https://example.com/a/very/long/path/that/counts/as/twenty/three", "hashtags": ["ship"] } },
                "media": [{ "url": "https://cdn.example.com/v.mp4", "kind": "video", "alt_text": "demo" }],
                "tags": ["Launch", "launch", " q3 "],
                "campaign": "Q3",
                "labels": ["urgent"],
                "scheduled_at": "2026-12-01T09:00:00Z"
            }),
        )
        .await;
    assert_eq!(p["status"], "draft");
    assert_eq!(
        p["tags"],
        json!(["Launch", "q3"]),
        "trimmed and deduplicated case-insensitively"
    );
    assert_eq!(p["created_by"], s.user_id.as_str());
    // YouTube needs a title field; the others are fine.
    assert_eq!(p["is_valid"], false);
    assert_eq!(p["validation"]["x"], json!([]));
    assert_eq!(p["validation"]["linkedin"], json!([]));
    assert_eq!(p["validation"]["youtube"][0]["code"], "field_required");
    let id = p["id"].as_str().unwrap();

    let got = body(app.get(&format!("/api/posts/{id}"), &s.access).await).await;
    assert_eq!(got["platform_content"]["x"]["hashtags"], json!(["ship"]));
    assert_eq!(got["scheduled_at"], "2026-12-01T09:00:00Z");

    // Partial update: only what is sent changes; null clears.
    let r = app
        .put(
            &format!("/api/posts/{id}"),
            &s.access,
            json!({ "platform_content": { "x": { "hashtags": ["ship"] }, "youtube": { "fields": { "title": "Launch" } } }, "campaign": null }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let up = body(r).await;
    assert_eq!(up["is_valid"], true, "{}", up["validation"]);
    assert_eq!(up["campaign"], Value::Null);
    assert_eq!(up["title"], "Launch day");
    assert_eq!(up["scheduled_at"], "2026-12-01T09:00:00Z");

    let r = app
        .put(
            &format!("/api/posts/{id}"),
            &s.access,
            json!({ "status": "published" }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(b["error"]["details"]["fields"]["status"].is_string());
    let r = app
        .put(
            &format!("/api/posts/{id}"),
            &s.access,
            json!({ "status": "archived" }),
        )
        .await;
    assert_eq!(body(r).await["status"], "archived");

    let r = app
        .post(
            &format!("/api/posts/{id}/duplicate"),
            Some(&s.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let copy = body(r).await;
    assert_eq!(copy["title"], "Launch day (copy)");
    assert_eq!(copy["status"], "draft");
    assert_eq!(copy["scheduled_at"], Value::Null);
    assert_eq!(copy["caption"], up["caption"]);
    assert_ne!(copy["id"], up["id"]);

    let cid = copy["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/posts/{cid}"), &s.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&format!("/api/posts/{cid}"), &s.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/posts/{id}"), &s.access)
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn each_platform_reports_its_own_problems() {
    let (app, s, ws) = setup().await;
    let long = "a".repeat(301);
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/posts/validate"),
            Some(&s.access),
            json!({ "caption": long, "platforms": ["x", "bluesky", "mastodon", "instagram", "linkedin", "facebook"] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = body(r).await;
    assert_eq!(v["is_valid"], false);
    assert_eq!(v["validation"]["x"][0]["code"], "too_long");
    assert_eq!(v["validation"]["x"][0]["limit"], 280);
    assert_eq!(v["validation"]["bluesky"][0]["code"], "too_long");
    assert_eq!(v["validation"]["bluesky"][0]["actual"], 301);
    assert_eq!(v["validation"]["mastodon"], json!([]));
    assert_eq!(v["validation"]["instagram"][0]["code"], "media_required");
    assert_eq!(v["validation"]["linkedin"], json!([]));
    assert_eq!(v["rules"]["bluesky"]["max_length"], 300);

    // X counts every URL as 23 and CJK as 2: 100 CJK chars + a long URL = 200 + 1 + 23.
    let text = format!(
        "{} https://example.com/{}",
        "漢".repeat(100),
        "p".repeat(200)
    );
    let v = body(
        app.post(
            &format!("/api/workspaces/{ws}/posts/validate"),
            Some(&s.access),
            json!({ "caption": text, "platforms": ["x"] }),
        )
        .await,
    )
    .await;
    assert_eq!(
        v["validation"]["x"],
        json!([]),
        "224 weighted characters fit in 280"
    );
    // Bluesky counts graphemes: a family emoji (7 code points, 25 bytes) is one, so 100 of
    // them and 200 letters are 300 — at the limit, and within its 3,000-byte cap.
    let text = format!("{}{}", "👨‍👩‍👧‍👦".repeat(100), "a".repeat(200));
    let validate = |text: String| {
        let app = &app;
        let path = format!("/api/workspaces/{ws}/posts/validate");
        let token = s.access.clone();
        async move {
            body(
                app.post(
                    &path,
                    Some(&token),
                    json!({ "caption": text, "platforms": ["bluesky"] }),
                )
                .await,
            )
            .await
        }
    };
    assert_eq!(
        validate(text.clone()).await["validation"]["bluesky"],
        json!([])
    );
    let v = validate(format!("{text}a")).await;
    assert_eq!(v["validation"]["bluesky"][0]["actual"], 301);
}

#[actix_web::test]
async fn bad_input_gets_field_errors() {
    let (app, s, ws) = setup().await;
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/posts"),
            Some(&s.access),
            json!({ "platforms": ["x", "myspace"], "media": [{ "url": "javascript:alert(1)", "kind": "image" }], "title": "t".repeat(201) }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let f = &b["error"]["details"]["fields"];
    assert!(f["platforms"].as_str().unwrap().contains("myspace"));
    assert!(f["media[0].url"].is_string());
    assert!(f["title"].is_string());
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/posts"),
            Some(&s.access),
            json!({ "colour": "red" }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_body").await;
    let r = app
        .client
        .post(app.url(&format!("/api/workspaces/{ws}/posts")))
        .bearer_auth(&s.access)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    let r = app
        .get(
            &format!("/api/workspaces/{ws}/posts?sort=password_hash"),
            &s.access,
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let r = app
        .get(
            &format!("/api/workspaces/{ws}/posts?created_from=yesterday"),
            &s.access,
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_query").await;
    let r = app
        .get(&format!("/api/workspaces/{ws}/posts?cursor=%%%"), &s.access)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

#[actix_web::test]
async fn filters_search_and_calendar_range() {
    let (app, s, ws) = setup().await;
    let mk = |title: &str,
              platforms: Value,
              tags: Value,
              campaign: Value,
              at: Value,
              caption: &str| {
        json!({ "title": title, "platforms": platforms, "tags": tags, "campaign": campaign, "scheduled_at": at, "caption": caption })
    };
    app.create_post(
        &s,
        &ws,
        mk(
            "Alpha",
            json!(["x"]),
            json!(["sale"]),
            json!("Spring"),
            json!("2026-03-01T10:00:00Z"),
            "50% off shoes",
        ),
    )
    .await;
    app.create_post(
        &s,
        &ws,
        mk(
            "Beta",
            json!(["linkedin"]),
            json!(["hiring"]),
            json!("Spring"),
            json!("2026-03-15T10:00:00Z"),
            "We are hiring",
        ),
    )
    .await;
    let gamma = app
        .create_post(
            &s,
            &ws,
            mk(
                "Gamma",
                json!(["x", "linkedin"]),
                json!(["sale", "Q2"]),
                json!(null),
                json!(null),
                "Summer SALE",
            ),
        )
        .await;
    app.put(
        &format!("/api/posts/{}", gamma["id"].as_str().unwrap()),
        &s.access,
        json!({ "status": "archived" }),
    )
    .await;

    let q = |query: &str| {
        let path = format!("/api/workspaces/{ws}/posts?sort=title&{query}");
        let app = &app;
        let token = s.access.clone();
        async move { titles(&body(app.get(&path, &token).await).await) }
    };
    assert_eq!(q("").await, ["Alpha", "Beta", "Gamma"]);
    assert_eq!(q("platform=x").await, ["Alpha", "Gamma"]);
    assert_eq!(q("platform=linkedin").await, ["Beta", "Gamma"]);
    assert_eq!(q("tag=SALE").await, ["Alpha", "Gamma"]);
    assert_eq!(q("tag=q2").await, ["Gamma"]);
    assert_eq!(q("campaign=Spring").await, ["Alpha", "Beta"]);
    assert_eq!(q("status=archived").await, ["Gamma"]);
    assert_eq!(q("status=draft,archived").await, ["Alpha", "Beta", "Gamma"]);
    assert_eq!(
        q("q=sale").await,
        ["Alpha", "Gamma"],
        "search matches caption and tags, case-insensitively"
    );
    assert_eq!(q("q=summer").await, ["Gamma"]);
    assert_eq!(
        q("q=50%25").await,
        ["Alpha"],
        "% is a literal, not a wildcard"
    );
    assert_eq!(q("q=hir").await, ["Beta"]);
    assert_eq!(
        q("scheduled_from=2026-03-10T00:00:00Z&scheduled_to=2026-04-01T00:00:00Z").await,
        ["Beta"]
    );
    assert_eq!(
        q("created_to=2000-01-01T00:00:00Z").await,
        Vec::<String>::new()
    );
    let by_date = titles(
        &body(
            app.get(
                &format!("/api/workspaces/{ws}/posts?sort=scheduled_at"),
                &s.access,
            )
            .await,
        )
        .await,
    );
    assert_eq!(
        by_date,
        ["Alpha", "Beta"],
        "sorting by schedule lists scheduled posts in date order"
    );
}

#[actix_web::test]
async fn keyset_pagination_is_stable_under_inserts() {
    let (app, s, ws) = setup().await;
    for i in 0..7 {
        app.create_post(&s, &ws, json!({ "title": format!("p{i}") }))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/workspaces/{ws}/posts?limit=3");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = body(app.get(&path, &s.access).await).await;
        seen.extend(titles(&page));
        pages += 1;
        if pages == 1 {
            // A post created while paging lands before the first page and is not repeated.
            app.create_post(&s, &ws, json!({ "title": "late" })).await;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["p6", "p5", "p4", "p3", "p2", "p1", "p0"]);
    assert_eq!(pages, 3);
    // A cursor is bound to its sort.
    let page = body(
        app.get(&format!("/api/workspaces/{ws}/posts?limit=1"), &s.access)
            .await,
    )
    .await;
    let c = page["next_cursor"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/workspaces/{ws}/posts?sort=title&cursor={c}"),
            &s.access,
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[actix_web::test]
async fn every_change_writes_an_event_and_an_audit_row_together() {
    use copydesk::store::entities::{audit_log, events};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let (app, s, ws) = setup().await;
    let p = app
        .create_post(&s, &ws, json!({ "title": "Tracked" }))
        .await;
    let id = p["id"].as_str().unwrap();
    app.put(
        &format!("/api/posts/{id}"),
        &s.access,
        json!({ "status": "archived" }),
    )
    .await;
    app.delete(&format!("/api/posts/{id}"), &s.access).await;
    let ws_id: uuid::Uuid = ws.parse().unwrap();
    let evs = events::Entity::find()
        .filter(events::Column::WorkspaceId.eq(ws_id))
        .order_by_asc(events::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let types: Vec<&str> = evs.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "workspace.created",
            "post.created",
            "post.updated",
            "post.status_changed",
            "post.deleted"
        ]
    );
    let audits = audit_log::Entity::find()
        .filter(audit_log::Column::WorkspaceId.eq(ws_id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(audits.len(), evs.len());
    assert!(audits.iter().all(|a| a.ip.as_deref() == Some("127.0.0.1")));
    assert!(audits
        .iter()
        .all(|a| a.actor_id.map(|x| x.to_string()) == Some(s.user_id.clone())));

    // A rejected change writes nothing.
    let before = events::Entity::find().all(&app.db).await.unwrap().len();
    app.post(
        &format!("/api/workspaces/{ws}/posts"),
        Some(&s.access),
        json!({ "platforms": ["nope"] }),
    )
    .await;
    assert_eq!(
        events::Entity::find().all(&app.db).await.unwrap().len(),
        before
    );
}
