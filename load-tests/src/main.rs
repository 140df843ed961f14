//! `copydesk-load`: a load generator for servers speaking the y-websocket protocol
//! (y-protocols sync + awareness over WebSocket): Copydesk's `/api/collab/{post_id}`,
//! `@y/websocket-server` and Hocuspocus.
//!
//! A run: the first client of each document connects (and pre-fills it when `--doc-size` is
//! given), optional sync probes time fresh connections, the other clients connect and sync,
//! the server's RSS is read, then writers write through a warm-up and a measured window,
//! the generator drains what is still in flight and prints one JSON line (stdout) and a
//! summary (stderr). See README.md for what each number means.
//!
//! Modules: `proto` (lib0 + message layouts), `marker` (the text writers insert and readers
//! scan for), `track` (lock-free send-time tables shared by all clients), `client` (one
//! connection's life), `procfs` (RSS and CPU of the server and of this process).

#![recursion_limit = "256"]

mod append;
mod client;
mod http;
mod marker;
mod procfs;
mod proto;
mod track;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use serde_json::json;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep, timeout, Instant};

use client::{ClientResult, Ctx, PrefillStats, Ready, Setup};
use proto::Framing;
use track::{Phase, Shared, WriterTrack};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Target {
    /// Copydesk: ws://HOST:PORT/api/collab/{post_id}?ticket=<single-use ticket>, each bought
    /// with the access JWT from POST /api/auth/ws-ticket
    Copydesk,
    /// @y/websocket-server: room = URL path
    Yws,
    /// Hocuspocus 3.x: document name in every message, auth message first
    Hocuspocus,
    /// Hocuspocus 4.x: the same wire format as 3.x (checked against 4.7.0's
    /// `ClientConnection.handleMessage`: the address is `varString(documentName)`, optionally
    /// `documentName\0sessionId`, which we do not use; the auth message is
    /// type 2, sub-type 0, `varString(token)` and an optional `varString(providerVersion)`,
    /// answered by sub-type 2 "authenticated" + scope). Its own target so results say which
    /// server was measured.
    Hocuspocus4,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Copydesk => "copydesk",
            Target::Yws => "yws",
            Target::Hocuspocus => "hocuspocus",
            Target::Hocuspocus4 => "hocuspocus4",
        }
    }

    fn hocuspocus(self) -> bool {
        matches!(self, Target::Hocuspocus | Target::Hocuspocus4)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ArrivalArg {
    Poisson,
    Spread,
    RandomPhase,
}

impl ArrivalArg {
    fn get(self) -> client::Arrival {
        match self {
            ArrivalArg::Poisson => client::Arrival::Poisson,
            ArrivalArg::Spread => client::Arrival::Spread,
            ArrivalArg::RandomPhase => client::Arrival::RandomPhase,
        }
    }
}

#[derive(Parser, Debug)]
#[command(version, about = "Load generator for y-websocket protocol servers", long_about = None)]
struct Args {
    /// Server kind (decides URL layout and framing).
    #[arg(long, value_enum)]
    target: Target,
    /// Base URL, e.g. ws://127.0.0.1:14101 (loopback only).
    #[arg(long)]
    url: String,
    /// A second node of the same cluster (Copydesk on PostgreSQL + Redis): clients with an
    /// odd index connect here; the result adds latency by same node / other node.
    #[arg(long)]
    url2: Option<String>,
    /// Number of documents (ignored when --doc-ids is given).
    #[arg(long, default_value_t = 1)]
    docs: usize,
    /// Document ids (Copydesk post ids), comma-separated. Default: <doc-prefix>-<i>.
    #[arg(long, value_delimiter = ',')]
    doc_ids: Vec<String>,
    /// Prefix of generated document names.
    #[arg(long, default_value = "bench")]
    doc_prefix: String,
    /// Clients per document (writers included).
    #[arg(long, default_value_t = 10)]
    clients_per_doc: usize,
    /// Writers per document (the first W clients).
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Updates per second per writer (ignored with --saturate).
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// When writers send: poisson (exponential gaps, independent users), spread (fixed
    /// period, writers evenly staggered: no collisions, the best case) or random-phase
    /// (fixed period at a random phase each).
    #[arg(long, value_enum, default_value_t = ArrivalArg::Poisson)]
    arrival: ArrivalArg,
    /// Awareness updates per second per client (0: none).
    #[arg(long, default_value_t = 0.0)]
    awareness_rate: f64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Writing before the measured window, seconds.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Pre-fill each document's caption to this many bytes before the run.
    #[arg(long, default_value_t = 0)]
    doc_size: usize,
    /// Pre-fill chunk size (each chunk goes to a random position).
    #[arg(long, default_value_t = 512)]
    prefill_chunk: usize,
    /// Copydesk: access JWT; each connection buys a single-use ticket with it
    /// (POST /api/auth/ws-ticket, bearer) and connects with ?ticket=. Hocuspocus: the auth
    /// token (any by default).
    #[arg(long, default_value = "")]
    token: String,
    /// Throughput mode: writers send as fast as updates reach every client, with at most
    /// --window updates per writer not yet received by all.
    #[arg(long)]
    saturate: bool,
    #[arg(long, default_value_t = 16)]
    window: u64,
    /// Memory mode: connect, sync, go idle, report RSS per connection.
    #[arg(long)]
    idle: bool,
    /// Seconds to stay idle before reading RSS (memory mode).
    #[arg(long, default_value_t = 5.0)]
    idle_settle: f64,
    /// Memory mode: also read the server's RSS (after --idle-settle idle) when this many
    /// connections in all are open, e.g. 1000,2500 (the full docs × clients-per-doc is always
    /// the last sample). Clients connect document-interleaved (every document's first client
    /// first), so each sample has every document open and the least-squares slope over the
    /// samples (`server.rss_slope_kib_per_conn`) is the cost of one more connection, without
    /// the per-document or start-up memory that the plain average includes.
    #[arg(long, value_delimiter = ',')]
    idle_steps: Vec<usize>,
    /// The server's pid, for VmRSS and CPU from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Time N fresh connections per document from connect to SyncStep2 (after any pre-fill).
    #[arg(long, default_value_t = 0)]
    sync_probes: usize,
    /// Pre-fill (and probe), then exit.
    #[arg(long)]
    prefill_only: bool,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 32)]
    connect_concurrency: usize,
    /// Per connection attempt, seconds.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Longest wait for updates still in flight after the window, seconds.
    #[arg(long, default_value_t = 10.0)]
    drain_timeout: f64,
    /// Saturation: an update not received by all within this many seconds counts as a stall.
    #[arg(long, default_value_t = 5.0)]
    stall_timeout: f64,
    /// Runtime threads. 1 = single-threaded (pin with `taskset -c 1`).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Hard limit on the whole run, seconds (default: warm-up + duration + 300).
    #[arg(long)]
    max_runtime: Option<f64>,
    /// Scenario label copied into the result.
    #[arg(long, default_value = "")]
    label: String,
    /// Seed for client ids and pre-fill text (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let limit = args.max_runtime.unwrap_or(args.warmup + args.duration + 300.0);
    let out = rt.block_on(async {
        timeout(Duration::from_secs_f64(limit), run(args))
            .await
            .map_err(|_| anyhow::anyhow!("run exceeded --max-runtime ({limit} s)"))?
    })?;
    println!("{out}");
    // Client tasks are done; don't wait for stragglers in the runtime.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn check_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("ws://")
        .context("--url must start with ws:// (loopback servers only)")?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    let ok = host == "localhost" || host == "::1" || host.starts_with("127.");
    if !ok {
        bail!("refusing to load {host}: only loopback addresses (127.0.0.0/8, ::1, localhost)");
    }
    Ok(())
}

