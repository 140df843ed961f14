//! Hardening (issue 6): single-use WebSocket tickets, the one-time setup token for the first
//! super admin, and the password a verification link sets.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // A socket URL carries a ticket, never a JWT: 256 random bits, stored hashed, good
        // once and for seconds. `access_expires_at` is the expiry of the access token that
        // bought it — the socket's access ends there unless renewed in band.
        m.create_table(
            Table::create()
                .table("ws_tickets")
                .col(pk_uuid("id"))
                .col(string_uniq("token_hash"))
                .col(uuid("user_id"))
                .col(integer("token_version"))
                .col(timestamp_with_time_zone("access_expires_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("ws_tickets", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_ws_tickets_expires")
                .table("ws_tickets")
                .col("expires_at")
                .to_owned(),
        )
        .await?;

        // The first super admin is created with a one-time token printed at first start (or
        // with `copydesk admin create`). One row per token; claimed by a conditional update.
        m.create_table(
            Table::create()
                .table("setup_tokens")
                .col(pk_uuid("id"))
                .col(string_uniq("token_hash"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;

        // A verification link sets the password chosen in the registration that sent it, so
        // whoever registered an address first cannot keep a password on it.
        m.alter_table(
            Table::alter()
                .table("email_tokens")
                .add_column(string_null("password_hash"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("email_tokens")
                .add_column(string_null("name"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["ws_tickets", "setup_tokens"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
