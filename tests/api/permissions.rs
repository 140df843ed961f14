//! Every role × every action, over HTTP, against an expected matrix written out here
//! independently of the permission table in `src/roles.rs`. An allowed action is checked
//! by its effect (the resource is read back), a denied one by its absence.

use reqwest::StatusCode;
use serde_json::{json, Value};

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
    (
        "members.change_role",
        [true, true, false, false, false, false],
    ),
    ("members.remove", [true, true, false, false, false, false]),
    ("post.view_internal", [true, true, true, true, true, false]),
    ("post.view_shared", [true, true, true, true, true, true]),
    ("post.list", [true, true, true, true, true, true]),
    ("post.validate", [true, true, true, true, true, false]),
    ("post.create", [true, true, true, true, false, false]),
    ("post.edit", [true, true, true, true, false, false]),
    ("post.duplicate", [true, true, true, true, false, false]),
    ("post.delete", [true, true, true, false, false, false]),
    ("version.create", [true, true, true, true, false, false]),
    ("version.restore", [true, true, true, true, false, false]),
];

fn ids(v: &Value, key: &str, field: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is a list: {v}"))
        .iter()
        .map(|x| x[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[actix_web::test]
async fn every_role_times_every_action() {
    let app = spawn_app().await;
    // The instance's super admin (made with the setup token) is not a member of the workspace.
    let sa = app.super_admin().await;
    let admin = app.register_verified(&email("wa"), "Admin").await;
    let ws = app.create_workspace(&admin, "Matrix").await;
    let mut sessions = vec![sa, admin];
    for role in &ROLES[2..] {
        let s = app.member_with_role(&sessions[1], &ws, role).await;
        sessions.push(s);
    }
    let admin = sessions[1].clone();
    let a = &admin.access;
    let internal = app
        .create_post(
            &admin,
            &ws,
            json!({ "title": "internal", "caption": "c", "platforms": ["x"] }),
        )
        .await;
    let shared = app
        .create_post(&admin, &ws, json!({ "title": "shared", "caption": "c", "platforms": ["x"], "client_visible": true }))
        .await;
    let (internal, shared) = (
        internal["id"].as_str().unwrap().to_string(),
        shared["id"].as_str().unwrap().to_string(),
    );

    for (i, role) in ROLES.iter().enumerate() {
        let s = &sessions[i];
        // A workspace of its own where this role holds the same role, to try deleting it.
        let doomed = app
            .create_workspace(&admin, &format!("Doomed {role}"))
            .await;
        if i >= 2 {
            app.add_member(&admin, &doomed, s, role).await;
        }
        let victim = app
            .create_post(
                &admin,
                &ws,
                json!({ "title": "victim", "platforms": ["x"], "client_visible": true }),
            )
            .await;
        let victim = victim["id"].as_str().unwrap().to_string();
        // A member whose role this role tries to change and who it then tries to remove.
        let target = app.member_with_role(&admin, &ws, "content_creator").await;
        // A version of the shared post to restore, and a caption that differs from it.
        let r = app
            .put(
                &format!("/api/posts/{shared}"),
                a,
                json!({ "caption": format!("restore me {i}") }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = app
            .post(
                &format!("/api/posts/{shared}/versions"),
                Some(a),
                json!({ "name": format!("base {i}") }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let base_version = body(r).await["id"].as_str().unwrap().to_string();
        let r = app
            .put(
                &format!("/api/posts/{shared}"),
                a,
                json!({ "caption": format!("changed {i}") }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let invitee = email("invitee");

        for (action, allowed) in MATRIX {
            let t = &s.access;
            let r = match *action {
                "workspace.view" => app.get(&format!("/api/workspaces/{ws}"), t).await,
                "workspace.update" => {
                    app.put(
                        &format!("/api/workspaces/{ws}"),
                        t,
                        json!({ "name": format!("Matrix {role}") }),
                    )
                    .await
                }
                "workspace.delete" => app.delete(&format!("/api/workspaces/{doomed}"), t).await,
                "members.view" => app.get(&format!("/api/workspaces/{ws}/members"), t).await,
                "members.manage" => {
                    let body = json!({ "email": invitee, "role": "reviewer" });
                    app.post(&format!("/api/workspaces/{ws}/members"), Some(t), body)
                        .await
                }
                "members.change_role" => {
                    app.put(
                        &format!("/api/workspaces/{ws}/members/{}", target.user_id),
                        t,
                        json!({ "role": "reviewer" }),
                    )
                    .await
                }
                "members.remove" => {
                    app.delete(
                        &format!("/api/workspaces/{ws}/members/{}", target.user_id),
                        t,
                    )
                    .await
                }
                "post.view_internal" => app.get(&format!("/api/posts/{internal}"), t).await,
                "post.view_shared" => app.get(&format!("/api/posts/{shared}"), t).await,
                "post.list" => {
                    app.get(&format!("/api/workspaces/{ws}/posts?limit=100"), t)
                        .await
                }
                "post.validate" => {
                    app.post(
                        &format!("/api/workspaces/{ws}/posts/validate"),
                        Some(t),
                        json!({ "caption": "x".repeat(300), "platforms": ["x"] }),
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
                "version.create" => {
                    app.post(
                        &format!("/api/posts/{shared}/versions"),
                        Some(t),
                        json!({ "name": format!("by {role}") }),
                    )
                    .await
                }
                "version.restore" => {
                    app.post(
                        &format!("/api/posts/{shared}/versions/{base_version}/restore"),
                        Some(t),
                        json!({}),
                    )
                    .await
                }
                other => unreachable!("{other}"),
            };
            let status = r.status();
            let expect_allowed = allowed[i];
            let b = body(r).await;
            if expect_allowed {
                assert!(
                    status.is_success(),
                    "{role} should be allowed {action}, got {status}: {b}"
                );
            } else {
                let expected = if *action == "post.view_internal" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(status, expected, "{role} must be denied {action}: {b}");
                assert!(b["error"]["code"].is_string());
            }

            // The effect, read back by the workspace admin: there when allowed, absent when
            // denied.
            let what = format!("{role} {action}");
            match *action {
                "workspace.view" => assert_eq!(b["id"], ws.as_str(), "{what}"),
                "workspace.update" => {
                    let w = body(app.get(&format!("/api/workspaces/{ws}"), a).await).await;
                    assert_eq!(
                        w["name"] == format!("Matrix {role}"),
                        expect_allowed,
                        "{what}: {w}"
                    );
                }
                "workspace.delete" => {
                    let st = app
                        .get(&format!("/api/workspaces/{doomed}"), a)
                        .await
                        .status();
                    let gone = st == StatusCode::NOT_FOUND;
                    assert_eq!(gone, expect_allowed, "{what}: {st}");
                }
                "members.view" if expect_allowed => {
                    let members = ids(&b, "members", "user_id");
                    assert!(members.contains(&admin.user_id), "{what}: {b}");
                    assert!(members.contains(&target.user_id), "{what}: {b}");
                }
                "members.manage" => {
                    let m = body(app.get(&format!("/api/workspaces/{ws}/members"), a).await).await;
                    let invited = ids(&m, "invitations", "email").contains(&invitee);
                    assert_eq!(invited, expect_allowed, "{what}: {m}");
                    if expect_allowed {
                        assert_eq!(b["status"], "invited", "{what}: {b}");
                    }
                }
                "members.change_role" => {
                    let m = body(app.get(&format!("/api/workspaces/{ws}/members"), a).await).await;
                    let row = m["members"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|x| x["user_id"] == target.user_id.as_str())
                        .cloned()
                        .unwrap_or(Value::Null);
                    let expected = if expect_allowed {
                        "reviewer"
                    } else {
                        "content_creator"
                    };
                    assert_eq!(row["role"], expected, "{what}: {m}");
                }
                "members.remove" => {
                    let m = body(app.get(&format!("/api/workspaces/{ws}/members"), a).await).await;
                    let still = ids(&m, "members", "user_id").contains(&target.user_id);
                    assert_eq!(still, !expect_allowed, "{what}: {m}");
                }
                "post.view_internal" if expect_allowed => {
                    assert_eq!(b["id"], internal.as_str(), "{what}")
                }
                "post.view_shared" if expect_allowed => {
                    assert_eq!(b["id"], shared.as_str(), "{what}")
                }
                "post.list" if expect_allowed => {
                    assert!(ids(&b, "items", "id").contains(&shared), "{what}: {b}")
                }
                "post.validate" if expect_allowed => {
                    assert_eq!(b["is_valid"], false, "{what}: {b}");
                    assert_eq!(b["validation"]["x"][0]["code"], "too_long", "{what}: {b}");
                }
                "post.create" => {
                    let page = body(
                        app.get(&format!("/api/workspaces/{ws}/posts?limit=100"), a)
                            .await,
                    )
                    .await;
                    let titles: Vec<&str> = page["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|p| p["title"].as_str())
                        .collect();
                    assert_eq!(titles.contains(role), expect_allowed, "{what}: {titles:?}");
                    if expect_allowed {
                        let id = b["id"].as_str().unwrap();
                        let p = body(app.get(&format!("/api/posts/{id}"), a).await).await;
                        assert_eq!(p["title"], *role, "{what}");
                    }
                }
                "post.edit" => {
                    let p = body(app.get(&format!("/api/posts/{shared}"), a).await).await;
                    let has = p["labels"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|x| x == role));
                    assert_eq!(has, expect_allowed, "{what}: {p}");
                }
                "post.duplicate" if expect_allowed => {
                    let id = b["id"].as_str().unwrap();
                    assert_ne!(id, shared, "{what}");
                    let r = app.get(&format!("/api/posts/{id}"), a).await;
                    assert_eq!(r.status(), StatusCode::OK, "{what}");
                }
                "post.delete" => {
                    let st = app.get(&format!("/api/posts/{victim}"), a).await.status();
                    assert_eq!(st == StatusCode::NOT_FOUND, expect_allowed, "{what}: {st}");
                }
                "version.create" => {
                    let list =
                        body(app.get(&format!("/api/posts/{shared}/versions"), a).await).await;
                    let names: Vec<&str> = list["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|v| v["name"].as_str())
                        .collect();
                    let by = format!("by {role}");
                    assert_eq!(
                        names.contains(&by.as_str()),
                        expect_allowed,
                        "{what}: {names:?}"
                    );
                }
                "version.restore" => {
                    let p = body(app.get(&format!("/api/posts/{shared}"), a).await).await;
                    let expected = if expect_allowed {
                        format!("restore me {i}")
                    } else {
                        format!("changed {i}")
                    };
                    assert_eq!(p["caption"], expected.as_str(), "{what}: {p}");
                }
                _ => {}
            }
        }
    }

    // Clients list exactly what is shared with them: every client-visible post (there are
    // some), nothing else.
    let client = &sessions[5];
    let page = body(
        app.get(
            &format!("/api/workspaces/{ws}/posts?limit=100"),
            &client.access,
        )
        .await,
    )
    .await;
    let theirs = ids(&page, "items", "id");
    assert!(theirs.contains(&shared), "{page}");
    assert!(!theirs.contains(&internal), "{page}");
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["client_visible"] == true));
    let all = body(
        app.get(&format!("/api/workspaces/{ws}/posts?limit=100"), a)
            .await,
    )
    .await;
    let mut expected: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["client_visible"] == true)
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let mut got = theirs.clone();
    expected.sort();
    got.sort();
    assert!(expected.len() >= 2, "the walk left shared posts behind");
    assert_eq!(
        got, expected,
        "clients see every shared post and only those"
    );
}
