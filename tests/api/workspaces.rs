//! Workspaces, members, roles, invitations, and workspace scoping.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn workspace_crud_and_unique_slug() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("owner"), "Owner").await;
    let r = app
        .post(
            "/api/workspaces",
            Some(&s.access),
            json!({ "name": "Acme Social", "slug": "acme" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let ws = body(r).await;
    assert_eq!(ws["slug"], "acme");
    assert_eq!(ws["role"], "workspace_admin");
    let id = ws["id"].as_str().unwrap();

    let r = app
        .post(
            "/api/workspaces",
            Some(&s.access),
            json!({ "name": "Other", "slug": "acme" }),
        )
        .await;
    assert_error(r, StatusCode::CONFLICT, "slug_taken").await;
    let r = app
        .post(
            "/api/workspaces",
            Some(&s.access),
            json!({ "name": "", "slug": "Bad Slug" }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(
        b["error"]["details"]["fields"]["slug"].is_string()
            && b["error"]["details"]["fields"]["name"].is_string()
    );
    // Without a slug one is derived from the name, and kept unique.
    let a = body(
        app.post(
            "/api/workspaces",
            Some(&s.access),
            json!({ "name": "Acme" }),
        )
        .await,
    )
    .await;
    let derived = a["slug"].as_str().unwrap();
    assert!(
        derived.starts_with("acme-") && derived.len() > 5,
        "{derived}"
    );

    let r = app
        .put(
            &format!("/api/workspaces/{id}"),
            &s.access,
            json!({ "name": "Acme Inc" }),
        )
        .await;
    assert_eq!(body(r).await["name"], "Acme Inc");
    let list = body(app.get("/api/users/workspaces", &s.access).await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    assert_eq!(
        app.delete(&format!("/api/workspaces/{id}"), &s.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&format!("/api/workspaces/{id}"), &s.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn existing_users_are_added_and_roles_change() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Team").await;
    let writer = app.member_with_role(&admin, &ws, "content_creator").await;

    let members = body(
        app.get(&format!("/api/workspaces/{ws}/members"), &admin.access)
            .await,
    )
    .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    // The member was invited by email, accepted, and now sees the workspace.
    assert!(app
        .mail
        .nth_to(&writer.email, 2)
        .await
        .text()
        .contains(INVITE_MARKER));
    let theirs = body(app.get("/api/users/workspaces", &writer.access).await).await;
    assert_eq!(theirs[0]["role"], "content_creator");

    // Inviting a member again reveals nothing: the same answer as for anyone.
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/members"),
            Some(&admin.access),
            json!({ "email": writer.email, "role": "reviewer" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(body(r).await["status"], "invited");

    let path = format!("/api/workspaces/{ws}/members/{}", writer.user_id);
    let r = app
        .put(&path, &admin.access, json!({ "role": "content_manager" }))
        .await;
    assert_eq!(body(r).await["role"], "content_manager");
    let r = app
        .put(&path, &admin.access, json!({ "role": "super_admin" }))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let r = app
        .put(&path, &admin.access, json!({ "role": "owner" }))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_body").await;

    // The last admin cannot be demoted or removed.
    let me = format!("/api/workspaces/{ws}/members/{}", admin.user_id);
    assert_error(
        app.put(&me, &admin.access, json!({ "role": "reviewer" }))
            .await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;
    assert_error(
        app.delete(&me, &admin.access).await,
        StatusCode::CONFLICT,
        "last_admin",
    )
    .await;

    assert_eq!(
        app.delete(&path, &admin.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&format!("/api/workspaces/{ws}"), &writer.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn invitation_by_email_is_accepted_by_registration_once() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Agency").await;
    let guest = email("client");
    let r = app
        .post(
            &format!("/api/workspaces/{ws}/members"),
            Some(&admin.access),
            json!({ "email": guest, "role": "client" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b = body(r).await;
    assert_eq!(b["status"], "invited");
    assert_eq!(b["invitation"]["role"], "client");
    let pending = body(
        app.get(&format!("/api/workspaces/{ws}/members"), &admin.access)
            .await,
    )
    .await;
    assert_eq!(pending["invitations"][0]["email"], guest);

    let mail = app.mail.nth_to(&guest, 1).await;
    let token = mail.token_after("invite?token=").unwrap();
    // The invitation is for that address only.
    let r = app
        .post("/api/auth/register", None, json!({ "email": email("other"), "password": PASSWORD, "name": "O", "invitation_token": token }))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    let r = app
        .post("/api/auth/register", None, json!({ "email": guest, "password": PASSWORD, "name": "Guest", "invitation_token": token }))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let s = session(body(r).await);
    let theirs = body(app.get("/api/users/workspaces", &s.access).await).await;
    assert_eq!(theirs[0]["id"], ws.as_str());
    assert_eq!(theirs[0]["role"], "client");

    // Single use.
    let r = app
        .post(
            "/api/invitations/accept",
            Some(&s.access),
            json!({ "token": token }),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[actix_web::test]
async fn invitation_accepted_at_login_and_revocable() {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Admin").await;
    let ws = app.create_workspace(&admin, "Agency").await;
    let later = email("later");
    app.post(
        &format!("/api/workspaces/{ws}/members"),
        Some(&admin.access),
        json!({ "email": later, "role": "reviewer" }),
    )
    .await;
    let token = app
        .mail
        .nth_to(&later, 1)
        .await
        .token_after("invite?token=")
        .unwrap();
    // They sign up on their own first, then accept through login.
    let s = app.register_verified(&later, "Later").await;
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": later, "password": PASSWORD, "invitation_token": token }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let theirs = body(app.get("/api/users/workspaces", &s.access).await).await;
    assert_eq!(theirs[0]["role"], "reviewer");

    // A revoked invitation cannot be used.
    let gone = email("gone");
    let b = body(
        app.post(
            &format!("/api/workspaces/{ws}/members"),
            Some(&admin.access),
            json!({ "email": gone, "role": "client" }),
        )
        .await,
    )
    .await;
    let inv = b["invitation"]["id"].as_str().unwrap();
    let token = app
        .mail
        .nth_to(&gone, 1)
        .await
        .token_after("invite?token=")
        .unwrap();
    let r = app
        .delete(
            &format!("/api/workspaces/{ws}/invitations/{inv}"),
            &admin.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": gone, "password": PASSWORD, "name": "G", "invitation_token": token }),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "a revoked invitation falls back to normal sign-up"
    );
}

#[actix_web::test]
async fn other_workspaces_answer_404_never_403() {
    let app = spawn_app().await;
    let a = app.register_verified(&email("a"), "A").await;
    let b = app.register_verified(&email("b"), "B").await;
    let ws_a = app.create_workspace(&a, "A's").await;
    let post = app
        .create_post(
            &a,
            &ws_a,
            json!({ "title": "secret", "caption": "hi", "platforms": ["x"] }),
        )
        .await;
    let pid = post["id"].as_str().unwrap();
    for path in [
        format!("/api/workspaces/{ws_a}"),
        format!("/api/workspaces/{ws_a}/members"),
        format!("/api/workspaces/{ws_a}/posts"),
        format!("/api/posts/{pid}"),
    ] {
        let r = app.get(&path, &b.access).await;
        let body = assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
        assert!(!body.to_string().contains("secret"));
    }
    assert_error(
        app.put(
            &format!("/api/posts/{pid}"),
            &b.access,
            json!({ "title": "x" }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete(&format!("/api/posts/{pid}"), &b.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.post(
            &format!("/api/posts/{pid}/duplicate"),
            Some(&b.access),
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A malformed id is just another id that does not exist.
    assert_error(
        app.get("/api/posts/not-a-uuid", &b.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
