//! Comments: threads and replies, mentions and their notification events, resolve and
//! reopen, reactions, author-only edits, deletion, client visibility, anchors, and
//! workspace scoping.

use copydesk::store::entities::{audit_log, comment_reactions, comments, events};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::helpers::*;

struct Team {
    app: TestApp,
    ws: String,
    admin: Session,
    creator: Session,
    reviewer: Session,
    client: Session,
    /// Shared with clients.
    post: String,
}

async fn team() -> Team {
    let app = spawn_app().await;
    let admin = app.register_verified(&email("admin"), "Ada Admin").await;
    let ws = app.create_workspace(&admin, "Comments").await;
    let creator = app.member_with_role(&admin, &ws, "content_creator").await;
    let reviewer = app.member_with_role(&admin, &ws, "reviewer").await;
    let client = app.member_with_role(&admin, &ws, "client").await;
    let p = app
        .create_post(
            &admin,
            &ws,
            json!({ "title": "Launch", "caption": "We launch today", "client_visible": true }),
        )
        .await;
    let post = p["id"].as_str().unwrap().to_string();
    Team {
        app,
        ws,
        admin,
        creator,
        reviewer,
        client,
        post,
    }
}

impl Team {
    async fn comment(&self, s: &Session, body: Value) -> reqwest::Response {
        self.app
            .post(
                &format!("/api/posts/{}/comments", self.post),
                Some(&s.access),
                body,
            )
            .await
    }

    /// Posts a comment that must succeed; returns it.
    async fn ok_comment(&self, s: &Session, body: Value) -> Value {
        let r = self.comment(s, body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        crate::helpers::body(r).await
    }

    async fn list(&self, s: &Session) -> Vec<Value> {
        let r = self
            .app
            .get(&format!("/api/posts/{}/comments", self.post), &s.access)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await["items"].as_array().unwrap().clone()
    }

    /// This workspace's outbox events of one type, oldest first.
    async fn events(&self, event_type: &str) -> Vec<events::Model> {
        events::Entity::find()
            .filter(events::Column::WorkspaceId.eq(self.ws.parse::<uuid::Uuid>().unwrap()))
            .filter(events::Column::EventType.eq(event_type))
            .order_by_asc(events::Column::Seq)
            .all(&self.app.db)
            .await
            .unwrap()
    }
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn field_error(b: &Value, field: &str) -> String {
    b["error"]["details"]["fields"][field]
        .as_str()
        .unwrap_or_else(|| panic!("no error for {field}: {b}"))
        .to_string()
}

#[actix_web::test]
async fn threads_and_replies_and_a_reply_to_a_reply_joins_the_root() {
    let t = team().await;
    let root = t
        .ok_comment(&t.admin, json!({ "body": "  Can we shorten this?  " }))
        .await;
    assert_eq!(root["body"], "Can we shorten this?", "trimmed");
    assert_eq!(root["parent_id"], Value::Null);
    assert_eq!(root["visibility"], "internal", "the team's default");
    assert_eq!(root["post_id"], t.post.as_str());
    assert_eq!(root["workspace_id"], t.ws.as_str());
    assert_eq!(
        root["author"],
        json!({ "id": t.admin.user_id, "name": "Ada Admin" })
    );
    assert_eq!(root["mentions"], json!([]));
    assert_eq!(root["reactions"], json!([]));
    assert_eq!(root["resolved_at"], Value::Null);
    assert_eq!(root["edited_at"], Value::Null);

    let reply = t
        .ok_comment(&t.creator, json!({ "body": "Yes", "parent_id": id(&root) }))
        .await;
    assert_eq!(reply["parent_id"], id(&root));
    let nested = t
        .ok_comment(
            &t.reviewer,
            json!({ "body": "Agreed", "parent_id": id(&reply) }),
        )
        .await;
    assert_eq!(
        nested["parent_id"],
        id(&root),
        "replies are one level deep: a reply to a reply joins the root's thread"
    );
    let second = t
        .ok_comment(&t.reviewer, json!({ "body": "Another" }))
        .await;

    let items = t.list(&t.admin).await;
    let ids: Vec<&str> = items.iter().map(id).collect();
    assert_eq!(
        ids,
        [id(&root), id(&reply), id(&nested), id(&second)],
        "flat, oldest first"
    );
    assert_eq!(items[2]["author"]["name"], "reviewer");

    // A parent must be a comment on this post.
    let other = t
        .app
        .create_post(&t.admin, &t.ws, json!({ "title": "Other" }))
        .await;
    let elsewhere = t
        .app
        .post(
            &format!("/api/posts/{}/comments", id(&other)),
            Some(&t.admin.access),
            json!({ "body": "x" }),
        )
        .await;
    let elsewhere = body(elsewhere).await;
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "x", "parent_id": id(&elsewhere) }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    field_error(&b, "parent_id");
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "x", "parent_id": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;

    // Body bounds.
    for bad in [json!(""), json!("   "), json!("x".repeat(10_001))] {
        let r = t.comment(&t.admin, json!({ "body": bad })).await;
        let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        field_error(&b, "body");
    }
    t.ok_comment(&t.admin, json!({ "body": "x".repeat(10_000) }))
        .await;
    let r = t
        .comment(&t.admin, json!({ "body": "x", "colour": "red" }))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_body").await;

    // Every change wrote its event and its audit row.
    let created = t.events("comment.created").await;
    assert_eq!(created.len(), 6);
    assert_eq!(created[0].data["comment_id"], id(&root));
    assert_eq!(created[0].data["post_id"], t.post.as_str());
    assert_eq!(created[0].data["visibility"], "internal");
    assert_eq!(created[0].data["comment"]["body"], "Can we shorten this?");
    let audits = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("comment.created"))
        .count(&t.app.db)
        .await
        .unwrap();
    assert_eq!(audits, 6);
}

