//! Storage: connecting (SQLite by default, PostgreSQL in production), migrating, and the
//! entities. Every domain module reaches the database through sea-orm, so the same code
//! runs on both.

pub mod entities;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::config::Settings;

pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database.url();
    if url.starts_with("sqlite:") {
        // The default file lives under the data directory; create it on first start.
        std::fs::create_dir_all(&settings.database.data_dir)?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(settings.database.max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // One writer at a time is SQLite's nature; a small pool avoids lock contention.
        opts.max_connections(settings.database.max_connections.min(8));
        // On every pooled connection (a PRAGMA run once reaches only one of them): WAL so
        // readers proceed during a write, and a busy timeout so a writer waits its turn
        // instead of failing with "database is locked".
        let full = settings.database.sqlite_synchronous == crate::config::SqliteSync::Full;
        opts.map_sqlx_sqlite_opts(move |o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .synchronous(if full {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                })
                // Checkpoints run on a timer (see `spawn_sqlite_checkpoints`), not inside
                // whichever commit crosses the threshold — the update log's hot path.
                .pragma("wal_autocheckpoint", "0")
                // A WAL that grew past this (a burst of writes) is cut back when it restarts.
                .pragma("journal_size_limit", "67108864")
        });
        // A pooled connection is not pinged before every use (a local file does not drop).
        opts.test_before_acquire(false);
        // A connection must come back to the pool outside any transaction.
        opts.map_sqlx_sqlite_pool_opts(|o| {
            o.after_release(|conn, _| Box::pin(outside_transaction(conn)))
        });
    }
    let db = Database::connect(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    Ok(db)
}

/// Whether a SQLite connection handed back to the pool is outside any transaction; if not,
/// it is closed rather than pooled. A connection left inside a transaction would answer every
/// later read from its first read's snapshot, never seeing what others committed since, and
/// keep the WAL from being checkpointed past that point. sqlx rolls back a dropped
/// `Transaction`; this catches a transaction it does not know of (a `BEGIN` sent as plain
/// SQL), or one whose handle could not reach its connection when dropped (sea-orm skips the
/// rollback when the connection's lock is held at that moment).
async fn outside_transaction(
    conn: &mut sea_orm::sqlx::sqlite::SqliteConnection,
) -> Result<bool, sea_orm::sqlx::Error> {
    // Locking the handle waits for the connection's queued commands (a pending rollback).
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is a live connection, locked for this call only.
    let autocommit =
        unsafe { rusqlite::ffi::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) } != 0;
    if !autocommit {
        tracing::error!("a pooled SQLite connection came back inside a transaction; closing it");
    }
    Ok(autocommit)
}

/// Checkpoints SQLite's write-ahead log every second in the background (automatic
/// checkpoints are off, so no writer pays for one). PASSIVE: never waits for readers.
pub fn spawn_sqlite_checkpoints(db: DatabaseConnection) {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            if let Err(e) = db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::debug!(error = %e, "WAL checkpoint failed");
            }
        }
    });
}

/// Opens a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken
/// up front, so a transaction that reads and then writes waits its turn instead of failing
/// when another writer committed in between (the deferred default). PostgreSQL ignores it.
pub async fn begin<C: sea_orm::TransactionTrait<Transaction = sea_orm::DatabaseTransaction>>(
    db: &C,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Statement;

    async fn count(db: &DatabaseConnection) -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM t",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    /// A connection handed back inside a transaction the pool was not told about is closed,
    /// not reused: the next read sees what another connection committed meanwhile.
    #[tokio::test]
    async fn a_connection_left_inside_a_transaction_is_not_pooled() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::default();
        s.database.data_dir = dir.path().to_path_buf();
        s.database.max_connections = 1;
        let db = connect(&s).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        // A transaction begun behind sqlx's back, with a read that pins its snapshot; the one
        // pooled connection then goes back to the pool.
        db.execute_unprepared("BEGIN").await.unwrap();
        assert_eq!(count(&db).await, 0);
        // Another connection commits a row.
        let other = rusqlite::Connection::open(dir.path().join("copydesk.db")).unwrap();
        other.execute("INSERT INTO t (x) VALUES (1)", []).unwrap();
        assert_eq!(count(&db).await, 1, "a read from a stale snapshot");
    }
}
