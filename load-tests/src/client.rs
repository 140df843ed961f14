//! One simulated client: a WebSocket, the y-protocols handshake, then one `select!` loop that
//! reads frames, scans them for markers and — for writers — sends updates.
//!
//! Only writers keep a `yrs::Doc` (to produce real updates). Readers never apply updates:
//! they scan the bytes of every SyncStep2/Update for markers and look up the send time.

use std::sync::atomic::Ordering::*;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use futures_util::{FutureExt, SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{timeout, Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::updates::decoder::Decode;
use yrs::{Assoc, ClientID, Doc, IndexedSequence, ReadTxn, StateVector, Text, TextRef, Transact, Update};

use crate::marker;
use crate::proto::{self, Encoder, Framing, Msg, EMPTY_STATE_VECTOR, EMPTY_UPDATE};
use crate::track::{Phase, SeqSet, Shared};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every client needs to know; fixed for the run.
pub struct Setup {
    pub framing: Framing,
    /// WebSocket URL per document.
    pub urls: Vec<String>,
    /// Document name per document (Hocuspocus names documents in-band).
    pub doc_names: Vec<String>,
    pub token: String,
    /// Copydesk: every connection first buys a single-use ticket with the access token
    /// (`POST /api/auth/ws-ticket`) and connects to `{url}?ticket=…`.
    pub tickets: Option<TicketSource>,
    /// A second node of the same cluster (`--url2`): clients with an odd index connect to
    /// it, with its own URLs and tickets; receipts are timed apart by same / other node.
    pub second: Option<(Vec<String>, Option<TicketSource>)>,
    pub clients_per_doc: usize,
    pub writers_per_doc: usize,
    pub rate: f64,
    pub awareness_rate: f64,
    pub arrival: Arrival,
    pub saturate: bool,
    pub window: u64,
    pub connect_timeout: Duration,
    /// Saturation mode: give up waiting for an update that never reaches everyone.
    pub stall_timeout: Duration,
    pub doc_size: usize,
    pub prefill_chunk: usize,
    /// Varies client ids between runs (a server that keeps the document must not see a
    /// new writer reuse an old client id).
    pub seed: u64,
}

/// Where Copydesk tickets come from: the server's `host:port` and the access JWT.
pub struct TicketSource {
    pub authority: String,
    pub bearer: String,
}

pub struct Ctx {
    pub setup: Setup,
    pub shared: Shared,
}

/// Sent by a client once it is synced (and has pre-filled its document, if asked).
pub struct Ready {
    pub doc: usize,
    pub result: anyhow::Result<ReadyInfo>,
}

#[derive(Default)]
pub struct ReadyInfo {
    pub sync_us: u64,
    pub sync_bytes: usize,
    pub prefill: Option<PrefillStats>,
}

#[derive(Clone, Debug, Default)]
pub struct PrefillStats {
    pub bytes: usize,
    pub updates: usize,
    pub ms: f64,
}

/// What a client reports when it ends.
pub struct ClientResult {
    pub doc: usize,
    /// Order in which this client finished syncing (≈ the server's connection order).
    pub rank: u64,
    pub writer: Option<u32>,
    pub connected: bool,
    pub error: Option<String>,
    /// Lost the connection after it was established.
    pub disconnected: bool,
    pub latency_us: Histogram<u64>,
    /// With two nodes: receipts of updates written on this client's node / on the other.
    pub same_node_us: Histogram<u64>,
    pub other_node_us: Histogram<u64>,
    /// Receipts of measured updates (each marker once).
    pub delivered: u64,
    /// Receipts of updates sent outside the measured window.
    pub unmeasured: u64,
    pub duplicates: u64,
    /// Markers of writers of another document or unknown ids.
    pub foreign: u64,
    /// Measured receipts whose send time the ring no longer held (no latency sample).
    pub untimed: u64,
    pub own_echoes: u64,
    pub frames_in: u64,
    pub messages_in: u64,
    pub bytes_in: u64,
    pub awareness_in: u64,
    pub parse_errors: u64,
    /// Writer only.
    pub sent: u64,
    pub sent_measured: u64,
    pub stalls: u64,
    pub awareness_sent: u64,
}

impl ClientResult {
    fn new(doc: usize, writer: Option<u32>) -> Self {
        Self {
            doc,
            rank: u64::MAX,
            writer,
            connected: false,
            error: None,
            disconnected: false,
            latency_us: new_histogram(),
            same_node_us: new_histogram(),
            other_node_us: new_histogram(),
            delivered: 0,
            unmeasured: 0,
            duplicates: 0,
            foreign: 0,
            untimed: 0,
            own_echoes: 0,
            frames_in: 0,
            messages_in: 0,
            bytes_in: 0,
            awareness_in: 0,
            parse_errors: 0,
            sent: 0,
            sent_measured: 0,
            stalls: 0,
            awareness_sent: 0,
        }
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

/// The URL to open for document `doc`: for Copydesk, with a freshly bought ticket (a
/// ticket works once, so every connection needs its own). Called before a connection's
/// clock starts: `sync_ms` stays connect → SyncStep2, as for the other servers.
pub async fn ws_url(setup: &Setup, doc: usize, node: usize) -> anyhow::Result<String> {
    let (url, tickets) = match (&setup.second, node % 2) {
        (Some((urls, tickets)), 1) => (&urls[doc], tickets),
        _ => (&setup.urls[doc], &setup.tickets),
    };
    match tickets {
        None => Ok(url.clone()),
        Some(t) => {
            let ticket = timeout(setup.connect_timeout, crate::http::ws_ticket(&t.authority, &t.bearer))
                .await
                .map_err(|_| anyhow!("ws-ticket request timed out"))??;
            let sep = if url.contains('?') { '&' } else { '?' };
            Ok(format!("{url}{sep}ticket={ticket}"))
        }
    }
}

/// Opens the WebSocket at `url` (from [`ws_url`]; Nagle off: latency is what we measure).
pub async fn connect(setup: &Setup, url: &str) -> anyhow::Result<Ws> {
    let (ws, _resp) = timeout(
        setup.connect_timeout,
        tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true),
    )
    .await
    .map_err(|_| anyhow!("connect timed out"))?
    .with_context(|| format!("connect {}", redact(url)))?;
    Ok(ws)
}

/// tungstenite zero-fills its read buffer up to `read_buffer_size` before every read(); the
/// 128 KiB default made that memset 55% of the generator's CPU with many small frames.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 * 1024)
}

/// The URL without its credential (`token=` or `ticket=`), for messages.
pub fn redact(url: &str) -> String {
    match url.find("token=").or_else(|| url.find("ticket=")) {
        Some(i) => {
            let key = if url[i..].starts_with("token=") { "token=" } else { "ticket=" };
            format!("{}{key}…", &url[..i])
        }
        None => url.to_owned(),
    }
}

async fn next_binary(ws: &mut Ws, deadline: Instant) -> anyhow::Result<Vec<u8>> {
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("timed out waiting for the server"))?;
        match msg {
            Some(Ok(Message::Binary(b))) => return Ok(b.into()),
            Some(Ok(Message::Close(f))) => bail!("server closed the connection: {f:?}"),
            Some(Ok(_)) => continue, // ping/pong/text
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended"),
        }
    }
}

