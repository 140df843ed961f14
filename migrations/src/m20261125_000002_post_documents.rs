//! Live post documents: the append-only Yjs update log, the compacted snapshot it folds
//! into, and saved versions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn post_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, "post_id")
        .to("posts", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("post_doc_updates")
                .col(big_pk_auto("seq"))
                .col(uuid("post_id"))
                .col(blob("data"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut post_fk("post_doc_updates"))
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

        m.create_table(
            Table::create()
                .table("post_doc_snapshots")
                .col(uuid("post_id").primary_key())
                .col(blob("data"))
                .col(big_integer("upto_seq"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut post_fk("post_doc_snapshots"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("post_versions")
                .col(pk_uuid("id"))
                .col(uuid("post_id"))
                .col(uuid("workspace_id"))
                .col(string_null("name"))
                .col(string("kind"))
                .col(blob("data"))
                .col(uuid_null("created_by"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut post_fk("post_versions"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_post_versions_post_created")
                .table("post_versions")
                .col("post_id")
                .col("created_at")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["post_versions", "post_doc_snapshots", "post_doc_updates"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
