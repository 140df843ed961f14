//! `spawn_app()`: a real Copydesk server on a free port with its own fresh database.
//!
//! `COPYDESK_TEST_DATABASE=postgres` (set by `scripts/test`) runs against PostgreSQL at
//! `COPYDESK_TEST_POSTGRES_URL` — each test creates its own database there — with Redis at
//! `COPYDESK_TEST_REDIS_URL` under a per-test key prefix. Otherwise each test gets its own
//! SQLite file and the in-process bus.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use copydesk::config::{Secret, Settings, SmtpTls};
use copydesk::startup::Application;
use copydesk_actors::ports::{Clock, ManualClock};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::smtp::SmtpSink;

pub const PASSWORD: &str = "tidy-otter-lamp-42";

pub struct TestApp {
    pub addr: String,
    /// The server's own database handle, for asserting what was stored.
    pub db: sea_orm::DatabaseConnection,
    pub client: reqwest::Client,
    pub mail: SmtpSink,
    /// The server's clock: tests move it forward instead of sleeping (`clock.advance(..)`).
    pub clock: Arc<ManualClock>,
    /// The one-time setup token the server made at start (no super admin yet).
    pub setup_token: Option<String>,
    /// The server's data directory (generated keys, mail outbox).
    pub data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

pub fn is_postgres() -> bool {
    std::env::var("COPYDESK_TEST_DATABASE").as_deref() == Ok("postgres")
}

pub async fn fresh_postgres_url() -> String {
    use sea_orm::{ConnectionTrait, Database};
    let admin = std::env::var("COPYDESK_TEST_POSTGRES_URL")
        .expect("COPYDESK_TEST_POSTGRES_URL must be set when COPYDESK_TEST_DATABASE=postgres");
    let name = format!("copydesk_test_{}", Uuid::new_v4().simple());
    let conn = Database::connect(&admin)
        .await
        .expect("connect to the admin database");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    conn.close().await.ok();
    let (base, _) = admin.rsplit_once('/').expect("URL has a database name");
    format!("{base}/{name}")
}

/// Settings for a test server; `tweak` adjusts them before start.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_node(tweak, None).await
}

/// A server that may share its cluster bus with other servers in this process.
pub async fn spawn_node(
    tweak: impl FnOnce(&mut Settings),
    bus: Option<std::sync::Arc<dyn copydesk_actors::ports::Bus>>,
) -> TestApp {
    spawn_node_with_clock(tweak, bus, Arc::new(ManualClock::new())).await
}

/// A server on the given clock (nodes of one cluster share theirs).
pub async fn spawn_node_with_clock(
    tweak: impl FnOnce(&mut Settings),
    bus: Option<std::sync::Arc<dyn copydesk_actors::ports::Bus>>,
    clock: Arc<ManualClock>,
) -> TestApp {
    spawn_node_with_resolver(tweak, bus, clock, None).await
}

/// Also with the DNS resolver of the server's SSRF guard (tests make names resolve where
/// they want).
pub async fn spawn_node_with_resolver(
    tweak: impl FnOnce(&mut Settings),
    bus: Option<std::sync::Arc<dyn copydesk_actors::ports::Bus>>,
    clock: Arc<ManualClock>,
    resolver: Option<Arc<dyn copydesk::outbound::Resolve>>,
) -> TestApp {
    init_test_log();
    let dir = tempfile::tempdir().unwrap();
    let (mail, smtp_port) = SmtpSink::start().await;
    let mut s = Settings::default();
    s.server.port = 0;
    s.server.workers = Some(1);
    s.database.data_dir = dir.path().to_path_buf();
    s.database.max_connections = 5;
    if is_postgres() {
        s.database.url = Some(Secret::new(fresh_postgres_url().await));
        let redis = std::env::var("COPYDESK_TEST_REDIS_URL")
            .expect("COPYDESK_TEST_REDIS_URL must be set when COPYDESK_TEST_DATABASE=postgres");
        s.redis.url = Some(Secret::new(redis));
        s.redis.prefix = format!("test-{}", Uuid::new_v4().simple());
    }
    s.smtp.host = Some("127.0.0.1".into());
    s.smtp.port = smtp_port;
    s.smtp.tls = SmtpTls::None;
    // A stuck attempt gives way to the next one well within a test's wait for a mail.
    s.smtp.timeout_secs = 3;
    s.smtp.from = "Copydesk <noreply@copydesk.test>".into();
    s.auth.email_requests_per_ip = 10_000;
    s.auth.login_max_failures_per_ip = 10_000;
    s.static_files.dir = dir.path().join("no-web");
    s.log.level = "warn".into();
    tweak(&mut s);
    let data_dir = s.database.data_dir.clone();
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let app = Application::build_with_options(
        s,
        copydesk::startup::Options {
            bus,
            clock: Some(dyn_clock),
            extra: Default::default(),
            resolver,
        },
    )
    .await
    .expect("application builds");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let db = app.state().db.clone();
    let setup_token = app.state().setup_token();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        addr,
        db,
        client: http_client(),
        mail,
        clock,
        setup_token,
        data_dir,
        _dir: dir,
    }
}

