//! `jobs-bench`: Copydesk's durable jobs and outbox consumers on PostgreSQL, measured with
//! the server's own code (`copydesk::jobs`, `SqlJobQueue`, `SqlOutbox`, and the actors'
//! `JobRunner` and `OutboxConsumer`), next to the same claim/complete SQL run bare by pgbench.
//!
//! Subcommands (each prints one JSON line on stdout, a summary on stderr):
//!
//! - `jobs`: empties `jobs`, enqueues N no-op jobs through `copydesk::jobs::enqueue` in
//!   transactions of `--batch`, then starts `--nodes` nodes — each a `JobRunner` with its own
//!   owner id and its own connection pool, on its own thread — and times them until every job
//!   is claimed and completed. Checks: `status = 'done'` for all N, every job claimed once
//!   (`attempts = 1`), the handlers saw every id exactly once, no completion refused.
//! - `pgbench`: the same queue, drained by `pgbench -M prepared` running
//!   `claim_complete.sql` (the claim and complete statements of `SqlJobQueue`, one job per
//!   transaction) with `--clients` clients; the same checks on the table.
//! - `outbox`: one node wired as the server wires it (`Work::start`: job runner and outbox
//!   consumers on their own thread, one pool) with one consumer whose handler notes when each
//!   event arrives; writers commit events at `--rate` per second through the server's write
//!   path (`UnitOfWork::begin_on` → `record` → `commit`: outbox row and audit row in one
//!   transaction, then the announcement that wakes this node's consumers). Reports the lag
//!   from `commit()` returning to the handler seeing the event, and checks every event was
//!   handled exactly once, in position order, and never before an event that committed
//!   before its own transaction began.
//!
//! `run-jobs-bench.sh` starts a throwaway PostgreSQL and runs everything three times.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use anyhow::{anyhow, bail, Context as _};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use copydesk_actors::job_runner::{JobRunner, RunnerConfig};
use copydesk_actors::ports::{
    ClaimedJob, EventHandler, JobHandler, JobQueue, OutboxEvent, StoreError, SystemClock,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;
use uuid::Uuid;

#[path = "../procfs.rs"]
#[allow(dead_code)]
mod procfs;

const SCRIPT: &str = include_str!("claim_complete.sql");
const KIND: &str = "bench.noop";
/// The schema's claim index (migration 000013); `--no-claim-index` drops it.
const CLAIM_INDEX: &str = "CREATE INDEX IF NOT EXISTS idx_jobs_claim ON jobs (priority DESC, run_at) \
                           WHERE status IN ('queued', 'running')";

#[derive(Parser)]
#[command(about = "Copydesk jobs and outbox benchmark (PostgreSQL)")]
struct Cli {
    /// postgres://… of a throwaway database (tables are emptied).
    #[arg(long, global = true, default_value = "")]
    url: String,
    /// Pid of the postmaster: its CPU (and its backends') is reported.
    #[arg(long, global = true)]
    pg_pid: Option<u32>,
    /// Copied into the result.
    #[arg(long, global = true, default_value = "")]
    label: String,
    /// Measure the schema as it was before migration 000013: drop the claim index
    /// `idx_jobs_claim ON jobs (priority DESC, run_at) WHERE status IN ('queued', 'running')`
    /// (the claim then scans and sorts the whole table). Without this flag the index is
    /// (re)created, as the migration makes it.
    #[arg(long, global = true)]
    no_claim_index: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Enqueue N jobs, drain them with K nodes of JobRunner.
    Jobs {
        #[arg(long, default_value_t = 50_000)]
        jobs: usize,
        /// Jobs per enqueue transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Jobs one node runs at once (`jobs.concurrency`; the server's default is 8).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Connections per node (`database.max_connections`; the server's default is 20).
        #[arg(long, default_value_t = 20)]
        pool: u32,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600.0)]
        timeout: f64,
    },
    /// Enqueue N jobs, drain them with pgbench running the same SQL bare.
    Pgbench {
        #[arg(long, default_value_t = 50_000)]
        jobs: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        clients: usize,
        #[arg(long, default_value = "pgbench")]
        pgbench: String,
    },
    /// Outbox consumer lag under a steady write rate.
    Outbox {
        /// Events per second (one per transaction).
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of writing.
        #[arg(long, default_value_t = 30.0)]
        duration: f64,
        /// Concurrent writers (each its own transactions; the rate is split between them).
        /// Enough that a slow commit on a busy machine does not hold the rate back.
        #[arg(long, default_value_t = 16)]
        writers: usize,
        /// Consumer batch (`ConsumerConfig::batch`).
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Consumer poll interval in ms (the server's `jobs.poll_ms`, default 1000).
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// Don't wake the consumer after each commit (a node that only polls).
        #[arg(long)]
        no_wake: bool,
        #[arg(long, default_value_t = 20)]
        pool: u32,
        /// Longest wait for the consumer to catch up after the writers stop, seconds.
        #[arg(long, default_value_t = 30.0)]
        drain: f64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.url.starts_with("postgres") {
        bail!("--url must be a postgres:// URL of a throwaway database");
    }
    let out = actix::System::new().block_on(async move {
        match &cli.cmd {
            Cmd::Jobs { jobs, batch, nodes, concurrency, pool, timeout } => {
                run_jobs(&cli, *jobs, *batch, *nodes, *concurrency, *pool, *timeout).await
            }
            Cmd::Pgbench { jobs, batch, clients, pgbench } => run_pgbench(&cli, *jobs, *batch, *clients, pgbench).await,
            Cmd::Outbox { rate, duration, writers, batch, poll_ms, no_wake, pool, drain } => {
                run_outbox(&cli, *rate, *duration, *writers, *batch, *poll_ms, !*no_wake, *pool, *drain).await
            }
        }
    })?;
    println!("{out}");
    // Exit now rather than tear down the nodes' threads one by one.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// A pool as the server opens one (`copydesk::store::connect`), with `pool` connections.
async fn connect(url: &str, pool: u32) -> anyhow::Result<DatabaseConnection> {
    let mut settings = copydesk::config::Settings::default();
    settings.database.url = Some(copydesk::config::Secret::new(url));
    settings.database.max_connections = pool;
    copydesk::store::connect(&settings).await
}

/// Opens `n` connections of the pool up front, so no run times connection set-up.
async fn warm(db: &DatabaseConnection, n: usize) -> anyhow::Result<()> {
    let qs = (0..n).map(|_| db.execute_unprepared("SELECT pg_sleep(0.05)"));
    for r in futures_util::future::join_all(qs).await {
        r?;
    }
    Ok(())
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .context("no row")?;
    Ok(row.try_get_by_index::<i64>(0)?)
}

// ---- CPU accounting ---------------------------------------------------------------------

/// utime + stime + cutime + cstime of a process: its own CPU and that of its children that
/// have exited (and were waited for).
fn ticks_with_children(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (11..=14).map(|i| f.get(i)?.parse::<u64>().ok()).sum()
}

/// CPU ticks of PostgreSQL: the postmaster, its live children (backends, background
/// workers) and — through the postmaster's cutime/cstime — the backends that have exited
/// (pgbench's, when it disconnects).
fn pg_ticks(pid: Option<u32>) -> Option<u64> {
    let pid = pid?;
    let mut total = ticks_with_children(pid)?;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        let ppid = rest.split_whitespace().nth(1).and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            total += procfs::cpu_ticks(p).unwrap_or(0);
        }
    }
    Some(total)
}

