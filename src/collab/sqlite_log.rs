//! SQLite: the update log's appends, on a thread of their own with a connection of their own.
//!
//! Every session's appends land here (group commit across documents): a request that arrives
//! while a transaction commits goes into the next one with everything else that arrived. The
//! whole transaction — `BEGIN IMMEDIATE`, for each document the `head` bump and its rows,
//! `COMMIT` — runs as plain SQLite calls on prepared statements, with no hop to another
//! thread per statement (sqlx runs each statement on a worker thread and answers through a
//! channel: four round trips per append), and on one connection whose page cache stays warm
//! (a pooled connection finds its cache stale whenever another one wrote). Positions and
//! locking are exactly those of [`super::store::DbDocStore::append_in`]: the document's
//! `head` row is bumped first, so appends to one document commit in position order.
//!
//! The thread also checkpoints the WAL, between its own transactions (see [`run`]).
//!
//! If a shared transaction fails, each of its appends is retried alone, so one bad append
//! (a post deleted meanwhile: its foreign key fails) cannot fail the others.
//!
//! Other writes that happen all the time while documents are edited — the derived fields a
//! live document writes back onto its post row ([`super::hooks`]) — run here too, as
//! [`LogWriter::transaction`]s of their own between the appends' transactions: on another
//! connection they would hold SQLite's one write lock across several thread hops while the
//! appends wait for it.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use copydesk_actors::ports::StoreError;
use rusqlite::{params, Connection, OpenFlags};
use tokio::sync::oneshot;
use uuid::Uuid;

/// At most this many appends share one transaction.
const MAX_REQUESTS: usize = 256;

use super::store::{BUMP_HEAD, CREATE_SNAPSHOT, EMPTY_UPDATE};

/// The store's statements with SQLite's parameter marks (`?1` for `$1`).
static SQL: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    [
        BUMP_HEAD.replace('$', "?"),
        CREATE_SNAPSHOT.replace('$', "?"),
        "INSERT INTO post_doc_updates (post_id, pos, data, created_at) VALUES (?1, ?2, ?3, ?4)"
            .to_string(),
    ]
});

pub struct AppendRequest {
    pub doc_id: Uuid,
    pub batch: Vec<Vec<u8>>,
    pub done: oneshot::Sender<Result<(), StoreError>>,
}

/// A transaction of its own on the writer's connection; it answers its caller itself.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Request {
    Append(AppendRequest),
    Job(Job),
}

/// The sending half; the thread ends when the last one is dropped.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Request>,
}

