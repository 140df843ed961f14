//! Jobs, outbox consumers and cron on one database shared by two nodes (SQLite file, or
//! PostgreSQL under `scripts/test`), with the real SQL stores. "Killing" a node stops its
//! background-work thread at once — no lease released, no cursor moved — which leaves the
//! database exactly as a SIGKILL would. Time moves by the shared `ManualClock`; waits are
//! polls of the database with a deadline (a bound on a hang, not a sleep).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use copydesk::config::{Secret, Settings};
use copydesk::jobs::{enqueue, Extra, NewJob};
use copydesk::startup::{Application, Options};
use copydesk::state::AppState;
use copydesk_actors::cron::{every, CheckNow, CronJob};
use copydesk_actors::ports::{
    ClaimedJob, Clock, CronTask, EventHandler, JobHandler, ManualClock, OutboxEvent,
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement};
use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::helpers::*;

/// One node: its state (to reach its background work) and base URL.
struct Node {
    state: AppState,
    addr: String,
}

fn settings(dir: &std::path::Path, db_url: &Option<String>) -> Settings {
    let mut s = Settings::default();
    s.server.port = 0;
    s.server.workers = Some(1);
    s.database.data_dir = dir.to_path_buf();
    s.database.max_connections = 5;
    if let Some(u) = db_url {
        s.database.url = Some(Secret::new(u.clone()));
    }
    s.static_files.dir = dir.join("no-web");
    s.log.level = "error".into();
    s.jobs.poll_ms = 50;
    s.jobs.lease_secs = 30;
    s.jobs.backoff_base_secs = 60;
    s
}

/// A shared database for the nodes of one test.
async fn shared_db(dir: &std::path::Path) -> Option<String> {
    if is_postgres() {
        Some(fresh_postgres_url().await)
    } else {
        Some(format!(
            "sqlite://{}?mode=rwc",
            dir.join("shared.db").display()
        ))
    }
}

async fn node(
    dir: &std::path::Path,
    db: &Option<String>,
    clock: &Arc<ManualClock>,
    extra: Extra,
) -> Node {
    let sub = dir.join(Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&sub).unwrap();
    // Both nodes need the same keys: copy the first node's.
    for k in ["jwt.key", "encryption.key"] {
        let shared = dir.join(k);
        if shared.exists() {
            std::fs::copy(&shared, sub.join(k)).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(sub.join(k), std::fs::Permissions::from_mode(0o600))
                    .unwrap();
            }
        }
    }
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let app = Application::build_with_options(
        settings(&sub, db),
        Options {
            bus: None,
            clock: Some(dyn_clock),
            extra,
            resolver: None,
        },
    )
    .await
    .expect("node builds");
    for k in ["jwt.key", "encryption.key"] {
        if !dir.join(k).exists() && sub.join(k).exists() {
            std::fs::copy(sub.join(k), dir.join(k)).unwrap();
        }
    }
    let state = app.state().clone();
    let addr = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Node { state, addr }
}

/// A plain API client for a node.
struct Api {
    addr: String,
    http: reqwest::Client,
}

impl Api {
    fn at(n: &Node) -> Self {
        Self {
            addr: n.addr.clone(),
            http: crate::helpers::http_client(),
        }
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.addr))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, token: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.addr))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A verified account made in the database (`admin`: a super admin), signed in.
    async fn user(&self, state: &AppState, admin: bool) -> String {
        let e = email(if admin { "root" } else { "user" });
        if admin {
            copydesk::setup::create_super_admin(&state.db, &e, "Root", PASSWORD)
                .await
                .unwrap();
        } else {
            use sea_orm::{ActiveModelTrait, Set};
            copydesk::store::entities::users::ActiveModel {
                id: Set(Uuid::now_v7()),
                email: Set(e.clone()),
                name: Set("User".into()),
                password_hash: Set(copydesk::auth::password::hash(PASSWORD).unwrap()),
                email_verified_at: Set(Some(chrono::Utc::now())),
                is_super_admin: Set(false),
                token_version: Set(0),
                created_at: Set(chrono::Utc::now()),
                updated_at: Set(chrono::Utc::now()),
            }
            .insert(&state.db)
            .await
            .unwrap();
        }
        let r = self
            .http
            .post(format!("{}/api/auth/login", self.addr))
            .json(&json!({ "email": e, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        body(r).await["access_token"].as_str().unwrap().to_string()
    }
}

/// Polls `cond` until it holds, moving the clock by `step` between polls; fails after 20 s.
async fn until<F, Fut>(clock: &ManualClock, step: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        clock.advance(step);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    Count::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        sql.to_string(),
    ))
    .one(db)
    .await
    .unwrap()
    .map_or(0, |c| c.n)
}

