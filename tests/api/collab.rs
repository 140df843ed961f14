//! Live co-editing over the y-websocket protocol: convergence, REST through the document,
//! roles, bad input, awareness, durability, compaction, versions, the event stream, and
//! two nodes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::yclient::YClient;

async fn setup(app: &TestApp) -> (Session, String, String) {
    let s = app.register_verified(&email("editor"), "Editor").await;
    let ws = app.create_workspace(&s, "Live").await;
    let post = app
        .create_post(
            &s,
            &ws,
            json!({ "title": "Live post", "caption": "Hello", "platforms": ["x"] }),
        )
        .await;
    (s, ws, post["id"].as_str().unwrap().to_string())
}

#[actix_web::test]
async fn two_editors_converge_and_rest_goes_through_the_document() {
    let app = spawn_app().await;
    let (s, _, post) = setup(&app).await;
    let mut a = YClient::open(&app, &post, &s).await;
    let mut b = YClient::open(&app, &post, &s).await;
    assert_eq!(
        a.caption(),
        "Hello",
        "the document starts from the post's caption"
    );

    a.append(" world").await;
    b.until(|c| c.caption() == "Hello world").await;
    b.type_at(0, ">> ").await;
    a.until(|c| c.caption() == ">> Hello world").await;

    // REST reads the live document...
    let got = body(app.get(&format!("/api/posts/{post}"), &s.access).await).await;
    assert_eq!(got["caption"], ">> Hello world");
    // ...and REST writes go through it, so open editors see them at once.
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &s.access,
            json!({ "caption": ">> Hello brave world" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["caption"], ">> Hello brave world");
    a.until(|c| c.caption() == ">> Hello brave world").await;
    b.until(|c| c.caption() == ">> Hello brave world").await;

    // Saving other fields of an override (no `text`) leaves its live text alone.
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &s.access,
            json!({ "platform_content": { "x": { "text": "For X" } } }),
        )
        .await;
    assert_eq!(body(r).await["platform_content"]["x"]["text"], "For X");
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &s.access,
            json!({ "platform_content": { "x": { "hashtags": ["launch"] } } }),
        )
        .await;
    let p = body(r).await;
    assert_eq!(p["platform_content"]["x"]["text"], "For X");
    assert_eq!(p["platform_content"]["x"]["hashtags"], json!(["launch"]));
    // An empty text clears the override.
    let r = app
        .put(
            &format!("/api/posts/{post}"),
            &s.access,
            json!({ "platform_content": { "x": { "text": "" } } }),
        )
        .await;
    assert_eq!(
        body(r).await["platform_content"]["x"]["text"],
        serde_json::Value::Null
    );
}

#[actix_web::test]
async fn live_edits_reach_the_post_row_for_lists_and_validation() {
    let app = spawn_app().await;
    let (s, ws, post) = setup(&app).await;
    let mut a = YClient::open(&app, &post, &s).await;
    a.append(&format!(" {}", "x".repeat(300))).await;
    // Derived fields are written shortly after; the list (from the row) catches up.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = body(
            app.get(&format!("/api/workspaces/{ws}/posts?q=xxxxx"), &s.access)
                .await,
        )
        .await;
        if let Some(p) = page["items"].as_array().and_then(|i| i.first()) {
            assert_eq!(p["validation"]["x"][0]["code"], "too_long");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "derived fields never written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn reviewers_and_clients_read_but_cannot_write() {
    let app = spawn_app().await;
    let (admin, ws, post) = setup(&app).await;
    app.put(
        &format!("/api/posts/{post}"),
        &admin.access,
        json!({ "client_visible": true }),
    )
    .await;
    for role in ["reviewer", "client"] {
        let who = app.member_with_role(&admin, &ws, role).await;
        let mut r = YClient::open(&app, &post, &who).await;
        assert_eq!(r.caption(), "Hello");
        r.append(" hacked").await;
        r.until(|c| c.denied).await;
        // Awareness is allowed.
        r.set_awareness(1, r#"{"user":{"name":"viewer"}}"#).await;
    }
    let got = body(app.get(&format!("/api/posts/{post}"), &admin.access).await).await;
    assert_eq!(got["caption"], "Hello", "refused updates are never applied");

    // An internal post is not reachable by a client at all.
    let internal = app
        .create_post(&admin, &ws, json!({ "title": "internal" }))
        .await;
    let client = app.member_with_role(&admin, &ws, "client").await;
    let url = crate::yclient::ws_url(
        &app.addr,
        &format!(
            "/api/collab/{}?ticket={}",
            internal["id"].as_str().unwrap(),
            app.ticket(&client).await
        ),
    );
    let err = awc::Client::new()
        .ws(url)
        .connect()
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, awc::error::WsClientError::InvalidResponseStatus(s) if s == 404),
        "{err:?}"
    );
    // Nor without a ticket.
    let url = crate::yclient::ws_url(&app.addr, &format!("/api/collab/{post}"));
    assert!(awc::Client::new().ws(url).connect().await.is_err());
}

