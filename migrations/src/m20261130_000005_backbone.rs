//! The backbone (issue 7): commit-ordered outbox positions, outbox consumers with durable
//! cursors and leases, durable jobs, and leases for cron ticks.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tstz(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone(name)
}

fn tstz_null(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // On PostgreSQL a sequence value is not commit order: a row with a lower `seq` can
        // commit after one with a higher. Each event also records its transaction id; readers
        // only go as far as the oldest transaction still running (`pg_snapshot_xmin`), in
        // (txid, seq) order, so nothing that commits later can land behind a position
        // already passed. SQLite commits one writer at a time, so `seq` is commit order and
        // txid stays 0.
        if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared(
                    "ALTER TABLE events ADD COLUMN txid BIGINT NOT NULL \
                     DEFAULT (pg_current_xact_id()::text::bigint)",
                )
                .await?;
        } else {
            m.alter_table(
                Table::alter()
                    .table("events")
                    .add_column(big_integer("txid").default(0))
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_events_txid_seq")
                .table("events")
                .col("txid")
                .col("seq")
                .to_owned(),
        )
        .await?;

        // One row per named outbox consumer: how far it got, and who runs it now.
        m.create_table(
            Table::create()
                .table("outbox_consumers")
                .col(string("name").primary_key())
                .col(big_integer("txid"))
                .col(big_integer("seq"))
                .col(string_null("lease_owner"))
                .col(tstz_null("lease_expires_at"))
                .col(big_integer("delivered").default(0))
                .col(tstz("updated_at"))
                .to_owned(),
        )
        .await?;

        // Events a consumer gave up on after its retries, with the error: visible to admins,
        // retried or discarded from there, never blocking what comes after.
        m.create_table(
            Table::create()
                .table("outbox_parked")
                .col(pk_uuid("id"))
                .col(string("consumer"))
                .col(uuid("event_id"))
                .col(integer("attempts"))
                .col(text("last_error"))
                .col(tstz("parked_at"))
                .col(tstz_null("resolved_at"))
                .col(string_null("resolution"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_outbox_parked")
                .table("outbox_parked")
                .col("consumer")
                .col("event_id")
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("jobs")
                .col(pk_uuid("id"))
                .col(string("kind"))
                .col(json("payload"))
                .col(string("status"))
                .col(tstz("run_at"))
                .col(integer("priority").default(0))
                .col(integer("attempts").default(0))
                .col(integer("max_attempts"))
                .col(string_null("idempotency_key"))
                .col(string_null("lease_owner"))
                .col(tstz_null("lease_expires_at"))
                .col(text_null("last_error"))
                .col(tstz("created_at"))
                .col(tstz("updated_at"))
                .col(tstz_null("finished_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_jobs_idempotency")
                .table("jobs")
                .col("idempotency_key")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_jobs_due")
                .table("jobs")
                .col("status")
                .col("run_at")
                .to_owned(),
        )
        .await?;

        // Cron: one row per schedule; a tick is taken by moving `last_tick` forward with a
        // conditional update, so exactly one node runs each tick.
        m.create_table(
            Table::create()
                .table("cron_schedules")
                .col(string("name").primary_key())
                .col(tstz_null("last_tick"))
                .col(string_null("last_owner"))
                .col(tstz_null("last_started_at"))
                .col(tstz_null("last_finished_at"))
                .col(text_null("last_error"))
                .col(big_integer("runs").default(0))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "outbox_consumers",
            "outbox_parked",
            "jobs",
            "cron_schedules",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
