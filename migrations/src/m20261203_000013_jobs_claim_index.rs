//! The job claim reads the head of the queue instead of scanning it.
//!
//! The claim (`src/jobs/store.rs`) picks `status = 'queued' AND run_at <= now` or an expired
//! `running` lease, `ORDER BY priority DESC, run_at`. No index served that `OR` and that
//! order, so every claim scanned and sorted the whole `jobs` table, finished jobs included:
//! throughput fell as the table grew (load-tests: 2,389 → 1,071 jobs/s from 10,000 to 50,000
//! jobs on PostgreSQL). A partial index over the live jobs in claim order lets the database
//! walk the queue's head; finished jobs are not in it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Same statement on SQLite and PostgreSQL (both have partial indexes).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_jobs_claim ON jobs (priority DESC, run_at) \
                 WHERE status IN ('queued', 'running')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_jobs_claim")
            .await?;
        Ok(())
    }
}
