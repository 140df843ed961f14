//! The `DocStore` port on sea-orm: `post_doc_updates` (append-only log),
//! `post_doc_snapshots` (the log folded up to `upto_seq`) and `post_doc_heads` (the last
//! position handed out).
//!
//! Positions: each append takes the next positions of its document by bumping `head` on the
//! document's head row, which holds that row's lock until the append commits. Appends to
//! one document therefore commit in position order, and what any reader sees of the log is a
//! prefix of it — so "covered by the snapshot" (`pos <= upto_seq`) means "committed before
//! the snapshot was taken", on PostgreSQL as on SQLite (where writers take turns anyway).
//!
//! Reads (`load`, and the read half of `compact`) happen in one read transaction —
//! REPEATABLE READ on PostgreSQL, a WAL snapshot on SQLite — so snapshot and log are the same
//! moment. A compaction folds what it read outside any transaction, then swaps the snapshot
//! only if `upto_seq` is still what it read (compare-and-swap) and deletes the rows it folded,
//! in one short write transaction.

use async_trait::async_trait;
use chrono::Utc;
use copydesk_actors::doc::{self, ContentEdit};
use copydesk_actors::ports::{DocContent, DocStore, StoreError, StoredDoc};
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, FromQueryResult, IsolationLevel, QueryFilter, QueryOrder,
    TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

use super::sqlite_log::LogWriter;
use crate::jobs::store::stmt;
use crate::posts::content::PostContent;
use crate::store::entities::{post_doc_snapshots as snapshots, post_doc_updates as updates, posts};

pub struct DbDocStore {
    db: DatabaseConnection,
    /// SQLite: appends of every document go through one writer thread
    /// ([`super::sqlite_log`]).
    writer: Option<LogWriter>,
}

impl DbDocStore {
    /// SQLite's appends at `synchronous = NORMAL` (the default setting).
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with_sync(db, false)
    }

    /// `synchronous_full`: SQLite's `synchronous = FULL` for the log's own connection (see
    /// `database.sqlite_synchronous`). On SQLite the log writer opens the pool's database
    /// file; if it cannot, appends go through the pool.
    pub fn with_sync(db: DatabaseConnection, synchronous_full: bool) -> Self {
        let writer = (db.get_database_backend() == DatabaseBackend::Sqlite)
            .then(|| {
                let opts = db.get_sqlite_connection_pool().connect_options();
                LogWriter::open(opts.get_filename(), synchronous_full)
                    .inspect_err(|e| tracing::warn!(error = %e, "no log writer thread; appending through the pool"))
                    .ok()
            })
            .flatten();
        Self { db, writer }
    }
}

