//! Health, metrics, OpenAPI, security headers, limits, config errors, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn health_endpoints_report_dependencies() {
    let app = spawn_app().await;
    let h = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(h.status(), StatusCode::OK);
    let h = body(h).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["database"]["ok"], true);
    assert_eq!(
        h["redis"].is_object(),
        is_postgres(),
        "redis is checked exactly when configured: {h}"
    );
    for path in ["/health/live", "/health/ready"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = spawn_app().await;
    let s = app.register_verified(&email("m"), "M").await;
    app.get("/api/users/profile", &s.access).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/users/profile""#));
    assert!(text.contains(r#"route="/api/auth/register",status="202""#));
    assert!(text.contains("process_resident_memory_bytes"));
}

#[actix_web::test]
async fn openapi_document_lists_the_api() {
    let app = spawn_app().await;
    let doc = body(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/workspaces/{id}/members/{user_id}",
        "/api/workspaces/{id}/posts",
        "/api/posts/{id}/duplicate",
        "/health",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[actix_web::test]
async fn security_headers_request_ids_and_json_errors() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/nothing-here"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(
        r.headers().get("strict-transport-security").is_none(),
        "no HSTS without TLS"
    );
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // A hostile request id is replaced, not echoed.
    let r = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "a\"b")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "a\"b");

    let tls = spawn_app_with(|s| s.server.behind_tls = true).await;
    let r = tls
        .client
        .get(tls.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
}

#[actix_web::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app_with(|s| s.server.body_limit_bytes = 4096).await;
    let big = "x".repeat(10_000);
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": big, "password": "p" }),
        )
        .await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[actix_web::test]
async fn cors_allows_only_configured_origins() {
    let app =
        spawn_app_with(|s| s.server.cors_allowed_origins = vec!["https://app.example.com".into()])
            .await;
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/login"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/login"))
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn a_bad_setting_stops_the_server_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .arg("serve")
        .current_dir(dir.path())
        .env("COPYDESK__SERVER__PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.port"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .arg("serve")
        .current_dir(dir.path())
        .env("COPYDESK__DATABASE__URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COPYDESK__DATABASE__URL"));
}

#[test]
fn sigterm_shuts_down_gracefully_and_secrets_stay_out_of_logs() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "this-jwt-secret-must-never-appear-in-logs";
    let mut child = Command::new(env!("CARGO_BIN_EXE_copydesk"))
        .arg("serve")
        .current_dir(dir.path())
        .env("COPYDESK__SERVER__PORT", "0")
        .env("COPYDESK__AUTH__JWT_SECRET", secret)
        .env("COPYDESK__LOG__LEVEL", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    // Read until the server says where it listens.
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("\"listening\"") {
            break;
        }
    }
    assert!(log.contains("\"addr\":\"127.0.0.1:"), "{log}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("\"stopped\""), "{log}");
    assert!(!log.contains(secret));
    assert!(
        dir.path().join("data/copydesk.db").exists(),
        "the SQLite file is created on first start"
    );
}