impl LogWriter {
    /// Opens `path` (an existing, migrated database in WAL mode) and starts the thread.
    pub fn open(path: &Path, synchronous_full: bool) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        // The same settings as the pool's connections (`crate::store::connect`), except the
        // busy wait: SQLite's own handler sleeps 1, 2, 5, 10… ms while another connection
        // holds the write lock (a post row's derived fields, a REST write), and each of those
        // milliseconds is added to every edit in the waiting transaction. Poll in tens of
        // microseconds instead, backing off to 1 ms, for about the same 5 s in all.
        conn.busy_handler(Some(busy_wait)).map_err(err)?;
        conn.execute_batch(if synchronous_full {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
        } else {
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;"
        })
        .map_err(err)?;
        // A WAL that grew past this (a burst of writes) is cut back when it restarts.
        conn.query_row("PRAGMA journal_size_limit = 67108864", [], |_| Ok(()))
            .map_err(err)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("copydesk-doclog".into())
            .spawn(move || run(conn, rx))
            .map_err(err)?;
        Ok(Self { tx })
    }

    pub async fn append(&self, doc_id: Uuid, batch: Vec<Vec<u8>>) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Request::Append(AppendRequest {
                doc_id,
                batch,
                done,
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `f` in an immediate transaction of its own on the writer's thread, between the
    /// appends' transactions, and commits it if `f` succeeds. `f` runs on a plain thread: it
    /// must not block on anything but SQLite.
    pub async fn transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .and_then(|txn| {
                    let value = f(&txn)?;
                    txn.commit()?;
                    Ok(value)
                })
                .map_err(err);
            let _ = done.send(result);
        });
        self.tx.send(Request::Job(job)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// SQLite's busy handler for the writer: `tries` is how many times it was called for this
/// lock; returning false gives up (the statement fails with SQLITE_BUSY).
fn busy_wait(tries: i32) -> bool {
    if tries >= BUSY_TRIES {
        return false;
    }
    let micros = (25u64 << tries.min(6)).min(1000);
    std::thread::sleep(Duration::from_micros(micros));
    true
}

/// 25 µs doubling to 1 ms: about 5 s before an append gives up.
const BUSY_TRIES: i32 = 5_000;

fn stopped() -> StoreError {
    StoreError("the document writer has stopped".into())
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// The writer checkpoints the WAL itself, about this often while it writes…
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// …in the first gap of this long between appends…
const CHECKPOINT_GAP: Duration = Duration::from_millis(1);
/// …or, when appends never pause, anyway after this long.
const CHECKPOINT_AT_LATEST: Duration = Duration::from_secs(5);

fn run(mut conn: Connection, rx: mpsc::Receiver<Request>) {
    // Checkpoints run between this thread's own transactions. A checkpoint copies the
    // WAL's frames into the database; the next write starts the WAL over from its beginning
    // only if every frame was copied — which never happens when the checkpoint runs on
    // another connection while appends keep coming (each adds frames during it), so the
    // WAL would grow for as long as editing goes on (hundreds of MB an hour, each new
    // page costing the kernel more than an overwritten one).
    let mut checkpointed = Instant::now();
    let mut dirty = false;
    loop {
        if dirty && checkpointed.elapsed() >= CHECKPOINT_AT_LATEST {
            checkpoint(&conn);
            (dirty, checkpointed) = (false, Instant::now());
        }
        let first = if dirty {
            let due = (checkpointed + CHECKPOINT_EVERY).saturating_duration_since(Instant::now());
            match rx.recv_timeout(due.max(CHECKPOINT_GAP)) {
                Ok(r) => r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if checkpointed.elapsed() >= CHECKPOINT_EVERY {
                        checkpoint(&conn);
                        (dirty, checkpointed) = (false, Instant::now());
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(r) => r,
                Err(_) => break,
            }
        };
        dirty = true;
        let mut reqs = Vec::new();
        let mut jobs = Vec::new();
        let mut next = Some(first);
        while let Some(r) = next.take() {
            match r {
                Request::Append(a) => reqs.push(a),
                Request::Job(j) => jobs.push(j),
            }
            if reqs.len() + jobs.len() < MAX_REQUESTS {
                next = rx.try_recv().ok();
            }
        }
        append(&mut conn, reqs);
        for job in jobs {
            job(&mut conn);
        }
    }
}

/// The appends `reqs` in one transaction, or each alone if that fails.
fn append(conn: &mut Connection, mut reqs: Vec<AppendRequest>) {
    if reqs.is_empty() {
        return;
    }
    match write(conn, &reqs) {
        Ok(()) => {
            for r in reqs {
                let _ = r.done.send(Ok(()));
            }
        }
        Err(e) if reqs.len() == 1 => {
            let _ = reqs.pop().map(|r| r.done.send(Err(e)));
        }
        Err(_) => {
            for r in reqs {
                let alone = write(conn, std::slice::from_ref(&r));
                let _ = r.done.send(alone);
            }
        }
    }
}

/// A PASSIVE checkpoint: never waits for readers or writers (and never calls the busy
/// handler).
fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "WAL checkpoint failed");
    }
}

/// One transaction for `reqs`; rolled back (dropped) if any statement fails.
fn write(conn: &mut Connection, reqs: &[AppendRequest]) -> Result<(), StoreError> {
    let txn = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    // As sqlx writes them, so sea-orm reads them back: UUIDs as 16-byte blobs, times as
    // RFC 3339 text.
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::AutoSi, false);
    {
        let [bump_sql, create_sql, insert_sql] = &*SQL;
        let mut bump = txn.prepare_cached(bump_sql).map_err(err)?;
        let mut insert = txn.prepare_cached(insert_sql).map_err(err)?;
        for r in reqs {
            if r.batch.is_empty() {
                continue;
            }
            let id = r.doc_id.as_bytes().as_slice();
            let n = r.batch.len() as i64;
            let head: i64 = bump
                .query_row(params![id, n], |row| row.get(0))
                .map_err(err)?;
            if head == n {
                txn.prepare_cached(create_sql)
                    .and_then(|mut s| s.execute(params![id, &EMPTY_UPDATE[..], now]))
                    .map_err(err)?;
            }
            for (i, data) in r.batch.iter().enumerate() {
                insert
                    .execute(params![id, head - n + 1 + i as i64, data, now])
                    .map_err(err)?;
            }
        }
    }
    txn.commit().map_err(err)
}