fn machine_ticks() -> (u64, u64) {
    procfs::core_ticks().iter().fold((0, 0), |(b, t), &(busy, _, total)| (b + busy, t + total))
}

/// CPU use between `start()` and `stop()`, in % of one core: this process (and its
/// children that have exited, e.g. pgbench), PostgreSQL, and everything else.
struct CpuMeter {
    t0: Instant,
    own: u64,
    children: u64,
    pg: Option<u64>,
    machine: (u64, u64),
    pg_pid: Option<u32>,
}

fn children_ticks() -> u64 {
    // cutime + cstime of this process: waited-for children (pgbench).
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rfind(')').map(|i| &s[i + 2..]).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(13).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + f.get(14).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

impl CpuMeter {
    fn start(pg_pid: Option<u32>) -> Self {
        Self {
            t0: Instant::now(),
            own: procfs::self_cpu_ticks().unwrap_or(0),
            children: children_ticks(),
            pg: pg_ticks(pg_pid),
            machine: machine_ticks(),
            pg_pid,
        }
    }

    fn stop(&self) -> serde_json::Value {
        let hz = procfs::ticks_per_sec();
        let secs = self.t0.elapsed().as_secs_f64().max(1e-3);
        let pct = |ticks: u64| round(ticks as f64 / hz / secs * 100.0, 1);
        let own = procfs::self_cpu_ticks().unwrap_or(0).saturating_sub(self.own)
            + children_ticks().saturating_sub(self.children);
        let pg = self.pg.zip(pg_ticks(self.pg_pid)).map(|(a, b)| b.saturating_sub(a));
        let (mb, mt) = machine_ticks();
        let ncores = procfs::core_ticks().len().max(1) as f64;
        let busy = mb.saturating_sub(self.machine.0) as f64;
        let total = mt.saturating_sub(self.machine.1).max(1) as f64;
        let machine_pct = busy / total * 100.0 * ncores;
        let others = pg.map(|pg| (machine_pct - pct(own) - pct(pg)).max(0.0));
        json!({
            "bench_pct": pct(own),
            "postgres_pct": pg.map(pct),
            "machine_pct": round(machine_pct, 1),
            "others_pct": others.map(|o| round(o, 1)),
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

// ---- jobs -------------------------------------------------------------------------------

/// Empties `jobs` and enqueues `n` no-op jobs through `copydesk::jobs::enqueue`, `batch`
/// per transaction; then VACUUM ANALYZE and a checkpoint, so every run starts alike.
async fn enqueue(db: &DatabaseConnection, n: usize, batch: usize, claim_index: bool) -> anyhow::Result<(Vec<Uuid>, f64)> {
    db.execute_unprepared("TRUNCATE jobs").await?;
    db.execute_unprepared(if claim_index { CLAIM_INDEX } else { "DROP INDEX IF EXISTS idx_jobs_claim" }).await?;
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let txn = copydesk::store::begin(db).await?;
        for _ in 0..batch.min(n - i) {
            let job = copydesk::jobs::NewJob::new(KIND, json!({ "i": i }));
            let id = copydesk::jobs::enqueue(&txn, job, Utc::now())
                .await
                .map_err(|e| anyhow!("enqueue: {e:?}"))?
                .context("enqueue: no id")?;
            ids.push(id);
            i += 1;
        }
        txn.commit().await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    db.execute_unprepared("VACUUM ANALYZE jobs").await?;
    db.execute_unprepared("CHECKPOINT").await?;
    Ok((ids, secs))
}

/// After a drain: how many jobs are done, and how many were claimed more than once.
async fn table_check(db: &DatabaseConnection, n: usize) -> anyhow::Result<serde_json::Value> {
    let done = scalar(db, "SELECT COUNT(*) FROM jobs WHERE status = 'done'").await?;
    let total = scalar(db, "SELECT COUNT(*) FROM jobs").await?;
    let reclaimed = scalar(db, "SELECT COUNT(*) FROM jobs WHERE attempts <> 1").await?;
    Ok(json!({
        "jobs": total,
        "done": done,
        "claimed_more_than_once": reclaimed,
        "ok": done == n as i64 && total == n as i64 && reclaimed == 0,
    }))
}

/// Counts what a node's runner does with the queue (claims, completions) and says when the
/// last job of the run was completed. Every call goes straight to `SqlJobQueue`.
struct CountingQueue {
    inner: copydesk::jobs::store::SqlJobQueue,
    claims: AtomicU64,
    claimed: AtomicU64,
    empty_claims: AtomicU64,
    completed: AtomicU64,
    refused: AtomicU64,
    next_due: AtomicU64,
    progress: Arc<Progress>,
}

struct Progress {
    completed: AtomicU64,
    target: u64,
    done: tokio::sync::Notify,
}

#[async_trait]
impl JobQueue for CountingQueue {
    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        let r = self.inner.claim(owner, now, lease_until, limit).await;
        self.claims.fetch_add(1, Relaxed);
        if let Ok(jobs) = &r {
            self.claimed.fetch_add(jobs.len() as u64, Relaxed);
            if jobs.is_empty() {
                self.empty_claims.fetch_add(1, Relaxed);
            }
        }
        r
    }

    async fn heartbeat(&self, owner: Uuid, ids: &[Uuid], lease_until: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.heartbeat(owner, ids, lease_until).await
    }

    async fn complete(&self, owner: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let r = self.inner.complete(owner, id, now).await;
        match r {
            Ok(true) => {
                self.completed.fetch_add(1, Relaxed);
                if self.progress.completed.fetch_add(1, AcqRel) + 1 == self.progress.target {
                    self.progress.done.notify_one();
                }
            }
            Ok(false) => {
                self.refused.fetch_add(1, Relaxed);
            }
            Err(_) => {}
        }
        r
    }

    async fn fail(
        &self,
        owner: Uuid,
        id: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.fail(owner, id, error, retry_at, now).await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.next_due.fetch_add(1, Relaxed);
        self.inner.next_due().await
    }
}

/// The no-op job: notes the id (to check that no job ran twice) and succeeds.
#[derive(Default)]
struct Noop {
    seen: Mutex<Vec<Uuid>>,
}

#[async_trait]
impl JobHandler for Noop {
    async fn run(&self, job: &ClaimedJob) -> Result<(), String> {
        self.seen.lock().unwrap().push(job.id);
        Ok(())
    }
}

struct Node {
    arbiter: Arbiter,
    owner: Uuid,
    queue: Arc<CountingQueue>,
    handler: Arc<Noop>,
}

/// A node: a thread of its own (an actix arbiter) with its own pool, opened and warmed there.
async fn start_node(url: &str, pool: u32, warm_n: usize, progress: Arc<Progress>) -> anyhow::Result<Node> {
    let arbiter = Arbiter::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let url = url.to_owned();
    arbiter.spawn(async move {
        let r = async {
            let db = connect(&url, pool).await?;
            warm(&db, warm_n).await?;
            anyhow::Ok(db)
        }
        .await;
        let _ = tx.send(r);
    });
    let db = rx.await.context("node thread died")??;
    let queue = Arc::new(CountingQueue {
        inner: copydesk::jobs::store::SqlJobQueue::new(db),
        claims: AtomicU64::new(0),
        claimed: AtomicU64::new(0),
        empty_claims: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        next_due: AtomicU64::new(0),
        progress,
    });
    Ok(Node { arbiter, owner: Uuid::now_v7(), queue, handler: Arc::new(Noop::default()) })
}

async fn run_jobs(
    cli: &Cli,
    n: usize,
    batch: usize,
    nodes: usize,
    concurrency: usize,
    pool: u32,
    timeout: f64,
) -> anyhow::Result<String> {
    let db = connect(&cli.url, 4).await?;
    copydesk::store::migrate(&db).await?;
    let (ids, enqueue_s) = enqueue(&db, n, batch, !cli.no_claim_index).await?;
    let progress = Arc::new(Progress { completed: AtomicU64::new(0), target: n as u64, done: Default::default() });
    let mut ns = Vec::new();
    for _ in 0..nodes {
        ns.push(start_node(&cli.url, pool, concurrency.min(pool as usize), progress.clone()).await?);
    }
    let cfg = RunnerConfig {
        concurrency,
        lease: Duration::from_secs(30),
        poll: Duration::from_secs(1),
        backoff_base: Duration::from_secs(5),
        backoff_max: Duration::from_secs(3600),
    };

    // Go: every runner starts (and claims) at once.
    let cpu = CpuMeter::start(cli.pg_pid);
    let t0 = Instant::now();
    for node in &ns {
        let (q, h, owner, cfg) = (node.queue.clone(), node.handler.clone(), node.owner, cfg.clone());
        JobRunner::start_in_arbiter(&node.arbiter.handle(), move |_| {
            let mut handlers: HashMap<String, Arc<dyn JobHandler>> = HashMap::new();
            handlers.insert(KIND.to_string(), h);
            JobRunner::new(q, handlers, Arc::new(SystemClock), owner, cfg)
        });
    }
    let finished = tokio::time::timeout(Duration::from_secs_f64(timeout), async {
        while progress.completed.load(Acquire) < n as u64 {
            progress.done.notified().await;
        }
    })
    .await
    .is_ok();
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu.stop();
    for node in &ns {
        node.arbiter.stop();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Exactly once: the table, and what the handlers saw.
    let table = table_check(&db, n).await?;
    let mut seen: Vec<Uuid> = Vec::with_capacity(n);
    let mut per_node = Vec::new();
    for node in &ns {
        let s = node.handler.seen.lock().unwrap();
        seen.extend(s.iter().copied());
        let q = &node.queue;
        let claims = q.claims.load(Relaxed);
        per_node.push(json!({
            "handled": s.len(),
            "completed": q.completed.load(Relaxed),
            "claims": claims,
            "empty_claims": q.empty_claims.load(Relaxed),
            "jobs_per_claim": round(q.claimed.load(Relaxed) as f64 / claims.max(1) as f64, 2),
            "next_due_queries": q.next_due.load(Relaxed),
            "completions_refused": q.refused.load(Relaxed),
        }));
    }
    let handled = seen.len();
    let unique: HashSet<Uuid> = seen.into_iter().collect();
    let enqueued: HashSet<Uuid> = ids.into_iter().collect();
    let twice = handled - unique.len();
    let missing = enqueued.difference(&unique).count();
    let foreign = unique.difference(&enqueued).count();
    let refused: u64 = ns.iter().map(|n| n.queue.refused.load(Relaxed)).sum();
    let completed = progress.completed.load(Acquire);
    let ok = finished && table["ok"] == json!(true) && twice == 0 && missing == 0 && foreign == 0 && refused == 0;
    let jobs_per_s = if finished { n as f64 / secs } else { completed as f64 / secs };

    eprintln!(
        "jobs: {nodes} node(s) × concurrency {concurrency}, pool {pool}: {n} jobs in {secs:.2} s = {jobs_per_s:.0} jobs/s \
         (enqueue {enqueue_s:.1} s); handled {handled}, twice {twice}, missing {missing}; table {table}; cpu {cpu}; exactly once: {ok}"
    );
    Ok(json!({
        "bench": "jobs",
        "label": cli.label,
        "system": "copydesk",
        "claim_index": !cli.no_claim_index,
        "nodes": nodes,
        "concurrency": concurrency,
        "pool_per_node": pool,
        "jobs": n,
        "enqueue_batch": batch,
        "enqueue_s": round(enqueue_s, 3),
        "finished": finished,
        "seconds": round(secs, 3),
        "jobs_per_s": round(jobs_per_s, 1),
        "completed": completed,
        "handled": handled,
        "handled_twice": twice,
        "missing": missing,
        "foreign": foreign,
        "completions_refused": refused,
        "table": table,
        "exactly_once": ok,
        "per_node": per_node,
        "cpu": cpu,
    })
    .to_string())
}

async fn run_pgbench(cli: &Cli, n: usize, batch: usize, clients: usize, pgbench: &str) -> anyhow::Result<String> {
    if n % clients != 0 {
        bail!("--jobs must be a multiple of --clients (each client runs jobs/clients transactions)");
    }
    let db = connect(&cli.url, 2).await?;
    copydesk::store::migrate(&db).await?;
    let (_ids, enqueue_s) = enqueue(&db, n, batch, !cli.no_claim_index).await?;
    let dir = std::env::temp_dir().join(format!("jobs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("claim_complete.sql");
    std::fs::write(&script, SCRIPT)?;
    let per_client = n / clients;
    let cpu = CpuMeter::start(cli.pg_pid);
    let t0 = Instant::now();
    // Blocking on purpose: nothing else runs meanwhile, and a waited-for child's CPU time
    // shows up in ours (cutime/cstime).
    let out = std::process::Command::new(pgbench)
        .args(["-n", "-M", "prepared", "-c", &clients.to_string(), "-j", &clients.to_string()])
        .args(["-t", &per_client.to_string(), "-f"])
        .arg(&script)
        .arg(&cli.url)
        .output()
        .with_context(|| format!("running {pgbench}"))?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("pgbench failed ({}):\n{stdout}\n{stderr}", out.status);
    }
    // "tps = 1234.567890 (without initial connection time)"
    let tps = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .context("no tps in pgbench's output")?;
    let latency_ms = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("latency average = "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok());
    let table = table_check(&db, n).await?;
    let ok = table["ok"] == json!(true);
    eprintln!("pgbench: {clients} client(s): {n} jobs, {tps:.0} jobs/s (wall {wall:.2} s); table {table}; cpu {cpu}");
    Ok(json!({
        "bench": "jobs",
        "label": cli.label,
        "system": "pgbench",
        "claim_index": !cli.no_claim_index,
        "clients": clients,
        "jobs": n,
        "enqueue_batch": batch,
        "enqueue_s": round(enqueue_s, 3),
        "jobs_per_s": round(tps, 1),
        "wall_s": round(wall, 3),
        "latency_ms": latency_ms,
        "table": table,
        "exactly_once": ok,
        "cpu": cpu,
        "pgbench_version": pgbench_version(pgbench),
    })
    .to_string())
}

fn pgbench_version(pgbench: &str) -> Option<String> {
    let o = std::process::Command::new(pgbench).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

// ---- outbox -----------------------------------------------------------------------------

/// Notes when each event reaches the consumer, in the order it arrives.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(Uuid, (i64, i64), Instant)>>,
}

#[async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, e: &OutboxEvent) -> Result<(), String> {
        self.got.lock().unwrap().push((e.id, e.position(), Instant::now()));
        Ok(())
    }
}

/// One committed event as its writer saw it.
struct Written {
    id: Uuid,
    began: Instant,
    committed: Instant,
}

#[allow(clippy::too_many_arguments)]
async fn run_outbox(
    cli: &Cli,
    rate: f64,
    duration: f64,
    writers: usize,
    batch: usize,
    poll_ms: u64,
    wake: bool,
    pool: u32,
    drain: f64,
) -> anyhow::Result<String> {
    const CONSUMER: &str = "bench-lag";
    // One node, wired as `startup.rs` wires it: one pool, and `Work::start` running the
    // node's job runner and its outbox consumers (here only ours) on their own thread.
    let db = connect(&cli.url, pool).await?;
    copydesk::store::migrate(&db).await?;
    db.execute_unprepared("TRUNCATE events, audit_log, outbox_consumers, outbox_parked, jobs").await?;
    db.execute_unprepared("VACUUM ANALYZE events").await?;
    warm(&db, writers.min(pool as usize)).await?;
    let recorder = Arc::new(Recorder::default());
    let settings = copydesk::jobs::JobSettings {
        poll_ms,
        ..copydesk::jobs::JobSettings::default()
    };
    let clock: Arc<dyn copydesk_actors::ports::Clock> = Arc::new(SystemClock);
    let work = copydesk::jobs::Work::default();
    work.start(
        Uuid::now_v7(),
        &settings,
        clock.clone(),
        Arc::new(copydesk::jobs::store::SqlJobQueue::new(db.clone())),
        Arc::new(copydesk::events::outbox::SqlOutbox::new(db.clone())),
        Arc::new(copydesk::jobs::store::SqlCronStore::new(db.clone())),
        HashMap::new(),
        vec![(CONSUMER.to_string(), recorder.clone() as Arc<dyn EventHandler>)],
        Vec::new(),
    );
    // Writes announce through this, as a request's UnitOfWork does: after commit it wakes
    // this node's outbox readers (our consumer) and publishes on the bus (in memory here: no
    // other node listens). With --no-wake, a Work with no consumers: ours only polls.
    let announcer = copydesk::events::Announcer {
        bus: Arc::new(copydesk_actors::memory_bus::MemoryBus::new()),
        work: if wake { work.clone() } else { copydesk::jobs::Work::default() },
        clock,
    };
    // The consumer has taken its lease and its cursor (at the head of the empty outbox)
    // once its row exists.
    let t_wait = Instant::now();
    while scalar(&db, &format!("SELECT COUNT(*) FROM outbox_consumers WHERE name = '{CONSUMER}' AND lease_owner IS NOT NULL")).await? == 0 {
        if t_wait.elapsed() > Duration::from_secs(10) {
            bail!("the consumer never took its lease");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let written: Arc<Mutex<Vec<Written>>> = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let cpu = CpuMeter::start(cli.pg_pid);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs_f64(duration);
    let period = Duration::from_secs_f64(writers as f64 / rate);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (db, written, errors, announcer) = (db.clone(), written.clone(), errors.clone(), announcer.clone());
        let first = start + period.mul_f64(w as f64 / writers as f64);
        tasks.push(actix::spawn(async move {
            let mut iv = tokio::time::interval_at(first, period);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                iv.tick().await;
                if tokio::time::Instant::now() >= end {
                    break;
                }
                let began = Instant::now();
                // The server's write path: a UnitOfWork records the event (outbox row and
                // audit row in the transaction), commits, then announces.
                let r = async {
                    let user = Uuid::now_v7();
                    let mut uow = copydesk::events::UnitOfWork::begin_on(
                        &db,
                        announcer.clone(),
                        Some(user),
                        &copydesk::events::NO_REQUEST,
                    )
                    .await
                    .map_err(|e| anyhow!("begin: {e:?}"))?;
                    let id = uow
                        .record(
                            copydesk::events::EventType::UserProfileUpdated,
                            None,
                            ("user", Some(user.to_string())),
                            &copydesk::events::catalogue::UserEvent { user_id: Some(user), password_changed: Some(false) },
                        )
                        .await
                        .map_err(|e| anyhow!("record: {e:?}"))?
                        .id;
                    uow.commit().await.map_err(|e| anyhow!("commit: {e:?}"))?;
                    anyhow::Ok(id)
                }
                .await;
                match r {
                    Ok(id) => {
                        // `commit()` returns after COMMIT and the announcement (a message to
                        // the consumer, a publish on the in-memory bus): microseconds.
                        let committed = Instant::now();
                        written.lock().unwrap().push(Written { id, began, committed });
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Relaxed) == 0 {
                            eprintln!("outbox: a write failed: {e:#}");
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let write_s = start.elapsed().as_secs_f64();
    let n_written = written.lock().unwrap().len();
    // Let the consumer catch up.
    let t_drain = Instant::now();
    while recorder.got.lock().unwrap().len() < n_written && t_drain.elapsed().as_secs_f64() < drain {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_s = t_drain.elapsed().as_secs_f64();
    let cpu = cpu.stop();
    // The node stays up (idle) until the process exits: stopping its thread while the
    // consumer holds a pooled connection would drop that connection outside a runtime.
    let delivered_row = scalar(&db, &format!("SELECT delivered FROM outbox_consumers WHERE name = '{CONSUMER}'")).await?;
    let parked = scalar(&db, "SELECT COUNT(*) FROM outbox_parked").await?;

    let written = std::mem::take(&mut *written.lock().unwrap());
    let got = std::mem::take(&mut *recorder.got.lock().unwrap());
    let by_id: HashMap<Uuid, &Written> = written.iter().map(|w| (w.id, w)).collect();
    let mut count: HashMap<Uuid, u32> = HashMap::new();
    for (id, _, _) in &got {
        *count.entry(*id).or_default() += 1;
    }
    let duplicates: u64 = count.values().map(|&c| u64::from(c.saturating_sub(1))).sum();
    let missing = by_id.keys().filter(|id| !count.contains_key(*id)).count();
    let foreign = count.keys().filter(|id| !by_id.contains_key(*id)).count();
    // Position order: each delivery after the one before it.
    let out_of_position = got.windows(2).filter(|w| w[1].1 <= w[0].1).count();
    // Real-time order: an event delivered before another that had already committed when
    // the first one's transaction began would be a commit-order violation.
    let mut suffix_min: Vec<Option<Instant>> = vec![None; got.len() + 1];
    for i in (0..got.len()).rev() {
        let c = by_id.get(&got[i].0).map(|w| w.committed);
        suffix_min[i] = match (c, suffix_min[i + 1]) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let commit_order_violations = (0..got.len())
        .filter(|&i| {
            let began = by_id.get(&got[i].0).map(|w| w.began);
            matches!((began, suffix_min[i + 1]), (Some(b), Some(m)) if m < b)
        })
        .count();
    // Lag: writer's commit returned → handler called (first delivery of each event).
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut first_seen: HashSet<Uuid> = HashSet::new();
    let mut before_ack = 0u64;
    for (id, _, at) in &got {
        if !first_seen.insert(*id) {
            continue;
        }
        if let Some(w) = by_id.get(id) {
            match at.checked_duration_since(w.committed) {
                Some(d) => {
                    let _ = hist.record((d.as_micros() as u64).max(1));
                }
                None => {
                    before_ack += 1;
                    let _ = hist.record(1);
                }
            }
        }
    }
    // The same lag per 5 s of the run (by commit time): does it drift as the outbox grows?
    let t_first = written.iter().map(|w| w.committed).min();
    let mut windows: Vec<Vec<u64>> = Vec::new();
    let mut seen_w: HashSet<Uuid> = HashSet::new();
    for (id, _, at) in &got {
        let (Some(w), Some(t_first)) = (by_id.get(id), t_first) else { continue };
        if !seen_w.insert(*id) {
            continue;
        }
        let k = (w.committed.duration_since(t_first).as_secs_f64() / 5.0) as usize;
        if windows.len() <= k {
            windows.resize_with(k + 1, Vec::new);
        }
        windows[k].push(at.checked_duration_since(w.committed).map_or(0, |d| d.as_micros() as u64));
    }
    let by_window: Vec<serde_json::Value> = windows
        .iter_mut()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            v.sort_unstable();
            let q = |p: f64| round(v[((v.len() - 1) as f64 * p) as usize] as f64 / 1000.0, 3);
            json!({ "from_s": k * 5, "events": v.len(), "p50": q(0.5), "p99": q(0.99) })
        })
        .collect();
    let ms = |q: f64| round(hist.value_at_quantile(q) as f64 / 1000.0, 3);
    let exactly_once = duplicates == 0 && missing == 0 && foreign == 0;
    let in_order = out_of_position == 0 && commit_order_violations == 0;
    let achieved = n_written as f64 / write_s;
    let lag = json!({
        "p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "p999": ms(0.999),
        "max": round(hist.max() as f64 / 1000.0, 3), "mean": round(hist.mean() / 1000.0, 3),
    });
    eprintln!(
        "outbox: {n_written} events in {write_s:.1} s ({achieved:.0}/s, {writers} writers, wake {wake}); lag ms {lag}; \
         delivered {}, duplicates {duplicates}, missing {missing}, out of position {out_of_position}, \
         commit-order violations {commit_order_violations}; drain {drain_s:.2} s; cpu {cpu}",
        got.len()
    );
    Ok(json!({
        "bench": "outbox",
        "label": cli.label,
        "rate_target": rate,
        "rate_achieved": round(achieved, 1),
        "duration_s": round(write_s, 3),
        "writers": writers,
        "consumer_batch": batch,
        "poll_ms": poll_ms,
        "wake_after_commit": wake,
        "written": n_written,
        "events_in_table": scalar(&db, "SELECT COUNT(*) FROM events").await?,
        "write_errors": errors.load(Relaxed),
        "delivered": got.len(),
        "cursor_delivered": delivered_row,
        "parked": parked,
        "duplicates": duplicates,
        "missing": missing,
        "foreign": foreign,
        "out_of_position": out_of_position,
        "commit_order_violations": commit_order_violations,
        "handled_before_commit_ack": before_ack,
        "exactly_once": exactly_once,
        "in_order": in_order,
        "lag_ms": lag,
        "lag_ms_by_5s": by_window,
        "drain_s": round(drain_s, 3),
        "cpu": cpu,
    })
    .to_string())
}
