//! `PostSession`: one actor per open post. It owns the post's `yrs::Doc` and awareness, the
//! connected peers, persistence and the bus subscription.
//!
//! The rule that keeps edits safe: **an update is appended to the post's update log before
//! it is applied or broadcast.** Incoming updates queue in `pending`; one write is in flight
//! at a time and everything that arrives meanwhile goes into the next write (group commit),
//! so throughput holds however slow a single commit is. Only after the write is durable is
//! the batch applied to the doc, merged into a single update, and sent — once per peer, as
//! one frame — to local peers and on the bus. The in-memory doc is therefore always exactly
//! the durable state: a peer can never be shown an edit a crash could lose.
//!
//! Other nodes apply what arrives on the bus without logging it (its origin logged it).
//! Pub/sub drops messages while a node is away, so every `repair_interval` each node
//! publishes its state vector and any node holding more answers with the difference.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact};

use crate::doc::{self, ContentEdit};
use crate::ports::{Bus, BusMessage, DocContent, DocHooks, DocStore, PeerUser};
use crate::protocol::{self, close, AwarenessUpdate, AwarenessUpdateEntry, Incoming};

pub type ConnId = u64;

/// What a connection is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Frame(Bytes),
    Close(u16, String),
}

/// A connection's outbound queue. Bounded: a peer that cannot keep up is dropped (its
/// connection closes with 1013 and the client resyncs), never silently skipped.
pub type PeerTx = mpsc::Sender<Outbound>;

#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Unload this long after the last peer leaves.
    pub idle_unload: Duration,
    /// Awareness entries not renewed for this long are removed.
    pub awareness_timeout: Duration,
    /// How often nodes compare state vectors over the bus.
    pub repair_interval: Duration,
    /// Fold the log into a snapshot after this many appended updates…
    pub compact_every: usize,
    /// …or once the bytes appended since the last snapshot reach the snapshot's size (and
    /// at least this many): a compaction rebuilds the whole document, so it runs in
    /// proportion to what was written, never N times a second on a large document.
    pub compact_min_bytes: usize,
    /// Write derived fields this long after the last change.
    pub derive_debounce: Duration,
    /// …but at least this often while editing goes on.
    pub derive_max_delay: Duration,
    /// Save an automatic version after this much editing time.
    pub auto_version_every: Duration,
    /// Consecutive failed log writes after which the session gives up: it closes its
    /// connections (they resync on reconnect) and stops, holding nothing unlogged.
    pub max_append_failures: u32,
    /// Awareness client ids one connection may hold.
    pub max_awareness_ids: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_unload: Duration::from_secs(30),
            awareness_timeout: Duration::from_secs(30),
            repair_interval: Duration::from_secs(5),
            compact_every: 10_000,
            compact_min_bytes: 256 * 1024,
            derive_debounce: Duration::from_millis(1000),
            derive_max_delay: Duration::from_secs(5),
            auto_version_every: Duration::from_secs(10 * 60),
            max_append_failures: 5,
            max_awareness_ids: 4,
        }
    }
}

/// Everything a session needs from outside, shared by all sessions.
#[derive(Clone)]
pub struct SessionDeps {
    pub store: Arc<dyn DocStore>,
    pub bus: Arc<dyn Bus>,
    pub hooks: Arc<dyn DocHooks>,
    pub node_id: Uuid,
    pub config: SessionConfig,
}

// ---- messages -------------------------------------------------------------------------

/// A connection joins; the session answers with its SyncStep1 and the awareness states.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub conn: ConnId,
    pub tx: PeerTx,
    pub can_write: bool,
    pub user: PeerUser,
}

/// The decoded messages of one frame from a connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Frame {
    pub conn: ConnId,
    pub msgs: Vec<Incoming>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub conn: ConnId,
}

/// Why a server-side edit did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// The edit cannot be expressed on this document.
    #[error("invalid edit: {0}")]
    Invalid(String),
    /// The update log could not be written (nothing was applied).
    #[error("could not save: {0}")]
    Storage(String),
    /// The session stopped (shutdown, post deleted) before the edit was durable.
    #[error("the document closed")]
    Closed,
}

/// A server-side change (REST edit, version restore): set the given fields to exactly the
/// given values. Edits are computed one at a time, each against the document as the
/// previous one left it, so concurrent edits never blend and never reuse a Yjs clock; the
/// last one wins. Answers with the content once the edit is durable and applied, so the
/// caller can reply knowing editors see it.
#[derive(Message)]
#[rtype(result = "Result<DocContent, EditError>")]
pub struct Edit(pub ContentEdit);

