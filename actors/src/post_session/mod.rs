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
//! Laid out as: `messages` (the config, what peers and the hub send, what the session
//! answers), `log` (the log write, commit, compaction and server edits — the durability
//! rule above), `bus` (what goes between nodes), `awareness` (cursors and presence), and
//! here the actor, its peers and lifecycle.
//!
//! Other nodes apply what arrives on the bus without logging it (its origin logged it).
//! Pub/sub drops messages while a node is away, so every `repair_interval` each node
//! publishes its state vector and any node holding more answers with the difference.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::oneshot;
use uuid::Uuid;
use yrs::{ReadTxn, Transact};

use crate::doc::{self, ContentEdit};
use crate::ports::{DocContent, PeerUser};
use crate::protocol::{self, close, Incoming};

mod awareness;
mod bus;
mod log;
mod messages;

pub use messages::*;

use bus::{BUS_AWARENESS, BUS_AWARENESS_QUERY};

// ---- the actor ------------------------------------------------------------------------
struct Peer {
    tx: PeerTx,
    can_write: bool,
    user: PeerUser,
    awareness_ids: OwnedIds,
}

/// The awareness client ids a peer owns: at most `max_awareness_ids` (a handful), so a short
/// list rather than a hash set, whose table an idle peer would otherwise hold.
#[derive(Default)]
struct OwnedIds(Vec<u64>);

impl OwnedIds {
    fn contains(&self, id: &u64) -> bool {
        self.0.contains(id)
    }

    fn insert(&mut self, id: u64) {
        if !self.0.contains(&id) {
            self.0.push(id);
        }
    }

    fn remove(&mut self, id: &u64) {
        self.0.retain(|x| x != id);
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl IntoIterator for OwnedIds {
    type Item = u64;
    type IntoIter = std::vec::IntoIter<u64>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
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
    /// When this session last published its state vector (see `bus::ask_repair`).
    last_repair_ask: Option<Instant>,
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
            last_repair_ask: None,
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
        self.broadcast_all(std::slice::from_ref(&frame), except);
    }

    /// Sends `frames`, in order, to every peer but `except`: handed over together, so a
    /// transport can write them to each connection at once.
    fn broadcast_all(&mut self, frames: &[Bytes], except: Option<ConnId>) {
        let slow: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, p)| !p.tx.send_all(frames))
            .map(|(id, _)| *id)
            .collect();
        for id in slow {
            self.drop_peer_later(id);
        }
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
                act.last_repair_ask = None;
                act.ask_repair(ctx);
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
                awareness_ids: OwnedIds::default(),
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
            let _ =
                p.tx.try_send(Outbound::Frame(Bytes::from(protocol::permission_denied(
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
