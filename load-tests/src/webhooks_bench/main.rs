//! Webhook delivery benchmark against a running Copydesk server: a local receiver (plain
//! HTTP/1.1 on 127.0.0.1, keep-alive, answers 200 at once), N endpoints pointing at it, and
//! W writers creating posts (each commits one `post.created` event → one message per
//! endpoint). Reports deliveries per second and the lag from the event's commit (the
//! payload's `timestamp`, stamped in the writing transaction) to its receipt, p50/p99/max,
//! and checks that every message arrived (duplicates counted by `webhook-id`).
//!
//! The server must allow loopback targets: `COPYDESK__OUTBOUND__ALLOWED_NETWORKS=127.0.0.0/8`
//! (`run-webhooks-bench.sh` starts one so). Output: one JSON object on stdout.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Args {
    /// Server base URL, http://host:port.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    /// Endpoints (all subscribed to every event).
    #[arg(long, default_value_t = 1)]
    endpoints: usize,
    /// Posts to create (events).
    #[arg(long, default_value_t = 2000)]
    posts: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// Milliseconds since the epoch of an RFC 3339 UTC time such as 2026-11-30T05:00:00.123Z.
fn rfc3339_ms(s: &str) -> Option<f64> {
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let ss = t.next()?.parse::<f64>().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days as f64 * 86_400.0) + hh * 3600.0 + mm * 60.0 + ss) * 1000.0)
}

#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
    duplicates: u64,
    lags: Vec<f64>,
    last_ms: f64,
}

async fn serve_conn(s: TcpStream, seen: Arc<Mutex<Seen>>) -> anyhow::Result<()> {
    s.set_nodelay(true)?;
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let (mut len, mut id) = (0usize, String::new());
        loop {
            let mut h = String::new();
            r.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "webhook-id" => id = v.trim().to_string(),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        let at = now_ms();
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        {
            let mut s = seen.lock().unwrap();
            if !s.ids.insert(id) {
                s.duplicates += 1;
            } else if let Some(t) = v["timestamp"].as_str().and_then(rfc3339_ms) {
                s.lags.push(at - t);
            }
            s.last_ms = at;
        }
        r.get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

/// One JSON request on a fresh connection.
async fn call(
    server: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let auth = server
        .strip_prefix("http://")
        .context("http:// server URL")?;
    let mut s = TcpStream::connect(auth).await?;
    let b = body.to_string();
    let bearer = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {auth}\r\n{bearer}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}", b.len());
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let json = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // Bodies may be chunked: take the outermost JSON object.
    let start = json.find(['{', '[']).unwrap_or(0);
    let end = json.rfind(['}', ']']).map_or(json.len(), |e| e + 1);
    Ok((
        status,
        serde_json::from_str(&json[start..end]).unwrap_or(Value::Null),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((c, _)) = listener.accept().await {
            let s = s2.clone();
            tokio::spawn(async move {
                let _ = serve_conn(c, s).await;
            });
        }
    });
    let (st, login) = call(
        &a.server,
        "POST",
        "/api/auth/login",
        None,
        &json!({ "email": a.email, "password": a.password }),
    )
    .await?;
    if st != 200 {
        bail!("login answered {st}: {login}");
    }
    let token = login["access_token"]
        .as_str()
        .context("access_token")?
        .to_string();
    let (_, ws) = call(
        &a.server,
        "POST",
        "/api/workspaces",
        Some(&token),
        &json!({ "name": "Webhook bench" }),
    )
    .await?;
    let ws = ws["id"].as_str().context("workspace id")?.to_string();
    for i in 0..a.endpoints {
        let (st, b) = call(&a.server, "POST", &format!("/api/workspaces/{ws}/webhooks"), Some(&token),
            &json!({ "url": format!("http://127.0.0.1:{port}/hook/{i}"), "description": format!("bench {i}") })).await?;
        if st != 201 {
            bail!("creating an endpoint answered {st}: {b}");
        }
    }
    let started = Instant::now();
    let start_ms = now_ms();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..a.writers {
        let (next, server, token, ws, posts) = (
            next.clone(),
            a.server.clone(),
            token.clone(),
            ws.clone(),
            a.posts,
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= posts {
                    return Ok::<_, anyhow::Error>(());
                }
                let (st, b) = call(&server, "POST", &format!("/api/workspaces/{ws}/posts"), Some(&token),
                    &json!({ "title": format!("Bench {i}"), "caption": "Webhook benchmark", "platforms": ["x"] })).await?;
                if st != 201 {
                    bail!("creating a post answered {st}: {b}");
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let write_secs = started.elapsed().as_secs_f64();
    let want = (a.posts * a.endpoints) as usize;
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    while seen.lock().unwrap().ids.len() < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = seen.lock().unwrap();
    let mut h = Histogram::<u64>::new(3)?;
    for l in &s.lags {
        h.record((l.max(0.0) * 1000.0) as u64)?; // microseconds
    }
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    let span_s = (s.last_ms - start_ms) / 1000.0;
    let out = json!({
        "endpoints": a.endpoints, "posts": a.posts, "writers": a.writers,
        "expected": want, "delivered": s.ids.len(), "duplicates": s.duplicates,
        "write_seconds": write_secs, "posts_per_sec": a.posts as f64 / write_secs,
        "deliveries_per_sec": s.ids.len() as f64 / span_s.max(1e-9),
        "lag_ms": { "p50": q(0.5), "p99": q(0.99), "max": h.max() as f64 / 1000.0 },
    });
    println!("{out}");
    if s.ids.len() < want {
        bail!("only {} of {want} messages arrived", s.ids.len());
    }
    Ok(())
}
