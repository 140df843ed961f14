//! Comments on posts and their emoji reactions.
//!
//! A thread is a root comment (`parent_id` null) and its replies (`parent_id` = the root;
//! replies are one level deep). Deleting a post deletes its comments; deleting a comment
//! deletes its replies and reactions; deleting a user keeps their comments, authorless.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tstz(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone(name)
}

fn tstz_null(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(name)
}

fn fk(
    from: (&'static str, &'static str),
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to, "id")
        .on_delete(on_delete)
        .to_owned()
}

fn index(table: &'static str, name: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for c in cols {
        idx.col(*c);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("comments")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(uuid("post_id"))
                .col(uuid_null("parent_id"))
                .col(uuid_null("author_id"))
                .col(text("body"))
                .col(string("visibility"))
                .col(json_null("anchor"))
                .col(json("mentions"))
                .col(tstz_null("resolved_at"))
                .col(uuid_null("resolved_by"))
                .col(tstz_null("edited_at"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(&mut fk(
                    ("comments", "workspace_id"),
                    "workspaces",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("comments", "post_id"),
                    "posts",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("comments", "parent_id"),
                    "comments",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("comments", "author_id"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    ("comments", "resolved_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("idx_comments_post_created", &["post_id", "created_at"][..]),
            ("idx_comments_workspace", &["workspace_id"][..]),
            ("idx_comments_parent", &["parent_id"][..]),
        ] {
            m.create_index(index("comments", name, cols)).await?;
        }

        // The primary key (comment, user, emoji) is the uniqueness rule: one of each emoji
        // per person per comment, which makes adding a reaction idempotent.
        m.create_table(
            Table::create()
                .table("comment_reactions")
                .col(uuid("comment_id"))
                .col(uuid("user_id"))
                .col(string("emoji"))
                .col(tstz("created_at"))
                .primary_key(
                    Index::create()
                        .name("pk_comment_reactions")
                        .col("comment_id")
                        .col("user_id")
                        .col("emoji"),
                )
                .foreign_key(&mut fk(
                    ("comment_reactions", "comment_id"),
                    "comments",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("comment_reactions", "user_id"),
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["comment_reactions", "comments"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