/// The session went idle (no peers for its idle period): its owner may unload it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionIdle {
    pub post_id: Uuid,
    pub addr: Addr<PostSession>,
}

/// The people viewing the post on this node changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PresenceChanged {
    pub post_id: Uuid,
    pub users: Vec<PeerUser>,
}

/// Where a session reports to (its workspace's hub), as recipients: the session does not
/// know the hub's type.
#[derive(Clone)]
pub struct SessionOwner {
    pub idle: Recipient<SessionIdle>,
    pub presence: Recipient<PresenceChanged>,
}

/// The current content and full state (for REST reads and versions).
#[derive(Message)]
#[rtype(result = "DocSnapshot")]
pub struct Read;

pub struct DocSnapshot {
    pub content: DocContent,
    pub state: Vec<u8>,
}

/// A connection's access changed while it is open: demoted to read-only (or back).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetAccess {
    pub conn: ConnId,
    pub can_write: bool,
}

/// The post is gone (deleted, or its workspace): close every connection with `code` and
/// stop at once, without writing anything more.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Discard {
    pub code: u16,
    pub reason: String,
}

/// Flush what is pending, fold the log, and stop (server shutdown or idle unload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

// ---- bus framing ----------------------------------------------------------------------

const BUS_UPDATE: u8 = 0;
const BUS_AWARENESS: u8 = 1;
const BUS_STATE_VECTOR: u8 = 2;
/// A session that just started on a node asks the others for their peers' awareness: who
/// is already here (their cursors, names) would otherwise reach it only at each client's
/// next renewal, ~15 s later.
const BUS_AWARENESS_QUERY: u8 = 3;

fn bus_frame(kind: u8, node: Uuid, payload: &[u8]) -> BusMessage {
    let mut m = Vec::with_capacity(17 + payload.len());
    m.push(kind);
    m.extend_from_slice(node.as_bytes());
    m.extend_from_slice(payload);
    m
}

fn parse_bus(m: &[u8]) -> Option<(u8, Uuid, &[u8])> {
    if m.len() < 17 {
        return None;
    }
    Some((m[0], Uuid::from_slice(&m[1..17]).ok()?, &m[17..]))
}

// ---- the actor ------------------------------------------------------------------------

struct Peer {
    tx: PeerTx,
    can_write: bool,
    user: PeerUser,
    awareness_ids: HashSet<u64>,
}

struct AwarenessEntry {
    clock: u32,
    json: Arc<str>,
    renewed: Instant,
}

/// Told when a server-side edit is durable and applied (or why it is not).
type Done = oneshot::Sender<Result<DocContent, EditError>>;

/// Who sent an update in a batch, and who waits for it.
type Origin = (Option<ConnId>, Option<Done>);

struct Pending {
    from: Option<ConnId>,
    data: Vec<u8>,
    done: Option<Done>,
}

pub struct PostSession {
    post_id: Uuid,
    owner: SessionOwner,
    deps: SessionDeps,
    doc: yrs::Doc,
    peers: HashMap<ConnId, Peer>,
    awareness: HashMap<u64, AwarenessEntry>,
    pending: Vec<Pending>,
    flushing: bool,
    /// Server edits waiting for the one in flight to be applied.
    server_edits: std::collections::VecDeque<(ContentEdit, Done)>,
    /// Whether a server edit is pending (computed, not yet applied).
    server_edit_in_flight: bool,
    appended_since_compaction: usize,
    /// Bytes this node appended since the last snapshot, and that snapshot's size.
    logged_bytes: usize,
    snapshot_bytes: usize,
    compacting: bool,
    /// What the document has deleted, so "does this update change anything?" is cheap.
    deleted: doc::Deletions,
    derive_scheduled: bool,
    /// The last change, and the first change not yet written to the post row.
    last_change: Instant,
    derive_since: Option<Instant>,
    editors: HashSet<Uuid>,
    editing_since_version: Option<Instant>,
    idle_since: Option<Instant>,
    shutting_down: Vec<oneshot::Sender<()>>,
    /// Awareness ids of peers dropped for being too slow, removed on the next tick.
    orphaned_awareness: Vec<u64>,
    presence_dirty: bool,
    /// Log writes that failed in a row.
    append_failures: u32,
}

