//! Sign-up, email verification, login, throttling, refresh rotation, logout, reset.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn register_verify_login_and_profile() {
    let app = spawn_app().await;
    let e = email("alice");
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": e, "password": PASSWORD, "name": "Alice" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Before verification the correct password is told to confirm the email.
    assert_error(
        app.login(&e, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;

    let mail = app.mail.nth_to(&e, 1).await;
    assert!(
        mail.text().contains("Subject: Confirm your email"),
        "{}",
        mail.data
    );
    let token = mail.token_after("verify-email?token=").unwrap();
    let r = app
        .post(
            "/api/auth/verify-email",
            None,
            json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert_eq!(b["user"]["email"], e);
    assert_eq!(b["user"]["email_verified"], true);
    // The link is single use.
    assert_error(
        app.post(
            "/api/auth/verify-email",
            None,
            json!({ "token": token, "password": PASSWORD }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    )
    .await;

    let r = app.login(&e.to_uppercase(), PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = session(body(r).await);
    let p = body(app.get("/api/users/profile", &s.access).await).await;
    assert_eq!(p["name"], "Alice");

    let r = app
        .put(
            "/api/users/profile",
            &s.access,
            json!({ "name": "Alice B" }),
        )
        .await;
    assert_eq!(body(r).await["name"], "Alice B");
    // Changing the password needs the current one.
    let r = app
        .put(
            "/api/users/profile",
            &s.access,
            json!({ "new_password": "another-fine-pass" }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(b["error"]["details"]["fields"]["current_password"].is_string());
}

#[actix_web::test]
async fn password_policy_and_input_errors_name_the_fields() {
    let app = spawn_app().await;
    for (pw, why) in [
        ("short", "at least 8"),
        ("password1", "commonly used"),
        (&"x".repeat(129)[..], "at most 128"),
    ] {
        let r = app
            .post(
                "/api/auth/register",
                None,
                json!({ "email": email("p"), "password": pw, "name": "P" }),
            )
            .await;
        let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        let msg = b["error"]["details"]["fields"]["password"]
            .as_str()
            .unwrap();
        assert!(msg.contains(why), "{msg}");
    }
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "nope", "password": PASSWORD, "name": "" }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(b["error"]["details"]["fields"]["email"].is_string());
    assert!(b["error"]["details"]["fields"]["name"].is_string());
    // Missing fields are a clear 400 too.
    let r = app
        .post("/api/auth/register", None, json!({ "email": "a@b.co" }))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_body").await;
}

#[actix_web::test]
async fn no_account_enumeration() {
    let app = spawn_app().await;
    let known = email("known");
    app.register_verified(&known, "Known").await;
    let unknown = email("unknown");

    // Register: same status and body for a known and an unknown address.
    let a = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": known, "password": PASSWORD, "name": "X" }),
        )
        .await;
    let b = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": unknown, "password": PASSWORD, "name": "X" }),
        )
        .await;
    assert_eq!(a.status(), b.status());
    assert_eq!(body(a).await, body(b).await);
    // The owner of the known address learns about the attempt by email.
    let m = app.mail.nth_to(&known, 2).await;
    assert!(m.text().contains("already has an account"));

    // Forgot password: same answer.
    let a = app
        .post("/api/auth/forgot-password", None, json!({ "email": known }))
        .await;
    let b = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": email("ghost") }),
        )
        .await;
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(body(a).await, body(b).await);

    // Login: wrong password and unknown email are indistinguishable.
    let a = app.login(&known, "wrong-password-123").await;
    let b = app.login(&email("ghost"), "wrong-password-123").await;
    assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(a).await, body(b).await);
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("r"), "R").await;

    let r1 = body(
        app.post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": s.refresh }),
        )
        .await,
    )
    .await;
    let t1 = r1["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(t1, s.refresh);
    let r2 = body(
        app.post("/api/auth/refresh", None, json!({ "refresh_token": t1 }))
            .await,
    )
    .await;
    let t2 = r2["refresh_token"].as_str().unwrap().to_string();
    // The new access token works.
    assert_eq!(
        app.get("/api/users/profile", r2["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    // Replaying an old token after the grace window (two tabs) is theft: it fails and
    // kills the whole family, t2 included, and every access token issued so far.
    app.clock.advance(std::time::Duration::from_secs(11));
    let r = app
        .post("/api/auth/refresh", None, json!({ "refresh_token": t1 }))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let r = app
        .post("/api/auth/refresh", None, json!({ "refresh_token": t2 }))
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_error(
        app.get("/api/users/profile", r2["access_token"].as_str().unwrap())
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Another sign-in (another family) is unaffected.
    let other = session(body(app.login(&s.email, PASSWORD).await).await);
    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": other.refresh }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": "garbage" }),
        )
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

#[actix_web::test]
async fn refresh_family_has_an_absolute_lifetime() {
    use std::time::Duration;
    // Idle expiry alone can never end this sign-in: it is refreshed well within the idle
    // lifetime every time. Only the absolute lifetime can.
    let app = spawn_app_with(|s| {
        s.auth.refresh_absolute_ttl_secs = 1000;
        s.auth.refresh_idle_ttl_secs = 400;
        s.auth.access_ttl_secs = 3600;
    })
    .await;
    let s = app.register_verified(&email("abs"), "Abs").await;
    let mut refresh = s.refresh.clone();
    // t = 300, 600, 900, 990: each refresh comes 300 s (or less) after the previous one,
    // inside the 400 s idle window and before the 1000 s absolute end (10 s of margin for
    // the real time the test itself takes).
    for (step, t) in [(300, 300), (300, 600), (300, 900), (90, 990)] {
        app.clock.advance(Duration::from_secs(step));
        let r = app
            .post(
                "/api/auth/refresh",
                None,
                json!({ "refresh_token": refresh }),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "refresh at t={t}s, before the absolute lifetime, works"
        );
        refresh = body(r).await["refresh_token"].as_str().unwrap().to_string();
    }
    // t = 1020: only 30 s since the last refresh (idle is fine), but the sign-in is older
    // than its absolute lifetime.
    app.clock.advance(Duration::from_secs(30));
    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // A new sign-in starts a new lifetime.
    let again = session(body(app.login(&s.email, PASSWORD).await).await);
    let r = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": again.refresh }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[actix_web::test]
async fn logout_ends_every_session_and_voids_access_tokens() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("out"), "Out").await;
    let other = session(body(app.login(&s.email, PASSWORD).await).await);
    let r = app
        .post("/api/auth/logout", Some(&s.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for token in [&s.access, &other.access] {
        assert_error(
            app.get("/api/users/profile", token).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    for refresh in [&s.refresh, &other.refresh] {
        let r = app
            .post(
                "/api/auth/refresh",
                None,
                json!({ "refresh_token": refresh }),
            )
            .await;
        assert_error(r, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    }
    // Signing in again works.
    assert_eq!(app.login(&s.email, PASSWORD).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn forgot_and_reset_password_by_email() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("reset"), "Reset").await;
    let r = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": s.email }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mail = app.mail.nth_to(&s.email, 2).await;
    assert!(mail
        .text()
        .contains("Subject: Reset your Copydesk password"));
    let token = mail.token_after("reset-password?token=").unwrap();

    let r = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "password": "short" }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let r = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "password": "brand-new-pass-77" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Single use.
    let r = app
        .post(
            "/api/auth/reset-password",
            None,
            json!({ "token": token, "password": "brand-new-pass-88" }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_token").await;

    assert_error(
        app.get("/api/users/profile", &s.access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_error(
        app.login(&s.email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.login(&s.email, "brand-new-pass-77").await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn login_is_throttled_per_account_and_the_lock_ends() {
    let app = spawn_app_with(|s| {
        s.auth.login_max_failures_per_account = 3;
        s.auth.login_window_secs = 900;
    })
    .await;
    let s = app.register_verified(&email("victim"), "Victim").await;
    let bystander = app
        .register_verified(&email("bystander"), "Bystander")
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.login(&s.email, "wrong-password-1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login(&s.email, PASSWORD).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // Unknown accounts are throttled the same way (no enumeration through 429s).
    let ghost = email("ghost");
    for _ in 0..3 {
        app.login(&ghost, "wrong-password-1").await;
    }
    assert_eq!(
        app.login(&ghost, "wrong-password-1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts are not affected.
    assert_eq!(
        app.login(&bystander.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    // Still locked a little before Retry-After is over...
    app.clock
        .advance(std::time::Duration::from_secs(retry.saturating_sub(30)));
    assert_eq!(
        app.login(&s.email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the lock holds until its window ends"
    );
    // ...and after it the real user gets in: nobody can lock them out for good.
    app.clock.advance(std::time::Duration::from_secs(31));
    assert_eq!(app.login(&s.email, PASSWORD).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn bad_and_missing_tokens_are_401() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/users/profile"))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_error(
        app.get("/api/users/profile", "not-a-jwt").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // A token signed with another key.
    let s = app.register_verified(&email("k"), "K").await;
    let mut forged = s.access.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert_error(
        app.get("/api/users/profile", &forged).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[actix_web::test]
async fn passwords_are_stored_as_argon2id() {
    use copydesk::store::entities::users;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let s = app.register_verified(&email("hash"), "Hash").await;
    let u = users::Entity::find()
        .filter(users::Column::Email.eq(&s.email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        u.password_hash.starts_with("$argon2id$"),
        "{}",
        u.password_hash
    );
    assert!(!u.password_hash.contains(PASSWORD));
}