#[derive(FromQueryResult)]
struct JobRow {
    status: String,
    attempts: i32,
    last_error: Option<String>,
}

async fn job(db: &DatabaseConnection, id: Uuid) -> JobRow {
    let sql = if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        "SELECT status, attempts, last_error FROM jobs WHERE id = $1"
    } else {
        "SELECT status, attempts, last_error FROM jobs WHERE id = ?"
    };
    JobRow::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        vec![id.into()],
    ))
    .one(db)
    .await
    .unwrap()
    .expect("job exists")
}

/// Counts how often each job ran, per node.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<HashMap<Uuid, Vec<&'static str>>>>);

struct Record {
    node: &'static str,
    ledger: Ledger,
}

#[async_trait]
impl JobHandler for Record {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        self.ledger
            .0
            .lock()
            .unwrap()
            .entry(job.id)
            .or_default()
            .push(self.node);
        Ok(())
    }
}

fn extra_job(kind: &str, h: Arc<dyn JobHandler>) -> Extra {
    Extra {
        job_handlers: vec![(kind.to_string(), h)],
        ..Extra::default()
    }
}

#[actix_web::test]
async fn two_nodes_run_every_job_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let ledger = Ledger::default();
    let a = node(
        dir.path(),
        &db,
        &clock,
        extra_job(
            "test.record",
            Arc::new(Record {
                node: "a",
                ledger: ledger.clone(),
            }),
        ),
    )
    .await;
    let b = node(
        dir.path(),
        &db,
        &clock,
        extra_job(
            "test.record",
            Arc::new(Record {
                node: "b",
                ledger: ledger.clone(),
            }),
        ),
    )
    .await;
    let now = clock.now();
    let mut ids = Vec::new();
    for i in 0..120 {
        let id = enqueue(
            &a.state.db,
            NewJob::new("test.record", json!({ "i": i })),
            now,
        )
        .await
        .unwrap()
        .expect("enqueued");
        ids.push(id);
    }
    a.state.work.wake_jobs();
    b.state.work.wake_jobs();
    until(&clock, Duration::ZERO, || async {
        count(
            &a.state.db,
            "SELECT COUNT(*) AS n FROM jobs WHERE status = 'done'",
        )
        .await
            == 120
    })
    .await;
    let seen = ledger.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 120);
    for id in &ids {
        assert_eq!(seen[id].len(), 1, "job {id} ran {:?}", seen[id]);
    }
    let by_a = seen.values().filter(|v| v[0] == "a").count();
    let by_b = seen.values().filter(|v| v[0] == "b").count();
    assert_eq!(by_a + by_b, 120);
}

#[actix_web::test]
async fn an_idempotency_key_enqueues_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let a = node(dir.path(), &db, &clock, Extra::default()).await;
    let mut job = NewJob::new("test.nothing", json!({}));
    job.idempotency_key = Some("publish:post-1:account-9".into());
    let first = enqueue(&a.state.db, job.clone(), clock.now())
        .await
        .unwrap();
    let second = enqueue(&a.state.db, job, clock.now()).await.unwrap();
    assert!(first.is_some());
    assert_eq!(second, None, "the same key is one job");
}

/// Runs until told to stop; tells when it started.
struct Stuck {
    started: Arc<Notify>,
}

