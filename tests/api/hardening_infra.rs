//! Issue 6, the server around the API: key files and mail outbox files are private (0600)
//! and wider key files are refused; CSP names the server's own WebSocket origin; deleting a
//! post or workspace under live editors unloads their sessions, and shutdown has a deadline.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::yclient::YClient;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn key_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect()
}

/// Settings for a server built directly in this process on `dir` (SQLite there).
fn local_settings(dir: &Path) -> copydesk::config::Settings {
    let mut s = copydesk::config::Settings::default();
    s.server.port = 0;
    s.server.workers = Some(1);
    s.database.data_dir = dir.to_path_buf();
    s.database.url = Some(copydesk::config::Secret::new(format!(
        "sqlite://{}?mode=rwc",
        dir.join("keys-test.db").display()
    )));
    s.static_files.dir = dir.join("no-web");
    s.log.level = "warn".into();
    s
}

#[actix_web::test]
async fn generated_key_files_are_private() {
    let app = spawn_app().await;
    let keys = key_files(&app.data_dir);
    assert!(
        keys.len() >= 2,
        "the JWT and encryption keys were generated into the data directory: {:?}",
        files_under(&app.data_dir)
    );
    for k in keys {
        assert_eq!(mode(&k), 0o600, "{}", k.display());
    }
}

