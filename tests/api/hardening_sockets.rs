//! Issue 6, live connections: single-use tickets instead of JWTs in URLs; sockets that end
//! with their access token unless renewed in band; that close (4401/4403) or turn read-only
//! the moment access is lost; connection caps, message rates and awareness bounds; and
//! socket edits validated like REST edits.
//!
//! The `pub(crate)` scenarios take the node REST calls go to and the node the sockets are
//! on: the single-node tests here pass the same server twice, `hardening_cluster` passes
//! two nodes so the change must cross the bus.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::evclient::EvClient;
use crate::helpers::*;
use crate::yclient::{ws_url, YClient};

pub(crate) const AUTH_EXPIRED: u16 = 4401;
pub(crate) const ACCESS_LOST: u16 = 4403;
pub(crate) const POLICY: u16 = 1008;

/// An admin, their workspace, and a post shared with clients.
pub(crate) async fn workspace(app: &TestApp) -> (Session, String, String) {
    let admin = app.register_verified(&email("admin"), "Ada Admin").await;
    let ws = app.create_workspace(&admin, "Live").await;
    let post = app
        .create_post(
            &admin,
            &ws,
            json!({ "title": "Live", "caption": "Hello", "platforms": ["x"], "client_visible": true }),
        )
        .await;
    (admin, ws, post["id"].as_str().unwrap().to_string())
}

/// Decodes the `exp` claim of a JWT (seconds since the epoch).
fn jwt_exp(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("base64url payload");
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["exp"].as_i64().expect("exp claim")
}

fn timestamp(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap(),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .timestamp(),
        other => panic!("not a time: {other}"),
    }
}