#[actix_web::test]
async fn mentions_notify_each_member_and_refuse_outsiders() {
    let t = team().await;
    let c = t
        .ok_comment(
            &t.admin,
            json!({ "body": "@creator @reviewer please look", "mentions": [t.creator.user_id, t.reviewer.user_id, t.creator.user_id] }),
        )
        .await;
    assert_eq!(
        c["mentions"],
        json!([t.creator.user_id, t.reviewer.user_id]),
        "deduplicated, in order"
    );
    let mentioned = t.events("comment.mentioned").await;
    assert_eq!(mentioned.len(), 2, "one notification event per person");
    for (ev, who) in mentioned.iter().zip([&t.creator, &t.reviewer]) {
        assert_eq!(ev.data["user_id"], who.user_id.as_str());
        assert_eq!(ev.data["by"], t.admin.user_id.as_str());
        assert_eq!(ev.data["comment_id"], id(&c));
        assert_eq!(ev.data["post_id"], t.post.as_str());
        assert_eq!(ev.data["visibility"], "internal");
        assert_eq!(
            ev.actor_id.map(|a| a.to_string()),
            Some(t.admin.user_id.clone())
        );
    }

    // Someone outside the workspace cannot be mentioned; nothing is written.
    let outsider = t.app.register_verified(&email("out"), "Outsider").await;
    let before = events::Entity::find().count(&t.app.db).await.unwrap();
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "hi", "mentions": [outsider.user_id] }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(field_error(&b, "mentions").contains("not a member"));
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "hi", "mentions": [uuid::Uuid::new_v4()] }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    // Nor someone who could not read the comment: a client, on an internal one.
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "hi", "visibility": "internal", "mentions": [t.client.user_id] }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert!(field_error(&b, "mentions").contains("cannot see"));
    assert_eq!(
        events::Entity::find().count(&t.app.db).await.unwrap(),
        before
    );
    // On a client-visible comment, clients can be mentioned, and can mention.
    let shared = t
        .ok_comment(
            &t.admin,
            json!({ "body": "for you", "visibility": "client", "mentions": [t.client.user_id] }),
        )
        .await;
    t.ok_comment(
        &t.client,
        json!({ "body": "thanks", "parent_id": id(&shared), "mentions": [t.admin.user_id] }),
    )
    .await;
    assert_eq!(t.events("comment.mentioned").await.len(), 4);

    // Editing notifies only the newly mentioned.
    let r = t
        .app
        .put(
            &format!("/api/comments/{}", id(&c)),
            &t.admin.access,
            json!({ "body": "@reviewer @admin please look", "mentions": [t.reviewer.user_id, t.admin.user_id] }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let edited = body(r).await;
    assert_eq!(
        edited["mentions"],
        json!([t.reviewer.user_id, t.admin.user_id])
    );
    let mentioned = t.events("comment.mentioned").await;
    assert_eq!(mentioned.len(), 5);
    assert_eq!(mentioned[4].data["user_id"], t.admin.user_id.as_str());
    // Leaving mentions out keeps them.
    let r = t
        .app
        .put(
            &format!("/api/comments/{}", id(&c)),
            &t.admin.access,
            json!({ "body": "again" }),
        )
        .await;
    assert_eq!(body(r).await["mentions"], edited["mentions"]);
    assert_eq!(t.events("comment.mentioned").await.len(), 5);
}

#[actix_web::test]
async fn resolve_and_reopen_threads() {
    let t = team().await;
    let root = t
        .ok_comment(
            &t.admin,
            json!({ "body": "Fix the typo", "visibility": "client" }),
        )
        .await;
    let reply = t
        .ok_comment(
            &t.creator,
            json!({ "body": "Done", "parent_id": id(&root) }),
        )
        .await;
    let path = |what: &str| format!("/api/comments/{}/{what}", id(&root));

    let r = t
        .app
        .post(&path("resolve"), Some(&t.creator.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let resolved = body(r).await;
    assert!(resolved["resolved_at"].is_string());
    assert_eq!(resolved["resolved_by"], t.creator.user_id.as_str());
    // Idempotent: resolving again changes and records nothing.
    let again = body(
        t.app
            .post(&path("resolve"), Some(&t.admin.access), json!({}))
            .await,
    )
    .await;
    assert_eq!(again["resolved_at"], resolved["resolved_at"]);
    assert_eq!(again["resolved_by"], t.creator.user_id.as_str());
    assert_eq!(t.events("comment.resolved").await.len(), 1);

    // Only a thread's root is resolved.
    let r = t
        .app
        .post(
            &format!("/api/comments/{}/resolve", id(&reply)),
            Some(&t.admin.access),
            json!({}),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "not_thread_root").await;

    // Clients comment, so they resolve and reopen what they can see.
    let r = t
        .app
        .post(&path("reopen"), Some(&t.client.access), json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let reopened = body(r).await;
    assert_eq!(reopened["resolved_at"], Value::Null);
    assert_eq!(reopened["resolved_by"], Value::Null);
    let evs = t.events("comment.reopened").await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].data["comment"]["resolved_at"], Value::Null);
    assert_eq!(evs[0].data["visibility"], "client");
    let listed = t.list(&t.admin).await;
    assert_eq!(listed[0]["resolved_at"], Value::Null);
}

#[actix_web::test]
async fn reactions_are_idempotent_and_counted() {
    let t = team().await;
    let c = t
        .ok_comment(
            &t.admin,
            json!({ "body": "Ship it?", "visibility": "client" }),
        )
        .await;
    let react = |s: &Session, emoji: &str, add: bool| {
        let path = format!("/api/comments/{}/reactions/{emoji}", id(&c));
        let token = s.access.clone();
        let app = &t.app;
        async move {
            if add {
                app.put(&path, &token, json!({})).await
            } else {
                app.delete(&path, &token).await
            }
        }
    };
    let r = react(&t.admin, "👍", true).await;
    assert_eq!(r.status(), StatusCode::OK);
    react(&t.admin, "👍", true).await;
    react(&t.client, "👍", true).await;
    let r = react(&t.reviewer, "%F0%9F%8E%89", true).await; // 🎉, encoded by hand
    let v = body(r).await;
    assert_eq!(
        v["reactions"],
        json!([
            { "emoji": "👍", "count": 2, "user_ids": [t.admin.user_id, t.client.user_id] },
            { "emoji": "🎉", "count": 1, "user_ids": [t.reviewer.user_id] },
        ])
    );
    assert_eq!(
        t.events("comment.reaction_added").await.len(),
        3,
        "a repeated add records nothing"
    );

    let v = body(react(&t.admin, "👍", false).await).await;
    assert_eq!(v["reactions"][0]["count"], 1);
    assert_eq!(v["reactions"][0]["user_ids"], json!([t.client.user_id]));
    let r = react(&t.admin, "👍", false).await;
    assert_eq!(r.status(), StatusCode::OK, "removing twice is fine");
    let removed = t.events("comment.reaction_removed").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].data["emoji"], "👍");
    assert_eq!(removed[0].data["user_id"], t.admin.user_id.as_str());

    let long = "a".repeat(17);
    for bad in ["a%20b", "x%0A", long.as_str()] {
        let r = react(&t.admin, bad, true).await;
        let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        field_error(&b, "emoji");
    }
    let listed = t.list(&t.client).await;
    assert_eq!(listed[0]["reactions"][1]["emoji"], "🎉");
}

