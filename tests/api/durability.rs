//! A SIGKILL right after a second client has seen an edit loses nothing: the edit was in
//! the update log before anyone was sent it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::yclient::YClient;

fn start(dir: &Path) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_copydesk"));
    cmd.arg("serve")
        .current_dir(dir)
        .env("COPYDESK__SERVER__PORT", "0")
        .env("COPYDESK__STATIC__DIR", dir.join("no-web"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if is_postgres() {
        // The same database across the restart: one created for this test.
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
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

async fn outbox_token(dir: &Path) -> String {
    let mail = dir.join("data/mail");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(entries) = std::fs::read_dir(&mail) {
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if let Some(i) = text.find("verify-email?token=") {
                    let rest = &text[i + "verify-email?token=".len()..];
                    return rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                }
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
async fn sigkill_after_an_edit_was_seen_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    if is_postgres() {
        std::fs::write(dir.path().join("db-url"), fresh_postgres_url().await).unwrap();
    }
    let (mut server, addr) = start(dir.path());
    let http = crate::helpers::http_client();
    let e = email("crash");
    http.post(format!("{addr}/api/auth/register"))
        .json(&json!({ "email": e, "password": PASSWORD, "name": "Crash" }))
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
    let ws: serde_json::Value = http
        .post(format!("{addr}/api/workspaces"))
        .bearer_auth(&access)
        .json(&json!({ "name": "Crash" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let post: serde_json::Value = http
        .post(format!(
            "{addr}/api/workspaces/{}/posts",
            ws["id"].as_str().unwrap()
        ))
        .bearer_auth(&access)
        .json(&json!({ "caption": "Before" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let post_id = post["id"].as_str().unwrap().to_string();

    let mut a = YClient::connect(&addr, &post_id, &ticket_at(&http, &addr, &access).await).await;
    let mut b = YClient::connect(&addr, &post_id, &ticket_at(&http, &addr, &access).await).await;
    a.append(" and after").await;
    b.until(|c| c.caption() == "Before and after").await;

    // The moment B has seen it: SIGKILL, no chance to flush anything.
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut again, addr2) = start(dir.path());
    let c = YClient::connect(&addr2, &post_id, &ticket_at(&http, &addr2, &access).await).await;
    assert_eq!(c.caption(), "Before and after");
    again.kill().unwrap();
    let _ = again.wait();
}