#[actix_web::test]
async fn a_key_file_others_can_read_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    // A first start generates the keys.
    let app = copydesk::startup::Application::build_with(local_settings(dir.path()), None, None)
        .await
        .expect("first start");
    drop(app);
    let keys = key_files(dir.path());
    assert!(!keys.is_empty(), "{:?}", files_under(dir.path()));
    for k in &keys {
        std::fs::set_permissions(k, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = match copydesk::startup::Application::build_with(
            local_settings(dir.path()),
            None,
            None,
        )
        .await
        {
            Ok(_) => panic!("started with {} readable by others", k.display()),
            Err(e) => format!("{e:#}"),
        };
        let name = k.file_name().unwrap().to_string_lossy().to_string();
        assert!(err.contains(&name), "names the file: {err}");
        assert!(err.contains("644"), "names the mode: {err}");
        std::fs::set_permissions(k, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Put right, it starts again.
    copydesk::startup::Application::build_with(local_settings(dir.path()), None, None)
        .await
        .expect("starts with 0600 keys");
}

#[actix_web::test]
async fn outbox_mail_files_are_private() {
    let app = spawn_app_with(|s| {
        s.smtp.host = None;
        s.mail.outbox_dir = Some(s.database.data_dir.join("outbox"));
    })
    .await;
    let e = email("outbox");
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": e, "password": PASSWORD, "name": "Out" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let outbox = app.data_dir.join("outbox");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let files = loop {
        let f: Vec<PathBuf> = files_under(&outbox)
            .into_iter()
            .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(&e)))
            .collect();
        if !f.is_empty() {
            break f;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no mail in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

fn connect_src(app_csp: &str) -> Vec<String> {
    app_csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("connect-src"))
        .unwrap_or_else(|| panic!("no connect-src in {app_csp}"))
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

#[actix_web::test]
async fn csp_allows_websockets_to_the_servers_own_origin_only() {
    let app =
        spawn_app_with(|s| s.server.public_url = Some("https://copydesk.example.com".into())).await;
    let r = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let sources = connect_src(&csp);
    assert!(sources.contains(&"'self'".to_string()), "{csp}");
    assert!(
        sources.contains(&"wss://copydesk.example.com".to_string()),
        "{csp}"
    );
    for wide in ["ws:", "wss:", "*", "https:", "http:"] {
        assert!(!sources.contains(&wide.to_string()), "{wide} in {csp}");
    }

    // Without a public URL, the origin it listens on.
    let local = spawn_app().await;
    let r = local
        .client
        .get(local.url("/health/live"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let sources = connect_src(&csp);
    let own = local.addr.replacen("http", "ws", 1);
    assert!(sources.contains(&own), "{own} in {csp}");
    assert!(!sources.contains(&"ws:".to_string()), "{csp}");
}

// ---------------------------------------------------------------------------------------
// Deleting under live editors, then SIGTERM

fn start(dir: &Path) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_copydesk"));
    cmd.arg("serve")
        .current_dir(dir)
        .env("COPYDESK__SERVER__PORT", "0")
        .env("COPYDESK__SERVER__SHUTDOWN_TIMEOUT_SECS", "5")
        .env("COPYDESK__STATIC__DIR", dir.join("no-web"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if is_postgres() {
        cmd.env(
            "COPYDESK__DATABASE__URL",
            std::fs::read_to_string(dir.join("db-url")).unwrap(),
        );
    }
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let addr = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if line.contains("\"listening\"") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            break format!("http://{}", v["addr"].as_str().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

async fn outbox_token(dir: &Path) -> String {
    let mail = dir.join("data/mail");
    let marker = "verify-email?token=";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        for f in files_under(&mail) {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if let Some(i) = text.find(marker) {
                return text[i + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no verification email in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn deleting_under_live_editors_unloads_and_sigterm_still_ends_in_time() {
    let dir = tempfile::tempdir().unwrap();
    if is_postgres() {
        std::fs::write(dir.path().join("db-url"), fresh_postgres_url().await).unwrap();
    }
    let (mut server, addr) = start(dir.path());
    let http = crate::helpers::http_client();
    let e = email("deleter");
    http.post(format!("{addr}/api/auth/register"))
        .json(&json!({ "email": e, "password": PASSWORD, "name": "Deleter" }))
        .send()
        .await
        .unwrap();
    let token = outbox_token(dir.path()).await;
    let auth: serde_json::Value = http
        .post(format!("{addr}/api/auth/verify-email"))
        .json(&json!({ "token": token, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = auth["access_token"].as_str().unwrap().to_string();
    let new_post = |ws: String| {
        let http = http.clone();
        let addr = addr.clone();
        let access = access.clone();
        async move {
            let p: serde_json::Value = http
                .post(format!("{addr}/api/workspaces/{ws}/posts"))
                .bearer_auth(&access)
                .json(&json!({ "caption": "Doomed" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            p["id"].as_str().unwrap().to_string()
        }
    };
    let mut workspaces = Vec::new();
    for name in ["Keeps", "Goes"] {
        let ws: serde_json::Value = http
            .post(format!("{addr}/api/workspaces"))
            .bearer_auth(&access)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        workspaces.push(ws["id"].as_str().unwrap().to_string());
    }
    let post = new_post(workspaces[0].clone()).await;
    let other = new_post(workspaces[1].clone()).await;

    // Editors keep typing while the post, then the workspace, is deleted under them.
    for (target, delete_url) in [
        (post.clone(), format!("{addr}/api/posts/{post}")),
        (
            other.clone(),
            format!("{addr}/api/workspaces/{}", workspaces[1]),
        ),
    ] {
        let mut a = YClient::connect(&addr, &target, &ticket_at(&http, &addr, &access).await).await;
        let mut b = YClient::connect(&addr, &target, &ticket_at(&http, &addr, &access).await).await;
        a.append(" typing").await;
        b.until(|c| c.caption().ends_with("typing")).await;
        let typing = async {
            for i in 0..500 {
                a.append(&format!(" {i}")).await;
                a.round_trip().await;
                if a.closed.is_some() {
                    break;
                }
            }
            a.until_closed().await
        };
        let delete = async {
            let r = http
                .delete(&delete_url)
                .bearer_auth(&access)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        };
        let (closed, ()) = tokio::join!(typing, delete);
        assert_eq!(closed.0, 4403, "{delete_url}");
        assert_eq!(b.until_closed().await.0, 4403, "{delete_url}");
        // Gone for good: a new editor cannot open it.
        let t = ticket_at(&http, &addr, &access).await;
        assert!(YClient::try_connect(&addr, &target, &t).await.is_err());
    }

    // SIGTERM: the server stops within its shutdown deadline (5 s) — give it generous room,
    // but not forever.
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let _ = server.kill();
            panic!("the server did not stop after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