#[actix_web::test]
async fn only_the_author_edits_a_comment() {
    let t = team().await;
    let c = t
        .ok_comment(&t.creator, json!({ "body": "Draft note" }))
        .await;
    let path = format!("/api/comments/{}", id(&c));
    for other in [&t.admin, &t.reviewer] {
        let r = t
            .app
            .put(&path, &other.access, json!({ "body": "hijack" }))
            .await;
        assert_error(r, StatusCode::FORBIDDEN, "not_author").await;
    }
    let r = t
        .app
        .put(&path, &t.creator.access, json!({ "body": "" }))
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    let r = t
        .app
        .put(&path, &t.creator.access, json!({ "body": "Final note" }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v = body(r).await;
    assert_eq!(v["body"], "Final note");
    assert!(v["edited_at"].is_string());
    assert_ne!(v["updated_at"], c["updated_at"]);
    assert_eq!(v["created_at"], c["created_at"]);
    let evs = t.events("comment.updated").await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].data["comment"]["body"], "Final note");
}

#[actix_web::test]
async fn deleting_a_root_removes_its_replies() {
    let t = team().await;
    let root = t.ok_comment(&t.creator, json!({ "body": "Thread" })).await;
    let r1 = t
        .ok_comment(&t.admin, json!({ "body": "r1", "parent_id": id(&root) }))
        .await;
    let r2 = t
        .ok_comment(&t.reviewer, json!({ "body": "r2", "parent_id": id(&root) }))
        .await;
    let keep = t
        .ok_comment(&t.reviewer, json!({ "body": "Elsewhere" }))
        .await;
    t.app
        .put(
            &format!("/api/comments/{}/reactions/👍", id(&r1)),
            &t.admin.access,
            json!({}),
        )
        .await;

    // The reviewer may delete their own reply, not others' comments.
    let r = t
        .app
        .delete(&format!("/api/comments/{}", id(&root)), &t.reviewer.access)
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let r = t
        .app
        .delete(&format!("/api/comments/{}", id(&r2)), &t.reviewer.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // An admin (who may delete posts) deletes someone else's thread, replies included.
    let r = t
        .app
        .delete(&format!("/api/comments/{}", id(&root)), &t.admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let left: Vec<Value> = t.list(&t.admin).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], id(&keep));
    assert_eq!(comments::Entity::find().count(&t.app.db).await.unwrap(), 1);
    assert_eq!(
        comment_reactions::Entity::find()
            .count(&t.app.db)
            .await
            .unwrap(),
        0,
        "reactions go with their comments"
    );
    let r = t
        .app
        .put(
            &format!("/api/comments/{}", id(&r1)),
            &t.admin.access,
            json!({ "body": "gone?" }),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let deleted = t.events("comment.deleted").await;
    assert_eq!(deleted.len(), 2);
    assert_eq!(deleted[1].data["comment_id"], id(&root));
    assert_eq!(deleted[1].data["reply_ids"], json!([id(&r1)]));

    // Deleting the post deletes its comments.
    let r = t
        .app
        .delete(&format!("/api/posts/{}", t.post), &t.admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(comments::Entity::find().count(&t.app.db).await.unwrap(), 0);
}

#[actix_web::test]
async fn clients_see_and_post_only_client_comments() {
    let t = team().await;
    let internal = t
        .ok_comment(&t.admin, json!({ "body": "Internal only" }))
        .await;
    let shared = t
        .ok_comment(
            &t.admin,
            json!({ "body": "For the client", "visibility": "client" }),
        )
        .await;
    let team_reply = t
        .ok_comment(
            &t.creator,
            json!({ "body": "re", "parent_id": id(&shared) }),
        )
        .await;
    assert_eq!(
        team_reply["visibility"], "client",
        "a reply inherits its thread's"
    );

    let seen = t.list(&t.client).await;
    let ids: Vec<&str> = seen.iter().map(id).collect();
    assert_eq!(ids, [id(&shared), id(&team_reply)]);
    assert_eq!(t.list(&t.reviewer).await.len(), 3);

    // Clients post client-visible comments only; that is their default.
    let r = t
        .comment(
            &t.client,
            json!({ "body": "psst", "visibility": "internal" }),
        )
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
    let mine = t
        .ok_comment(&t.client, json!({ "body": "Looks good" }))
        .await;
    assert_eq!(mine["visibility"], "client");
    // An internal comment does not exist for a client: not as a parent, not by id.
    let r = t
        .comment(
            &t.client,
            json!({ "body": "re", "parent_id": id(&internal) }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    field_error(&b, "parent_id");
    let ip = |what: &str| format!("/api/comments/{}{what}", id(&internal));
    for r in [
        t.app
            .put(&ip(""), &t.client.access, json!({ "body": "x" }))
            .await,
        t.app.delete(&ip(""), &t.client.access).await,
        t.app
            .post(&ip("/resolve"), Some(&t.client.access), json!({}))
            .await,
        t.app
            .put(&ip("/reactions/👍"), &t.client.access, json!({}))
            .await,
    ] {
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    // A reply cannot change its thread's visibility.
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "re", "parent_id": id(&shared), "visibility": "internal" }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    field_error(&b, "visibility");

    // A post not shared with clients: its comments are not theirs either.
    let hidden = t
        .app
        .create_post(&t.admin, &t.ws, json!({ "title": "Internal post" }))
        .await;
    let r = t
        .app
        .get(
            &format!("/api/posts/{}/comments", id(&hidden)),
            &t.client.access,
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = t
        .app
        .post(
            &format!("/api/posts/{}/comments", id(&hidden)),
            Some(&t.client.access),
            json!({ "body": "hi" }),
        )
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // ... nor can they be mentioned there.
    let r = t
        .app
        .post(
            &format!("/api/posts/{}/comments", id(&hidden)),
            Some(&t.admin.access),
            json!({ "body": "hi", "visibility": "client", "mentions": [t.client.user_id] }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;

    // A client comment on a post not shared yet is there for when it is.
    let early = t
        .app
        .post(
            &format!("/api/posts/{}/comments", id(&hidden)),
            Some(&t.admin.access),
            json!({ "body": "for later", "visibility": "client" }),
        )
        .await;
    assert_eq!(early.status(), StatusCode::CREATED);
    assert_eq!(body(early).await["visibility"], "client");

    // Every comment event says whose eyes it is for: `data.visibility` is "client" only for
    // a client comment on a post shared with clients.
    let created = t.events("comment.created").await;
    let vis: Vec<(&str, &str)> = created
        .iter()
        .map(|e| {
            (
                e.data["visibility"].as_str().unwrap(),
                e.data["comment"]["visibility"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        vis,
        [
            ("internal", "internal"),
            ("client", "client"),
            ("client", "client"),
            ("client", "client"),
            ("internal", "client"),
        ]
    );
}

#[actix_web::test]
async fn other_workspaces_answer_404() {
    let t = team().await;
    let c = t
        .ok_comment(&t.admin, json!({ "body": "ours", "visibility": "client" }))
        .await;
    let stranger = t
        .app
        .register_verified(&email("stranger"), "Stranger")
        .await;
    t.app.create_workspace(&stranger, "Theirs").await;
    let post = format!("/api/posts/{}/comments", t.post);
    let cp = |what: &str| format!("/api/comments/{}{what}", id(&c));
    for r in [
        t.app.get(&post, &stranger.access).await,
        t.app
            .post(&post, Some(&stranger.access), json!({ "body": "hi" }))
            .await,
        t.app
            .put(&cp(""), &stranger.access, json!({ "body": "x" }))
            .await,
        t.app.delete(&cp(""), &stranger.access).await,
        t.app
            .post(&cp("/resolve"), Some(&stranger.access), json!({}))
            .await,
        t.app
            .post(&cp("/reopen"), Some(&stranger.access), json!({}))
            .await,
        t.app
            .put(&cp("/reactions/👍"), &stranger.access, json!({}))
            .await,
        t.app.delete(&cp("/reactions/👍"), &stranger.access).await,
        t.app
            .get(
                &format!("/api/posts/{}/comments", uuid::Uuid::new_v4()),
                &t.admin.access,
            )
            .await,
        t.app
            .put(
                &format!("/api/comments/{}", uuid::Uuid::new_v4()),
                &t.admin.access,
                json!({ "body": "x" }),
            )
            .await,
    ] {
        assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    }
    let r = t.app.client.get(t.app.url(&post)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(t.list(&t.admin).await[0]["body"], "ours");
}

#[actix_web::test]
async fn anchors_are_validated_and_stored_opaquely() {
    let t = team().await;
    // What `Y.encodeRelativePosition` gives, base64-encoded by the browser.
    let start = "AQHX5/DyDgAA";
    let end = "AQHX5/DyDgUA";
    let good =
        json!({ "field": "content:linkedin", "start": start, "end": end, "quote": "launch today" });
    let c = t
        .ok_comment(&t.admin, json!({ "body": "This phrase", "anchor": good }))
        .await;
    assert_eq!(c["anchor"], good);
    assert_eq!(t.list(&t.admin).await[0]["anchor"], good);
    let plain = t.ok_comment(&t.admin, json!({ "body": "No anchor" })).await;
    assert_eq!(plain["anchor"], Value::Null);

    let cases = [
        (
            json!({ "field": "hashtags", "start": start, "end": end }),
            "anchor.field",
        ),
        (
            json!({ "field": "content:myspace", "start": start, "end": end }),
            "anchor.field",
        ),
        (
            json!({ "field": "caption", "start": "not base64!", "end": end }),
            "anchor.start",
        ),
        (
            json!({ "field": "caption", "start": start, "end": "" }),
            "anchor.end",
        ),
        (
            json!({ "field": "caption", "start": "A".repeat(1_028), "end": end }),
            "anchor.start",
        ),
        (
            json!({ "field": "title", "start": start, "end": end, "quote": "q".repeat(501) }),
            "anchor.quote",
        ),
    ];
    for (anchor, field) in cases {
        let r = t
            .comment(&t.admin, json!({ "body": "x", "anchor": anchor }))
            .await;
        let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
        field_error(&b, field);
    }
    // Several problems are reported together.
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "", "anchor": { "field": "nope", "start": "!", "end": "!" } }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    for f in ["body", "anchor.field", "anchor.start", "anchor.end"] {
        field_error(&b, f);
    }
    // Replies are not anchored; anchors have no other keys.
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "x", "parent_id": id(&c), "anchor": good }),
        )
        .await;
    let b = assert_error(r, StatusCode::BAD_REQUEST, "validation_failed").await;
    field_error(&b, "anchor");
    let r = t
        .comment(
            &t.admin,
            json!({ "body": "x", "anchor": { "field": "caption", "start": start, "end": end, "index": 3 } }),
        )
        .await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_body").await;
}