#[actix_web::test]
async fn malformed_frames_close_only_that_connection() {
    let app = spawn_app().await;
    let (s, _, post) = setup(&app).await;
    let mut good = YClient::open(&app, &post, &s).await;
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (vec![0xff, 0xff, 0xff], 1007),                     // truncated varint
        (vec![0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f], 1007),   // absurd length
        (vec![0, 2, 3, 1, 2, 3], 1007),                     // not an update
        (vec![42, 0], 1003),                                // unknown message type
        (b"random bytes that mean nothing".to_vec(), 1003), // 'r' = type 114
        (vec![0, 0, 5, 1, 2], 1007),                        // truncated state vector
    ];
    for (frame, code) in cases {
        let mut bad = YClient::open(&app, &post, &s).await;
        bad.send_raw(frame.clone()).await;
        assert_eq!(bad.until_closed().await.0, code, "{frame:?}");
    }
    // A frame over the limit.
    let mut big = YClient::open(&app, &post, &s).await;
    big.send_raw(vec![0u8; 2 * 1024 * 1024]).await;
    assert_eq!(big.until_closed().await.0, 1009);
    // Everyone else is fine.
    good.append("!").await;
    let mut other = YClient::open(&app, &post, &s).await;
    other.until(|c| c.caption() == "Hello!").await;
}

