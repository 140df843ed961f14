//! The foundation schema: accounts, sessions, workspaces, posts, the event outbox and the
//! audit log. Times are `timestamp with time zone` on PostgreSQL and RFC 3339 text on SQLite.

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
                .table("users")
                .col(pk_uuid("id"))
                .col(string_uniq("email"))
                .col(string("name"))
                .col(string("password_hash"))
                .col(tstz_null("email_verified_at"))
                .col(boolean("is_super_admin").default(false))
                .col(integer("token_version").default(0))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("email_tokens")
                .col(pk_uuid("id"))
                .col(uuid_null("user_id"))
                .col(string("email"))
                .col(string("purpose"))
                .col(string_uniq("token_hash"))
                .col(tstz("expires_at"))
                .col(tstz_null("used_at"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk(
                    ("email_tokens", "user_id"),
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("email_tokens", "idx_email_tokens_user", &["user_id"]))
            .await?;

        m.create_table(
            Table::create()
                .table("workspaces")
                .col(pk_uuid("id"))
                .col(string("name"))
                .col(string_uniq("slug"))
                .col(uuid_null("created_by"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(&mut fk(
                    ("workspaces", "created_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("workspace_members")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(uuid("user_id"))
                .col(string("role"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(&mut fk(
                    ("workspace_members", "workspace_id"),
                    "workspaces",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("workspace_members", "user_id"),
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "workspace_members",
                "uq_workspace_members",
                &["workspace_id", "user_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "workspace_members",
            "idx_workspace_members_user",
            &["user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("invitations")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(string("email"))
                .col(string("role"))
                .col(string_uniq("token_hash"))
                .col(uuid_null("invited_by"))
                .col(tstz("expires_at"))
                .col(tstz_null("accepted_at"))
                .col(uuid_null("accepted_by"))
                .col(tstz_null("revoked_at"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk(
                    ("invitations", "workspace_id"),
                    "workspaces",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("invitations", "invited_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    ("invitations", "accepted_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "invitations",
            "idx_invitations_workspace",
            &["workspace_id"],
        ))
        .await?;
        m.create_index(index("invitations", "idx_invitations_email", &["email"]))
            .await?;

        m.create_table(
            Table::create()
                .table("refresh_token_families")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(tstz("absolute_expires_at"))
                .col(tstz_null("revoked_at"))
                .col(string_null("revoked_reason"))
                .col(string_null("ip"))
                .col(string_null("user_agent"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk(
                    ("refresh_token_families", "user_id"),
                    "users",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "refresh_token_families",
            "idx_refresh_families_user",
            &["user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("refresh_tokens")
                .col(pk_uuid("id"))
                .col(uuid("family_id"))
                .col(string_uniq("token_hash"))
                .col(tstz("expires_at"))
                .col(tstz_null("used_at"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk(
                    ("refresh_tokens", "family_id"),
                    "refresh_token_families",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "refresh_tokens",
            "idx_refresh_tokens_family",
            &["family_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("posts")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(string("title"))
                .col(json("content"))
                .col(json("platforms"))
                .col(json("tags"))
                .col(json("labels"))
                .col(string_null("campaign"))
                .col(string("status"))
                .col(tstz_null("scheduled_at"))
                .col(boolean("client_visible").default(false))
                .col(json("validation"))
                .col(boolean("is_valid"))
                .col(text("search_text"))
                .col(text("tags_index"))
                .col(text("platforms_index"))
                .col(uuid_null("created_by"))
                .col(uuid_null("updated_by"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(&mut fk(
                    ("posts", "workspace_id"),
                    "workspaces",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    ("posts", "created_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .foreign_key(&mut fk(
                    ("posts", "updated_by"),
                    "users",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            (
                "idx_posts_ws_created",
                &["workspace_id", "created_at", "id"][..],
            ),
            (
                "idx_posts_ws_updated",
                &["workspace_id", "updated_at", "id"][..],
            ),
            (
                "idx_posts_ws_scheduled",
                &["workspace_id", "scheduled_at", "id"][..],
            ),
            ("idx_posts_ws_status", &["workspace_id", "status"][..]),
            ("idx_posts_ws_campaign", &["workspace_id", "campaign"][..]),
        ] {
            m.create_index(index("posts", name, cols)).await?;
        }

        m.create_table(
            Table::create()
                .table("events")
                .col(big_pk_auto("seq"))
                .col(uuid_uniq("id"))
                .col(uuid_null("workspace_id"))
                .col(string("type"))
                .col(json("data"))
                .col(uuid_null("actor_id"))
                .col(tstz("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "events",
            "idx_events_ws_seq",
            &["workspace_id", "seq"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("audit_log")
                .col(pk_uuid("id"))
                .col(uuid_null("workspace_id"))
                .col(uuid_null("actor_id"))
                .col(string("action"))
                .col(string("target_type"))
                .col(string_null("target_id"))
                .col(string_null("ip"))
                .col(string_null("user_agent"))
                .col(json("details"))
                .col(tstz("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "audit_log",
            "idx_audit_ws_created",
            &["workspace_id", "created_at"],
        ))
        .await?;
        m.create_index(index("audit_log", "idx_audit_actor", &["actor_id"]))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "audit_log",
            "events",
            "posts",
            "refresh_tokens",
            "refresh_token_families",
            "invitations",
            "workspace_members",
            "workspaces",
            "email_tokens",
            "users",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