impl PostSession {
    pub fn new(post_id: Uuid, owner: SessionOwner, deps: SessionDeps) -> Self {
        Self {
            post_id,
            owner,
            deps,
            doc: doc::new_doc(None),
            peers: HashMap::new(),
            awareness: HashMap::new(),
            pending: Vec::new(),
            flushing: false,
            server_edits: std::collections::VecDeque::new(),
            server_edit_in_flight: false,
            appended_since_compaction: 0,
            logged_bytes: 0,
            snapshot_bytes: 0,
            compacting: false,
            deleted: doc::Deletions::default(),
            derive_scheduled: false,
            last_change: Instant::now(),
            derive_since: None,
            editors: HashSet::new(),
            editing_since_version: None,
            idle_since: Some(Instant::now()),
            shutting_down: Vec::new(),
            orphaned_awareness: Vec::new(),
            presence_dirty: false,
            append_failures: 0,
        }
    }

    /// Whether `update` would change the document (see [`doc::changes`]).
    fn changes(&self, update: &[u8]) -> bool {
        doc::changes(update, &self.doc.transact().state_vector(), &self.deleted)
    }

    fn topic(&self) -> String {
        format!("doc:{}", self.post_id)
    }

    fn send_to(&mut self, conn: ConnId, frame: Bytes) {
        let full = match self.peers.get(&conn) {
            Some(p) => p.tx.try_send(Outbound::Frame(frame)).is_err(),
            None => false,
        };
        if full {
            // Too slow (or gone): dropping its sender closes the connection, and the
            // client reconnects and resyncs.
            self.drop_peer_later(conn);
        }
    }

