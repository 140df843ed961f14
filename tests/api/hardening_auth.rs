//! Issue 6, accounts and sessions: sign-up cannot be pre-claimed, verification mails are
//! throttled per address, a profile password change ends other sessions, login throttling
//! holds under parallel guesses and Redis outages, refresh has a grace window for two tabs
//! and reuse voids access tokens, and every lifetime follows the injectable clock.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const VERIFY: &str = "verify-email?token=";
const RESET: &str = "reset-password?token=";

async fn register(app: &TestApp, e: &str, password: &str, name: &str) {
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": e, "password": password, "name": name }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

async fn verify(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/auth/verify-email",
        None,
        json!({ "token": token, "password": password }),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/api/auth/refresh", None, json!({ "refresh_token": token }))
        .await
}

async fn profile_status(app: &TestApp, access: &str) -> StatusCode {
    app.get("/api/users/profile", access).await.status()
}

#[actix_web::test]
async fn an_address_registered_first_by_someone_else_gets_the_owners_password() {
    let app = spawn_app().await;
    let victim = email("victim");
    let attacker_pw = "attacker-knows-this-1";
    let victim_pw = "victim-chose-this-2";
    // The attacker registers the victim's address first...
    register(&app, &victim, attacker_pw, "Attacker").await;
    let first = app.mail.nth_to(&victim, 1).await;
    let attackers_link = first.token_after(VERIFY).unwrap();
    // ...then the victim registers it with their own password and follows the newest link.
    register(&app, &victim, victim_pw, "Victim").await;
    let second = app.mail.next_containing(&victim, VERIFY, 1).await;
    let victims_link = second.token_after(VERIFY).unwrap();
    assert_ne!(attackers_link, victims_link);
    // The attacker's link, which also sits in the victim's inbox, does not take the
    // victim's password: it belongs to the attacker's sign-up.
    assert_error(
        verify(&app, &attackers_link, victim_pw).await,
        StatusCode::BAD_REQUEST,
        "password_mismatch",
    )
    .await;
    let r = verify(&app, &victims_link, victim_pw).await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = session(body(r).await);
    assert_eq!(profile_status(&app, &s.access).await, StatusCode::OK);

    assert_error(
        app.login(&victim, attacker_pw).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.login(&victim, victim_pw).await.status(), StatusCode::OK);
    // Confirming killed every other link: the attacker's cannot set their password
    // afterwards either.
    assert_error(
        verify(&app, &attackers_link, attacker_pw).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    )
    .await;
    assert_error(
        app.login(&victim, attacker_pw).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[actix_web::test]
async fn a_pre_claimed_address_joining_by_invitation_keeps_the_owners_password() {
    let app = spawn_app().await;
    let victim = email("invited-victim");
    let attacker_pw = "attacker-knows-this-4";
    register(&app, &victim, attacker_pw, "Attacker").await;
    let attackers_link = app
        .mail
        .nth_to(&victim, 1)
        .await
        .token_after(VERIFY)
        .unwrap();
    // The real owner is invited and signs up through the invitation.
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    let token = app.invite(&admin, &ws, &victim, "reviewer").await;
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": victim, "password": "owner-chose-this-5", "name": "Owner", "invitation_token": token }),
        )
        .await;
    // Either the invitation proves the address at once (201), or the address still needs
    // confirming (202) and the owner follows the newest link.
    let owner = match r.status() {
        StatusCode::CREATED => session(body(r).await),
        StatusCode::ACCEPTED => {
            let link = app
                .mail
                .next_containing(&victim, VERIFY, 2)
                .await
                .token_after(VERIFY)
                .unwrap();
            let r = verify(&app, &link, "owner-chose-this-5").await;
            assert_eq!(r.status(), StatusCode::OK);
            session(body(r).await)
        }
        other => panic!("register with an invitation: {other}"),
    };
    assert_eq!(profile_status(&app, &owner.access).await, StatusCode::OK);
    // The attacker's password and link are worth nothing.
    assert_error(
        app.login(&victim, attacker_pw).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        verify(&app, &attackers_link, attacker_pw).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    )
    .await;
    assert_eq!(profile_status(&app, &owner.access).await, StatusCode::OK);
    assert_eq!(
        app.login(&victim, "owner-chose-this-5").await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn an_attacker_registering_after_the_owner_cannot_take_the_address_either() {
    let app = spawn_app().await;
    let e = email("owner-first");
    register(&app, &e, "owners-password-11", "Owner").await;
    let owners = app.mail.nth_to(&e, 1).await.token_after(VERIFY).unwrap();
    register(&app, &e, "attackers-password-22", "Attacker").await;
    let attackers = app
        .mail
        .next_containing(&e, VERIFY, 1)
        .await
        .token_after(VERIFY)
        .unwrap();
    // The newest link in the owner's inbox is the attacker's: with the owner's password it
    // does nothing.
    assert_error(
        verify(&app, &attackers, "owners-password-11").await,
        StatusCode::BAD_REQUEST,
        "password_mismatch",
    )
    .await;
    // The owner's own link still works (a later sign-up does not void it).
    assert_eq!(
        verify(&app, &owners, "owners-password-11").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&e, "owners-password-11").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&e, "attackers-password-22").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // And once confirmed, the attacker's link is dead.
    assert_error(
        verify(&app, &attackers, "attackers-password-22").await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    )
    .await;
}

#[actix_web::test]
async fn a_sign_in_link_needs_the_accounts_password() {
    let app = spawn_app().await;
    let e = email("resend");
    register(&app, &e, "attackers-password-33", "Attacker").await;
    app.mail.nth_to(&e, 1).await;
    // Signing in unverified re-sends a link — to the owner's inbox. It confirms only with
    // the password of the account as it stands, which the owner does not know.
    assert_error(
        app.login(&e, "attackers-password-33").await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    let resent = app
        .mail
        .next_containing(&e, VERIFY, 1)
        .await
        .token_after(VERIFY)
        .unwrap();
    assert_error(
        verify(&app, &resent, "owner-guesses-44").await,
        StatusCode::BAD_REQUEST,
        "password_mismatch",
    )
    .await;
}

#[actix_web::test]
async fn verification_mails_are_throttled_per_address() {
    let app = spawn_app_with(|s| {
        s.auth.verification_mails_per_address = 3;
        s.auth.email_window_secs = 3600;
    })
    .await;
    let e = email("spammed");
    // A registration, and two sign-in attempts that re-send the link: three mails.
    register(&app, &e, "password-number-0", "S").await;
    for _ in 0..2 {
        assert_error(
            app.login(&e, "password-number-0").await,
            StatusCode::FORBIDDEN,
            "email_not_verified",
        )
        .await;
    }
    app.mail.nth_to(&e, 3).await;
    // Over the limit: the same answers as always, but no mail.
    register(&app, &e, "password-number-1", "S").await;
    assert_error(
        app.login(&e, "password-number-0").await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    // A new window: mail flows again. It is sent after the refused ones would have been, so
    // once it is here, they would be too.
    app.clock.advance(Duration::from_secs(3601));
    register(&app, &e, "password-after-window", "S").await;
    let last = app.mail.next_containing(&e, VERIFY, 3).await;
    assert_eq!(
        app.mail.all_containing(&e, VERIFY).len(),
        4,
        "no mail went out over the limit"
    );
    // That newest link works and sets the password chosen with it.
    let r = verify(
        &app,
        &last.token_after(VERIFY).unwrap(),
        "password-after-window",
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.login(&e, "password-after-window").await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_profile_password_change_ends_other_sessions_and_reset_links() {
    let app = spawn_app().await;
    let me = app.register_verified(&email("pw"), "Pw").await;
    let other = session(body(app.login(&me.email, PASSWORD).await).await);
    // A reset link asked for earlier (by them, or by someone who got into their mailbox).
    let r = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": me.email }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let reset = app
        .mail
        .containing(&me.email, RESET)
        .await
        .token_after(RESET)
        .unwrap();

    let r = app
        .put(
            "/api/users/profile",
            &me.access,
            json!({ "current_password": PASSWORD, "new_password": "a-brand-new-secret-9" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    let fresh = b["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a fresh access token for the caller: {b}"))
        .to_string();
    assert!(b["expires_in"].as_u64().is_some_and(|n| n > 0), "{b}");

    // The caller goes on with the fresh token and its refresh token.
    assert_eq!(profile_status(&app, &fresh).await, StatusCode::OK);
    assert_eq!(refresh(&app, &me.refresh).await.status(), StatusCode::OK);
    // Every other session is over, and access tokens issued before are void (token version).
    assert_error(
        refresh(&app, &other.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    for t in [&other.access, &me.access] {
        assert_error(
            app.get("/api/users/profile", t).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    // The reset link from before the change does nothing.
    assert_error(
        app.post(
            "/api/auth/reset-password",
            None,
            json!({ "token": reset, "password": "attacker-sets-this-3" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    )
    .await;
    assert_eq!(
        app.login(&me.email, "attacker-sets-this-3").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&me.email, "a-brand-new-secret-9").await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn parallel_wrong_guesses_never_exceed_the_account_limit() {
    let app = spawn_app_with(|s| {
        s.auth.login_max_failures_per_account = 5;
        s.auth.login_window_secs = 900;
    })
    .await;
    let s = app.register_verified(&email("target"), "Target").await;
    let answers = join_all((0..20).map(|i| {
        let (app, e) = (&app, &s.email);
        async move { app.login(e, &format!("wrong-guess-{i}-x")).await }
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 5, "at most 5 guesses were checked: {statuses:?}");
    assert_eq!(checked + refused, 20, "{statuses:?}");
    // The right password is refused too while locked.
    assert_error(
        app.login(&s.email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
    app.clock.advance(Duration::from_secs(901));
    assert_eq!(app.login(&s.email, PASSWORD).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn parallel_wrong_guesses_never_exceed_the_ip_limit() {
    let app = spawn_app_with(|s| {
        s.auth.login_max_failures_per_ip = 5;
        s.auth.login_max_failures_per_account = 1000;
    })
    .await;
    let answers = join_all((0..20).map(|i| {
        let e = email(&format!("spray{i}"));
        let app = &app;
        async move { app.login(&e, "wrong-guess-spray").await }
    }))
    .await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 5, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn the_login_throttle_still_blocks_while_redis_is_down() {
    // Its own Redis (on either database), which it stops mid-test.
    let port = crate::cluster::Redis::free_port();
    let mut redis = crate::cluster::Redis::start(port).await;
    let app = spawn_app_with(|s| {
        s.redis.url = Some(copydesk::config::Secret::new(format!(
            "redis://127.0.0.1:{port}"
        )));
        s.auth.login_max_failures_per_account = 3;
    })
    .await;
    let s = app.register_verified(&email("outage"), "Outage").await;
    redis.stop();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.login(&s.email, "wrong-during-outage").await.status());
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 3, "the fallback limiter blocks: {statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn reset_with_an_invalid_token_is_refused_up_front() {
    let app = spawn_app().await;
    for token in ["garbage", "", &"a".repeat(43)] {
        let r = app
            .post(
                "/api/auth/reset-password",
                None,
                json!({ "token": token, "password": "a-perfectly-fine-pass-1" }),
            )
            .await;
        assert_error(r, StatusCode::BAD_REQUEST, "invalid_token").await;
    }
}

#[actix_web::test]
async fn two_tabs_refreshing_at_once_both_stay_signed_in() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("tabs"), "Tabs").await;
    let answers = join_all((0..2).map(|_| refresh(&app, &s.refresh))).await;
    let mut pairs = Vec::new();
    for r in answers {
        assert_eq!(r.status(), StatusCode::OK, "both tabs refresh");
        pairs.push(session(body(r).await));
    }
    for p in &pairs {
        assert_eq!(profile_status(&app, &p.access).await, StatusCode::OK);
    }
    // Each tab goes on refreshing its own token.
    for p in &pairs {
        assert_eq!(refresh(&app, &p.refresh).await.status(), StatusCode::OK);
    }
}

#[actix_web::test]
async fn reuse_after_the_grace_window_voids_the_thiefs_tokens() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("stolen"), "Stolen").await;
    // The thief refreshes with the stolen token first.
    let r = refresh(&app, &s.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let thief = session(body(r).await);
    assert_eq!(profile_status(&app, &thief.access).await, StatusCode::OK);
    // Later (beyond the grace window) the owner's tab presents the same token: reuse.
    app.clock.advance(Duration::from_secs(11));
    assert_error(
        refresh(&app, &s.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    // The whole family is revoked, and every access token issued so far is void.
    assert_error(
        refresh(&app, &thief.refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    for t in [&thief.access, &s.access] {
        assert_error(
            app.get("/api/users/profile", t).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    assert_eq!(app.login(&s.email, PASSWORD).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn access_tokens_expire_by_the_servers_clock() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("exp"), "Exp").await;
    // 15 minutes and a 5 s leeway; well inside them the token works...
    app.clock.advance(Duration::from_secs(850));
    assert_eq!(profile_status(&app, &s.access).await, StatusCode::OK);
    // ...and past them it does not.
    app.clock.advance(Duration::from_secs(100));
    assert_error(
        app.get("/api/users/profile", &s.access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // The refresh token (14 days idle) gets a new one.
    let r = refresh(&app, &s.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = session(body(r).await);
    assert_eq!(profile_status(&app, &again.access).await, StatusCode::OK);
}

#[actix_web::test]
async fn email_links_and_invitations_expire_by_the_servers_clock() {
    let app = spawn_app().await;
    let e = email("late");
    register(&app, &e, PASSWORD, "Late").await;
    let link = app.mail.nth_to(&e, 1).await.token_after(VERIFY).unwrap();
    app.clock.advance(Duration::from_secs(86_400 + 60));
    assert_error(
        verify(&app, &link, PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_token",
    )
    .await;

    let admin = app.register_verified(&email("adm"), "Adm").await;
    let ws = app.create_workspace(&admin, "Expiring").await;
    let guest = app.register_verified(&email("guest"), "Guest").await;
    let token = app.invite(&admin, &ws, &guest.email, "reviewer").await;
    app.clock.advance(Duration::from_secs(604_800 + 60));
    // The guest's own access token is long expired by now; sign in again.
    let guest = session(body(app.login(&guest.email, PASSWORD).await).await);
    assert_error(
        app.accept(&guest, &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
