//! Every role × every action, over HTTP, against an expected matrix written out here
//! independently of the permission table in `src/roles.rs`.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const ROLES: [&str; 6] = [
    "super_admin",
    "workspace_admin",
    "content_manager",
    "content_creator",
    "reviewer",
    "client",
];

/// action → allowed for [SA, WA, CM, CC, RV, CL]. A denied action answers 403, except
/// reading what a role may not even see, which answers 404.
const MATRIX: &[(&str, [bool; 6])] = &[
    ("workspace.view", [true, true, true, true, true, true]),
    ("workspace.update", [true, true, false, false, false, false]),
    ("workspace.delete", [true, true, false, false, false, false]),
    ("members.view", [true, true, true, true, true, false]),
    ("members.manage", [true, true, false, false, false, false]),
    ("post.view_internal", [true, true, true, true, true, false]),
    ("post.view_shared", [true, true, true, true, true, true]),
    ("post.list", [true, true, true, true, true, true]),
    ("post.validate", [true, true, true, true, true, false]),
    ("post.create", [true, true, true, true, false, false]),
    ("post.edit", [true, true, true, true, false, false]),
    ("post.duplicate", [true, true, true, true, false, false]),
    ("post.delete", [true, true, true, false, false, false]),
];

#[actix_web::test]
async fn every_role_times_every_action() {
    let app = spawn_app().await;
    // The first account is the instance's super admin; it is not a member of the workspace.
    let sa = app.register_verified(&email("sa"), "Super").await;
    let admin = app.register_verified(&email("wa"), "Admin").await;
    let ws = app.create_workspace(&admin, "Matrix").await;
    let mut sessions = vec![sa, admin];
    for role in &ROLES[2..] {
        let s = app.member_with_role(&sessions[1], &ws, role).await;
        sessions.push(s);
    }
    let admin = &sessions[1];
    let internal = app
        .create_post(
            admin,
            &ws,
            json!({ "title": "internal", "caption": "c", "platforms": ["x"] }),
        )
        .await;
    let shared = app
        .create_post(admin, &ws, json!({ "title": "shared", "caption": "c", "platforms": ["x"], "client_visible": true }))
        .await;
    let (internal, shared) = (
        internal["id"].as_str().unwrap(),
        shared["id"].as_str().unwrap(),
    );

    for (i, role) in ROLES.iter().enumerate() {
        let s = &sessions[i];
        // A workspace of its own where this role holds the same role, to try deleting it.
        let doomed = app.create_workspace(admin, &format!("Doomed {role}")).await;
        if i >= 2 {
            let r = app
                .post(
                    &format!("/api/workspaces/{doomed}/members"),
                    Some(&admin.access),
                    json!({ "email": s.email, "role": role }),
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }
        let victim = app
            .create_post(
                admin,
                &ws,
                json!({ "title": "victim", "platforms": ["x"], "client_visible": true }),
            )
            .await;
        let victim = victim["id"].as_str().unwrap();

        for (action, allowed) in MATRIX {
            let t = &s.access;
            let r = match *action {
                "workspace.view" => app.get(&format!("/api/workspaces/{ws}"), t).await,
                "workspace.update" => {
                    app.put(
                        &format!("/api/workspaces/{ws}"),
                        t,
                        json!({ "name": "Matrix" }),
                    )
                    .await
                }
                "workspace.delete" => app.delete(&format!("/api/workspaces/{doomed}"), t).await,
                "members.view" => app.get(&format!("/api/workspaces/{ws}/members"), t).await,
                "members.manage" => {
                    let body = json!({ "email": email("invitee"), "role": "reviewer" });
                    app.post(&format!("/api/workspaces/{ws}/members"), Some(t), body)
                        .await
                }
                "post.view_internal" => app.get(&format!("/api/posts/{internal}"), t).await,
                "post.view_shared" => app.get(&format!("/api/posts/{shared}"), t).await,
                "post.list" => app.get(&format!("/api/workspaces/{ws}/posts"), t).await,
                "post.validate" => {
                    app.post(
                        &format!("/api/workspaces/{ws}/posts/validate"),
                        Some(t),
                        json!({ "caption": "x" }),
                    )
                    .await
                }
                "post.create" => {
                    app.post(
                        &format!("/api/workspaces/{ws}/posts"),
                        Some(t),
                        json!({ "title": role }),
                    )
                    .await
                }
                "post.edit" => {
                    app.put(
                        &format!("/api/posts/{shared}"),
                        t,
                        json!({ "labels": [role] }),
                    )
                    .await
                }
                "post.duplicate" => {
                    app.post(
                        &format!("/api/posts/{shared}/duplicate"),
                        Some(t),
                        json!({}),
                    )
                    .await
                }
                "post.delete" => app.delete(&format!("/api/posts/{victim}"), t).await,
                other => unreachable!("{other}"),
            };
            let status = r.status();
            let expect_allowed = allowed[i];
            if expect_allowed {
                assert!(
                    status.is_success(),
                    "{role} should be allowed {action}, got {status}"
                );
            } else {
                let expected = if *action == "post.view_internal" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(status, expected, "{role} must be denied {action}");
                assert!(body(r).await["error"]["code"].is_string());
            }
        }
    }

    // Clients list only what is shared with them.
    let client = &sessions[5];
    let page = body(
        app.get(
            &format!("/api/workspaces/{ws}/posts?limit=100"),
            &client.access,
        )
        .await,
    )
    .await;
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["client_visible"] == true));
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["id"] != internal));
}
