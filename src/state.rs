//! What every request handler can reach: storage, settings, keys, the mailer, the throttle
//! and the cluster bus. Built once by `startup::Application`.

use std::sync::Arc;

use copydesk_actors::collab::Collab;
use copydesk_actors::edit_rules::EditRules;
use copydesk_actors::ports::{Bus, Clock};
use sea_orm::DatabaseConnection;

use crate::auth::throttle::Limiter;
use crate::auth::tokens::JwtKeys;
use crate::config::Settings;
use crate::mail::Mailer;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    /// Key for secrets at rest (platform tokens, webhook secrets).
    pub encryption_key: Arc<[u8; 32]>,
    pub mailer: Arc<Mailer>,
    pub limiter: Arc<dyn Limiter>,
    pub bus: Arc<dyn Bus>,
    pub redis: Option<redis::aio::ConnectionManager>,
    /// Live documents and workspace hubs.
    pub collab: Collab,
    /// Base URL for links in emails.
    pub public_url: String,
    /// Time, for everything with a deadline (tests move it).
    pub clock: Arc<dyn Clock>,
    /// This node's open sockets (access re-checks, connection caps).
    pub sockets: crate::access::Sockets,
    /// What a socket edit may write (the REST rules).
    pub edit_rules: Arc<EditRules>,
    /// The one-time setup token printed at start while no super admin exists.
    pub setup_token: Option<String>,
    /// This node's background work (job runner, outbox readers, cron).
    pub work: crate::jobs::Work,
    /// Reading the outbox in commit order.
    pub outbox: crate::events::outbox::SqlOutbox,
    /// The SSRF guard for user-supplied URLs (webhooks, later Web Push and more).
    pub outbound: crate::outbound::Guard,
    /// Notifications: the VAPID key, push sending, settings.
    pub notify: crate::notify::Notify,
    /// This node's approval deadline keeper (re-armed when a step with a deadline starts).
    pub approvals: crate::approvals::Keeper,
}

impl AppState {
    pub fn setup_token(&self) -> Option<String> {
        self.setup_token.clone()
    }
}
