//! Notifications (issue #9): in-app, email and Web Push.
//!
//! - [`types`]: the notification types, their labels, default channels, and which outbox
//!   events produce them. [`prefs`]: per-type channel overrides and the email digest.
//! - [`consumer`]: the `notifier` outbox consumer. For each event that maps to a type, for
//!   each recipient still a member of the workspace whose preferences want any channel: the
//!   notification row (unique per event, user and type), its `notification.created` event
//!   and the `notify.email` / `notify.push` jobs, in one unit of work.
//! - [`store`]: reading and marking notifications; [`handlers`] and [`views`]: the API.
//! - [`email`]: one multipart (HTML + text) email per notification, from minijinja
//!   templates; the unsubscribe token; the daily digest (cron + `notify.digest` jobs).
//! - [`push`]: Web Push — subscriptions, VAPID (RFC 8292), `aes128gcm` encryption
//!   (RFC 8291), the `notify.push` jobs through the SSRF guard.
//!
//! **Channels when in-app is off.** A user may turn in-app off for a type and keep email or
//! push on. The notification is then still stored (the deliveries refer to it and the
//! digest reads it) with `in_app = false` and `read_at` set: it is never listed, never
//! counted as unread and never sent to the event stream. A type with every channel off
//! stores nothing.
//!
//! **Exactly once per channel.** A redelivered event finds its notification already there
//! (`ON CONFLICT DO NOTHING`) and does nothing more; the jobs carry the idempotency key
//! `notify:<notification id>:<channel>` and the delivery row is unique per notification and
//! channel, so two nodes or a replay never queue a second email or push. A node killed
//! between handing a message over and recording it leaves the job leased; another node
//! sends it again after the lease (at least once on the wire, like any SMTP or HTTP
//! sender): the email keeps its `Message-ID` and the push its `Topic`, so mail clients and
//! push services fold the duplicate.
//!
//! **Crates.** RustCrypto `p256` (ECDH, ECDSA), `hkdf` and `aes-gcm` do Web Push: pure Rust,
//! small, audited and already the family of `sha2`/`hmac`/`chacha20poly1305` here (`ece`
//! needs OpenSSL, which this build does not link). ES256 is signed with `p256` directly —
//! JWS wants the fixed 64-byte `r‖s` that `p256` gives; `jsonwebtoken` would need the key
//! re-encoded as PKCS#8. Templates use `minijinja` (see [`email`]).

pub mod consumer;
pub mod email;
pub mod handlers;
pub mod prefs;
pub mod push;
pub mod store;
pub mod types;
pub mod views;

use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::Deserialize;

use crate::config::Secret;
use crate::events::Announcer;
use crate::mail::Mailer;
use crate::outbound::Guard;

/// `push.*` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// The VAPID `sub`: how push services reach the operator (`mailto:` or `https:`).
    pub subject: String,
    /// base64url of the 32-byte P-256 private key (`copydesk push vapid-keys` makes one).
    /// Unset: generated once and stored sealed in the database.
    pub vapid_private_key: Secret,
    /// How long a push service keeps an undelivered message (the `TTL` header).
    pub ttl_secs: u64,
    /// Timeout of one request to a push service.
    pub timeout_secs: u64,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            subject: "mailto:copydesk@localhost".into(),
            vapid_private_key: Secret::default(),
            ttl_secs: 86_400,
            timeout_secs: 15,
        }
    }
}

/// `notifications.*` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// When the daily digest goes out (cron with seconds, or 5 fields; `jobs.time_zone`).
    pub digest_cron: String,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            digest_cron: "0 0 8 * * *".into(),
        }
    }
}

/// What the notifier, its jobs and its handlers share (one per node).
#[derive(Clone)]
pub struct Notify {
    pub db: DatabaseConnection,
    pub announcer: Announcer,
    pub encryption_key: Arc<[u8; 32]>,
    pub guard: Guard,
    pub client: reqwest::Client,
    /// Weak: the server state owns the mailer (see `webhooks::delivery::Deps`).
    pub mailer: Weak<Mailer>,
    pub push: PushSettings,
    pub public_url: String,
    vapid: Arc<tokio::sync::OnceCell<push::vapid::VapidKey>>,
    /// The runtime the server was built on (see [`Notify::on_main`]).
    rt: tokio::runtime::Handle,
}

impl Notify {
    pub fn new(
        db: DatabaseConnection,
        announcer: Announcer,
        encryption_key: Arc<[u8; 32]>,
        guard: Guard,
        mailer: &Arc<Mailer>,
        push: PushSettings,
        public_url: String,
    ) -> Self {
        let client = guard.client(Duration::from_secs(push.timeout_secs.max(1)));
        Self {
            db,
            announcer,
            encryption_key,
            guard,
            client,
            mailer: Arc::downgrade(mailer),
            push,
            public_url,
            vapid: Arc::default(),
            rt: tokio::runtime::Handle::current(),
        }
    }