async fn refresh(app: &TestApp, token: &str) -> Session {
    let r = app
        .post("/api/auth/refresh", None, json!({ "refresh_token": token }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    session(body(r).await)
}

/// Waits for a close of a socket that was allowed to upgrade, or accepts a refusal of the
/// upgrade itself with `status`; returns a description for assertions.
async fn refused_or_closed(url: &str, status: u16, code: u16) {
    match awc::Client::new().ws(url.to_string()).connect().await {
        Err(awc::error::WsClientError::InvalidResponseStatus(s)) => {
            assert_eq!(s.as_u16(), status, "refused upgrade")
        }
        Err(e) => panic!("{e:?}"),
        Ok((_, mut conn)) => {
            use futures_util::StreamExt;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                match tokio::time::timeout_at(deadline, conn.next()).await {
                    Ok(Some(Ok(awc::ws::Frame::Close(Some(r))))) => {
                        assert_eq!(u16::from(r.code), code);
                        return;
                    }
                    Ok(Some(Ok(awc::ws::Frame::Close(None)))) | Ok(None) | Ok(Some(Err(_))) => {
                        panic!("closed without {code}")
                    }
                    Ok(Some(Ok(_))) => {}
                    Err(_) => panic!("the socket stayed open"),
                }
            }
        }
    }
}

/// Every client id whose edits are in the stored log or snapshot of `post`.
async fn stored_clients(app: &TestApp, post: &str) -> HashSet<u64> {
    use copydesk::store::entities::{post_doc_snapshots, post_doc_updates};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use yrs::updates::decoder::Decode;
    let id: uuid::Uuid = post.parse().unwrap();
    let mut blobs: Vec<Vec<u8>> = post_doc_updates::Entity::find()
        .filter(post_doc_updates::Column::PostId.eq(id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.data)
        .collect();
    if let Some(s) = post_doc_snapshots::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
    {
        blobs.push(s.data);
    }
    let mut out = HashSet::new();
    for b in blobs {
        let u = yrs::Update::decode_v1(&b).unwrap();
        for (c, _) in u.state_vector().iter() {
            out.insert(c.get());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Tickets

#[actix_web::test]
async fn sockets_take_a_single_use_ticket_never_a_jwt() {
    let app = spawn_app().await;
    let (s, _, post) = workspace(&app).await;
    // A JWT in the URL is refused before the upgrade: a logged URL must grant nothing.
    for path in [
        format!("/api/collab/{post}?token={}", s.access),
        format!("/api/events?token={}", s.access),
    ] {
        assert_error(
            app.upgrade(&path).await,
            StatusCode::UNAUTHORIZED,
            "ticket_required",
        )
        .await;
    }
    for path in [
        format!("/api/collab/{post}?ticket=garbage"),
        "/api/events?ticket=garbage".to_string(),
    ] {
        assert_error(
            app.upgrade(&path).await,
            StatusCode::UNAUTHORIZED,
            "invalid_ticket",
        )
        .await;
    }
    for path in [format!("/api/collab/{post}"), "/api/events".to_string()] {
        assert_eq!(app.upgrade(&path).await.status(), StatusCode::UNAUTHORIZED);
    }

    // A ticket: short-lived, opaque, bought with the access token.
    let r = app
        .post("/api/auth/ws-ticket", Some(&s.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b = body(r).await;
    assert_eq!(b["expires_in"], 30, "{b}");
    let ticket = b["ticket"].as_str().unwrap().to_string();
    assert!(ticket.len() >= 32, "{ticket}");
    assert!(!s.access.contains(&ticket) && !ticket.contains(&s.access));
    let r = app.post("/api/auth/ws-ticket", None, json!({})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // It opens one socket, once.
    let mut c = YClient::connect(&app.addr, &post, &ticket).await;
    assert_eq!(c.caption(), "Hello");
    for path in [
        format!("/api/collab/{post}?ticket={ticket}"),
        format!("/api/events?ticket={ticket}"),
    ] {
        assert_error(
            app.upgrade(&path).await,
            StatusCode::UNAUTHORIZED,
            "invalid_ticket",
        )
        .await;
    }
    c.round_trip().await;
    assert!(c.closed.is_none());
    // Event sockets take them the same way.
    let t = app.ticket(&s).await;
    EvClient::connect(&app.addr, &t, None).await;
    assert_error(
        app.upgrade(&format!("/api/events?ticket={t}")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_ticket",
    )
    .await;
}

#[actix_web::test]
async fn tickets_expire_after_thirty_seconds_of_the_servers_clock() {
    let app = spawn_app().await;
    let (s, _, post) = workspace(&app).await;
    let fresh = app.ticket(&s).await;
    let stale = app.ticket(&s).await;
    app.clock.advance(Duration::from_secs(20));
    YClient::connect(&app.addr, &post, &fresh).await;
    app.clock.advance(Duration::from_secs(15));
    assert_error(
        app.upgrade(&format!("/api/collab/{post}?ticket={stale}"))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_ticket",
    )
    .await;
}

#[actix_web::test]
async fn a_ticket_bought_before_logout_opens_nothing_after_it() {
    let app = spawn_app().await;
    let (s, _, post) = workspace(&app).await;
    let collab = app.ticket(&s).await;
    let events = app.ticket(&s).await;
    let r = app
        .post("/api/auth/logout", Some(&s.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    refused_or_closed(
        &ws_url(&app.addr, &format!("/api/collab/{post}?ticket={collab}")),
        401,
        AUTH_EXPIRED,
    )
    .await;
    refused_or_closed(
        &ws_url(&app.addr, &format!("/api/events?ticket={events}")),
        401,
        AUTH_EXPIRED,
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Lifetime and in-band re-authentication

#[actix_web::test]
async fn sockets_close_when_their_access_token_expires() {
    let app = spawn_app_with(|s| s.collab.heartbeat_secs = 2).await;
    let (s, _, post) = workspace(&app).await;
    let mut c = YClient::open(&app, &post, &s).await;
    let mut e = EvClient::open(&app, &s).await;
    // Well before exp (15 min): the server keeps serving them.
    app.clock.advance(Duration::from_secs(800));
    tokio::join!(c.until_pings(2), e.until_pings(2));
    c.round_trip().await;
    assert!(c.closed.is_none() && e.closed.is_none());
    // Past exp (and the 5 s leeway).
    app.clock.advance(Duration::from_secs(200));
    assert_eq!(c.until_closed().await.0, AUTH_EXPIRED);
    assert_eq!(e.until_closed().await.0, AUTH_EXPIRED);
}

#[actix_web::test]
async fn in_band_reauthentication_extends_a_socket_to_the_new_tokens_expiry() {
    let app = spawn_app_with(|s| s.collab.heartbeat_secs = 2).await;
    let (s, _, post) = workspace(&app).await;
    let mut c = YClient::open(&app, &post, &s).await;
    let mut e = EvClient::open(&app, &s).await;
    app.clock.advance(Duration::from_secs(600));
    let renewed = refresh(&app, &s.refresh).await;
    c.reauth(&renewed.access).await;
    // Handled in order: once the server answered the next message, the token is in.
    c.round_trip().await;
    e.reauth(&renewed.access).await;
    let ok = e.next_of("auth.ok").await;
    let exp = jwt_exp(&renewed.access);
    assert!(
        (timestamp(&ok["expires_at"]) - exp).abs() <= 6,
        "auth.ok names the new expiry {exp}: {ok}"
    );
    assert!(c.closed.is_none(), "{:?}", c.closed);

    // Past the first token's expiry: still open, still editing.
    app.clock.advance(Duration::from_secs(400));
    tokio::join!(c.until_pings(2), e.until_pings(2));
    c.append(" renewed").await;
    let mut other = YClient::open(&app, &post, &renewed).await;
    other.until(|o| o.caption() == "Hello renewed").await;
    assert!(c.closed.is_none() && e.closed.is_none());

    // Past the second token's expiry: closed.
    app.clock.advance(Duration::from_secs(600));
    assert_eq!(c.until_closed().await.0, AUTH_EXPIRED);
    assert_eq!(e.until_closed().await.0, AUTH_EXPIRED);
}

#[actix_web::test]
async fn a_bad_or_foreign_token_in_band_closes_the_socket() {
    let app = spawn_app().await;
    let (s, ws, post) = workspace(&app).await;
    let other = app.member_with_role(&s, &ws, "content_creator").await;
    for token in ["garbage".to_string(), other.access.clone()] {
        let mut c = YClient::open(&app, &post, &s).await;
        c.reauth(&token).await;
        assert_eq!(c.until_closed().await.0, AUTH_EXPIRED);
        let mut e = EvClient::open(&app, &s).await;
        e.reauth(&token).await;
        assert_eq!(e.until_closed().await.0, AUTH_EXPIRED);
    }
    // Nothing else was affected.
    let mut c = YClient::open(&app, &post, &s).await;
    c.round_trip().await;
    assert!(c.closed.is_none());
}

// ---------------------------------------------------------------------------------------
// Revocation: every socket of the user closes with 4401

/// The user's sockets (a collab and an event socket, opened on `sock`) and a bystander's.
struct Open {
    user: Session,
    admin: Session,
    post: String,
    collab: YClient,
    events: EvClient,
    bystander: YClient,
}

async fn open_sockets(rest: &TestApp, sock: &TestApp) -> Open {
    let (admin, ws, post) = workspace(rest).await;
    let user = rest.member_with_role(&admin, &ws, "content_creator").await;
    let collab = YClient::open(sock, &post, &user).await;
    let events = EvClient::open(sock, &user).await;
    let bystander = YClient::open(sock, &post, &admin).await;
    Open {
        user,
        admin,
        post,
        collab,
        events,
        bystander,
    }
}

async fn assert_revoked(o: &mut Open, sock: &TestApp, what: &str) {
    assert_eq!(
        o.collab.until_closed().await.0,
        AUTH_EXPIRED,
        "{what}: collab"
    );
    assert_eq!(
        o.events.until_closed().await.0,
        AUTH_EXPIRED,
        "{what}: events"
    );
    // Another user's socket on the same post is untouched.
    o.bystander.append(" ok").await;
    o.bystander.round_trip().await;
    assert!(
        o.bystander.closed.is_none(),
        "{what}: {:?}",
        o.bystander.closed
    );
    let mut late = YClient::open(sock, &o.post, &o.admin).await;
    late.until(|c| c.caption().ends_with(" ok")).await;
}

pub(crate) async fn logout_closes_every_socket_of_the_user(rest: &TestApp, sock: &TestApp) {
    let mut o = open_sockets(rest, sock).await;
    let r = rest
        .post("/api/auth/logout", Some(&o.user.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_revoked(&mut o, sock, "logout").await;
}

pub(crate) async fn password_reset_closes_every_socket_of_the_user(rest: &TestApp, sock: &TestApp) {
    let mut o = open_sockets(rest, sock).await;
    let before = rest.mail.count_to(&o.user.email);
    rest.post(
        "/api/auth/forgot-password",
        None,
        json!({ "email": o.user.email }),
    )
    .await;
    let token = rest
        .mail
        .next_containing(&o.user.email, "reset-password?token=", before)
        .await
        .token_after("reset-password?token=")
        .unwrap();
    let r = rest
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "password": "a-whole-new-password-5" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_revoked(&mut o, sock, "password reset").await;
}

pub(crate) async fn password_change_closes_every_socket_of_the_user(
    rest: &TestApp,
    sock: &TestApp,
) {
    let mut o = open_sockets(rest, sock).await;
    // Changed from another session of the same user.
    let elsewhere = session(body(rest.login(&o.user.email, PASSWORD).await).await);
    let r = rest
        .put(
            "/api/users/profile",
            &elsewhere.access,
            json!({ "current_password": PASSWORD, "new_password": "changed-in-profile-7" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_revoked(&mut o, sock, "password change").await;
}

pub(crate) async fn refresh_reuse_closes_every_socket_of_the_user(rest: &TestApp, sock: &TestApp) {
    let mut o = open_sockets(rest, sock).await;
    refresh(rest, &o.user.refresh).await;
    rest.clock.advance(Duration::from_secs(11));
    let r = rest
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": o.user.refresh }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_revoked(&mut o, sock, "refresh token reuse").await;
}

#[actix_web::test]
async fn logout_closes_sockets() {
    let app = spawn_app().await;
    logout_closes_every_socket_of_the_user(&app, &app).await;
}

#[actix_web::test]
async fn password_reset_closes_sockets() {
    let app = spawn_app().await;
    password_reset_closes_every_socket_of_the_user(&app, &app).await;
}

#[actix_web::test]
async fn password_change_closes_sockets() {
    let app = spawn_app().await;
    password_change_closes_every_socket_of_the_user(&app, &app).await;
}

#[actix_web::test]
async fn refresh_reuse_closes_sockets() {
    let app = spawn_app().await;
    refresh_reuse_closes_every_socket_of_the_user(&app, &app).await;
}

// ---------------------------------------------------------------------------------------
// Access lost: 4403, or read-only, or a narrower event stream

pub(crate) async fn member_removal_closes_their_sockets(rest: &TestApp, sock: &TestApp) {
    let (admin, ws, post) = workspace(rest).await;
    let user = rest.member_with_role(&admin, &ws, "content_creator").await;
    let mut c = YClient::open(sock, &post, &user).await;
    let mut e = EvClient::open(sock, &user).await;
    let r = rest
        .delete(
            &format!("/api/workspaces/{ws}/members/{}", user.user_id),
            &admin.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(c.until_closed().await.0, ACCESS_LOST);
    // Their only workspace: nothing left to stream.
    assert_eq!(e.until_closed().await.0, ACCESS_LOST);
}

pub(crate) async fn workspace_deletion_closes_its_sockets(rest: &TestApp, sock: &TestApp) {
    let (admin, ws, post) = workspace(rest).await;
    let user = rest.member_with_role(&admin, &ws, "content_creator").await;
    let mut c1 = YClient::open(sock, &post, &user).await;
    let mut c2 = YClient::open(sock, &post, &admin).await;
    let mut e = EvClient::open(sock, &user).await;
    c2.append(" typing").await;
    c1.until(|c| c.caption().ends_with("typing")).await;
    let r = rest
        .delete(&format!("/api/workspaces/{ws}"), &admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(c1.until_closed().await.0, ACCESS_LOST);
    assert_eq!(c2.until_closed().await.0, ACCESS_LOST);
    assert_eq!(e.until_closed().await.0, ACCESS_LOST);
    let t = sock.ticket(&admin).await;
    assert_eq!(
        sock.upgrade(&format!("/api/collab/{post}?ticket={t}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

pub(crate) async fn post_deletion_closes_its_sockets(rest: &TestApp, sock: &TestApp) {
    let (admin, ws, post) = workspace(rest).await;
    let user = rest.member_with_role(&admin, &ws, "content_creator").await;
    let mut c1 = YClient::open(sock, &post, &user).await;
    let mut c2 = YClient::open(sock, &post, &admin).await;
    let mut e = EvClient::open(sock, &user).await;
    let r = rest
        .delete(&format!("/api/posts/{post}"), &admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(c1.until_closed().await.0, ACCESS_LOST);
    assert_eq!(c2.until_closed().await.0, ACCESS_LOST);
    // The workspace is still theirs: the event stream goes on.
    let p = rest
        .create_post(&admin, &ws, json!({ "title": "next" }))
        .await;
    e.next_matching("the next post", |v| {
        v["type"] == "post.created" && v["data"]["post_id"] == p["id"]
    })
    .await;
    let t = sock.ticket(&admin).await;
    assert_eq!(
        sock.upgrade(&format!("/api/collab/{post}?ticket={t}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_error(
        rest.get(&format!("/api/posts/{post}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

pub(crate) async fn demotion_makes_the_collab_socket_read_only(rest: &TestApp, sock: &TestApp) {
    let (admin, ws, post) = workspace(rest).await;
    let mut observer = YClient::open(rest, &post, &admin).await;
    let mut editor = YClient::open(sock, &post, &admin).await;
    for role in ["reviewer", "client"] {
        let d = rest.member_with_role(&admin, &ws, "content_creator").await;
        let mut dc = YClient::open(sock, &post, &d).await;
        dc.append(&format!(" [{role} before]")).await;
        observer
            .until(|c| c.caption().contains(&format!("[{role} before]")))
            .await;

        let r = rest
            .put(
                &format!("/api/workspaces/{ws}/members/{}", d.user_id),
                &admin.access,
                json!({ "role": role }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        // Told at once (y-protocols permission denied), and the socket stays open.
        dc.until(|c| c.denied).await;
        let hacked = format!(" HACKED-AS-{role}");
        dc.append(&hacked).await;
        // Read-only sockets may still send awareness: once the observer sees this, the
        // server has handled the edit sent before it.
        let marker = format!("after-{role}");
        dc.set_awareness(1, &json!({ "marker": marker }).to_string())
            .await;
        let id = dc.client_id();
        observer
            .until(|c| {
                c.awareness
                    .get(&id)
                    .is_some_and(|v| v.as_deref().is_some_and(|j| j.contains(&marker)))
            })
            .await;
        // An edit from a writer after it: had the refused one been accepted, it would
        // arrive first.
        let barrier = format!(" [{role} barrier]");
        editor.append(&barrier).await;
        observer.until(|c| c.caption().contains(&barrier)).await;
        assert!(
            !observer.caption().contains(&hacked),
            "{}",
            observer.caption()
        );
        let got = body(rest.get(&format!("/api/posts/{post}"), &admin.access).await).await;
        assert!(!got["caption"].as_str().unwrap().contains(&hacked), "{got}");
        dc.round_trip().await;
        assert!(
            dc.closed.is_none(),
            "read-only, not closed: {:?}",
            dc.closed
        );
    }
}

/// `admin` creates a post in `hidden_ws` (`hidden`), then one in `shown_ws` (`shown`);
/// `ev` reads until the second's event arrives. Returns whether the first's arrived, and
/// the first post's id.
async fn arrives_before(
    app: &TestApp,
    admin: &Session,
    ev: &mut EvClient,
    (hidden_ws, hidden): (&str, Value),
    (shown_ws, shown): (&str, Value),
) -> (bool, Value) {
    let h = app.create_post(admin, hidden_ws, hidden).await;
    let s = app.create_post(admin, shown_ws, shown).await;
    let start = ev.seen.len();
    ev.next_matching("the later post's event", |v| {
        v["type"] == "post.created" && v["data"]["post_id"] == s["id"]
    })
    .await;
    let arrived = ev.seen[start..]
        .iter()
        .any(|v| v["data"]["post_id"] == h["id"]);
    (arrived, h["id"].clone())
}

/// Repeats `arrives_before` until the hidden event stops arriving (the change took effect;
/// fails after 15 s), then checks it stays that way: three more rounds, and none of their
/// hidden posts' events arrive at all (not even late, after a last shown one).
async fn stops_arriving(
    app: &TestApp,
    admin: &Session,
    ev: &mut EvClient,
    hidden_ws: &str,
    hidden: Value,
    shown_ws: &str,
    shown: Value,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while arrives_before(
        app,
        admin,
        ev,
        (hidden_ws, hidden.clone()),
        (shown_ws, shown.clone()),
    )
    .await
    .0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events that are no longer theirs keep arriving"
        );
    }
    let mut hidden_ids = Vec::new();
    for _ in 0..3 {
        let (arrived, id) = arrives_before(
            app,
            admin,
            ev,
            (hidden_ws, hidden.clone()),
            (shown_ws, shown.clone()),
        )
        .await;
        assert!(!arrived, "they arrived again");
        hidden_ids.push(id);
    }
    let last = app.create_post(admin, shown_ws, shown).await;
    ev.next_matching("a last shown post's event", |v| {
        v["type"] == "post.created" && v["data"]["post_id"] == last["id"]
    })
    .await;
    assert!(
        !ev.seen
            .iter()
            .any(|v| hidden_ids.contains(&v["data"]["post_id"])),
        "a hidden post's event arrived late: {:?}",
        ev.seen
    );
}

pub(crate) async fn demotion_to_client_narrows_the_event_stream(rest: &TestApp, sock: &TestApp) {
    let (admin, ws, _) = workspace(rest).await;
    let user = rest.member_with_role(&admin, &ws, "content_creator").await;
    let mut ev = EvClient::open(sock, &user).await;
    let internal = json!({ "title": "internal" });
    let shared = json!({ "title": "shared", "client_visible": true });
    assert!(
        arrives_before(
            rest,
            &admin,
            &mut ev,
            (&ws, internal.clone()),
            (&ws, shared.clone())
        )
        .await
        .0,
        "a creator sees internal posts"
    );
    let r = rest
        .put(
            &format!("/api/workspaces/{ws}/members/{}", user.user_id),
            &admin.access,
            json!({ "role": "client" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    stops_arriving(rest, &admin, &mut ev, &ws, internal, &ws, shared).await;
    assert!(ev.closed.is_none());
}

pub(crate) async fn removal_from_one_workspace_keeps_the_others_streaming(
    rest: &TestApp,
    sock: &TestApp,
) {
    let (admin, lost, _) = workspace(rest).await;
    let kept = rest.create_workspace(&admin, "Kept").await;
    let user = rest
        .member_with_role(&admin, &lost, "content_creator")
        .await;
    rest.add_member(&admin, &kept, &user, "content_creator")
        .await;
    let mut ev = EvClient::open(sock, &user).await;
    let post = json!({ "title": "p", "client_visible": true });
    // Both workspaces stream to the user. (Two workspaces' events come through two hubs, so
    // their order is not fixed: wait for each rather than for one before the other.)
    for ws in [&lost, &kept] {
        let p = rest.create_post(&admin, ws, post.clone()).await;
        ev.next_matching("a post.created of each workspace", |v| {
            v["type"] == "post.created" && v["data"]["post_id"] == p["id"]
        })
        .await;
    }
    let r = rest
        .delete(
            &format!("/api/workspaces/{lost}/members/{}", user.user_id),
            &admin.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    stops_arriving(rest, &admin, &mut ev, &lost, post.clone(), &kept, post).await;
    assert!(ev.closed.is_none(), "{:?}", ev.closed);
}

/// The admin opens `hidden` and then `shown` (on `sock`); returns whether the client's
/// stream carried presence on `hidden` by the time presence on `shown` reached it.
async fn presence_leaks(
    sock: &TestApp,
    admin: &Session,
    admin_events: &mut EvClient,
    client_events: &mut EvClient,
    hidden: &str,
    shown: &str,
) -> bool {
    let is_admin_on = |v: &Value, post: &str| {
        v["type"] == "presence"
            && v["data"]["post_id"] == post
            && v["data"]["users"]
                .as_array()
                .is_some_and(|u| u.iter().any(|u| u["name"] == "Ada Admin"))
    };
    let start = client_events.seen.len();
    let _h = YClient::open(sock, hidden, admin).await;
    admin_events
        .next_matching("presence on the hidden post", |v| is_admin_on(v, hidden))
        .await;
    let _s = YClient::open(sock, shown, admin).await;
    client_events
        .next_matching("presence on the shared post", |v| is_admin_on(v, shown))
        .await;
    client_events.seen[start..]
        .iter()
        .any(|v| v["type"] == "presence" && v["data"]["post_id"] == hidden)
}

pub(crate) async fn unsharing_a_post_cuts_its_client_off(rest: &TestApp, sock: &TestApp) {
    let (admin, ws, post) = workspace(rest).await;
    let other = rest
        .create_post(
            &admin,
            &ws,
            json!({ "title": "still shared", "client_visible": true }),
        )
        .await;
    let other = other["id"].as_str().unwrap().to_string();
    let client = rest.member_with_role(&admin, &ws, "client").await;
    let mut cc = YClient::open(sock, &post, &client).await;
    let mut cev = EvClient::open(sock, &client).await;
    let mut aev = EvClient::open(sock, &admin).await;
    let r = rest
        .put(
            &format!("/api/posts/{post}"),
            &admin.access,
            json!({ "client_visible": false }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(cc.until_closed().await.0, ACCESS_LOST);
    let t = sock.ticket(&client).await;
    assert_eq!(
        sock.upgrade(&format!("/api/collab/{post}?ticket={t}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Nothing more about that post reaches them: not even who has it open.
    assert!(
        !presence_leaks(sock, &admin, &mut aev, &mut cev, &post, &other).await,
        "presence on an unshared post reached the client: {:?}",
        cev.seen
    );
}

#[actix_web::test]
async fn member_removal_closes_sockets() {
    let app = spawn_app().await;
    member_removal_closes_their_sockets(&app, &app).await;
}

#[actix_web::test]
async fn workspace_deletion_closes_sockets() {
    let app = spawn_app().await;
    workspace_deletion_closes_its_sockets(&app, &app).await;
}

#[actix_web::test]
async fn post_deletion_closes_sockets() {
    let app = spawn_app().await;
    post_deletion_closes_its_sockets(&app, &app).await;
}

#[actix_web::test]
async fn demotion_turns_a_collab_socket_read_only() {
    let app = spawn_app().await;
    demotion_makes_the_collab_socket_read_only(&app, &app).await;
}

#[actix_web::test]
async fn demotion_to_client_narrows_events() {
    let app = spawn_app().await;
    demotion_to_client_narrows_the_event_stream(&app, &app).await;
}

#[actix_web::test]
async fn removal_from_one_workspace_keeps_the_stream() {
    let app = spawn_app().await;
    removal_from_one_workspace_keeps_the_others_streaming(&app, &app).await;
}

#[actix_web::test]
async fn unsharing_a_post_closes_the_clients_socket() {
    let app = spawn_app().await;
    unsharing_a_post_cuts_its_client_off(&app, &app).await;
}

#[actix_web::test]
async fn clients_get_presence_only_for_shared_posts() {
    let app = spawn_app().await;
    let (admin, ws, shared) = workspace(&app).await;
    let internal = app
        .create_post(&admin, &ws, json!({ "title": "internal" }))
        .await;
    let internal = internal["id"].as_str().unwrap().to_string();
    let client = app.member_with_role(&admin, &ws, "client").await;
    let mut cev = EvClient::open(&app, &client).await;
    let mut aev = EvClient::open(&app, &admin).await;
    assert!(
        !presence_leaks(&app, &admin, &mut aev, &mut cev, &internal, &shared).await,
        "presence on an internal post reached a client: {:?}",
        cev.seen
    );
}

// ---------------------------------------------------------------------------------------
// Limits

#[actix_web::test]
async fn connections_per_user_are_capped() {
    let app = spawn_app_with(|s| s.collab.max_connections_per_user = 3).await;
    let (s, ws, post) = workspace(&app).await;
    let a = YClient::open(&app, &post, &s).await;
    let _b = YClient::open(&app, &post, &s).await;
    let _e = EvClient::open(&app, &s).await;
    for path in [format!("/api/collab/{post}"), "/api/events".to_string()] {
        let t = app.ticket(&s).await;
        let r = app.upgrade(&format!("{path}?ticket={t}")).await;
        assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_connections").await;
    }
    // Someone else is not affected.
    let other = app.member_with_role(&s, &ws, "content_creator").await;
    YClient::open(&app, &post, &other).await;
    // A closed socket gives its slot back.
    a.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let t = app.ticket(&s).await;
        match YClient::try_connect(&app.addr, &post, &t).await {
            Ok(_) => break,
            Err(awc::error::WsClientError::InvalidResponseStatus(st)) if st == 429 => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the slot never came back"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[actix_web::test]
async fn connections_per_ip_are_capped() {
    let app = spawn_app_with(|s| s.collab.max_connections_per_ip = 3).await;
    let (s, ws, post) = workspace(&app).await;
    let other = app.member_with_role(&s, &ws, "content_creator").await;
    let _a = YClient::open(&app, &post, &s).await;
    let _b = EvClient::open(&app, &s).await;
    let _c = YClient::open(&app, &post, &other).await;
    let t = app.ticket(&other).await;
    let r = app.upgrade(&format!("/api/collab/{post}?ticket={t}")).await;
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_connections").await;
}

#[actix_web::test]
async fn a_flood_of_messages_closes_that_connection_with_1008() {
    let app = spawn_app_with(|s| s.collab.max_messages_per_sec = 5).await;
    let (s, _, post) = workspace(&app).await;
    let mut calm = YClient::open(&app, &post, &s).await;
    let mut flood = YClient::open(&app, &post, &s).await;
    for _ in 0..60 {
        flood.send_raw(vec![3]).await; // awareness query
    }
    assert_eq!(flood.until_closed().await.0, POLICY);
    calm.append(" calm").await;
    calm.round_trip().await;
    assert!(calm.closed.is_none());
    let mut late = YClient::open(&app, &post, &s).await;
    late.until(|c| c.caption() == "Hello calm").await;
}

// ---------------------------------------------------------------------------------------
// Awareness

fn state_of(c: &YClient, id: u64) -> Option<Value> {
    c.awareness
        .get(&id)
        .cloned()
        .flatten()
        .map(|j| serde_json::from_str(&j).unwrap())
}

#[actix_web::test]
async fn relayed_awareness_carries_the_authenticated_user() {
    let app = spawn_app().await;
    let (admin, ws, post) = workspace(&app).await;
    let rita = app.register_verified(&email("rita"), "Rita Reviewer").await;
    app.add_member(&admin, &ws, &rita, "reviewer").await;
    let mut observer = YClient::open(&app, &post, &admin).await;
    let mut r = YClient::open(&app, &post, &rita).await;
    // A reviewer (read-only) claims to be the admin.
    let spoof = json!({
        "user": { "id": admin.user_id, "name": "Ada Admin", "color": "#f00" },
        "cursor": { "anchor": 3 }
    });
    r.set_awareness(1, &spoof.to_string()).await;
    let id = r.client_id();
    observer.until(|c| state_of(c, id).is_some()).await;
    let got = state_of(&observer, id).unwrap();
    assert_eq!(got["user"]["name"], "Rita Reviewer", "{got}");
    assert_eq!(got["user"]["id"], rita.user_id.as_str(), "{got}");
    assert_eq!(got["cursor"]["anchor"], 3, "the rest is relayed: {got}");
    // A state without a user gets one too.
    r.set_awareness(2, r#"{"cursor":{"anchor":4}}"#).await;
    observer
        .until(|c| state_of(c, id).is_some_and(|v| v["cursor"]["anchor"] == 4))
        .await;
    let got = state_of(&observer, id).unwrap();
    assert_eq!(got["user"]["name"], "Rita Reviewer", "{got}");
}

#[actix_web::test]
async fn awareness_for_another_connections_client_id_is_ignored() {
    let app = spawn_app().await;
    let (admin, ws, post) = workspace(&app).await;
    let mallory = app.member_with_role(&admin, &ws, "content_creator").await;
    let mut observer = YClient::open(&app, &post, &admin).await;
    let mut a = YClient::open(&app, &post, &admin).await;
    let mut m = YClient::open(&app, &post, &mallory).await;
    a.set_awareness(1, r#"{"note":"a-original"}"#).await;
    let a_id = a.client_id();
    observer
        .until(|c| state_of(c, a_id).is_some_and(|v| v["note"] == "a-original"))
        .await;
    m.set_awareness_for(a_id, 50, r#"{"note":"spoofed"}"#).await;
    m.set_awareness_for(a_id, 51, "null").await;
    m.set_awareness(1, r#"{"note":"m-marker"}"#).await;
    let m_id = m.client_id();
    observer
        .until(|c| state_of(c, m_id).is_some_and(|v| v["note"] == "m-marker"))
        .await;
    let got = state_of(&observer, a_id);
    assert!(
        got.as_ref().is_some_and(|v| v["note"] == "a-original"),
        "{got:?}"
    );
    // The owner still renews its own.
    a.set_awareness(2, r#"{"note":"a-renewed"}"#).await;
    observer
        .until(|c| state_of(c, a_id).is_some_and(|v| v["note"] == "a-renewed"))
        .await;
}

#[actix_web::test]
async fn awareness_states_are_bounded_in_size_and_count() {
    let app = spawn_app_with(|s| s.collab.max_awareness_bytes = 4096).await;
    let (admin, ws, post) = workspace(&app).await;
    let mallory = app.member_with_role(&admin, &ws, "content_creator").await;
    let mut observer = YClient::open(&app, &post, &admin).await;
    let mut editor = YClient::open(&app, &post, &admin).await;
    let mut m = YClient::open(&app, &post, &mallory).await;
    let m_id = m.client_id();
    // Within bounds: relayed.
    let fits = json!({ "pad": "f".repeat(2000) }).to_string();
    m.set_awareness(1, &fits).await;
    observer
        .until(|c| {
            state_of(c, m_id).is_some_and(|v| v["pad"].as_str().is_some_and(|p| p.len() == 2000))
        })
        .await;
    // Too big: not relayed (the connection may also be closed for it).
    let big = json!({ "pad": "B".repeat(5000) }).to_string();
    m.set_awareness(2, &big).await;
    // Six more client ids from the same connection: at most four ids in all.
    let extra: Vec<u64> = (0..6).map(|i| 1_000_000 + i).collect();
    for id in &extra {
        m.set_awareness_for(*id, 1, r#"{"note":"extra"}"#).await;
    }
    m.round_trip().await;
    // Everything relayed for those reached the observer before this edit does.
    editor.append(" barrier").await;
    observer.until(|c| c.caption().ends_with(" barrier")).await;
    let state = state_of(&observer, m_id);
    assert!(
        !state
            .as_ref()
            .is_some_and(|v| v["pad"].as_str().is_some_and(|p| p.starts_with('B'))),
        "an oversized state was relayed"
    );
    let relayed = extra
        .iter()
        .filter(|id| observer.awareness.get(id).is_some_and(|v| v.is_some()))
        .count();
    assert!(
        relayed <= 3,
        "{relayed} extra client ids relayed (own id + 3 = 4 at most)"
    );
}

// ---------------------------------------------------------------------------------------
// Socket edits are validated like REST edits

type Edit = Box<dyn FnOnce(&yrs::Doc)>;

fn hostile_edits() -> Vec<(&'static str, Edit)> {
    use yrs::{Any, Array, Map, MapPrelim, Text, Transact};
    vec![
        (
            "unknown root type",
            Box::new(|d: &yrs::Doc| {
                d.get_or_insert_text("evil")
                    .insert(&mut d.transact_mut(), 0, "boo");
            }) as Edit,
        ),
        (
            "unknown platform override",
            Box::new(|d: &yrs::Doc| {
                d.get_or_insert_text("content:myspace")
                    .insert(&mut d.transact_mut(), 0, "tom");
            }) as Edit,
        ),
        (
            "title over 200 characters",
            Box::new(|d: &yrs::Doc| {
                d.get_or_insert_map("meta")
                    .insert(&mut d.transact_mut(), "title", "t".repeat(201));
            }) as Edit,
        ),
        (
            "media url that is not http(s)",
            Box::new(|d: &yrs::Doc| {
                let item: HashMap<String, Any> = HashMap::from([
                    ("url".to_string(), Any::from("javascript:alert(1)")),
                    ("kind".to_string(), Any::from("image")),
                ]);
                d.get_or_insert_array("media")
                    .push_back(&mut d.transact_mut(), Any::from(item));
            }) as Edit,
        ),
        (
            "nested shared type",
            Box::new(|d: &yrs::Doc| {
                d.get_or_insert_map("meta").insert(
                    &mut d.transact_mut(),
                    "nested",
                    MapPrelim::default(),
                );
            }) as Edit,
        ),
        (
            "text over 100000 characters",
            Box::new(|d: &yrs::Doc| {
                d.get_or_insert_text("caption").insert(
                    &mut d.transact_mut(),
                    0,
                    &"y".repeat(100_001),
                );
            }) as Edit,
        ),
    ]
}

#[actix_web::test]
async fn socket_edits_are_validated_like_rest_edits() {
    let app = spawn_app().await;
    let (admin, _, post) = workspace(&app).await;
    let mut observer = YClient::open(&app, &post, &admin).await;
    let mut editor = YClient::open(&app, &post, &admin).await;
    for (name, edit) in hostile_edits() {
        let mut m = YClient::open(&app, &post, &admin).await;
        let id = m.client_id();
        m.edit(edit).await;
        let (code, reason) = m.until_closed().await;
        assert_eq!(code, POLICY, "{name}: closed with {code} {reason:?}");
        assert!(!reason.is_empty(), "{name}: the close says why");
        let barrier = format!(" [after {name}]");
        editor.append(&barrier).await;
        observer.until(|c| c.caption().ends_with(&barrier)).await;
        assert!(!observer.has_edits_of(id), "{name}: broadcast");
        let fresh = YClient::open(&app, &post, &admin).await;
        assert!(!fresh.has_edits_of(id), "{name}: applied");
        assert!(
            !stored_clients(&app, &post).await.contains(&id),
            "{name}: stored"
        );
    }
    let got = body(app.get(&format!("/api/posts/{post}"), &admin.access).await).await;
    assert_eq!(got["title"], "Live", "{got}");

    // What REST accepts, the socket may write.
    let mut ok = YClient::open(&app, &post, &admin).await;
    ok.edit(|d| {
        use yrs::{Any, Array, Map, Text, Transact};
        let meta = d.get_or_insert_map("meta");
        let media = d.get_or_insert_array("media");
        let x = d.get_or_insert_text("content:x");
        let mut t = d.transact_mut();
        meta.insert(&mut t, "title", "t".repeat(200));
        let item: HashMap<String, Any> = HashMap::from([
            (
                "url".to_string(),
                Any::from("https://cdn.example.com/a.png"),
            ),
            ("kind".to_string(), Any::from("image")),
        ]);
        media.push_back(&mut t, Any::from(item));
        x.insert(&mut t, 0, "For X");
    })
    .await;
    let id = ok.client_id();
    observer.until(|c| c.has_edits_of(id)).await;
    ok.round_trip().await;
    assert!(ok.closed.is_none(), "{:?}", ok.closed);
    let got = body(app.get(&format!("/api/posts/{post}"), &admin.access).await).await;
    assert_eq!(got["title"], "t".repeat(200));
    assert_eq!(got["platform_content"]["x"]["text"], "For X", "{got}");
    assert_eq!(
        got["media"][0]["url"], "https://cdn.example.com/a.png",
        "{got}"
    );
}
