//! Realtime core (issue 8): per-document log positions assigned in commit order.
//!
//! A global sequence is not commit order on PostgreSQL: a row with a lower `seq` can commit
//! after a compaction covered higher ones, and is then never loaded. Each document now has
//! one row in `post_doc_snapshots` from its first append on, with a `head` counter; an
//! append takes `head + 1 ..= head + n` for its rows by updating that row, which holds the
//! row's lock until the append commits. So the positions a reader sees are always a prefix
//! of the document's log, and "covered by the snapshot" (`pos <= upto_seq`) means
//! "committed before it". Compaction swaps the snapshot with a compare-and-swap on
//! `upto_seq` (see `src/collab/store.rs`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let pg = m.get_database_backend() == DatabaseBackend::Postgres;
        db.execute_unprepared(
            "ALTER TABLE post_doc_updates ADD COLUMN pos BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        db.execute_unprepared("UPDATE post_doc_updates SET pos = seq")
            .await?;
        db.execute_unprepared(
            "ALTER TABLE post_doc_snapshots ADD COLUMN head BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        // Documents with a log but no snapshot get their row (an empty snapshot at 0).
        let empty = if pg { "'\\x0000'::bytea" } else { "X'0000'" };
        let now = if pg {
            "now()"
        } else {
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        };
        db.execute_unprepared(&format!(
            "INSERT INTO post_doc_snapshots (post_id, data, upto_seq, head, updated_at) \
             SELECT post_id, {empty}, 0, 0, {now} FROM post_doc_updates \
             WHERE post_id NOT IN (SELECT post_id FROM post_doc_snapshots) GROUP BY post_id"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE post_doc_snapshots SET head = COALESCE((SELECT MAX(u.pos) FROM post_doc_updates u \
             WHERE u.post_id = post_doc_snapshots.post_id), upto_seq)",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE post_doc_snapshots SET head = upto_seq WHERE head < upto_seq",
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_post_doc_updates_post_seq")
                .table("post_doc_updates")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_post_doc_updates_post_pos")
                .table("post_doc_updates")
                .col("post_id")
                .col("pos")
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_post_doc_updates_post_pos")
                .table("post_doc_updates")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_post_doc_updates_post_seq")
                .table("post_doc_updates")
                .col("post_id")
                .col("seq")
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared("ALTER TABLE post_doc_updates DROP COLUMN pos")
            .await?;
        db.execute_unprepared("ALTER TABLE post_doc_snapshots DROP COLUMN head")
            .await?;
        Ok(())
    }
}