    /// Runs a handler's work on the server's runtime rather than on the background-work
    /// thread. When a node's work stops (shutdown, `Work::kill`), that thread's runtime goes
    /// away first and whatever its tasks held — a pooled database or SMTP connection — would
    /// be dropped outside any runtime, where sqlx and lettre panic (and abort the process).
    /// Here the work finishes, or is dropped, where a runtime exists.
    pub async fn on_main<F>(&self, f: F) -> Result<(), String>
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        match self.rt.spawn(f).await {
            Ok(r) => r,
            Err(e) => Err(format!("notification task stopped: {e}")),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.announcer.clock.now()
    }

    /// The VAPID key (configured, or the instance's stored one).
    pub async fn vapid(&self) -> Result<push::vapid::VapidKey, String> {
        self.vapid
            .get_or_try_init(|| async {
                push::vapid::load(
                    &self.db,
                    self.push.vapid_private_key.expose(),
                    &self.encryption_key,
                    self.now(),
                )
                .await
            })
            .await
            .cloned()
    }
}

/// Adds the notifier consumer, its jobs and the digest schedule to a node's work.
pub fn register(
    extra: &mut crate::jobs::Extra,
    n: Notify,
    settings: &NotificationSettings,
    time_zone: &str,
) -> anyhow::Result<()> {
    extra.consumers.push((
        consumer::CONSUMER.to_string(),
        Arc::new(consumer::Notifier(n.clone())),
    ));
    extra.job_handlers.push((
        email::EMAIL_JOB.to_string(),
        Arc::new(email::EmailJob(n.clone())),
    ));
    extra.job_handlers.push((
        email::DIGEST_JOB.to_string(),
        Arc::new(email::digest::DigestJob(n.clone())),
    ));
    extra.job_handlers.push((
        push::PUSH_JOB.to_string(),
        Arc::new(push::send::PushJob(n.clone())),
    ));
    extra.job_handlers.push((
        push::PUSH_ONE_JOB.to_string(),
        Arc::new(push::send::PushOneJob(n.clone())),
    ));
    extra.crons.push(copydesk_actors::cron::CronJob {
        name: "notify.digest".into(),
        next_after: crate::jobs::cron_schedule(&settings.digest_cron, time_zone)?,
        task: Arc::new(email::digest::DigestSchedule(n)),
    });
    Ok(())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::*;
    cfg.route("/notifications", web::get().to(list))
        .route("/notifications/unread-count", web::get().to(unread_count))
        .route("/notifications/read-all", web::post().to(read_all))
        .service(
            web::resource("/notifications/preferences")
                .route(web::get().to(get_preferences))
                .route(web::put().to(put_preferences)),
        )
        .service(
            web::resource("/notifications/unsubscribe")
                .route(web::get().to(unsubscribe_page))
                .route(web::post().to(unsubscribe)),
        )
        .route("/notifications/{id}/read", web::post().to(read_one))
        .route("/push/vapid-public-key", web::get().to(vapid_public_key))
        .service(
            web::resource("/push/subscriptions")
                .route(web::get().to(list_subscriptions))
                .route(web::post().to(create_subscription)),
        )
        .route(
            "/push/subscriptions/{id}",
            web::delete().to(delete_subscription),
        )
        .route("/push/test", web::post().to(push_test));
}

/// The operations and schemas of this module, merged into `/api/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        handlers::list, handlers::unread_count, handlers::read_one, handlers::read_all,
        handlers::get_preferences, handlers::put_preferences, handlers::unsubscribe_page,
        handlers::unsubscribe, handlers::vapid_public_key, handlers::create_subscription,
        handlers::list_subscriptions, handlers::delete_subscription, handlers::push_test,
    ),
    components(schemas(
        types::NotificationType, views::NotificationView, views::NotificationActor,
        views::NotificationPage, views::UnreadCount, views::MarkedRead, views::PreferenceView,
        views::Preferences, views::PreferenceInput, views::PreferencesUpdate,
        views::VapidPublicKey, views::SubscriptionKeys, views::SubscriptionCreate,
        views::SubscriptionView, views::SubscriptionList,
    )),
    tags(
        (name = "notifications", description = "In-app notifications, preferences, email unsubscribe"),
        (name = "push", description = "Web Push subscriptions (VAPID)"),
    ),
)]
pub struct NotifyDoc;
