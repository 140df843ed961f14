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
    }
    let db = Database::connect(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    Ok(db)
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