#[async_trait]
impl JobHandler for Stuck {
    async fn run(&self, _: &ClaimedJob) -> Result<(), String> {
        self.started.notify_one();
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[actix_web::test]
async fn a_job_whose_node_dies_runs_again_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let started = Arc::new(Notify::new());
    let ledger = Ledger::default();
    let a = node(
        dir.path(),
        &db,
        &clock,
        extra_job(
            "test.job",
            Arc::new(Stuck {
                started: started.clone(),
            }),
        ),
    )
    .await;
    let id = enqueue(&a.state.db, NewJob::new("test.job", json!({})), clock.now())
        .await
        .unwrap()
        .unwrap();
    a.state.work.wake_jobs();
    tokio::time::timeout(Duration::from_secs(20), started.notified())
        .await
        .expect("node a started the job");
    // Node a dies mid-job: its lease stays in the table, nobody finishes the job.
    a.state.work.kill();
    assert_eq!(job(&a.state.db, id).await.status, "running");
    let b = node(
        dir.path(),
        &db,
        &clock,
        extra_job(
            "test.job",
            Arc::new(Record {
                node: "b",
                ledger: ledger.clone(),
            }),
        ),
    )
    .await;
    b.state.work.wake_jobs();
    // Before the lease runs out, b must not take it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        ledger.0.lock().unwrap().is_empty(),
        "taken over while the lease was live"
    );
    // After it, b runs it — once.
    until(&clock, Duration::from_secs(10), || async {
        job(&b.state.db, id).await.status == "done"
    })
    .await;
    assert_eq!(ledger.0.lock().unwrap()[&id], vec!["b"]);
    assert_eq!(job(&b.state.db, id).await.attempts, 2);
}

struct Fails;

#[async_trait]
impl JobHandler for Fails {
    async fn run(&self, _: &ClaimedJob) -> Result<(), String> {
        Err("the platform said 503".into())
    }
}

#[actix_web::test]
async fn failing_jobs_back_off_then_fail_and_an_admin_can_retry_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let a = node(
        dir.path(),
        &db,
        &clock,
        extra_job("test.fails", Arc::new(Fails)),
    )
    .await;
    let mut j = NewJob::new("test.fails", json!({}));
    j.max_attempts = 3;
    let id = enqueue(&a.state.db, j, clock.now()).await.unwrap().unwrap();
    a.state.work.wake_jobs();
    until(&clock, Duration::ZERO, || async {
        job(&a.state.db, id).await.attempts == 1
    })
    .await;
    // Backing off: with the clock standing still it does not run again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_first = job(&a.state.db, id).await;
    assert_eq!(
        (after_first.status.as_str(), after_first.attempts),
        ("queued", 1)
    );
    // Moving the clock past the backoffs runs the remaining attempts, then it fails for good.
    until(&clock, Duration::from_secs(120), || async {
        job(&a.state.db, id).await.status == "failed"
    })
    .await;
    let failed = job(&a.state.db, id).await;
    assert_eq!(failed.attempts, 3);
    assert_eq!(failed.last_error.as_deref(), Some("the platform said 503"));

    // The admin view shows it, with its error; a non-admin sees nothing.
    let app = Api::at(&a);
    let root = app.user(&a.state, true).await;
    let r = app.get("/api/admin/jobs", &root).await;
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    let listed = b["failed"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|j| j["id"] == id.to_string() && j["last_error"] == "the platform said 503"),
        "{b}"
    );
    let someone = app.user(&a.state, false).await;
    assert_eq!(
        app.get("/api/admin/jobs", &someone).await.status(),
        StatusCode::FORBIDDEN
    );
    // Retry puts it back in the queue with one more attempt.
    let r = app
        .post(&format!("/api/admin/jobs/{id}/retry"), &root, json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    until(&clock, Duration::ZERO, || async {
        job(&a.state.db, id).await.attempts == 4
    })
    .await;
    let r = app
        .post(&format!("/api/admin/jobs/{id}/discard"), &root, json!({}))
        .await;
    assert!(matches!(
        r.status(),
        StatusCode::NO_CONTENT | StatusCode::NOT_FOUND
    ));
}

/// Records what a consumer was handed, per node; can be told to fail or hang on an event.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(&'static str, Uuid, String)>>>);

struct Consumer {
    node: &'static str,
    seen: Seen,
    /// Events whose `data.name` is this always fail.
    poison: Option<String>,
    /// Hang on the n-th event handed to this node (1-based).
    hang_at: Option<usize>,
}