fn percentile_ms(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

async fn wait_ready(
    rx: &mut mpsc::UnboundedReceiver<Ready>,
    n: usize,
    limit: Duration,
    sync_hist: &mut hdrhistogram::Histogram<u64>,
    prefills: &mut Vec<PrefillStats>,
    connected: &mut [usize],
    errors: &mut Vec<String>,
    sync_bytes_max: &mut usize,
) {
    let deadline = Instant::now() + limit;
    for _ in 0..n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) => match r.result {
                Ok(info) => {
                    connected[r.doc] += 1;
                    *sync_bytes_max = (*sync_bytes_max).max(info.sync_bytes);
                    let _ = sync_hist.record(info.sync_us.max(1));
                    prefills.extend(info.prefill);
                }
                Err(e) => errors.push(format!("{e:#}")),
            },
            _ => {
                errors.push("timed out waiting for clients to connect and sync".into());
                break;
            }
        }
    }
}

async fn run(args: Args) -> anyhow::Result<String> {
    check_loopback(&args.url)?;
    let base = args.url.trim_end_matches('/').to_owned();
    let names: Vec<String> = if args.doc_ids.is_empty() {
        (0..args.docs).map(|i| format!("{}-{i}", args.doc_prefix)).collect()
    } else {
        args.doc_ids.clone()
    };
    let docs = names.len();
    if args.target == Target::Copydesk && (args.token.is_empty() || args.doc_ids.is_empty()) {
        bail!("--target copydesk needs --token and --doc-ids (post ids)");
    }
    if args.writers > args.clients_per_doc {
        bail!("--writers ({}) > --clients-per-doc ({})", args.writers, args.clients_per_doc);
    }
    if docs * args.writers > marker::MAX_WRITER as usize + 1 {
        bail!("at most {} writers in all", marker::MAX_WRITER + 1);
    }
    if args.saturate && args.clients_per_doc < 2 {
        bail!("--saturate needs at least 2 clients per document");
    }
    if args.doc_size > 0 && args.clients_per_doc == 0 {
        bail!("--doc-size needs at least one client per document (it pre-fills)");
    }
    let urls: Vec<String> = names
        .iter()
        .map(|n| match args.target {
            Target::Copydesk => format!("{base}/api/collab/{n}"),
            Target::Yws => format!("{base}/{n}"),
            Target::Hocuspocus | Target::Hocuspocus4 => base.clone(),
        })
        .collect();
    let second = match &args.url2 {
        None => None,
        Some(u) => {
            check_loopback(u)?;
            let base2 = u.trim_end_matches('/').to_owned();
            let urls2 = names.iter().map(|n| match args.target {
                Target::Copydesk => format!("{base2}/api/collab/{n}"),
                Target::Yws => format!("{base2}/{n}"),
                Target::Hocuspocus | Target::Hocuspocus4 => base2.clone(),
            }).collect();
            let tickets2 = (args.target == Target::Copydesk).then(|| client::TicketSource {
                authority: http::authority(&base2).expect("checked by check_loopback"),
                bearer: args.token.clone(),
            });
            Some((urls2, tickets2))
        }
    };
    let framing = if args.target.hocuspocus() { Framing::Hocuspocus } else { Framing::YWebsocket };
    let seed = args.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        t.as_nanos() as u64 ^ (u64::from(std::process::id()) << 32)
    });
    let ring = if args.saturate {
        (args.window as usize * 64).max(1024)
    } else {
        ((args.rate * (args.drain_timeout + 60.0)) as usize * 4).clamp(1024, 1 << 16)
    };
    let hocus_token = if args.token.is_empty() { "load-test".to_owned() } else { args.token.clone() };
    let ctx = Arc::new(Ctx {
        setup: Setup {
            framing,
            urls,
            doc_names: names.clone(),
            token: hocus_token,
            tickets: (args.target == Target::Copydesk).then(|| client::TicketSource {
                authority: http::authority(&base).expect("checked by check_loopback"),
                bearer: args.token.clone(),
            }),
            second,
            clients_per_doc: args.clients_per_doc,
            writers_per_doc: args.writers,
            rate: args.rate,
            awareness_rate: args.awareness_rate,
            arrival: args.arrival.get(),
            saturate: args.saturate,
            window: args.window.max(1),
            connect_timeout: Duration::from_secs_f64(args.connect_timeout),
            stall_timeout: Duration::from_secs_f64(args.stall_timeout),
            doc_size: args.doc_size,
            prefill_chunk: args.prefill_chunk,
            seed,
        },
        shared: Shared {
            start: std::time::Instant::now(),
            writers: (0..docs * args.writers).map(|_| WriterTrack::new(ring)).collect(),
            receivers: (0..docs).map(|_| AtomicU32::new(0)).collect(),
            delivered: AtomicU64::new(0),
            sync_order: AtomicU64::new(0),
        },
    });

    let pid = args.server_pid;
    let rss_before = pid.and_then(procfs::rss_kib);
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut handles = Vec::new();
    let mut sync_hist = client::new_histogram();
    let mut prefills = Vec::new();
    let mut connected = vec![0usize; docs];
    let mut errors = Vec::new();
    let mut sync_bytes_max = 0usize;
    let spawn = |doc: usize, idx: usize, handles: &mut Vec<tokio::task::JoinHandle<ClientResult>>| {
        handles.push(tokio::spawn(client::run(
            ctx.clone(),
            doc,
            idx,
            idx == 0,
            gate.clone(),
            ready_tx.clone(),
            phase_rx.clone(),
        )));
    };

    // 1. The first client of each document (it pre-fills).
    if args.clients_per_doc > 0 {
        for d in 0..docs {
            spawn(d, 0, &mut handles);
        }
        let limit = Duration::from_secs_f64(args.connect_timeout * 6.0 + 120.0);
        wait_ready(&mut ready_rx, docs, limit, &mut sync_hist, &mut prefills, &mut connected, &mut errors, &mut sync_bytes_max).await;
    }

    // 2. Pre-fill landed? Then time fresh syncs.
    let mut prefill_visible_ms = Vec::new();
    if args.doc_size > 0 {
        for d in 0..docs {
            let t0 = Instant::now();
            let mut ok = false;
            for _ in 0..120 {
                match client::probe(&ctx.setup, d).await {
                    Ok((_, _, true)) => {
                        ok = true;
                        break;
                    }
                    Ok(_) => sleep(Duration::from_millis(250)).await,
                    Err(e) => {
                        errors.push(format!("pre-fill check: {e:#}"));
                        sleep(Duration::from_millis(250)).await;
                    }
                }
            }
            if !ok {
                bail!("pre-fill of {} never became visible to a new client", names[d]);
            }
            prefill_visible_ms.push(round(t0.elapsed().as_secs_f64() * 1e3, 1));
        }
    }
    let mut probes = Vec::new();
    for d in 0..docs {
        for _ in 0..args.sync_probes {
            match client::probe(&ctx.setup, d).await {
                Ok((us, bytes, _)) => probes.push(json!({"doc": d, "ms": round(us as f64 / 1e3, 3), "bytes": bytes})),
                Err(e) => errors.push(format!("sync probe: {e:#}")),
            }
        }
    }

    // 3. Everyone else (in stages when --idle-steps asks for RSS samples on the way).
    let settle = if args.idle { args.idle_settle } else if args.prefill_only { 0.0 } else { 2.0 };
    let mut rss_steps: Vec<(usize, u64)> = Vec::new();
    if !args.prefill_only && args.clients_per_doc > 1 {
        let order: Vec<(usize, usize)> =
            (1..args.clients_per_doc).flat_map(|idx| (0..docs).map(move |d| (d, idx))).collect();
        let mut stops: Vec<usize> = if args.idle {
            args.idle_steps.iter().map(|&t| t.saturating_sub(docs).min(order.len())).filter(|&n| n > 0).collect()
        } else {
            Vec::new()
        };
        stops.push(order.len());
        stops.sort_unstable();
        stops.dedup();
        let mut done = 0;
        for (i, &stop) in stops.iter().enumerate() {
            for &(d, idx) in &order[done..stop] {
                spawn(d, idx, &mut handles);
            }
            let n = stop - done;
            let limit = Duration::from_secs_f64(args.connect_timeout * 6.0 + n as f64 * 0.05);
            wait_ready(&mut ready_rx, n, limit, &mut sync_hist, &mut prefills, &mut connected, &mut errors, &mut sync_bytes_max).await;
            done = stop;
            if i + 1 < stops.len() {
                // An intermediate sample; the last one is rss_after below.
                sleep(Duration::from_secs_f64(settle)).await;
                if let Some(r) = pid.and_then(procfs::rss_kib) {
                    rss_steps.push((connected.iter().sum(), r));
                }
            }
        }
    }
    drop(ready_tx);
    for (d, &c) in connected.iter().enumerate() {
        ctx.shared.receivers[d].store(c.saturating_sub(1) as u32, Release);
    }
    let total_connected: usize = connected.iter().sum();

    // 4. Idle memory.
    sleep(Duration::from_secs_f64(settle)).await;
    let rss_after = pid.and_then(procfs::rss_kib);
    if let (true, Some(r)) = (args.idle && !args.idle_steps.is_empty(), rss_after) {
        rss_steps.push((total_connected, r));
    }

    // 5. Write.
    let writing = !args.idle && !args.prefill_only && (args.writers > 0 || args.awareness_rate > 0.0);
    let hz = procfs::ticks_per_sec();
    let (mut measured_s, mut server_cpu, mut gen_cpu, mut drained_ms) = (0.0, None, None, 0.0);
    let mut machine = None;
    if writing {
        phase_tx.send_replace(Phase::Warmup);
        sleep(Duration::from_secs_f64(args.warmup)).await;
        phase_tx.send_replace(Phase::Measure);
        let t0 = Instant::now();
        let (s0, g0, c0) = (pid.and_then(procfs::cpu_ticks), procfs::self_cpu_ticks(), procfs::core_ticks());
        sleep(Duration::from_secs_f64(args.duration)).await;
        phase_tx.send_replace(Phase::Drain);
        measured_s = t0.elapsed().as_secs_f64();
        let (s1, g1, c1) = (pid.and_then(procfs::cpu_ticks), procfs::self_cpu_ticks(), procfs::core_ticks());
        let pct = |busy: u64, total: u64| if total == 0 { 0.0 } else { round(busy as f64 / total as f64 * 100.0, 1) };
        let cores: Vec<_> = c0
            .iter()
            .zip(&c1)
            .map(|(a, b)| (b.0 - a.0, b.1 - a.1, b.2 - a.2))
            .collect();
        machine = Some(json!({
            "core_busy_pct": cores.iter().map(|c| pct(c.0, c.2)).collect::<Vec<_>>(),
            "steal_pct": cores.iter().map(|c| pct(c.1, c.2)).collect::<Vec<_>>(),
            // Busy time on the machine that was neither the server nor the generator: other
            // people's work (a build, a test run) that makes the numbers suspect.
            "others_pct": s0.zip(s1).zip(g0.zip(g1)).map(|((sa, sb), (ga, gb))| {
                let busy: u64 = cores.iter().map(|c| c.0).sum();
                let total = cores.iter().map(|c| c.2).max().unwrap_or(0);
                pct(busy.saturating_sub((sb - sa) + (gb - ga)), total)
            }),
        }));
        server_cpu = s0.zip(s1).map(|(a, b)| round((b - a) as f64 / hz / measured_s * 100.0, 1));
        gen_cpu = g0.zip(g1).map(|(a, b)| round((b - a) as f64 / hz / measured_s * 100.0, 1));
        // Wait for every writer to close its window, then for deliveries to catch up.
        let td = Instant::now();
        let all_closed = || ctx.shared.writers.iter().all(|w| w.to.load(Acquire) != u64::MAX);
        for _ in 0..200 {
            if all_closed() {
                break;
            }
            sleep(Duration::from_millis(10)).await;
        }
        let expected_total = expected_receipts(&ctx, docs, args.writers);
        let drain_deadline = Instant::now() + Duration::from_secs_f64(args.drain_timeout);
        while ctx.shared.delivered.load(Acquire) < expected_total && Instant::now() < drain_deadline {
            sleep(Duration::from_millis(20)).await;
        }
        drained_ms = td.elapsed().as_secs_f64() * 1e3;
    }
    phase_tx.send_replace(Phase::Stop);

    let mut results = Vec::new();
    for h in handles {
        match timeout(Duration::from_secs(15), h).await {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => errors.push(format!("client task failed: {e}")),
            Err(_) => errors.push("client task did not stop".into()),
        }
    }

    Ok(report(ReportIn {
        args: &args,
        ctx: &ctx,
        docs,
        results,
        sync_hist,
        sync_bytes_max,
        prefills,
        prefill_visible_ms,
        probes,
        errors,
        total_connected,
        rss_before,
        rss_after,
        rss_steps,
        measured_s,
        server_cpu,
        gen_cpu,
        drained_ms,
        machine,
    }))
}