/// A writer's document and its shared caption.
pub struct WriterDoc {
    doc: Doc,
    text: TextRef,
    client: u64,
    /// Where the next append goes: (left origin, our next clock). Found from the document
    /// at the first append, then carried forward (see `append.rs`).
    cursor: Option<(Option<(u64, u32)>, u32)>,
}

impl WriterDoc {
    fn new(client_id: u64) -> Self {
        let doc = Doc::with_client_id(client_id);
        let text = doc.get_or_insert_text("caption");
        Self { doc, text, client: client_id, cursor: None }
    }

    fn state_vector(&self) -> Vec<u8> {
        use yrs::updates::encoder::Encode;
        self.doc.transact().state_vector().encode_v1()
    }

    /// The part of our document the server lacks, given its state vector.
    fn diff(&self, remote_sv: &[u8]) -> Vec<u8> {
        match StateVector::decode_v1(remote_sv) {
            Ok(sv) => self.doc.transact().encode_state_as_update_v1(&sv),
            Err(_) => EMPTY_UPDATE.to_vec(),
        }
    }

    fn apply(&mut self, update: &[u8]) -> anyhow::Result<()> {
        let u = Update::decode_v1(update).map_err(|e| anyhow!("decode update: {e}"))?;
        self.doc.transact_mut().apply_update(u).map_err(|e| anyhow!("apply update: {e}"))?;
        self.cursor = None;
        Ok(())
    }

