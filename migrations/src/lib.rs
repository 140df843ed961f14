//! Schema migrations, portable across SQLite (the embedded default) and PostgreSQL.
//!
//! One file per migration; never edit a migration that has shipped — add a new one.
//! `copydesk migrate` and server start-up both run [`Migrator::up`].

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_foundation;
mod m20261125_000002_post_documents;
mod m20261125_000003_comments;
mod m20261130_000004_hardening;
mod m20261130_000005_backbone;
mod m20261130_000006_doc_positions;
mod m20261201_000010_webhooks;
mod m20261202_000011_approvals;
mod m20261202_000012_notifications;
mod m20261203_000013_jobs_claim_index;
mod m20261204_000014_doc_heads;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_foundation::Migration),
            Box::new(m20261125_000002_post_documents::Migration),
            Box::new(m20261125_000003_comments::Migration),
            Box::new(m20261130_000004_hardening::Migration),
            Box::new(m20261130_000005_backbone::Migration),
            Box::new(m20261130_000006_doc_positions::Migration),
            Box::new(m20261201_000010_webhooks::Migration),
            Box::new(m20261202_000011_approvals::Migration),
            Box::new(m20261202_000012_notifications::Migration),
            Box::new(m20261203_000013_jobs_claim_index::Migration),
            Box::new(m20261204_000014_doc_heads::Migration),
        ]
    }
}