/// Sum over writers of (measured updates × clients that should receive them).
fn expected_receipts(ctx: &Ctx, docs: usize, writers: usize) -> u64 {
    let mut total = 0;
    for d in 0..docs {
        let rec = u64::from(ctx.shared.receivers[d].load(Acquire));
        for w in 0..writers {
            total += window_len(&ctx.shared.writers[d * writers + w]) * rec;
        }
    }
    total
}

fn window_len(t: &WriterTrack) -> u64 {
    let (f, to) = (t.from.load(Acquire), t.to.load(Acquire));
    if f == u64::MAX || to == u64::MAX { 0 } else { to.saturating_sub(f) }
}

struct ReportIn<'a> {
    args: &'a Args,
    ctx: &'a Ctx,
    docs: usize,
    results: Vec<ClientResult>,
    sync_hist: hdrhistogram::Histogram<u64>,
    sync_bytes_max: usize,
    prefills: Vec<PrefillStats>,
    prefill_visible_ms: Vec<f64>,
    probes: Vec<serde_json::Value>,
    errors: Vec<String>,
    total_connected: usize,
    rss_before: Option<u64>,
    rss_after: Option<u64>,
    rss_steps: Vec<(usize, u64)>,
    measured_s: f64,
    server_cpu: Option<f64>,
    gen_cpu: Option<f64>,
    drained_ms: f64,
    machine: Option<serde_json::Value>,
}

