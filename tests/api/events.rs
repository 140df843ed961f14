//! The JSON event stream: live delivery after commit, `?since=` replay, client filtering.

use std::time::Duration;

use awc::ws::Frame;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::yclient::ws_url;

type Conn = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// Opens the event stream with a fresh ticket for `s`.
async fn connect(app: &TestApp, s: &Session, since: Option<&str>) -> Conn {
    let ticket = app.ticket(s).await;
    let mut path = format!("/api/events?ticket={ticket}");
    if let Some(s) = since {
        path.push_str(&format!("&since={s}"));
    }
    awc::Client::new()
        .ws(ws_url(&app.addr, &path))
        .connect()
        .await
        .expect("event socket")
        .1
}

/// The next event of `kind` (skipping others, e.g. presence); fails after 10 s.
async fn next_of(conn: &mut Conn, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, conn.next()).await {
            Ok(Some(Ok(Frame::Text(t)))) => {
                let v: Value = serde_json::from_slice(&t).unwrap();
                if v["type"] == kind {
                    return v;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no {kind} event: {other:?}"),
        }
    }
}

#[actix_web::test]
async fn events_stream_live_and_replay_since() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("ev"), "Ev").await;
    let ws = app.create_workspace(&s, "Events").await;
    let mut live = connect(&app, &s, None).await;
    let p = app.create_post(&s, &ws, json!({ "title": "one" })).await;
    let e = next_of(&mut live, "post.created").await;
    assert_eq!(e["workspace_id"], ws.as_str());
    assert_eq!(e["data"]["post_id"], p["id"]);
    assert!(e["id"].is_string() && e["at"].is_string());
    let first_id = e["id"].as_str().unwrap().to_string();
    drop(live);

    // While disconnected, more happens; a reconnect with `since` gets it.
    app.create_post(&s, &ws, json!({ "title": "two" })).await;
    let mut again = connect(&app, &s, Some(&first_id)).await;
    let replayed = next_of(&mut again, "post.created").await;
    assert_eq!(replayed["data"]["title"], "two");
    // And live events keep coming on the same socket.
    app.create_post(&s, &ws, json!({ "title": "three" })).await;
    assert_eq!(
        next_of(&mut again, "post.created").await["data"]["title"],
        "three"
    );

    let r = app.client.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn clients_only_receive_what_is_shared_with_them() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("adm"), "Adm").await;
    let ws = app.create_workspace(&admin, "Agency").await;
    let client = app.member_with_role(&admin, &ws, "client").await;
    let mut conn = connect(&app, &client, None).await;
    app.create_post(&admin, &ws, json!({ "title": "internal draft" }))
        .await;
    app.create_post(
        &admin,
        &ws,
        json!({ "title": "for the client", "client_visible": true }),
    )
    .await;
    let e = next_of(&mut conn, "post.created").await;
    assert_eq!(
        e["data"]["title"], "for the client",
        "the internal post's event was never sent"
    );
}

#[actix_web::test]
async fn presence_shows_who_has_a_post_open() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("pr"), "Presence Person").await;
    let ws = app.create_workspace(&s, "P").await;
    let p = app.create_post(&s, &ws, json!({ "title": "x" })).await;
    let mut conn = connect(&app, &s, None).await;
    let _editor = crate::yclient::YClient::open(&app, p["id"].as_str().unwrap(), &s).await;
    let e = next_of(&mut conn, "presence").await;
    assert_eq!(e["data"]["post_id"], p["id"]);
    assert_eq!(e["data"]["users"][0]["name"], "Presence Person");
}