#[async_trait]
impl EventHandler for Consumer {
    async fn handle(&self, e: &OutboxEvent) -> Result<(), String> {
        if self.poison.is_some() && e.data["name"].as_str() == self.poison.as_deref() {
            return Err(format!("cannot handle {}", e.data["name"]));
        }
        let n = {
            let mut s = self.seen.0.lock().unwrap();
            s.push((self.node, e.id, e.event_type.clone()));
            s.iter().filter(|x| x.0 == self.node).count()
        };
        if self.hang_at == Some(n) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

fn extra_consumer(c: Consumer) -> Extra {
    Extra {
        consumers: vec![("test".to_string(), Arc::new(c))],
        ..Extra::default()
    }
}

/// Makes `n` events through the API (workspaces created by one user).
async fn make_events(app: &Api, state: &AppState, n: usize) -> Vec<String> {
    let token = app.user(state, false).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let r = app
            .post(
                "/api/workspaces",
                &token,
                json!({ "name": format!("W{i}") }),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        ids.push(body(r).await["id"].as_str().unwrap().to_string());
    }
    ids
}

async fn workspace_events(db: &DatabaseConnection) -> Vec<Uuid> {
    #[derive(FromQueryResult)]
    struct Id {
        id: Uuid,
    }
    Id::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT id FROM events WHERE \"type\" = 'workspace.created' ORDER BY txid, seq".to_string(),
    ))
    .all(db)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.id)
    .collect()
}

#[actix_web::test]
async fn one_node_reads_a_consumer_in_commit_order_and_a_dead_readers_batch_is_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let seen = Seen::default();
    // Node a hangs on its 4th event: it dies "mid-batch".
    let a = node(
        dir.path(),
        &db,
        &clock,
        extra_consumer(Consumer {
            node: "a",
            seen: seen.clone(),
            poison: None,
            hang_at: Some(4),
        }),
    )
    .await;
    let app = Api::at(&a);
    make_events(&app, &a.state, 6).await;
    let expected = workspace_events(&a.state.db).await;
    assert_eq!(expected.len(), 6);
    until(&clock, Duration::ZERO, || async {
        seen.0.lock().unwrap().len() >= 4
    })
    .await;
    a.state.work.kill();
    let got_a: Vec<Uuid> = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x.2 == "workspace.created")
        .map(|x| x.1)
        .collect();
    assert_eq!(got_a, expected[..got_a.len()], "in commit order");

    // Node b starts; while a's lease is live it reads nothing.
    let b = node(
        dir.path(),
        &db,
        &clock,
        extra_consumer(Consumer {
            node: "b",
            seen: seen.clone(),
            poison: None,
            hang_at: None,
        }),
    )
    .await;
    b.state.work.wake_readers();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !seen.0.lock().unwrap().iter().any(|x| x.0 == "b"),
        "read while a held the lease"
    );
    // After a's lease lapses, b takes over from a's cursor: a's unfinished batch comes again,
    // nothing is lost.
    // a hung on expected[3]: its cursor is at most just before it.
    until(&clock, Duration::from_secs(10), || async {
        let s = seen.0.lock().unwrap();
        s.iter().any(|x| x.0 == "b" && x.1 == expected[5])
    })
    .await;
    let s = seen.0.lock().unwrap().clone();
    let got_b: Vec<Uuid> = s
        .iter()
        .filter(|x| x.0 == "b" && x.2 == "workspace.created")
        .map(|x| x.1)
        .collect();
    // b picks up where a's cursor stands — a suffix of the commit order that includes the
    // event a died on — and delivers it once each, in order. Together nothing is lost.
    assert!(
        got_b.contains(&expected[3]),
        "the batch a died in is redelivered: {got_b:?}"
    );
    let from = expected.len() - got_b.len();
    assert_eq!(
        got_b,
        expected[from..],
        "b delivers a suffix, in commit order, each once"
    );
    for id in &expected {
        assert!(s.iter().any(|x| x.1 == *id), "event {id} lost");
    }
}