fn report(r: ReportIn) -> String {
    let a = r.args;
    let mut lat = client::new_histogram();
    // The same samples split by the receiving client's role: writers (they also send) and
    // read-only clients. A server may treat them differently (e.g. a writer's socket is
    // busy reading), so the issue asks for both.
    let mut lat_writers = client::new_histogram();
    let mut lat_readers = client::new_histogram();
    let (mut lat_same, mut lat_other) = (client::new_histogram(), client::new_histogram());
    let (mut delivered, mut sent, mut sent_measured, mut dup, mut foreign, mut untimed) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut stalls, mut disconnects, mut parse_errors, mut aw_in, mut aw_sent, mut frames, mut msgs, mut bytes_in) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut drops, mut drops_max, mut clients_with_drops, mut expected) = (0u64, 0u64, 0u64, 0u64);
    let writers = a.writers;
    for c in &r.results {
        let _ = lat.add(&c.latency_us);
        let _ = if c.writer.is_some() { lat_writers.add(&c.latency_us) } else { lat_readers.add(&c.latency_us) };
        let _ = lat_same.add(&c.same_node_us);
        let _ = lat_other.add(&c.other_node_us);
        delivered += c.delivered;
        sent += c.sent;
        sent_measured += c.sent_measured;
        dup += c.duplicates;
        foreign += c.foreign;
        untimed += c.untimed;
        stalls += c.stalls;
        disconnects += u64::from(c.disconnected);
        parse_errors += c.parse_errors;
        aw_in += c.awareness_in;
        aw_sent += c.awareness_sent;
        frames += c.frames_in;
        msgs += c.messages_in;
        bytes_in += c.bytes_in;
        if !c.connected {
            continue;
        }
        let mut exp = 0;
        for w in 0..writers {
            let gid = (c.doc * writers + w) as u32;
            if Some(gid) != c.writer {
                exp += window_len(&r.ctx.shared.writers[gid as usize]);
            }
        }
        expected += exp;
        let d = exp.saturating_sub(c.delivered);
        drops += d;
        drops_max = drops_max.max(d);
        clients_with_drops += u64::from(d > 0);
    }
    // Latency by connection order: a server that fans out serially reaches its
    // last-connected clients last, so a rising p50 across deciles is the server's fan-out
    // time, not the generator's.
    let mut ranked: Vec<&ClientResult> = r.results.iter().filter(|c| c.connected && !c.latency_us.is_empty()).collect();
    ranked.sort_by_key(|c| c.rank);
    let mut deciles = Vec::new();
    if ranked.len() >= 10 {
        for k in 0..10 {
            let mut h = client::new_histogram();
            for c in &ranked[k * ranked.len() / 10..(k + 1) * ranked.len() / 10] {
                let _ = h.add(&c.latency_us);
            }
            deciles.push(json!({"p50": percentile_ms(&h, 0.5), "p99": percentile_ms(&h, 0.99)}));
        }
    }
    let secs = if r.measured_s > 0.0 { r.measured_s } else { f64::NAN };
    let attempted = r.docs * a.clients_per_doc;
    let conn_errors = attempted.saturating_sub(r.total_connected);
    let rss_per_conn = match (r.rss_before, r.rss_after) {
        (Some(b), Some(af)) if r.total_connected > 0 => Some(round((af as f64 - b as f64) / r.total_connected as f64, 2)),
        _ => None,
    };
    let mode = if a.idle {
        "idle"
    } else if r.measured_s > 0.0 {
        if a.saturate { "saturate" } else { "rate" }
    } else if !r.probes.is_empty() {
        "sync-probe"
    } else {
        "prefill"
    };
    let finite = |x: f64| if x.is_finite() { json!(round(x, 1)) } else { serde_json::Value::Null };
    let v = json!({
        "target": a.target.name(),
        "label": a.label,
        "mode": mode,
        "docs": r.docs,
        "clients_per_doc": a.clients_per_doc,
        "writers_per_doc": a.writers,
        "rate_per_writer": if a.saturate { serde_json::Value::Null } else { json!(a.rate) },
        "arrival": if mode == "rate" { json!(a.arrival.to_possible_value().map(|v| v.get_name().to_owned())) } else { serde_json::Value::Null },
        "window": if a.saturate { json!(a.window) } else { serde_json::Value::Null },
        "awareness_rate": a.awareness_rate,
        "doc_size": a.doc_size,
        "warmup_s": a.warmup,
        "duration_s": round(r.measured_s, 3),
        "connections": {
            "attempted": attempted,
            "connected": r.total_connected,
            "errors": conn_errors,
            "disconnects": disconnects,
        },
        "sync_ms": {
            "p50": percentile_ms(&r.sync_hist, 0.5),
            "p99": percentile_ms(&r.sync_hist, 0.99),
            "max": percentile_ms(&r.sync_hist, 1.0),
            "step2_bytes_max": r.sync_bytes_max,
        },
        "latency_ms": {
            "samples": lat.len(),
            "p50": percentile_ms(&lat, 0.5),
            "p90": percentile_ms(&lat, 0.9),
            "p99": percentile_ms(&lat, 0.99),
            "p999": percentile_ms(&lat, 0.999),
            "max": percentile_ms(&lat, 1.0),
            "mean": round(lat.mean() / 1000.0, 3),
            "by_connection_decile": deciles,
            "writers": role_latency(&lat_writers),
            "readers": role_latency(&lat_readers),
            "same_node": (!lat_other.is_empty()).then(|| role_latency(&lat_same)),
            "other_node": (!lat_other.is_empty()).then(|| role_latency(&lat_other)),
        },
        "sent": sent,
        "sent_measured": sent_measured,
        "updates_per_s": finite(sent_measured as f64 / secs),
        "expected_receipts": expected,
        "delivered": delivered,
        "deliveries_per_s": finite(delivered as f64 / secs),
        "drops": drops,
        "drops_max_per_client": drops_max,
        "clients_with_drops": clients_with_drops,
        "duplicates": dup,
        "foreign_markers": foreign,
        "untimed": untimed,
        "stalls": stalls,
        "parse_errors": parse_errors,
        "awareness": {"sent": aw_sent, "received": aw_in},
        "frames_in": frames,
        "messages_in": msgs,
        "bytes_in": bytes_in,
        "drain_ms": round(r.drained_ms, 1),
        "server": {
            "pid": a.server_pid,
            "cpu_us_per_delivery": r.server_cpu.filter(|_| delivered > 0).map(|c| round(c / 100.0 * secs * 1e6 / delivered as f64, 2)),
            "rss_before_kib": r.rss_before,
            "rss_after_kib": r.rss_after,
            "rss_per_conn_kib": rss_per_conn,
            "rss_steps": r.rss_steps.iter().map(|&(n, kib)| json!({"connections": n, "rss_kib": kib})).collect::<Vec<_>>(),
            "rss_slope_kib_per_conn": slope(&r.rss_steps).map(|k| round(k, 2)),
            "cpu_pct": r.server_cpu,
        },
        "generator": {"cpu_pct": r.gen_cpu, "threads": a.threads},
        "machine": r.machine,
        "prefill": r.prefills.first().map(|p| json!({"bytes": p.bytes, "updates": p.updates, "ms": round(p.ms, 1)})),
        "prefill_visible_ms": r.prefill_visible_ms,
        "sync_probes": r.probes,
        "errors": r.errors.iter().take(10).collect::<Vec<_>>(),
        "error_count": r.errors.len() + r.results.iter().filter(|c| c.error.is_some()).count(),
        "client_errors": r.results.iter().filter_map(|c| c.error.clone()).take(5).collect::<Vec<_>>(),
    });

    // The human summary.
    let mut s = String::new();
    use std::fmt::Write;
    let _ = writeln!(s, "== {} {} [{}] docs={} clients/doc={} writers/doc={}{}",
        a.target.name(), a.label, mode, r.docs, a.clients_per_doc, a.writers,
        if mode == "saturate" { format!(" window={}", a.window) } else if mode == "rate" { format!(" rate={}/s ({:?})", a.rate, a.arrival) } else { String::new() });
    let _ = writeln!(s, "connections: {}/{} ok, {} errors, {} disconnects; sync p50 {:.2} ms, max {:.2} ms",
        r.total_connected, attempted, conn_errors, disconnects, percentile_ms(&r.sync_hist, 0.5), percentile_ms(&r.sync_hist, 1.0));
    if let Some(p) = r.prefills.first() {
        let _ = writeln!(s, "pre-fill: {} bytes in {} updates, {:.0} ms", p.bytes, p.updates, p.ms);
    }
    if !r.probes.is_empty() {
        let ms: Vec<String> = r.probes.iter().map(|p| format!("{}", p["ms"])).collect();
        let _ = writeln!(s, "sync probes (connect → SyncStep2, ms): {}", ms.join(", "));
    }
    if r.measured_s > 0.0 {
        let _ = writeln!(s, "fan-out latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  ({} samples)",
            percentile_ms(&lat, 0.5), percentile_ms(&lat, 0.9), percentile_ms(&lat, 0.99), percentile_ms(&lat, 1.0), lat.len());
        for (role, h) in [("writers", &lat_writers), ("readers", &lat_readers)] {
            if !h.is_empty() {
                let _ = writeln!(s, "  at {role}: p50 {:.2}  p99 {:.2}  max {:.2}  ({} samples)",
                    percentile_ms(h, 0.5), percentile_ms(h, 0.99), percentile_ms(h, 1.0), h.len());
            }
        }
        let _ = writeln!(s, "updates/s sent {:.1}, deliveries/s {:.1}; drops {} (max {} per client, {} clients), dups {}, stalls {}",
            sent_measured as f64 / secs, delivered as f64 / secs, drops, drops_max, clients_with_drops, dup, stalls);
    }
    let o = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_else(|| "-".into());
    let _ = writeln!(s, "server: rss {} → {} KiB ({} KiB/conn), cpu {}%; generator cpu {}%",
        o(r.rss_before.map(|x| x as f64)), o(r.rss_after.map(|x| x as f64)), o(rss_per_conn), o(r.server_cpu), o(r.gen_cpu));
    if !r.rss_steps.is_empty() {
        let pts: Vec<String> = r.rss_steps.iter().map(|(n, k)| format!("{n}: {k}")).collect();
        let _ = writeln!(s, "rss by connections (KiB): {}; slope {} KiB/conn", pts.join(", "), o(slope(&r.rss_steps).map(|k| round(k, 2))));
    }
    if let Some(m) = &r.machine {
        let _ = writeln!(s, "machine: core busy {} %, steal {} %, others {} %", m["core_busy_pct"], m["steal_pct"], m["others_pct"]);
    }
    if !deciles.is_empty() {
        let d: Vec<String> = deciles.iter().map(|d| format!("{}", d["p50"])).collect();
        let _ = writeln!(s, "p50 by connection decile (first → last connected): {}", d.join(" "));
    }
    for e in r.errors.iter().take(3) {
        let _ = writeln!(s, "error: {e}");
    }
    eprint!("{s}");
    v.to_string()
}

/// Latency percentiles of one role's samples (null when that role received nothing).
fn role_latency(h: &hdrhistogram::Histogram<u64>) -> serde_json::Value {
    if h.is_empty() {
        return serde_json::Value::Null;
    }
    json!({
        "samples": h.len(),
        "p50": percentile_ms(h, 0.5),
        "p90": percentile_ms(h, 0.9),
        "p99": percentile_ms(h, 0.99),
        "max": percentile_ms(h, 1.0),
    })
}

/// Least-squares slope of RSS (KiB) over connections: the memory one more idle connection
/// costs. None with fewer than two distinct connection counts.
fn slope(points: &[(usize, u64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0 as f64).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 as f64 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 as f64 - mx) * (p.1 as f64 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slope_is_least_squares() {
        // RSS = 1000 + 4 KiB per connection, with noise that cancels.
        let pts = [(1000, 5001), (2500, 10999), (5000, 21000)];
        let k = super::slope(&pts).unwrap();
        assert!((k - 4.0).abs() < 0.01, "{k}");
        assert_eq!(super::slope(&[(10, 100)]), None);
        assert_eq!(super::slope(&[(10, 100), (10, 200)]), None);
    }
}
