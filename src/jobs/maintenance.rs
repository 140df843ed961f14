//! The first cron schedules: housekeeping that keeps tables small and documents folded.
//!
//! - `maintenance.purge`: expired or spent refresh tokens and sign-ins, email links,
//!   invitations, socket tickets, setup tokens, finished jobs.
//! - `maintenance.outbox_retention`: events older than `jobs.outbox_retention_days` — but
//!   never one a consumer has not read yet, nor one a parked delivery still points at.
//! - `maintenance.compact_orphans`: update logs left behind by crashed nodes (documents with
//!   log rows and no recent writes) are folded into their snapshots.
//!
//! Each runs on one node per tick (see `CronActor`); each is safe to run twice.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use copydesk_actors::ports::{CronTask, DocStore};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult};
use uuid::Uuid;

use super::store::stmt;

pub struct Purge {
    pub db: DatabaseConnection,
}

#[async_trait]
impl CronTask for Purge {
    async fn run(&self, tick: DateTime<Utc>) -> Result<(), String> {
        let week_ago = tick - Duration::days(7);
        let month_ago = tick - Duration::days(30);
        let statements: [(&str, Vec<sea_orm::Value>); 7] = [
            (
                "DELETE FROM refresh_tokens WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)",
                vec![week_ago.into()],
            ),
            (
                "DELETE FROM refresh_token_families WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR absolute_expires_at < $1",
                vec![week_ago.into()],
            ),
            (
                "DELETE FROM email_tokens WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)",
                vec![week_ago.into()],
            ),
            (
                "DELETE FROM invitations WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1) \
                 OR (accepted_at IS NOT NULL AND accepted_at < $1)",
                vec![month_ago.into()],
            ),
            (
                "DELETE FROM ws_tickets WHERE expires_at < $1",
                vec![(tick - Duration::hours(1)).into()],
            ),
            (
                "DELETE FROM setup_tokens WHERE used_at IS NOT NULL AND used_at < $1",
                vec![week_ago.into()],
            ),
            (
                "DELETE FROM jobs WHERE status IN ('done', 'cancelled') AND finished_at < $1",
                vec![week_ago.into()],
            ),
        ];
        for (sql, values) in statements {
            self.db
                .execute_raw(stmt(&self.db, sql, values))
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
        }
        Ok(())
    }
}

#[derive(FromQueryResult)]
struct MinPos {
    txid: Option<i64>,
    seq: Option<i64>,
}

pub struct OutboxRetention {
    pub db: DatabaseConnection,
    pub days: u64,
}

#[async_trait]
impl CronTask for OutboxRetention {
    async fn run(&self, tick: DateTime<Utc>) -> Result<(), String> {
        let cutoff = tick - Duration::days(self.days as i64);
        // The slowest consumer's position: nothing at or after it may go.
        let slowest = MinPos::find_by_statement(stmt(
            &self.db,
            "SELECT txid, seq FROM outbox_consumers ORDER BY txid, seq LIMIT 1",
            vec![],
        ))
        .one(&self.db)
        .await
        .map_err(|e| e.to_string())?;
        let (txid, seq) = match slowest {
            Some(MinPos {
                txid: Some(t),
                seq: Some(s),
            }) => (t, s),
            _ => (i64::MAX, i64::MAX),
        };
        self.db
            .execute_raw(stmt(
                &self.db,
                "DELETE FROM events WHERE created_at < $1 AND (txid < $2 OR (txid = $2 AND seq <= $3)) \
                 AND id NOT IN (SELECT event_id FROM outbox_parked WHERE resolved_at IS NULL)",
                vec![cutoff.into(), txid.into(), seq.into()],
            ))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[derive(FromQueryResult)]
struct Orphan {
    post_id: Uuid,
}

pub struct CompactOrphans {
    pub db: DatabaseConnection,
    pub store: Arc<dyn DocStore>,
}

#[async_trait]
impl CronTask for CompactOrphans {
    async fn run(&self, tick: DateTime<Utc>) -> Result<(), String> {
        // A live session compacts its own log; a log whose newest row is an hour old has
        // no session writing to it (its node is gone or it unloaded mid-way).
        let idle_since = tick - Duration::hours(1);
        let orphans = Orphan::find_by_statement(stmt(
            &self.db,
            "SELECT post_id FROM post_doc_updates GROUP BY post_id HAVING MAX(created_at) < $1 LIMIT 200",
            vec![idle_since.into()],
        ))
        .all(&self.db)
        .await
        .map_err(|e| e.to_string())?;
        for o in orphans {
            if let Err(e) = self.store.compact(o.post_id).await {
                tracing::warn!(post_id = %o.post_id, error = %e, "could not compact an orphaned log");
            }
        }
        Ok(())
    }
}