    /// Appends `s` (ASCII) to the end of the caption as we see it; returns the update.
    fn append(&mut self, s: &str) -> Vec<u8> {
        let (origin, clock) = match self.cursor {
            Some(c) => c,
            None => {
                let txn = self.doc.transact();
                let len = self.text.len(&txn);
                let origin = if len == 0 {
                    None
                } else {
                    self.text
                        .sticky_index(&txn, len - 1, Assoc::After)
                        .and_then(|i| i.id().map(|id| (id.client.get(), id.clock)))
                };
                (origin, txn.state_vector().get(&ClientID::new(self.client)))
            }
        };
        let update = crate::append::encode(self.client, clock, origin, "caption", s);
        // Keep our replica true (integration by origin id: no walk over the text).
        if let Ok(u) = Update::decode_v1(&update) {
            let _ = self.doc.transact_mut().apply_update(u);
        }
        let n = s.len() as u32;
        self.cursor = Some((Some((self.client, clock + n - 1)), clock + n));
        update
    }
}

/// Hocuspocus auth (when needed), SyncStep1, answer the server's SyncStep1, wait for its
/// SyncStep2. Returns the SyncStep2 payload length and whether it held the pre-fill sentinel.
async fn handshake(
    ws: &mut Ws,
    setup: &Setup,
    enc: &Encoder,
    mut wdoc: Option<&mut WriterDoc>,
    deadline: Instant,
) -> anyhow::Result<(usize, bool)> {
    if setup.framing == Framing::Hocuspocus {
        ws.send(Message::binary(enc.hp_auth(&setup.token))).await?;
        let mut authed = false;
        while !authed {
            let frame = next_binary(ws, deadline).await?;
            let mut denied = None;
            proto::parse_frame(setup.framing, &frame, |m| match m {
                Msg::Authenticated => authed = true,
                Msg::PermissionDenied(r) => denied = Some(String::from_utf8_lossy(r).into_owned()),
                _ => {}
            })
            .map_err(|e| anyhow!("bad frame during auth: {e:?}"))?;
            if let Some(r) = denied {
                bail!("permission denied: {r}");
            }
        }
    }
    let sv = wdoc.as_ref().map(|d| d.state_vector()).unwrap_or_else(|| EMPTY_STATE_VECTOR.to_vec());
    ws.send(Message::binary(enc.sync_step1(&sv))).await?;
    loop {
        let frame = next_binary(ws, deadline).await?;
        let mut replies = Vec::new();
        let mut step2: Option<(usize, bool)> = None;
        let mut apply_err = None;
        proto::parse_frame(setup.framing, &frame, |m| match m {
            Msg::SyncStep1(remote_sv) => {
                let diff = wdoc.as_ref().map(|d| d.diff(remote_sv)).unwrap_or_else(|| EMPTY_UPDATE.to_vec());
                replies.push(enc.sync_step2(&diff));
            }
            Msg::SyncStep2(p) => {
                let mut sentinel = false;
                marker::scan(p, |w, _| sentinel |= w == marker::SENTINEL_WRITER);
                if let Some(d) = wdoc.as_mut() {
                    if let Err(e) = d.apply(p) {
                        apply_err = Some(e);
                    }
                }
                step2 = Some((p.len(), sentinel));
            }
            Msg::PermissionDenied(r) => {
                apply_err = Some(anyhow!("permission denied: {}", String::from_utf8_lossy(r)))
            }
            _ => {}
        })
        .map_err(|e| anyhow!("bad frame during sync: {e:?}"))?;
        for r in replies {
            ws.send(Message::binary(r)).await?;
        }
        if let Some(e) = apply_err {
            return Err(e);
        }
        if let Some(s) = step2 {
            return Ok(s);
        }
    }
}

/// A small deterministic PRNG (splitmix64): pre-fill text, positions, client ids.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// A Yjs client id for writer `gid` (32-bit like the JS clients' ids, varied per run).
pub fn client_id(seed: u64, gid: u64) -> u64 {
    let mut r = Rng::new(seed ^ gid.wrapping_mul(0xA24B_AED4_963E_E407));
    (r.next() & 0xFFFF_FFFF).max(1)
}