#[actix_web::test]
async fn a_poisoned_event_is_parked_and_the_rest_flow_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let seen = Seen::default();
    let a = node(
        dir.path(),
        &db,
        &clock,
        extra_consumer(Consumer {
            node: "a",
            seen: seen.clone(),
            poison: Some("W1".into()),
            hang_at: None,
        }),
    )
    .await;
    let app = Api::at(&a);
    make_events(&app, &a.state, 3).await;
    let expected = workspace_events(&a.state.db).await;
    // Retries wait on the clock: move it until the poisoned event is parked and the
    // workspaces behind it are delivered.
    assert_eq!(expected.len(), 3);
    until(&clock, Duration::from_secs(5), || async {
        let s = seen.0.lock().unwrap();
        s.iter().any(|x| x.1 == expected[2])
    })
    .await;
    {
        let s = seen.0.lock().unwrap();
        assert!(s.iter().any(|x| x.1 == expected[0]));
        assert!(
            !s.iter().any(|x| x.1 == expected[1]),
            "the poisoned event never succeeded"
        );
    }
    let parked = count(
        &a.state.db,
        "SELECT COUNT(*) AS n FROM outbox_parked WHERE consumer = 'test' AND resolved_at IS NULL",
    )
    .await;
    assert!(parked >= 1, "the failing event is parked");
    let root = app.user(&a.state, true).await;
    let r = app.get("/api/admin/consumers", &root).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list = body(r).await;
    let test = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "test")
        .expect("listed")
        .clone();
    let p = &test["parked"][0];
    assert_eq!(p["last_error"], "cannot handle \"W1\"", "{test}");
    assert_eq!(p["event_id"], expected[1].to_string());
    let r = app
        .post(
            &format!(
                "/api/admin/consumers/parked/{}/discard",
                p["id"].as_str().unwrap()
            ),
            &root,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        count(&a.state.db, "SELECT COUNT(*) AS n FROM outbox_parked WHERE consumer = 'test' AND resolved_at IS NULL").await,
        parked - 1
    );
}