#[actix_web::test]
async fn awareness_is_shared_and_removed_when_a_peer_leaves() {
    let app = spawn_app().await;
    let (s, _, post) = setup(&app).await;
    let mut a = YClient::open(&app, &post, &s).await;
    let mut b = YClient::open(&app, &post, &s).await;
    a.set_awareness(1, r##"{"user":{"name":"Ana","color":"#f00"}}"##)
        .await;
    let a_id = a.doc.client_id().get();
    // Relayed under the authenticated user's name (the account is "Editor"), the rest as sent.
    b.until(|c| {
        c.awareness.get(&a_id).is_some_and(|v| {
            v.as_deref()
                .is_some_and(|j| j.contains("Editor") && j.contains("#f00"))
        })
    })
    .await;
    // A late joiner gets the current states on connect.
    let mut c = YClient::open(&app, &post, &s).await;
    c.until(|c| c.awareness.get(&a_id).is_some_and(|v| v.is_some()))
        .await;
    a.close().await;
    b.until(|c| c.awareness.get(&a_id) == Some(&None)).await;
}

#[actix_web::test]
async fn awareness_expires_without_renewal() {
    let app = spawn_app_with(|s| s.collab.awareness_timeout_secs = 1).await;
    let (s, _, post) = setup(&app).await;
    let mut a = YClient::open(&app, &post, &s).await;
    let mut b = YClient::open(&app, &post, &s).await;
    a.set_awareness(1, r#"{"user":{"name":"Ana"}}"#).await;
    let a_id = a.doc.client_id().get();
    b.until(|c| c.awareness.get(&a_id).is_some_and(|v| v.is_some()))
        .await;
    // No renewal: within a couple of seconds the entry is removed for everyone.
    b.until(|c| c.awareness.get(&a_id) == Some(&None)).await;
}

#[actix_web::test]
async fn the_log_is_compacted_and_a_restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("shared.db");
    let tweak = |s: &mut copydesk::config::Settings| {
        s.collab.compact_every = 5;
        s.auth.jwt_secret = copydesk::config::Secret::new("a-shared-secret-for-both-servers-0123");
        if !is_postgres() {
            s.database.url = Some(copydesk::config::Secret::new(format!(
                "sqlite://{}?mode=rwc",
                db_file.display()
            )));
        }
    };
    let app = spawn_app_with(tweak).await;
    let (s, _, post) = setup(&app).await;
    let mut a = YClient::open(&app, &post, &s).await;
    for i in 0..20 {
        a.append(&format!(" {i}")).await;
    }
    let expected = format!(
        "Hello{}",
        (0..20).map(|i| format!(" {i}")).collect::<String>()
    );
    let mut b = YClient::open(&app, &post, &s).await;
    b.until(|c| c.caption() == expected).await;

    use copydesk::store::entities::{post_doc_snapshots, post_doc_updates};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let post_id: uuid::Uuid = post.parse().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    // The row exists from the first append; a compaction moves `upto_seq` past 0.
    while post_doc_snapshots::Entity::find_by_id(post_id)
        .one(&app.db)
        .await
        .unwrap()
        .is_none_or(|s| s.upto_seq == 0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no snapshot written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let left = post_doc_updates::Entity::find()
        .filter(post_doc_updates::Column::PostId.eq(post_id))
        .count(&app.db)
        .await
        .unwrap();
    assert!(left < 21, "the log was folded ({left} left)");

    if !is_postgres() {
        // A second server on the same database loads snapshot + log tail.
        let again = spawn_app_with(tweak).await;
        let mut c = YClient::open(&again, &post, &s).await;
        assert_eq!(c.caption(), expected);
        c.append("!").await;
    }
}

#[actix_web::test]
async fn versions_restore_live_and_diff() {
    let app = spawn_app().await;
    let (s, _, post) = setup(&app).await;
    let mut a = YClient::open(&app, &post, &s).await;
    let r = app
        .post(
            &format!("/api/posts/{post}/versions"),
            Some(&s.access),
            json!({ "name": "first draft" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v = body(r).await;
    assert_eq!(v["kind"], "named");
    let vid = v["id"].as_str().unwrap();
    a.append(" and more").await;
    let mut b = YClient::open(&app, &post, &s).await;
    b.until(|c| c.caption() == "Hello and more").await;

    let d = body(
        app.get(&format!("/api/posts/{post}/versions/{vid}/diff"), &s.access)
            .await,
    )
    .await;
    let caption = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "caption")
        .unwrap();
    assert_eq!(caption["before"], "Hello");
    assert_eq!(caption["after"], "Hello and more");
    assert!(caption["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["op"] == "insert"));

    let got = body(
        app.get(&format!("/api/posts/{post}/versions/{vid}"), &s.access)
            .await,
    )
    .await;
    assert_eq!(got["content"]["caption"], "Hello");
    let r = app
        .post(
            &format!("/api/posts/{post}/versions/{vid}/restore"),
            Some(&s.access),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body(r).await["caption"], "Hello");
    // Connected editors follow the restore.
    a.until(|c| c.caption() == "Hello").await;
    b.until(|c| c.caption() == "Hello").await;
    // The replaced state was kept.
    let list = body(
        app.get(&format!("/api/posts/{post}/versions"), &s.access)
            .await,
    )
    .await;
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["restore", "named"]);
    let r = app
        .post(
            &format!("/api/posts/{post}/versions"),
            Some(&s.access),
            json!({ "name": "" }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
}
