//! Outgoing webhooks (issue 10): endpoints per workspace, one message per event and
//! endpoint (its `msg_…` id is the `webhook-id` of every attempt), and the attempt log.
//!
//! Secrets are stored encrypted (`secret_enc`: base64 of nonce ‖ ciphertext, sealed with the
//! instance encryption key). `rate_next_ms` is the cluster-wide rate limiter of an endpoint:
//! the earliest unix millisecond at which its next send may start.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tstz(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone(name)
}

fn tstz_null(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(name)
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
                .table("webhook_endpoints")
                .col(pk_uuid("id"))
                .col(uuid("workspace_id"))
                .col(text("url"))
                .col(text("description"))
                .col(json("event_types"))
                .col(boolean("enabled"))
                .col(text_null("disabled_reason"))
                .col(integer_null("rate_limit"))
                .col(json("headers"))
                .col(text("secret_enc"))
                .col(text_null("old_secret_enc"))
                .col(tstz_null("old_secret_expires_at"))
                .col(tstz_null("failing_since"))
                .col(big_integer("rate_next_ms").default(0))
                .col(uuid_null("created_by"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("webhook_endpoints", "workspace_id")
                        .to("workspaces", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_endpoints",
            "idx_webhook_endpoints_workspace",
            &["workspace_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_messages")
                .col(string("id").primary_key())
                .col(uuid("endpoint_id"))
                .col(uuid("workspace_id"))
                .col(uuid_null("event_id"))
                .col(string("event_type"))
                .col(text("payload"))
                .col(string("status"))
                .col(integer("attempts").default(0))
                .col(tstz_null("next_attempt_at"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("webhook_messages", "endpoint_id")
                        .to("webhook_endpoints", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_messages",
            "idx_webhook_messages_endpoint",
            &["endpoint_id", "created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("webhook_attempts")
                .col(pk_uuid("id"))
                .col(string("message_id"))
                .col(uuid("endpoint_id"))
                .col(integer("attempt"))
                .col(string("status"))
                .col(integer_null("http_status"))
                .col(text("response"))
                .col(text_null("error"))
                .col(big_integer("duration_ms"))
                .col(tstz_null("next_attempt_at"))
                .col(tstz("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("webhook_attempts", "message_id")
                        .to("webhook_messages", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "webhook_attempts",
            "idx_webhook_attempts_message",
            &["message_id", "attempt"],
        ))
        .await?;
        m.create_index(index(
            "webhook_attempts",
            "idx_webhook_attempts_endpoint",
            &["endpoint_id", "created_at"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["webhook_attempts", "webhook_messages", "webhook_endpoints"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