/// Grows the document to `setup.doc_size` bytes of caption text: chunks inserted at random
/// positions (so the document has many items, like a long-edited text), sent as ~16 KB
/// updates, then a sentinel marker at the end so others can tell the pre-fill has landed.
async fn prefill(
    ws: &mut Ws,
    setup: &Setup,
    enc: &Encoder,
    wdoc: &mut WriterDoc,
    doc: usize,
) -> anyhow::Result<PrefillStats> {
    let t0 = std::time::Instant::now();
    let mut rng = Rng::new(setup.seed ^ 0x5EED ^ doc as u64);
    let chunk = setup.prefill_chunk.max(1);
    let per_update = (16 * 1024 / chunk).max(1);
    let mut total = 0usize;
    let mut updates = 0usize;
    let mut buf = String::with_capacity(chunk);
    while total < setup.doc_size {
        wdoc.cursor = None;
        let update = {
            let mut txn = wdoc.doc.transact_mut();
            for _ in 0..per_update {
                if total >= setup.doc_size {
                    break;
                }
                buf.clear();
                let n = chunk.min(setup.doc_size - total);
                for i in 0..n {
                    let r = rng.next();
                    buf.push(if i % 7 == 6 { ' ' } else { (b'a' + (r % 26) as u8) as char });
                }
                let len = wdoc.text.len(&txn);
                let at = rng.below(u64::from(len) + 1) as u32;
                wdoc.text.insert(&mut txn, at, &buf);
                total += n;
            }
            txn.encode_update_v1()
        };
        ws.send(Message::binary(enc.update(&update))).await?;
        updates += 1;
        // Servers echo updates; read what is waiting so no buffer fills up meanwhile.
        while let Some(Some(m)) = ws.next().now_or_never() {
            m?;
        }
    }
    let sentinel = wdoc.append(&marker::encode(marker::SENTINEL_WRITER, doc as u64));
    ws.send(Message::binary(enc.update(&sentinel))).await?;
    Ok(PrefillStats { bytes: total, updates: updates + 1, ms: t0.elapsed().as_secs_f64() * 1e3 })
}

/// One fresh connection that syncs and leaves: (connect-to-SyncStep2 time, its size, sentinel?).
pub async fn probe(setup: &Setup, doc: usize) -> anyhow::Result<(u64, usize, bool)> {
    let url = ws_url(setup, doc, 0).await?;
    let t0 = Instant::now();
    let mut ws = connect(setup, &url).await?;
    let enc = Encoder::new(setup.framing, &setup.doc_names[doc]);
    let (bytes, sentinel) = handshake(&mut ws, setup, &enc, None, t0 + setup.connect_timeout * 6).await?;
    let us = t0.elapsed().as_micros() as u64;
    let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
    Ok((us, bytes, sentinel))
}

async fn tick(i: &mut Option<Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// When a writer (or an awareness sender) sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Exponential gaps (a Poisson process per sender): independent users. Collisions
    /// between senders come and go, so a run averages over them and repeats closely.
    Poisson,
    /// Fixed period, senders evenly staggered over it (sender i of n starts at i/n of the
    /// period): no two updates ever collide — the best case.
    Spread,
    /// Fixed period, each sender at a random phase: a random collision pattern that then
    /// repeats every period for the whole run (noisy from run to run).
    RandomPhase,
}

/// Paces one sender at `rate` per second.
pub struct Pacer {
    sleep: Pin<Box<tokio::time::Sleep>>,
    next: Instant,
    period: Duration,
    poisson: bool,
}

impl Pacer {
    /// Sender `i` of `n` (for `Spread`).
    fn new(rate: f64, arrival: Arrival, i: usize, n: usize, rng: &mut Rng) -> Option<Self> {
        if rate <= 0.0 {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / rate);
        let first = match arrival {
            Arrival::Poisson => exp_gap(period, rng),
            Arrival::Spread => period.mul_f64(i as f64 / n.max(1) as f64),
            Arrival::RandomPhase => period.mul_f64((rng.next() % 10_000) as f64 / 10_000.0),
        };
        let next = Instant::now() + first;
        Some(Self { sleep: Box::pin(tokio::time::sleep_until(next)), next, period, poisson: arrival == Arrival::Poisson })
    }