    fn broadcast(&mut self, frame: Bytes, except: Option<ConnId>) {
        let slow: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, p)| p.tx.try_send(Outbound::Frame(frame.clone())).is_err())
            .map(|(id, _)| *id)
            .collect();
        for id in slow {
            self.drop_peer_later(id);
        }
    }

    fn publish(&self, kind: u8, payload: &[u8], ctx: &mut Context<Self>) {
        let bus = self.deps.bus.clone();
        let topic = self.topic();
        let msg = bus_frame(kind, self.deps.node_id, payload);
        ctx.spawn(
            async move {
                if let Err(e) = bus.publish(&topic, msg).await {
                    tracing::debug!(error = %e, "bus publish failed; peers will repair");
                }
            }
            .into_actor(self),
        );
    }

    fn full_awareness(&self) -> Option<Bytes> {
        self.awareness_of(|_| true)
    }

    /// The awareness states this node's own peers hold (what it answers another node's query
    /// with; states learnt from other nodes are theirs to tell).
    fn local_awareness(&self) -> Option<Bytes> {
        self.awareness_of(|id| self.peers.values().any(|p| p.awareness_ids.contains(&id)))
    }

    fn awareness_of(&self, keep: impl Fn(u64) -> bool) -> Option<Bytes> {
        let clients: HashMap<_, _> = self
            .awareness
            .iter()
            .filter(|(id, _)| keep(**id))
            .map(|(id, e)| {
                (
                    yrs::block::ClientID::new(*id),
                    AwarenessUpdateEntry {
                        clock: e.clock,
                        json: e.json.clone(),
                    },
                )
            })
            .collect();
        if clients.is_empty() {
            return None;
        }
        Some(Bytes::from(protocol::awareness(AwarenessUpdate {
            clients,
        })))
    }

    /// Applies an awareness update from a peer (`from`) or another node. A peer may only set
    /// states for client ids it owns: the first ids it uses, up to `max_awareness_ids`, and
    /// none that another connection holds. Returns the part that was accepted.
    fn apply_awareness(&mut self, a: AwarenessUpdate, from: Option<ConnId>) -> AwarenessUpdate {
        let now = Instant::now();
        let max_ids = self.deps.config.max_awareness_ids;
        let mut accepted = HashMap::new();
        for (cid, e) in a.clients {
            let id = cid.get();
            if let Some(conn) = from {
                let owned_elsewhere = self
                    .peers
                    .iter()
                    .any(|(c, p)| *c != conn && p.awareness_ids.contains(&id));
                let Some(p) = self.peers.get(&conn) else {
                    continue;
                };
                if owned_elsewhere
                    || (!p.awareness_ids.contains(&id) && p.awareness_ids.len() >= max_ids)
                {
                    continue;
                }
            }
            if e.json.as_ref() == "null" {
                self.awareness.remove(&id);
                if let Some(p) = from.and_then(|c| self.peers.get_mut(&c)) {
                    p.awareness_ids.remove(&id);
                }
            } else {
                self.awareness.insert(
                    id,
                    AwarenessEntry {
                        clock: e.clock,
                        json: e.json.clone(),
                        renewed: now,
                    },
                );
                if let Some(p) = from.and_then(|c| self.peers.get_mut(&c)) {
                    p.awareness_ids.insert(id);
                }
            }
            accepted.insert(cid, e);
        }
        AwarenessUpdate { clients: accepted }
    }

    /// Removes awareness entries and tells everyone (locally and on the bus).
    fn drop_awareness(&mut self, ids: Vec<u64>, ctx: &mut Context<Self>) {
        let clients: HashMap<_, _> = ids
            .into_iter()
            .filter_map(|id| {
                let e = self.awareness.remove(&id)?;
                Some((
                    yrs::block::ClientID::new(id),
                    AwarenessUpdateEntry {
                        clock: e.clock + 1,
                        json: "null".into(),
                    },
                ))
            })
            .collect();
        if clients.is_empty() {
            return;
        }
        let bytes = protocol::awareness(AwarenessUpdate { clients });
        self.publish(BUS_AWARENESS, &bytes, ctx);
        self.broadcast(Bytes::from(bytes), None);
    }

    fn remove_peer(&mut self, conn: ConnId) -> Option<Peer> {
        let p = self.peers.remove(&conn)?;
        if self.peers.is_empty() {
            self.idle_since = Some(Instant::now());
        }
        Some(p)
    }

    /// Drops a peer from a place that cannot reach the context (a send that found its
    /// queue full): its cursors and presence are cleaned up on the next tick.
    fn drop_peer_later(&mut self, conn: ConnId) {
        if let Some(p) = self.remove_peer(conn) {
            self.orphaned_awareness.extend(p.awareness_ids);
            self.presence_dirty = true;
        }
    }

    fn presence_changed(&self) {
        let mut users: Vec<PeerUser> = Vec::new();
        for p in self.peers.values() {
            if !users.iter().any(|u| u.id == p.user.id) {
                users.push(p.user.clone());
            }
        }
        let _ = self.owner.presence.try_send(PresenceChanged {
            post_id: self.post_id,
            users,
        });
    }

    fn handle_incoming(&mut self, conn: ConnId, msg: Incoming, ctx: &mut Context<Self>) {
        match msg {
            Incoming::SyncStep1(sv) => {
                let diff = doc::diff(&self.doc, &sv);
                self.send_to(conn, Bytes::from(protocol::sync_step2(diff)));
            }
            Incoming::Update(data) => {
                let Some(peer) = self.peers.get(&conn) else {
                    return;
                };
                if !peer.can_write {
                    if self.changes(&data) {
                        self.send_to(
                            conn,
                            Bytes::from(protocol::permission_denied("permission denied")),
                        );
                    }
                    return;
                }
                // Nothing new (a reconnect's SyncStep2, a duplicate): neither logged nor sent.
                if !self.changes(&data) {
                    return;
                }
                self.editors.insert(peer.user.id);
                self.pending.push(Pending {
                    from: Some(conn),
                    data,
                    done: None,
                });
                self.flush(ctx);
            }
            Incoming::Awareness(a) => {
                let a = self.apply_awareness(a, Some(conn));
                if a.clients.is_empty() {
                    return;
                }
                let bytes = protocol::awareness(a);
                self.publish(BUS_AWARENESS, &bytes, ctx);
                self.broadcast(Bytes::from(bytes), Some(conn));
            }
            Incoming::AwarenessQuery => {
                if let Some(all) = self.full_awareness() {
                    self.send_to(conn, all);
                }
            }
            // In-band auth is handled by the connection, never forwarded.
            Incoming::Auth | Incoming::AuthToken(_) => {}
        }
    }

    /// Starts a log write for everything pending, unless one is already in flight.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing || self.pending.is_empty() {
            return;
        }
        self.flushing = true;
        let batch = std::mem::take(&mut self.pending);
        let (datas, metas): (Vec<Vec<u8>>, Vec<Origin>) = batch
            .into_iter()
            .map(|p| (p.data, (p.from, p.done)))
            .unzip();
        let store = self.deps.store.clone();
        let id = self.post_id;
        ctx.spawn(
            async move {
                let res = store.append(id, &datas).await;
                (res, datas)
            }
            .into_actor(self)
            .map(move |(res, datas), act, ctx| {
                act.flushing = false;
                match res {
                    Ok(()) => {
                        act.append_failures = 0;
                        act.commit(datas, metas, ctx)
                    }
                    Err(e) => {
                        act.append_failures += 1;
                        if act.append_failures >= act.deps.config.max_append_failures {
                            // Give up: nothing of this batch was applied or sent, so no peer
                            // saw it; the authors resend it when they reconnect and resync.
                            tracing::error!(post_id = %act.post_id, error = %e, failures = act.append_failures, "update log keeps failing; closing the document");
                            for (_, done) in metas {
                                if let Some(done) = done {
                                    let _ = done.send(Err(EditError::Storage(e.to_string())));
                                }
                            }
                            for (_, done) in act.server_edits.drain(..) {
                                let _ = done.send(Err(EditError::Storage(e.to_string())));
                            }
                            act.close_all(close::SERVER_ERROR, "could not save the document; reconnect");
                            ctx.stop();
                            return;
                        }
                        // Nothing was applied or sent; retry the same batch first.
                        tracing::error!(post_id = %act.post_id, error = %e, "update log write failed; retrying");
                        let mut again: Vec<Pending> = datas
                            .into_iter()
                            .zip(metas)
                            .map(|(data, (from, done))| Pending { from, data, done })
                            .collect();
                        again.append(&mut act.pending);
                        act.pending = again;
                        ctx.run_later(Duration::from_millis(200), |act, ctx| act.flush(ctx));
                        return;
                    }
                }
                act.flush(ctx);
                act.maybe_finish_shutdown(ctx);
            }),
        );
    }

    /// The batch is durable: apply it, send it once, announce it.
    fn commit(&mut self, datas: Vec<Vec<u8>>, metas: Vec<Origin>, ctx: &mut Context<Self>) {
        let mut applied: Vec<Vec<u8>> = Vec::with_capacity(datas.len());
        let mut contributors: HashSet<Option<ConnId>> = HashSet::new();
        let before = self.doc.transact().state_vector();
        let mut released = false;
        for (data, (from, done)) in datas.into_iter().zip(metas) {
            let res = doc::apply_noting(&self.doc, &data, &mut self.deleted).map(|r| {
                released |= r;
            });
            if let Err(e) = &res {
                tracing::warn!(post_id = %self.post_id, error = %e, "logged update did not apply");
                if let Some(c) = from {
                    if let Some(p) = self.remove_peer(c) {
                        let _ = p.tx.try_send(Outbound::Close(
                            close::INVALID_PAYLOAD,
                            "update could not be applied".into(),
                        ));
                    }
                }
            } else {
                contributors.insert(from);
                applied.push(data);
            }
            if let Some(done) = done {
                self.server_edit_in_flight = false;
                let _ = done.send(
                    res.map(|_| doc::read_content(&self.doc))
                        .map_err(EditError::Invalid),
                );
            }
        }
        self.next_server_edit(ctx);
        if applied.is_empty() {
            return;
        }
        let n = applied.len();
        self.logged_bytes += applied.iter().map(Vec::len).sum::<usize>();
        // Each update goes out as it came, one message per frame (stock y-websocket clients
        // read one message per frame). Not merged: yrs 0.28's `merge_updates_v1` renumbers
        // items after a gap in a client's clocks (found by tests/model.rs), and a gap is
        // exactly what a batch holds when some of an author's updates were lost with a node.
        let outgoing = applied;
        // A peer that was the only author of the batch already has all of it.
        let sole = match (contributors.len(), contributors.iter().next()) {
            (1, Some(Some(c))) => Some(*c),
            _ => None,
        };
        for u in outgoing {
            self.broadcast(Bytes::from(protocol::update(u.clone())), sole);
            self.publish(BUS_UPDATE, &u, ctx);
        }
        if released {
            self.send_released(before);
        }
        self.after_change(n, ctx);
    }

    /// Items an update depends on can arrive after it (a dropped bus message, a client's
    /// resync): yrs holds such an update back and integrates it later, when the missing
    /// piece comes — but only the piece is passed on, and a peer that joined in between got
    /// a SyncStep2 without the held items. When an apply integrates more than it carried
    /// ([`doc::apply_noting`]), send every peer everything integrated since `from`.
    /// Duplicates are harmless to Yjs.
    fn send_released(&mut self, from: StateVector) {
        let diff = doc::diff(&self.doc, &from);
        if doc::changes(&diff, &from, &doc::Deletions::default()) {
            self.broadcast(Bytes::from(protocol::update(diff)), None);
        }
    }

    fn after_change(&mut self, appended: usize, ctx: &mut Context<Self>) {
        self.appended_since_compaction += appended;
        let c = &self.deps.config;
        if self.appended_since_compaction >= c.compact_every
            || self.logged_bytes >= self.snapshot_bytes.max(c.compact_min_bytes)
        {
            self.compact(ctx);
        }
        let started = *self.editing_since_version.get_or_insert_with(Instant::now);
        if started.elapsed() >= self.deps.config.auto_version_every {
            self.editing_since_version = Some(Instant::now());
            let hooks = self.deps.hooks.clone();
            let (id, state) = (self.post_id, doc::full_state(&self.doc));
            ctx.spawn(async move { hooks.auto_version(id, state).await }.into_actor(self));
        }
        // Derived fields go onto the post row once editing pauses for `derive_debounce`, and
        // at least every `derive_max_delay` while it goes on — one write per document every
        // few seconds under continuous typing, not one per keystroke burst.
        let now = Instant::now();
        self.last_change = now;
        self.derive_since.get_or_insert(now);
        if !self.derive_scheduled {
            self.derive_scheduled = true;
            ctx.run_later(self.deps.config.derive_debounce, |act, ctx| {
                act.derive_when_due(ctx)
            });
        }
    }

    fn derive_when_due(&mut self, ctx: &mut Context<Self>) {
        let c = &self.deps.config;
        let quiet = self.last_change.elapsed();
        let waited = self.derive_since.map_or(Duration::ZERO, |t| t.elapsed());
        if quiet < c.derive_debounce && waited < c.derive_max_delay {
            let next = (c.derive_debounce - quiet).min(c.derive_max_delay - waited);
            ctx.run_later(next, |act, ctx| act.derive_when_due(ctx));
            return;
        }
        self.derive_scheduled = false;
        self.derive_since = None;
        let hooks = self.deps.hooks.clone();
        let (id, content) = (self.post_id, doc::read_content(&self.doc));
        let editors: Vec<Uuid> = self.editors.drain().collect();
        ctx.spawn(
            async move { hooks.content_changed(id, content, editors).await }.into_actor(self),
        );
    }

    fn compact(&mut self, ctx: &mut Context<Self>) {
        if self.compacting {
            return;
        }
        self.compacting = true;
        let (count, bytes) = (self.appended_since_compaction, self.logged_bytes);
        self.appended_since_compaction = 0;
        self.logged_bytes = 0;
        let store = self.deps.store.clone();
        let id = self.post_id;
        ctx.spawn(async move { store.compact(id).await }.into_actor(self).map(move |res, act, _| {
            act.compacting = false;
            match res {
                Ok(Some(size)) => act.snapshot_bytes = size,
                // Another node compacted first: its snapshot covers ours.
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(post_id = %act.post_id, error = %e, "compaction failed; will retry");
                    act.appended_since_compaction += count;
                    act.logged_bytes += bytes;
                }
            }
        }));
    }

    fn on_bus(&mut self, msg: &[u8], ctx: &mut Context<Self>) {
        let Some((kind, node, payload)) = parse_bus(msg) else {
            return;
        };
        if node == self.deps.node_id {
            return;
        }
        match kind {
            // Logged by the node that sent it. Repair answers that bring nothing new are
            // not passed on.
            BUS_UPDATE if self.changes(payload) => {
                let before = self.doc.transact().state_vector();
                if let Ok(released) = doc::apply_noting(&self.doc, payload, &mut self.deleted) {
                    self.broadcast(Bytes::from(protocol::update(payload.to_vec())), None);
                    if released {
                        self.send_released(before);
                    }
                    self.after_change(0, ctx);
                }
            }
            BUS_AWARENESS => {
                if let Ok(mut parsed) = protocol::parse_frame(payload) {
                    if let Some(Incoming::Awareness(a)) = parsed.pop() {
                        self.apply_awareness(a, None);
                        self.broadcast(Bytes::from(payload.to_vec()), None);
                    }
                }
            }
            BUS_AWARENESS_QUERY => {
                if let Some(mine) = self.local_awareness() {
                    self.publish(BUS_AWARENESS, &mine, ctx);
                }
            }
            BUS_STATE_VECTOR => {
                if let Ok(sv) = StateVector::decode_v1(payload) {
                    let diff = doc::diff(&self.doc, &sv);
                    if !doc::is_empty_update(&diff) {
                        self.publish(BUS_UPDATE, &diff, ctx);
                    }
                }
            }
            _ => {}
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let orphaned = std::mem::take(&mut self.orphaned_awareness);
        self.drop_awareness(orphaned, ctx);
        if std::mem::take(&mut self.presence_dirty) {
            self.presence_changed();
        }
        let timeout = self.deps.config.awareness_timeout;
        let stale: Vec<u64> = self
            .awareness
            .iter()
            .filter(|(_, e)| e.renewed.elapsed() > timeout)
            .map(|(id, _)| *id)
            .collect();
        for p in self.peers.values_mut() {
            for id in &stale {
                p.awareness_ids.remove(id);
            }
        }
        self.drop_awareness(stale, ctx);
        if let Some(since) = self.idle_since {
            if self.peers.is_empty()
                && since.elapsed() >= self.deps.config.idle_unload
                && self.pending.is_empty()
                && !self.flushing
            {
                self.idle_since = None;
                let _ = self.owner.idle.try_send(SessionIdle {
                    post_id: self.post_id,
                    addr: ctx.address(),
                });
            }
        }
    }

    /// Closes every connection with `code` and fails every waiting server edit.
    fn close_all(&mut self, code: u16, reason: &str) {
        for (_, p) in self.peers.drain() {
            let _ = p.tx.try_send(Outbound::Close(code, reason.to_string()));
        }
        for p in self.pending.drain(..) {
            if let Some(done) = p.done {
                let _ = done.send(Err(EditError::Closed));
            }
        }
        for (_, done) in self.server_edits.drain(..) {
            let _ = done.send(Err(EditError::Closed));
        }
    }

    /// Computes the next queued server edit against the document as it is now — only when
    /// no other server edit is waiting to be applied — with a fresh client id, so no two
    /// server updates ever share a (client, clock).
    fn next_server_edit(&mut self, ctx: &mut Context<Self>) {
        while !self.server_edit_in_flight {
            let Some((edit, done)) = self.server_edits.pop_front() else {
                return;
            };
            let client = loop {
                let c = (Uuid::new_v4().as_u128() as u64) & 0x3fff_ffff;
                if c != 0
                    && self
                        .doc
                        .transact()
                        .state_vector()
                        .get(&yrs::block::ClientID::new(c))
                        == 0
                {
                    break c;
                }
            };
            match doc::edit_update(&doc::full_state(&self.doc), client, &edit) {
                Ok(u) if doc::is_empty_update(&u) => {
                    let _ = done.send(Ok(doc::read_content(&self.doc)));
                }
                Ok(u) => {
                    self.server_edit_in_flight = true;
                    self.pending.push(Pending {
                        from: None,
                        data: u,
                        done: Some(done),
                    });
                    self.flush(ctx);
                }
                Err(e) => {
                    let _ = done.send(Err(EditError::Invalid(e)));
                }
            }
        }
    }

    fn maybe_finish_shutdown(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down.is_empty() || self.flushing || !self.pending.is_empty() {
            return;
        }
        for tx in self.shutting_down.drain(..) {
            let _ = tx.send(());
        }
        ctx.stop();
    }
}

