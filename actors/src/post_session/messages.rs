//! The session's configuration and dependencies, and the messages it handles and sends.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::PostSession;
use crate::doc::ContentEdit;
use crate::ports::{Bus, DocContent, DocHooks, DocStore, PeerUser};
use crate::protocol::Incoming;

pub type ConnId = u64;

/// What a connection is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Frame(Bytes),
    Close(u16, String),
}

/// Where a session's frames for one connection go. A transport writes them straight to the
/// connection when it can take them and queues the rest, bounded: a peer that cannot keep up
/// is refused (`false`), and the session drops it (its connection closes with 1013 and the
/// client resyncs), never silently skipping a frame.
pub trait PeerSink: Send + Sync + 'static {
    /// Sends `frames` in order, each as one message; `false` when the peer cannot take
    /// them (too far behind, or gone).
    fn send(&self, frames: &[Bytes]) -> bool;
    /// Closes the connection with `code` after what was already sent.
    fn close(&self, code: u16, reason: &str);
}

/// A connection as its session holds it. Dropping it tells the connection the session let
/// go of it (it closes so that the client resyncs).
pub struct PeerTx(Box<dyn PeerSink>);

impl PeerTx {
    pub fn new(sink: impl PeerSink) -> Self {
        Self(Box::new(sink))
    }

    /// One frame or a close; `Err` when the peer cannot take it.
    pub fn try_send(&self, out: Outbound) -> Result<(), Outbound> {
        match out {
            Outbound::Frame(b) => {
                if self.0.send(std::slice::from_ref(&b)) {
                    Ok(())
                } else {
                    Err(Outbound::Frame(b))
                }
            }
            Outbound::Close(code, reason) => {
                self.0.close(code, &reason);
                Ok(())
            }
        }
    }

    /// Several frames, in order.
    pub fn send_all(&self, frames: &[Bytes]) -> bool {
        self.0.send(frames)
    }
}

/// A queue as the sink (tests, and any in-process peer): bounded by the channel's capacity;
/// dropping the session's end closes the channel.
impl PeerSink for mpsc::Sender<Outbound> {
    fn send(&self, frames: &[Bytes]) -> bool {
        if self.capacity() < frames.len() {
            return false;
        }
        frames
            .iter()
            .all(|f| self.try_send(Outbound::Frame(f.clone())).is_ok())
    }

    fn close(&self, code: u16, reason: &str) {
        let _ = self.try_send(Outbound::Close(code, reason.to_string()));
    }
}

impl From<mpsc::Sender<Outbound>> for PeerTx {
    fn from(tx: mpsc::Sender<Outbound>) -> Self {
        Self::new(tx)
    }
}

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
            repair_interval: Duration::from_secs(1),
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