struct Tick {
    node: &'static str,
    runs: Arc<Mutex<Vec<(&'static str, chrono::DateTime<chrono::Utc>)>>>,
}

#[async_trait]
impl CronTask for Tick {
    async fn run(&self, tick: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
        self.runs.lock().unwrap().push((self.node, tick));
        Ok(())
    }
}

fn extra_cron(
    node: &'static str,
    runs: &Arc<Mutex<Vec<(&'static str, chrono::DateTime<chrono::Utc>)>>>,
) -> Extra {
    Extra {
        crons: vec![CronJob {
            name: "test.minutely".into(),
            next_after: every(Duration::from_secs(60)),
            task: Arc::new(Tick {
                node,
                runs: runs.clone(),
            }),
        }],
        ..Extra::default()
    }
}

#[actix_web::test]
async fn cron_runs_each_tick_on_one_node_and_a_missed_stretch_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let runs = Arc::new(Mutex::new(Vec::new()));
    let a = node(dir.path(), &db, &clock, extra_cron("a", &runs)).await;
    let b = node(dir.path(), &db, &clock, extra_cron("b", &runs)).await;
    let check = |n: &Node| {
        for c in n.state.work.crons() {
            c.do_send(CheckNow);
        }
    };
    for round in 1..=3usize {
        clock.advance(Duration::from_secs(60));
        check(&a);
        check(&b);
        until(&clock, Duration::ZERO, || async {
            runs.lock().unwrap().len() >= round
        })
        .await;
        // Give the other node its chance to (wrongly) run the same tick.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            runs.lock().unwrap().len(),
            round,
            "one run per tick: {:?}",
            runs.lock().unwrap()
        );
    }
    let ticks: Vec<_> = runs.lock().unwrap().iter().map(|r| r.1).collect();
    let mut unique = ticks.clone();
    unique.dedup();
    assert_eq!(ticks, unique, "three different ticks");
    // Downtime of ten minutes: the schedule runs once for the latest missed tick.
    clock.advance(Duration::from_secs(600));
    check(&a);
    check(&b);
    until(&clock, Duration::ZERO, || async {
        runs.lock().unwrap().len() >= 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(runs.lock().unwrap().len(), 4, "{:?}", runs.lock().unwrap());
}

#[actix_web::test]
async fn the_catalogue_lists_every_event_type() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/events/catalogue"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = body(r).await;
    let types: Vec<&str> = b["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "post.created",
        "post.status_changed",
        "comment.mentioned",
        "member.invited",
        "workspace.deleted",
    ] {
        assert!(types.contains(&t), "{t} missing");
    }
    for e in b["events"].as_array().unwrap() {
        assert!(!e["description"].as_str().unwrap().is_empty());
        assert!(e["payload"].as_str().unwrap().ends_with("Event"));
    }
}

/// On PostgreSQL a sequence value is not commit order: a transaction that took a lower
/// `seq` can commit after one with a higher. A reader must not pass the later commit's
/// position and skip the earlier one.
#[actix_web::test]
async fn a_late_commit_with_a_lower_sequence_is_not_skipped() {
    use copydesk_actors::ports::Outbox;
    use sea_orm::TransactionTrait;
    let app = spawn_app().await;
    let outbox = copydesk::events::outbox::SqlOutbox::new(app.db.clone());
    let start = outbox.head().await.unwrap();
    let insert =
        "INSERT INTO events (id, workspace_id, \"type\", data, actor_id, created_at) VALUES ";
    let backend = app.db.get_database_backend();
    let ph = if backend == sea_orm::DbBackend::Postgres {
        "($1, NULL, 'user.registered', $2, NULL, $3)"
    } else {
        "(?, NULL, 'user.registered', ?, NULL, ?)"
    };
    let row = |id: Uuid| {
        Statement::from_sql_and_values(
            backend,
            format!("{insert}{ph}"),
            vec![
                id.into(),
                sea_orm::Value::Json(Some(Box::new(json!({})))),
                chrono::Utc::now().into(),
            ],
        )
    };
    let (early, late) = (Uuid::now_v7(), Uuid::now_v7());
    if is_postgres() {
        // T1 takes its sequence value first, T2 second; T2 commits first.
        let t1 = app.db.begin().await.unwrap();
        t1.execute_raw(row(early)).await.unwrap();
        let t2 = app.db.begin().await.unwrap();
        t2.execute_raw(row(late)).await.unwrap();
        t2.commit().await.unwrap();
        // While T1 is open, nothing past it is readable: a reader cannot step over it.
        let visible: Vec<Uuid> = outbox
            .read_after(start, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert!(
            !visible.contains(&late),
            "read past a transaction still open"
        );
        t1.commit().await.unwrap();
    } else {
        // One writer at a time: the later-started transaction waits and commits after.
        app.db.execute_raw(row(early)).await.unwrap();
        app.db.execute_raw(row(late)).await.unwrap();
    }
    // Both are read once every transaction that was open when they committed has ended —
    // on PostgreSQL that horizon is cluster-wide, so other tests' databases on the same
    // server can hold it back for a moment: wait for it (bounded), never skip.
    let mut read: Vec<Uuid> = Vec::new();
    for _ in 0..400 {
        read = outbox
            .read_after(start, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        if read.contains(&early) && read.contains(&late) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(read.contains(&early) && read.contains(&late), "{read:?}");
}

#[actix_web::test]
async fn maintenance_purges_what_expired_and_keeps_what_a_consumer_still_needs() {
    let dir = tempfile::tempdir().unwrap();
    let db = shared_db(dir.path()).await;
    let clock = Arc::new(ManualClock::new());
    let seen = Seen::default();
    // A consumer that fails on W1 forever: W1 stays parked and must survive retention.
    let a = node(
        dir.path(),
        &db,
        &clock,
        extra_consumer(Consumer {
            node: "a",
            seen: seen.clone(),
            poison: Some("W1".into()),
            hang_at: None,
        }),
    )
    .await;
    let app = Api::at(&a);
    let token = app.user(&a.state, false).await;
    let r = app.post("/api/auth/ws-ticket", &token, json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    make_events(&app, &a.state, 3).await;
    let expected = workspace_events(&a.state.db).await;
    until(&clock, Duration::from_secs(5), || async {
        seen.0.lock().unwrap().iter().any(|x| x.1 == expected[2])
    })
    .await;
    assert_eq!(
        count(&a.state.db, "SELECT COUNT(*) AS n FROM ws_tickets").await,
        1
    );
    // Forty days later the hourly maintenance runs (once).
    clock.advance(Duration::from_secs(40 * 86_400));
    for c in a.state.work.crons() {
        c.do_send(CheckNow);
    }
    until(&clock, Duration::ZERO, || async {
        count(&a.state.db, "SELECT COUNT(*) AS n FROM ws_tickets").await == 0
    })
    .await;
    until(&clock, Duration::ZERO, || async {
        count(
            &a.state.db,
            "SELECT COUNT(*) AS n FROM events WHERE \"type\" = 'workspace.created'",
        )
        .await
            == 1
    })
    .await;
    // What is left is the parked event, which an admin may still retry.
    let left = workspace_events(&a.state.db).await;
    assert_eq!(left, vec![expected[1]]);
}
