//! Notifications (issue 9): in-app notifications, per-user preferences and digest setting,
//! Web Push subscriptions, the per-channel delivery log, and instance secrets (the VAPID key).
//!
//! - `notifications` is unique on `(event_id, user_id, type)`: an outbox event delivered
//!   twice (a redelivery, a node killed mid-batch) never notifies anyone twice. `in_app` is
//!   false for a notification kept only for its email/push delivery (the user turned the
//!   in-app channel off for that type): it is stored already read and never listed.
//! - `notification_preferences` holds only overrides of the defaults (see `notify::types`).
//! - `notification_deliveries` is unique on `(notification_id, channel)`: one email and one
//!   push per notification, whatever retries or nodes do.
//! - `instance_secrets` keeps generated key material sealed with the instance key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tstz(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone(name)
}

fn tstz_null(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(name)
}

fn fk(from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
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
                .table("notifications")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(uuid("workspace_id"))
                .col(string("type"))
                .col(text("title"))
                .col(text("body"))
                .col(text("url"))
                .col(uuid_null("post_id"))
                .col(uuid_null("actor_user_id"))
                .col(string_null("actor_name"))
                .col(uuid("event_id"))
                .col(boolean("in_app").default(true))
                .col(tstz_null("read_at"))
                .col(tstz("created_at"))
                .foreign_key(&mut fk("notifications", "user_id", "users"))
                .foreign_key(&mut fk("notifications", "workspace_id", "workspaces"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "notifications",
                "uq_notifications_event_user_type",
                &["event_id", "user_id", "type"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "notifications",
            "idx_notifications_user_created",
            &["user_id", "created_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("notification_preferences")
                .col(uuid("user_id"))
                .col(string("type"))
                .col(boolean("in_app"))
                .col(boolean("email"))
                .col(boolean("push"))
                .primary_key(Index::create().col("user_id").col("type"))
                .foreign_key(&mut fk("notification_preferences", "user_id", "users"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("notification_settings")
                .col(uuid("user_id").primary_key())
                .col(string("email_digest").default("off"))
                .col(tstz_null("last_digest_at"))
                .foreign_key(&mut fk("notification_settings", "user_id", "users"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("push_subscriptions")
                .col(pk_uuid("id"))
                .col(uuid("user_id"))
                .col(text("endpoint").unique_key())
                .col(string("p256dh"))
                .col(string("auth"))
                .col(text_null("user_agent"))
                .col(tstz("created_at"))
                .col(tstz_null("last_success_at"))
                .col(integer("failures").default(0))
                .foreign_key(&mut fk("push_subscriptions", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "push_subscriptions",
            "idx_push_subscriptions_user",
            &["user_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("notification_deliveries")
                .col(uuid("notification_id"))
                .col(string("channel"))
                .col(string("status"))
                .col(integer("attempts").default(0))
                .col(text_null("last_error"))
                .col(tstz_null("sent_at"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .primary_key(Index::create().col("notification_id").col("channel"))
                .foreign_key(&mut fk(
                    "notification_deliveries",
                    "notification_id",
                    "notifications",
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("instance_secrets")
                .col(string("name").primary_key())
                .col(text("ciphertext"))
                .col(tstz("created_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "instance_secrets",
            "notification_deliveries",
            "push_subscriptions",
            "notification_settings",
            "notification_preferences",
            "notifications",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
