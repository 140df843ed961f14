//! The first super admin: never "whoever registers first", only the one-time setup token
//! (`POST /api/setup`) or `copydesk::setup::create_super_admin` (the CLI).

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn is_super_admin(app: &TestApp, s: &Session) -> bool {
    let p = body(app.get("/api/users/profile", &s.access).await).await;
    p["is_super_admin"]
        .as_bool()
        .unwrap_or_else(|| panic!("profile has is_super_admin: {p}"))
}

async fn needed(app: &TestApp) -> bool {
    let r = app.client.get(app.url("/api/setup")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    b["needed"].as_bool().unwrap_or_else(|| panic!("{b}"))
}

async fn super_admins(app: &TestApp) -> u64 {
    use copydesk::store::entities::users;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    users::Entity::find()
        .filter(users::Column::IsSuperAdmin.eq(true))
        .count(&app.db)
        .await
        .unwrap()
}

#[actix_web::test]
async fn registering_never_makes_a_super_admin() {
    let app = spawn_app().await;
    assert!(needed(&app).await, "a fresh instance needs setting up");
    // The very first account, and several registering at the same moment: none of them.
    let first = app.register_verified(&email("first"), "First").await;
    assert!(!is_super_admin(&app, &first).await);
    let racers = join_all((0..5).map(|i| {
        let app = &app;
        async move {
            app.register_verified(&email("racer"), &format!("Racer {i}"))
                .await
        }
    }))
    .await;
    for s in &racers {
        assert!(!is_super_admin(&app, s).await, "{}", s.email);
    }
    assert_eq!(super_admins(&app).await, 0);
    // Still waiting for its setup, and the token still works.
    assert!(needed(&app).await);
    let root = app.super_admin().await;
    assert!(is_super_admin(&app, &root).await);
}

#[actix_web::test]
async fn the_setup_token_makes_one_super_admin_once() {
    let app = spawn_app().await;
    let token = app
        .setup_token
        .clone()
        .expect("a fresh instance has a setup token");
    assert!(needed(&app).await);

    // A wrong token is just not found.
    let r = app
        .post(
            "/api/setup",
            None,
            json!({ "token": "not-the-token", "email": email("x"), "password": PASSWORD, "name": "X" }),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(super_admins(&app).await, 0);

    let root_email = email("root");
    let r = app
        .post(
            "/api/setup",
            None,
            json!({ "token": token, "email": root_email, "password": PASSWORD, "name": "Root" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b = body(r).await;
    assert_eq!(b["user"]["email"], root_email.as_str());
    assert_eq!(b["user"]["email_verified"], true);
    let root = session(b);
    assert!(is_super_admin(&app, &root).await);
    // A verified account that signs in normally.
    assert_eq!(
        app.login(&root_email, PASSWORD).await.status(),
        StatusCode::OK
    );

    // Once only.
    let r = app
        .post(
            "/api/setup",
            None,
            json!({ "token": token, "email": email("again"), "password": PASSWORD, "name": "Again" }),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert!(!needed(&app).await);
    assert_eq!(super_admins(&app).await, 1);
}

#[actix_web::test]
async fn simultaneous_setups_make_exactly_one_super_admin() {
    let app = spawn_app().await;
    let token = app.setup_token.clone().expect("setup token");
    let emails: Vec<String> = (0..12).map(|_| email("claim")).collect();
    let answers = join_all(emails.iter().map(|e| {
        app.post(
            "/api/setup",
            None,
            json!({ "token": token, "email": e, "password": PASSWORD, "name": "Claimant" }),
        )
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one setup wins: {statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::NOT_FOUND),
        "the others are refused as not found: {statuses:?}"
    );
    assert_eq!(super_admins(&app).await, 1);
}

#[actix_web::test]
async fn an_admin_made_by_the_cli_path_ends_setup() {
    let app = spawn_app().await;
    let token = app.setup_token.clone().expect("setup token");
    let e = email("cli");
    let id = copydesk::setup::create_super_admin(&app.db, &e, "Cli Root", PASSWORD)
        .await
        .expect("create_super_admin");
    let r = app.login(&e, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = session(body(r).await);
    assert_eq!(s.user_id, id.to_string());
    assert!(is_super_admin(&app, &s).await);
    // A super admin exists: the setup token no longer works and setup is not needed.
    assert!(!needed(&app).await);
    let r = app
        .post(
            "/api/setup",
            None,
            json!({ "token": token, "email": email("late"), "password": PASSWORD, "name": "Late" }),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(super_admins(&app).await, 1);
}

#[actix_web::test]
async fn a_server_started_after_setup_has_no_setup_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = if is_postgres() {
        fresh_postgres_url().await
    } else {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("setup.db").display()
        )
    };
    let tweak = |s: &mut copydesk::config::Settings| {
        s.database.url = Some(copydesk::config::Secret::new(db.clone()));
        s.auth.jwt_secret = copydesk::config::Secret::new("a-shared-secret-for-both-servers-0123");
    };
    let first = spawn_app_with(tweak).await;
    assert!(first.setup_token.is_some());
    first.super_admin().await;
    let second = spawn_app_with(tweak).await;
    assert_eq!(second.setup_token, None);
    assert!(!needed(&second).await);
}