    /// Schedules the next send. A sender that fell more than a second behind skips ahead
    /// rather than bursting.
    fn advance(&mut self, rng: &mut Rng) {
        let gap = if self.poisson { exp_gap(self.period, rng) } else { self.period };
        self.next += gap;
        let now = Instant::now();
        if self.next + Duration::from_secs(1) < now {
            self.next = now + gap;
        }
        self.sleep.as_mut().reset(self.next);
    }
}

fn exp_gap(mean: Duration, rng: &mut Rng) -> Duration {
    // U in (0, 1]; -ln(U) is Exp(1).
    let u = ((rng.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    mean.mul_f64(-u.ln()).min(mean * 20)
}

async fn pace(p: &mut Option<Pacer>) {
    match p {
        Some(p) => p.sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Per-client receive state.
struct Receiver<'a> {
    ctx: &'a Ctx,
    doc: usize,
    /// This client's index in its document (its node is `idx % 2` with two nodes).
    idx: usize,
    first_gid: u32,
    me: Option<u32>,
    seen: Vec<SeqSet>,
    res: ClientResult,
}

impl Receiver<'_> {
    fn on_marker(&mut self, w: u32, seq: u64, now_us: u64) {
        if w == marker::SENTINEL_WRITER {
            return;
        }
        if Some(w) == self.me {
            self.res.own_echoes += 1;
            return;
        }
        let local = w.wrapping_sub(self.first_gid) as usize;
        if local >= self.seen.len() {
            self.res.foreign += 1;
            return;
        }
        if !self.seen[local].insert(seq) {
            self.res.duplicates += 1;
            return;
        }
        let shared = &self.ctx.shared;
        let track = &shared.writers[w as usize];
        if track.is_measured(seq) {
            self.res.delivered += 1;
            shared.delivered.fetch_add(1, Relaxed);
            match track.sent_time(seq) {
                Some(t) => {
                    let us = now_us.saturating_sub(t).max(1);
                    let _ = self.res.latency_us.record(us);
                    if self.ctx.setup.second.is_some() {
                        // Writers are a document's first clients: writer `local` is client
                        // `local`, on node `local % 2`.
                        let h = if local % 2 == self.idx % 2 {
                            &mut self.res.same_node_us
                        } else {
                            &mut self.res.other_node_us
                        };
                        let _ = h.record(us);
                    }
                }
                None => self.res.untimed += 1,
            }
        } else {
            self.res.unmeasured += 1;
        }
        if self.ctx.setup.saturate {
            let expected = shared.receivers[self.doc].load(Relaxed);
            if track.count_receipt(seq, expected) {
                track.notify.notify_one();
            }
        }
    }
}

/// The whole life of one client. `prefill`: this client fills the document first (it is
/// the first client of its document and stays connected, so servers that unload a document
/// without connections keep it).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ctx: Arc<Ctx>,
    doc: usize,
    idx: usize,
    prefill_first: bool,
    connect_gate: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<Ready>,
    mut phase: watch::Receiver<Phase>,
) -> ClientResult {
    let setup = &ctx.setup;
    let writer = (idx < setup.writers_per_doc).then(|| (doc * setup.writers_per_doc + idx) as u32);
    let first_gid = (doc * setup.writers_per_doc) as u32;
    let enc = Encoder::new(setup.framing, &setup.doc_names[doc]);
    let mut wdoc = writer.map(|g| WriterDoc::new(client_id(setup.seed, u64::from(g))));
    let mut rng = Rng::new(setup.seed ^ ((doc as u64) << 32) ^ idx as u64 ^ 0xC11E);

    // Connect and sync, a bounded number at a time.
    let connected = async {
        let _permit = connect_gate.acquire().await.expect("gate closed");
        let url = ws_url(setup, doc, idx).await?;
        let t0 = Instant::now();
        let mut ws = connect(setup, &url).await?;
        // A reader that pre-fills needs a document for that alone.
        let mut prefill_doc = (prefill_first && setup.doc_size > 0 && wdoc.is_none())
            .then(|| WriterDoc::new(client_id(setup.seed, 10_000 + doc as u64)));
        let mut hs_doc = match (wdoc.as_mut(), prefill_doc.as_mut()) {
            (Some(d), _) => Some(d),
            (None, p) => p,
        };
        let (bytes, _) =
            handshake(&mut ws, setup, &enc, hs_doc.as_deref_mut(), t0 + setup.connect_timeout * 6).await?;
        let sync_us = t0.elapsed().as_micros() as u64;
        let mut info = ReadyInfo { sync_us, sync_bytes: bytes, prefill: None };
        if let (true, Some(d)) = (prefill_first && setup.doc_size > 0, hs_doc) {
            info.prefill = Some(prefill(&mut ws, setup, &enc, d, doc).await?);
        }
        anyhow::Ok((ws, info))
    }
    .await;

    let mut res = ClientResult::new(doc, writer);
    let mut ws = match connected {
        Ok((ws, info)) => {
            res.connected = true;
            res.rank = ctx.shared.sync_order.fetch_add(1, Relaxed);
            let _ = ready.send(Ready { doc, result: Ok(info) });
            ws
        }
        Err(e) => {
            res.error = Some(format!("{e:#}"));
            let _ = ready.send(Ready { doc, result: Err(e) });
            return res;
        }
    };
    drop(ready);

    let nwriters = setup.writers_per_doc;
    let mut rx = Receiver {
        ctx: &ctx,
        doc,
        idx,
        first_gid,
        me: writer,
        seen: (0..nwriters).map(|_| SeqSet::default()).collect(),
        res,
    };
    let shared = &ctx.shared;
    let track = writer.map(|g| &shared.writers[g as usize]);
    let mut next_seq: u64 = 0;
    let mut oldest: u64 = 0; // saturation: oldest update not yet received by everyone
    let mut write_pacer: Option<Pacer> = None;
    let mut aw_pacer: Option<Pacer> = None;
    let mut stall_check: Option<Interval> = None;
    let mut aw_clock: u64 = 0;
    let aw_client = client_id(setup.seed, 1_000_000 + (doc * setup.clients_per_doc + idx) as u64);
    let mut cur = *phase.borrow_and_update();

    loop {
        let sending = matches!(cur, Phase::Warmup | Phase::Measure);
        // Saturation: advance past updates every client has; skip ones stuck too long.
        let mut window_open = false;
        if let (true, Some(t)) = (setup.saturate && sending, track) {
            let expected = shared.receivers[doc].load(Relaxed);
            while oldest < next_seq && t.is_complete(oldest, expected) {
                oldest += 1;
            }
            window_open = next_seq - oldest < setup.window;
        }
        tokio::select! {
            m = ws.next() => {
                let frame = match m {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) | None => {
                        if cur < Phase::Stop {
                            rx.res.disconnected = true;
                            rx.res.error.get_or_insert_with(|| "server closed the connection".into());
                        }
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        rx.res.disconnected = true;
                        rx.res.error.get_or_insert_with(|| format!("read: {e}"));
                        break;
                    }
                };
                let now = shared.now_us();
                rx.res.frames_in += 1;
                rx.res.bytes_in += frame.len() as u64;
                let mut replies: Vec<Vec<u8>> = Vec::new();
                let mut msgs = 0u64;
                let mut aw = 0u64;
                let parsed = proto::parse_frame(setup.framing, &frame, |m| {
                    msgs += 1;
                    match m {
                        Msg::SyncStep2(p) | Msg::Update(p) => {
                            marker::scan(p, |w, s| rx.on_marker(w, s, now));
                        }
                        Msg::SyncStep1(sv) => {
                            let diff = wdoc.as_ref().map(|d| d.diff(sv)).unwrap_or_else(|| EMPTY_UPDATE.to_vec());
                            replies.push(enc.sync_step2(&diff));
                        }
                        Msg::Awareness(_) => aw += 1,
                        _ => {}
                    }
                });
                rx.res.messages_in += msgs;
                rx.res.awareness_in += aw;
                if parsed.is_err() {
                    rx.res.parse_errors += 1;
                }
                for r in replies {
                    if ws.send(Message::binary(r)).await.is_err() {
                        break;
                    }
                }
            }
            _ = pace(&mut write_pacer), if sending && !setup.saturate && wdoc.is_some() => {
                if let Some(p) = write_pacer.as_mut() {
                    p.advance(&mut rng);
                }
                if let Err(e) = send_marker(&mut ws, &enc, wdoc.as_mut(), track, writer, &mut next_seq, cur, &mut rx.res, shared).await {
                    rx.res.error.get_or_insert(e);
                    rx.res.disconnected = true;
                    break;
                }
            }
            _ = std::future::ready(()), if window_open => {
                if let Err(e) = send_marker(&mut ws, &enc, wdoc.as_mut(), track, writer, &mut next_seq, cur, &mut rx.res, shared).await {
                    rx.res.error.get_or_insert(e);
                    rx.res.disconnected = true;
                    break;
                }
            }
            _ = async { track.expect("writer").notify.notified().await }, if setup.saturate && sending && track.is_some() && !window_open => {}
            _ = tick(&mut stall_check), if setup.saturate && sending && track.is_some() && !window_open => {
                let t = track.expect("writer");
                if let Some(sent) = t.sent_time(oldest) {
                    if shared.now_us().saturating_sub(sent) > setup.stall_timeout.as_micros() as u64 {
                        oldest += 1;
                        rx.res.stalls += 1;
                    }
                }
            }
            _ = pace(&mut aw_pacer), if sending => {
                if let Some(p) = aw_pacer.as_mut() {
                    p.advance(&mut rng);
                }
                aw_clock += 1;
                let state = format!(r#"{{"user":{{"name":"load-{doc}-{idx}"}},"cursor":{{"index":{aw_clock}}}}}"#);
                let upd = proto::awareness_update(aw_client, aw_clock, &state);
                if ws.send(Message::binary(enc.awareness(&upd))).await.is_err() {
                    rx.res.disconnected = true;
                    break;
                }
                rx.res.awareness_sent += 1;
            }
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                let next = *phase.borrow_and_update();
                if let Some(t) = track {
                    if next >= Phase::Measure && t.from.load(Relaxed) == u64::MAX {
                        t.from.store(next_seq, Release);
                    }
                    if next >= Phase::Drain && t.to.load(Relaxed) == u64::MAX {
                        t.to.store(next_seq, Release);
                    }
                }
                if cur == Phase::Connecting && next >= Phase::Warmup {
                    if let (Some(gid), false) = (writer, setup.saturate) {
                        let n = setup.urls.len() * setup.writers_per_doc;
                        write_pacer = Pacer::new(setup.rate, setup.arrival, gid as usize, n, &mut rng);
                    }
                    if wdoc.is_some() && setup.saturate {
                        let mut i = tokio::time::interval(Duration::from_millis(100));
                        i.set_missed_tick_behavior(MissedTickBehavior::Skip);
                        stall_check = Some(i);
                    }
                    let n = setup.urls.len() * setup.clients_per_doc;
                    let me = doc * setup.clients_per_doc + idx;
                    aw_pacer = Pacer::new(setup.awareness_rate, setup.arrival, me, n, &mut rng);
                }
                cur = next;
                if cur == Phase::Stop {
                    break;
                }
            }
        }
    }
    // A writer that died early still closes its window, so the count of expected receipts
    // stays right.
    if let Some(t) = track {
        if t.from.load(Relaxed) == u64::MAX {
            t.from.store(next_seq, Release);
        }
        if t.to.load(Relaxed) == u64::MAX {
            t.to.store(next_seq, Release);
        }
    }
    wdoc.take();
    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
    rx.res
}

#[allow(clippy::too_many_arguments)]
async fn send_marker(
    ws: &mut Ws,
    enc: &Encoder,
    wdoc: Option<&mut WriterDoc>,
    track: Option<&crate::track::WriterTrack>,
    writer: Option<u32>,
    next_seq: &mut u64,
    phase: Phase,
    res: &mut ClientResult,
    shared: &Shared,
) -> Result<(), String> {
    let (Some(d), Some(t), Some(gid)) = (wdoc, track, writer) else {
        return Ok(());
    };
    let seq = *next_seq;
    let update = d.append(&marker::encode(gid, seq));
    let frame = enc.update(&update);
    *next_seq += 1;
    t.record_send(seq, shared.now_us());
    ws.send(Message::binary(frame)).await.map_err(|e| format!("send: {e}"))?;
    res.sent += 1;
    if phase == Phase::Measure {
        res.sent_measured += 1;
    }
    Ok(())
}