impl Actor for PostSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
        let bus = self.deps.bus.clone();
        let store = self.deps.store.clone();
        let (id, topic) = (self.post_id, self.topic());
        // Subscribe before loading, so nothing published meanwhile falls in between; no
        // message is handled until the document is loaded.
        ctx.wait(
            async move {
                let sub = bus.subscribe(&topic).await;
                let stored = store.load(id).await;
                (sub, stored)
            }
            .into_actor(self)
            .map(|(sub, stored), act, ctx| {
                match sub {
                    Ok(stream) => {
                        ctx.add_stream(stream);
                        act.publish(BUS_AWARENESS_QUERY, &[], ctx);
                    }
                    Err(e) => tracing::warn!(post_id = %act.post_id, error = %e, "bus unavailable; serving this node only"),
                }
                match stored {
                    Ok(s) => {
                        let started = Instant::now();
                        for u in s.snapshot.iter().chain(s.updates.iter()) {
                            if let Err(e) = doc::apply(&act.doc, u) {
                                tracing::warn!(post_id = %act.post_id, error = %e, "skipping an update that does not apply");
                            }
                        }
                        act.deleted = doc::Deletions::of(&act.doc);
                        act.appended_since_compaction = s.updates.len();
                        act.snapshot_bytes = s.snapshot.as_ref().map_or(0, Vec::len);
                        act.logged_bytes = s.updates.iter().map(Vec::len).sum();
                        tracing::debug!(post_id = %act.post_id, updates = s.updates.len(), ms = started.elapsed().as_millis() as u64, "document loaded");
                        let c = &act.deps.config;
                        if s.updates.len() >= c.compact_every
                            || act.logged_bytes >= act.snapshot_bytes.max(c.compact_min_bytes)
                        {
                            act.compact(ctx);
                        }
                    }
                    Err(e) => {
                        tracing::error!(post_id = %act.post_id, error = %e, "could not load document");
                        ctx.stop();
                    }
                }
            }),
        );
        ctx.run_interval(
            Duration::from_secs(1).min(self.deps.config.awareness_timeout / 4),
            |act, ctx| act.tick(ctx),
        );
        ctx.run_interval(self.deps.config.repair_interval, |act, ctx| {
            if !act.peers.is_empty() {
                let sv = act.doc.transact().state_vector();
                act.publish(
                    BUS_STATE_VECTOR,
                    &yrs::updates::encoder::Encode::encode_v1(&sv),
                    ctx,
                );
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        for (_, p) in self.peers.drain() {
            let _ =
                p.tx.try_send(Outbound::Close(close::GOING_AWAY, "document closed".into()));
        }
        for p in self.pending.drain(..) {
            if let Some(done) = p.done {
                let _ = done.send(Err(EditError::Closed));
            }
        }
        for (_, done) in self.server_edits.drain(..) {
            let _ = done.send(Err(EditError::Closed));
        }
    }
}

impl StreamHandler<BusMessage> for PostSession {
    fn handle(&mut self, msg: BusMessage, ctx: &mut Context<Self>) {
        self.on_bus(&msg, ctx);
    }

    fn finished(&mut self, _ctx: &mut Context<Self>) {
        // The bus stream only ends if the bus gave up; local peers are still served.
        tracing::warn!(post_id = %self.post_id, "bus subscription ended");
    }
}

impl Handler<Join> for PostSession {
    type Result = ();

    fn handle(&mut self, msg: Join, _ctx: &mut Context<Self>) {
        self.idle_since = None;
        let sv = self.doc.transact().state_vector();
        let _ = msg
            .tx
            .try_send(Outbound::Frame(Bytes::from(protocol::sync_step1(&sv))));
        if let Some(all) = self.full_awareness() {
            let _ = msg.tx.try_send(Outbound::Frame(all));
        }
        self.peers.insert(
            msg.conn,
            Peer {
                tx: msg.tx,
                can_write: msg.can_write,
                user: msg.user,
                awareness_ids: HashSet::new(),
            },
        );
        self.presence_changed();
    }
}

impl Handler<Frame> for PostSession {
    type Result = ();

    fn handle(&mut self, msg: Frame, ctx: &mut Context<Self>) {
        for m in msg.msgs {
            self.handle_incoming(msg.conn, m, ctx);
        }
    }
}

impl Handler<Leave> for PostSession {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        if let Some(p) = self.remove_peer(msg.conn) {
            let ids: Vec<u64> = p.awareness_ids.into_iter().collect();
            self.drop_awareness(ids, ctx);
            self.presence_changed();
        }
    }
}

