//! Realtime core (issue 8): a document's log `head` moves to a row of its own.
//!
//! Every append bumps its document's `head` (see `000006_doc_positions`). On the snapshot
//! row, that rewrote the row — snapshot blob included — on every append: SQLite rewrites a
//! whole record on update (for a blob that spills into overflow pages, it reads and
//! compares every one of them), so each append to a 1 MB document read 1 MB. Measured:
//! three quarters of the server's CPU in the 1 MB-document benchmark went there. A
//! `post_doc_heads` row is a few bytes. Same locking rule as before: an append takes its
//! document's head row first and holds it until it commits.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("post_doc_heads")
                .col(uuid("post_id").primary_key())
                .col(big_integer("head"))
                .foreign_key(
                    ForeignKey::create()
                        .from("post_doc_heads", "post_id")
                        .to("posts", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO post_doc_heads (post_id, head) SELECT post_id, head FROM post_doc_snapshots",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE post_doc_snapshots DROP COLUMN head")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "ALTER TABLE post_doc_snapshots ADD COLUMN head BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE post_doc_snapshots SET head = COALESCE((SELECT h.head FROM post_doc_heads h \
             WHERE h.post_id = post_doc_snapshots.post_id), upto_seq)",
        )
        .await?;
        m.drop_table(Table::drop().table("post_doc_heads").to_owned())
            .await?;
        Ok(())
    }
}