/// The servers' warnings and errors go to the test's output (shown when a test fails);
/// `COPYDESK_TEST_LOG` sets another filter (e.g. `copydesk=debug`).
fn init_test_log() {
    let filter = std::env::var("COPYDESK_TEST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_test_writer()
        .try_init();
}

/// An HTTP client whose idle pooled connections are dropped well before actix's 5 s
/// keep-alive ends, so a request never races the server closing its connection. (The client
/// would not send it twice — hyper-util resends only a request it never wrote — but it
/// would fail.)
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("http client")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique address for this test process.
pub fn email(who: &str) -> String {
    format!(
        "{who}-{}-{}@example.com",
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &Uuid::new_v4().simple().to_string()[..8]
    )
}

pub async fn body(r: Response) -> Value {
    r.json().await.unwrap_or(Value::Null)
}

/// Asserts the status and the error code of an error response; returns the body.
pub async fn assert_error(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "expected {status} {code}");
    let b = body(r).await;
    assert_eq!(b["error"]["code"], code, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{b}"
    );
    b
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut rq = self.client.post(self.url(path)).json(&body);
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        rq.send().await.unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Registers, follows the emailed link, and returns a signed-in session.
    pub async fn register_verified(&self, email: &str, name: &str) -> Session {
        let r = self
            .post(
                "/api/auth/register",
                None,
                json!({ "email": email, "password": PASSWORD, "name": name }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        const MARKER: &str = "verify-email?token=";
        let mail = self.mail.containing(email, MARKER).await;
        let token = mail.token_after(MARKER).expect("verification link");
        let r = self
            .post(
                "/api/auth/verify-email",
                None,
                json!({ "token": token, "password": PASSWORD }),
            )
            .await;
        let status = r.status();
        let b = body(r).await;
        if status != StatusCode::OK {
            panic!(
                "verify-email refused the link mailed to {email}: {status} {b}; stored: {}",
                self.email_token_rows(email, &token).await
            );
        }
        session(b)
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/api/auth/login",
            None,
            json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn create_workspace(&self, s: &Session, name: &str) -> String {
        let r = self
            .post("/api/workspaces", Some(&s.access), json!({ "name": name }))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        body(r).await["id"].as_str().unwrap().to_string()
    }

    /// A verified user holding `role` in `ws`: invited by the admin session, accepted by them.
    pub async fn member_with_role(&self, admin: &Session, ws: &str, role: &str) -> Session {
        let e = email(role);
        let s = self.register_verified(&e, role).await;
        self.add_member(admin, ws, &s, role).await;
        s
    }

    /// Invites `email` to `ws` as `role` (201 invited) and returns the token from the mail.
    pub async fn invite(&self, admin: &Session, ws: &str, email: &str, role: &str) -> String {
        let before = self.mail.all_to(&email.to_lowercase()).len();
        let r = self
            .post(
                &format!("/api/workspaces/{ws}/members"),
                Some(&admin.access),
                json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "invite {email} as {role}");
        let b = body(r).await;
        assert_eq!(b["status"], "invited", "{b}");
        self.mail
            .next_containing(&email.to_lowercase(), INVITE_MARKER, before)
            .await
            .token_after(INVITE_MARKER)
            .expect("invitation link")
    }

    /// `who` accepts an invitation while signed in (200).
    pub async fn accept(&self, who: &Session, token: &str) -> Response {
        self.post(
            "/api/invitations/accept",
            Some(&who.access),
            json!({ "token": token }),
        )
        .await
    }

    /// Makes an existing account a member of `ws`: invitation by `admin`, accepted by `who`.
    pub async fn add_member(&self, admin: &Session, ws: &str, who: &Session, role: &str) {
        let token = self.invite(admin, ws, &who.email, role).await;
        let r = self.accept(who, &token).await;
        let status = r.status();
        if status != StatusCode::OK {
            panic!(
                "accepting the invitation mailed to {}: {status} {}; stored: {}",
                who.email,
                body(r).await,
                self.invitation_rows(&who.email.to_lowercase(), &token)
                    .await
            );
        }
    }

    /// What the database holds of `email`'s email links (for a failing test's output).
    pub async fn email_token_rows(&self, email: &str, token: &str) -> String {
        use copydesk::store::entities::email_tokens;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let hash = copydesk::auth::tokens::hash_opaque(token);
        let rows = email_tokens::Entity::find()
            .filter(email_tokens::Column::Email.eq(email.to_lowercase()))
            .all(&self.db)
            .await
            .unwrap_or_default();
        let rows: Vec<String> = rows
            .iter()
            .map(|t| {
                format!(
                    "[{} {} this_token={} used={:?} expires={} created={}]",
                    t.id,
                    t.purpose,
                    t.token_hash == hash,
                    t.used_at,
                    t.expires_at,
                    t.created_at
                )
            })
            .collect();
        format!("now={} {}", self.clock.now(), rows.join(" "))
    }

    /// What the database holds of `email`'s invitations (for a failing test's output).
    pub async fn invitation_rows(&self, email: &str, token: &str) -> String {
        use copydesk::store::entities::invitations;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let hash = copydesk::auth::tokens::hash_opaque(token);
        let rows = invitations::Entity::find()
            .filter(invitations::Column::Email.eq(email))
            .all(&self.db)
            .await
            .unwrap_or_default();
        let rows: Vec<String> = rows
            .iter()
            .map(|i| {
                format!(
                    "[{} this_token={} accepted={:?} by={:?} revoked={:?} expires={} created={}]",
                    i.id,
                    i.token_hash == hash,
                    i.accepted_at,
                    i.accepted_by,
                    i.revoked_at,
                    i.expires_at,
                    i.created_at
                )
            })
            .collect();
        format!("now={} {}", self.clock.now(), rows.join(" "))
    }

    /// A single-use WebSocket ticket for this session (`POST /api/auth/ws-ticket`).
    pub async fn ticket(&self, s: &Session) -> String {
        self.ticket_for(&s.access).await
    }

    pub async fn ticket_for(&self, access: &str) -> String {
        ticket_at(&self.client, &self.addr, access).await
    }

    /// The instance's super admin, created with the setup token (works once per app).
    pub async fn super_admin(&self) -> Session {
        let token = self
            .setup_token
            .clone()
            .expect("a fresh instance has a setup token");
        let r = self
            .post(
                "/api/setup",
                None,
                json!({ "token": token, "email": email("root"), "password": PASSWORD, "name": "Root" }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "setup");
        session(body(r).await)
    }

    /// A plain HTTP request asking for a WebSocket upgrade, to read a refusal's status and
    /// JSON body (a refused upgrade never gets to 101).
    pub async fn upgrade(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap()
    }

    pub async fn create_post(&self, s: &Session, ws: &str, post: Value) -> Value {
        let r = self
            .post(
                &format!("/api/workspaces/{ws}/posts"),
                Some(&s.access),
                post,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        body(r).await
    }
}

pub const INVITE_MARKER: &str = "invite?token=";

/// A WebSocket ticket from the server at `addr` (201 `{ticket, expires_in}`).
pub async fn ticket_at(client: &reqwest::Client, addr: &str, access: &str) -> String {
    let r = client
        .post(format!("{addr}/api/auth/ws-ticket"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "ws-ticket");
    let b = body(r).await;
    b["ticket"].as_str().expect("ticket").to_string()
}

pub fn session(b: Value) -> Session {
    Session {
        user_id: b["user"]["id"].as_str().unwrap().to_string(),
        email: b["user"]["email"].as_str().unwrap().to_string(),
        access: b["access_token"].as_str().unwrap().to_string(),
        refresh: b["refresh_token"].as_str().unwrap().to_string(),
    }
}