impl DbDocStore {
    /// SQLite's writer thread, for other writes that must not hold the write lock against
    /// the log's appends ([`super::hooks`]).
    pub fn log_writer(&self) -> Option<LogWriter> {
        self.writer.clone()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// The client id that seeds a post's document from its row. Derived from the post id, so
/// two nodes seeding at once write the identical update, which Yjs applies once.
fn seed_client(post_id: Uuid) -> u64 {
    let b = post_id.as_bytes();
    u64::from(u32::from_le_bytes([b[12], b[13], b[14], b[15]]) | 1)
}

/// The document content a post row holds (posts created through REST start there).
pub fn row_content(p: &posts::Model) -> DocContent {
    let c = PostContent::from_json(&p.content);
    DocContent {
        title: p.title.clone(),
        caption: c.caption,
        overrides: c
            .platform_content
            .into_iter()
            .filter_map(|(k, v)| v.text.filter(|t| !t.is_empty()).map(|t| (k, t)))
            .collect(),
        media: c
            .media
            .iter()
            .map(|m| serde_json::to_value(m).unwrap_or_default())
            .collect(),
    }
}

/// A read transaction that sees one moment of the database.
async fn read_txn(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let opts = if db.get_database_backend() == DatabaseBackend::Postgres {
        TransactionOptions {
            isolation_level: Some(IsolationLevel::RepeatableRead),
            access_mode: Some(AccessMode::ReadOnly),
            ..Default::default()
        }
    } else {
        // SQLite in WAL mode: a deferred transaction reads one snapshot from its first read.
        TransactionOptions::default()
    };
    db.begin_with_options(opts).await.map_err(err)
}

/// A document's stored state read at one moment: its snapshot row and the log after it.
struct State {
    snapshot: Option<snapshots::Model>,
    log: Vec<updates::Model>,
}

impl State {
    fn upto(&self) -> i64 {
        self.snapshot.as_ref().map(|s| s.upto_seq).unwrap_or(0)
    }
}

async fn read_state(db: &DatabaseConnection, doc_id: Uuid) -> Result<State, StoreError> {
    let txn = read_txn(db).await?;
    let snapshot = snapshots::Entity::find_by_id(doc_id)
        .one(&txn)
        .await
        .map_err(err)?;
    let after = snapshot.as_ref().map(|s| s.upto_seq).unwrap_or(0);
    let log = updates::Entity::find()
        .filter(updates::Column::PostId.eq(doc_id))
        .filter(updates::Column::Pos.gt(after))
        .order_by_asc(updates::Column::Pos)
        .all(&txn)
        .await
        .map_err(err)?;
    txn.commit().await.map_err(err)?;
    Ok(State { snapshot, log })
}

#[derive(FromQueryResult)]
struct Head {
    head: i64,
}

/// An update with no content: what a snapshot row holds before the first compaction.
pub(super) const EMPTY_UPDATE: [u8; 2] = [0, 0];

/// Takes the next `$2` positions of document `$1`; answers the last one.
pub(super) const BUMP_HEAD: &str = "INSERT INTO post_doc_heads (post_id, head) VALUES ($1, $2) \
     ON CONFLICT (post_id) DO UPDATE SET head = post_doc_heads.head + $2 RETURNING head";

/// The empty snapshot row of a document's first append (a compaction swaps it).
pub(super) const CREATE_SNAPSHOT: &str =
    "INSERT INTO post_doc_snapshots (post_id, data, upto_seq, updated_at) \
     VALUES ($1, $2, 0, $3) ON CONFLICT (post_id) DO NOTHING";

impl DbDocStore {
    /// Appends `batch` to `doc_id`'s log inside `txn` and returns the last position taken.
    /// The document's head row stays locked until `txn` ends, so appends to one document
    /// commit in position order. The first append also creates the (empty) snapshot row a
    /// compaction swaps.
    pub async fn append_in(
        txn: &DatabaseTransaction,
        doc_id: Uuid,
        batch: &[Vec<u8>],
    ) -> Result<i64, StoreError> {
        let n = batch.len() as i64;
        let now = Utc::now();
        let head = Head::find_by_statement(stmt(txn, BUMP_HEAD, vec![doc_id.into(), n.into()]))
            .one(txn)
            .await
            .map_err(err)?
            .ok_or_else(|| StoreError("no head returned".into()))?
            .head;
        if head == n {
            txn.execute_raw(stmt(
                txn,
                CREATE_SNAPSHOT,
                vec![doc_id.into(), EMPTY_UPDATE.to_vec().into(), now.into()],
            ))
            .await
            .map_err(err)?;
        }
        // One statement text whatever the batch size, so it stays prepared.
        for (i, data) in batch.iter().enumerate() {
            txn.execute_raw(stmt(
                txn,
                "INSERT INTO post_doc_updates (post_id, pos, data, created_at) VALUES ($1, $2, $3, $4)",
                vec![
                    doc_id.into(),
                    (head - n + 1 + i as i64).into(),
                    data.clone().into(),
                    now.into(),
                ],
            ))
            .await
            .map_err(err)?;
        }
        Ok(head)
    }
}

#[async_trait]
impl DocStore for DbDocStore {
    async fn load(&self, doc_id: Uuid) -> Result<StoredDoc, StoreError> {
        let state = read_state(&self.db, doc_id).await?;
        if state.upto() == 0 && state.log.is_empty() {
            // First open: seed the document from the post row.
            let Some(post) = posts::Entity::find_by_id(doc_id)
                .one(&self.db)
                .await
                .map_err(err)?
            else {
                return Err(StoreError("post not found".into()));
            };
            let content = row_content(&post);
            let edit = ContentEdit::to_match(&DocContent::default(), &content);
            let empty = doc::full_state(&doc::new_doc(None));
            let seed = doc::edit_update(&empty, seed_client(doc_id), &edit).map_err(err)?;
            if !doc::is_empty_update(&seed) {
                self.append(doc_id, std::slice::from_ref(&seed)).await?;
                // Another node may have seeded (the same update) or edited meanwhile.
                let again = read_state(&self.db, doc_id).await?;
                return Ok(stored(again));
            }
        }
        Ok(stored(state))
    }

    async fn append(&self, doc_id: Uuid, batch: &[Vec<u8>]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(writer) = &self.writer {
            return writer.append(doc_id, batch.to_vec()).await;
        }
        let txn = crate::store::begin(&self.db).await.map_err(err)?;
        Self::append_in(&txn, doc_id, batch).await?;
        txn.commit().await.map_err(err)?;
        Ok(())
    }

    async fn compact(&self, doc_id: Uuid) -> Result<Option<usize>, StoreError> {
        let state = read_state(&self.db, doc_id).await?;
        let Some(upto) = state.log.last().map(|u| u.pos) else {
            return Ok(None);
        };
        let before = state.upto();
        let base = state.snapshot.map(|s| s.data);
        let log = state.log;
        // Rebuilding the state is proportional to the document: do it off the async
        // threads, never on a session's hot path.
        let data = tokio::task::spawn_blocking(move || {
            let d = doc::new_doc(None);
            for u in base.iter().chain(log.iter().map(|u| &u.data)) {
                let _ = doc::apply(&d, u);
            }
            (!doc::has_pending(&d)).then(|| doc::full_state(&d))
        })
        .await
        .map_err(err)?;
        // Something in the log waits for an item not (yet) in it: a snapshot would drop it,
        // so keep the log as it is.
        let Some(data) = data else {
            tracing::warn!(post_id = %doc_id, "not compacting: the log holds updates that cannot be integrated yet");
            return Ok(None);
        };
        let size = data.len();
        let txn = crate::store::begin(&self.db).await.map_err(err)?;
        // Compare-and-swap: only if nobody compacted since we read.
        let swapped = txn
            .execute_raw(stmt(
                &txn,
                "UPDATE post_doc_snapshots SET data = $1, upto_seq = $2, updated_at = $3 \
                 WHERE post_id = $4 AND upto_seq = $5",
                vec![
                    data.into(),
                    upto.into(),
                    Utc::now().into(),
                    doc_id.into(),
                    before.into(),
                ],
            ))
            .await
            .map_err(err)?
            .rows_affected()
            == 1;
        if !swapped {
            txn.rollback().await.map_err(err)?;
            return Ok(None);
        }
        updates::Entity::delete_many()
            .filter(updates::Column::PostId.eq(doc_id))
            .filter(updates::Column::Pos.lte(upto))
            .exec(&txn)
            .await
            .map_err(err)?;
        txn.commit().await.map_err(err)?;
        Ok(Some(size))
    }
}

fn stored(state: State) -> StoredDoc {
    StoredDoc {
        // Before the first compaction the row holds an empty update: nothing to apply.
        snapshot: state.snapshot.filter(|s| s.upto_seq > 0).map(|s| s.data),
        updates: state.log.into_iter().map(|u| u.data).collect(),
    }
}