impl Handler<Edit> for PostSession {
    type Result = ResponseFuture<Result<DocContent, EditError>>;

    fn handle(&mut self, msg: Edit, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.server_edits.push_back((msg.0, tx));
        self.next_server_edit(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(EditError::Closed)) })
    }
}

impl Handler<Read> for PostSession {
    type Result = MessageResult<Read>;

    fn handle(&mut self, _: Read, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(DocSnapshot {
            content: doc::read_content(&self.doc),
            state: doc::full_state(&self.doc),
        })
    }
}

impl Handler<SetAccess> for PostSession {
    type Result = ();

    fn handle(&mut self, msg: SetAccess, _ctx: &mut Context<Self>) {
        let Some(p) = self.peers.get_mut(&msg.conn) else {
            return;
        };
        let was = std::mem::replace(&mut p.can_write, msg.can_write);
        if was && !msg.can_write {
            let tx = p.tx.clone();
            let _ = tx.try_send(Outbound::Frame(Bytes::from(protocol::permission_denied(
                "your role no longer allows editing; this document is now read-only",
            ))));
        }
    }
}

impl Handler<Discard> for PostSession {
    type Result = ();

    fn handle(&mut self, msg: Discard, ctx: &mut Context<Self>) {
        self.close_all(msg.code, &msg.reason);
        for tx in self.shutting_down.drain(..) {
            let _ = tx.send(());
        }
        ctx.stop();
    }
}

impl Handler<Shutdown> for PostSession {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.shutting_down.push(tx);
        if self.appended_since_compaction > 0 {
            self.compact(ctx);
        }
        self.flush(ctx);
        self.maybe_finish_shutdown(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
