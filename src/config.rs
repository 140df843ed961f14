//! Layered settings: built-in defaults, then `config/default.toml`, then
//! `config/<COPYDESK_ENV>.toml` (e.g. `production`, `test`), then `COPYDESK__SECTION__KEY`
//! environment variables. Every field has a default so the binary also runs without the
//! `config/` folder (e.g. from a container). [`Settings::load`] validates the result and a
//! bad value stops start-up with a message that names the key.
//!
//! Secrets (`jwt_secret`, `encryption_key`, SMTP password) are [`Secret`]s, whose `Debug`
//! never prints the value, so logging the settings cannot leak them.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// A string that never appears in `Debug` output or logs.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub security: SecuritySettings,
    pub smtp: SmtpSettings,
    pub mail: MailSettings,
    #[serde(rename = "static")]
    pub static_files: StaticSettings,
    pub collab: CollabSettings,
    /// Background work: jobs, outbox consumers, cron.
    pub jobs: crate::jobs::JobSettings,
    pub log: LogSettings,
    pub outbound: crate::outbound::OutboundSettings,
    pub webhooks: crate::webhooks::WebhookSettings,
    /// Web Push (VAPID key, contact, TTL).
    pub push: crate::notify::PushSettings,
    /// Notifications (the daily digest's schedule).
    pub notifications: crate::notify::NotificationSettings,
    pub approvals: crate::approvals::ApprovalSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port; the server logs the address it bound.
    pub port: u16,
    /// The address users reach the UI at; used in emailed links. Defaults to http://host:port.
    pub public_url: Option<String>,
    /// Largest accepted JSON body.
    pub body_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// Send HSTS (only meaningful when TLS terminates in front of Copydesk).
    pub behind_tls: bool,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy you control).
    pub trust_proxy: bool,
    /// Origins allowed by CORS; empty means same-origin only.
    pub cors_allowed_origins: Vec<String>,
    pub workers: Option<usize>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            public_url: None,
            body_limit_bytes: 1024 * 1024,
            shutdown_timeout_secs: 30,
            behind_tls: false,
            trust_proxy: false,
            cors_allowed_origins: Vec::new(),
            workers: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc` (default: ./data/copydesk.db) or `postgres://…`.
    pub url: Option<Secret>,
    pub max_connections: u32,
    /// Where the default SQLite file, generated keys and the mail outbox live.
    pub data_dir: PathBuf,
    /// SQLite only: `normal` (default) survives a crash of the process — an edit another
    /// client has seen is on disk — but the last commits can be lost if the machine loses
    /// power; `full` syncs the WAL on every commit and survives that too, at a cost per write.
    pub sqlite_synchronous: SqliteSync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    #[default]
    Normal,
    Full,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 20,
            data_dir: PathBuf::from("data"),
            sqlite_synchronous: SqliteSync::Normal,
        }
    }
}

impl DatabaseSettings {
    /// The connection URL, defaulting to an SQLite file under the data directory.
    pub fn url(&self) -> String {
        match &self.url {
            Some(u) if !u.is_empty() => u.expose().to_owned(),
            _ => format!("sqlite://{}/copydesk.db?mode=rwc", self.data_dir.display()),
        }
    }
    pub fn is_postgres(&self) -> bool {
        self.url().starts_with("postgres")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// Unset: the in-process bus and in-memory counters (one node).
    pub url: Option<Secret>,
    /// Prefix of every key and channel, so several deployments (or test runs) can share
    /// one Redis.
    pub prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            prefix: "copydesk".into(),
        }
    }
}

impl RedisSettings {
    pub fn url(&self) -> Option<&str> {
        self.url
            .as_ref()
            .map(Secret::expose)
            .filter(|u| !u.is_empty())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 key for access tokens (≥ 32 bytes). Unset: generated once and kept in the data
    /// directory, which is fine for one node; set it for several nodes.
    pub jwt_secret: Secret,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    pub leeway_secs: u64,
    /// A refresh token unused this long expires.
    pub refresh_idle_ttl_secs: u64,
    /// A refresh family (one sign-in) ends this long after sign-in, however it is used.
    pub refresh_absolute_ttl_secs: u64,
    pub email_token_ttl_secs: u64,
    pub invitation_ttl_secs: u64,
    /// Failed logins allowed per account, and per IP, within `login_window_secs`.
    pub login_max_failures_per_account: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window_secs: u64,
    /// Sign-ups and password-reset requests per IP per window (they send email).
    pub email_requests_per_ip: u32,
    /// Verification emails one address receives per `email_window_secs`; requests beyond it
    /// get the same answer and no email.
    pub verification_mails_per_address: u32,
    /// Invitations one member may send, and one address may receive, per `email_window_secs`.
    pub invitations_per_inviter: u32,
    pub invitations_per_recipient: u32,
    pub email_window_secs: u64,
    /// A refresh token may be presented again this long after it rotated (two tabs
    /// refreshing at once) without counting as reuse.
    pub refresh_grace_secs: u64,
    /// WebSocket tickets (`POST /api/auth/ws-ticket`) work once, for this long.
    pub ws_ticket_ttl_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: Secret::default(),
            issuer: "copydesk".into(),
            audience: "copydesk-api".into(),
            access_ttl_secs: 15 * 60,
            leeway_secs: 5,
            refresh_idle_ttl_secs: 14 * 24 * 3600,
            refresh_absolute_ttl_secs: 60 * 24 * 3600,
            email_token_ttl_secs: 24 * 3600,
            invitation_ttl_secs: 7 * 24 * 3600,
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 50,
            login_window_secs: 15 * 60,
            email_requests_per_ip: 20,
            verification_mails_per_address: 3,
            invitations_per_inviter: 50,
            invitations_per_recipient: 5,
            email_window_secs: 3600,
            refresh_grace_secs: 10,
            ws_ticket_ttl_secs: 30,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// 32-byte key (64 hex chars) for secrets at rest. Unset: generated into the data dir.
    pub encryption_key: Secret,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    #[default]
    Starttls,
    Tls,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// Unset: outgoing mail is written as .eml files into `mail.outbox_dir` instead.
    pub host: Option<String>,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Secret,
    pub from: String,
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: Secret::default(),
            from: "Copydesk <copydesk@localhost>".into(),
            timeout_secs: 15,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// Where mail goes when no SMTP host is set (default: <data_dir>/mail).
    pub outbox_dir: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticSettings {
    /// The built web app (web/dist). Missing: the API still works; `/` explains how to build.
    pub dir: PathBuf,
}

impl Default for StaticSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("web/dist"),
        }
    }
}

/// Live co-editing (`/api/collab`) and the event stream.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollabSettings {
    /// Largest WebSocket message accepted; bigger ones close the connection (1009).
    pub max_frame_bytes: usize,
    /// Frames queued for one connection before it counts as too slow and is closed (1013).
    /// One commit of a busy document sends its whole batch at once (one frame per update),
    /// so this must hold a burst: at 256, a load of ~6,000 updates/s into one document
    /// overflowed every peer's queue with a single commit. The queue takes memory only for
    /// what it holds.
    pub outbound_queue: usize,
    /// Ping interval; a peer silent for three intervals is closed.
    pub heartbeat_secs: u64,
    /// A document unloads this long after its last editor leaves.
    pub idle_unload_secs: u64,
    /// Cursors and names not renewed for this long disappear.
    pub awareness_timeout_secs: u64,
    /// How often nodes compare document state over Redis to repair dropped messages.
    pub repair_interval_secs: u64,
    /// Fold a document's update log into a snapshot after this many updates…
    pub compact_every: usize,
    /// …or once the bytes logged since the last snapshot reach its size (at least this many
    /// KiB), so rebuilding a large document stays in proportion to what was written.
    pub compact_min_kib: usize,
    /// Save an automatic version after this many minutes of editing.
    pub auto_version_minutes: u64,
    /// Threads dedicated to document sessions. Unset (the default): a session runs on the
    /// HTTP worker thread that opened it, beside its sockets, so an edit crosses no thread
    /// on its way in and out (what one core spends most on is waking other threads).
    pub threads: Option<usize>,
    /// Open sockets (collab + events) one user may hold on one node.
    pub max_connections_per_user: usize,
    /// Open sockets from one IP address on one node.
    pub max_connections_per_ip: usize,
    /// Messages per second one connection may send (bursts of twice that); beyond: 1008.
    pub max_messages_per_sec: u32,
    /// Largest awareness state (cursor, name, ...) one client may publish.
    pub max_awareness_bytes: usize,
    /// Every open socket re-checks its access this often, besides reacting at once to
    /// changes announced on the bus (a safety net if a bus message was dropped).
    pub recheck_secs: u64,
}

impl Default for CollabSettings {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1024 * 1024,
            outbound_queue: 4096,
            heartbeat_secs: 15,
            idle_unload_secs: 30,
            awareness_timeout_secs: 30,
            repair_interval_secs: 1,
            compact_every: 10_000,
            compact_min_kib: 256,
            auto_version_minutes: 10,
            threads: None,
            max_connections_per_user: 32,
            max_connections_per_ip: 256,
            max_messages_per_sec: 200,
            max_awareness_bytes: 4096,
            recheck_secs: 60,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// An `EnvFilter` directive, e.g. `info` or `copydesk=debug,info`. `RUST_LOG` wins.
    pub level: String,
    /// `json` (default) or `pretty`.
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "json".into(),
        }
    }
}

/// A setting that cannot be used; `key` is the dotted name, as in the TOML files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting `{key}` (env COPYDESK__{env}): {message}")]
    Invalid {
        key: String,
        env: String,
        message: String,
    },
    #[error("could not read settings: {0}")]
    Load(String),
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        env: key.replace('.', "__").to_uppercase(),
        message: message.into(),
    }
}

impl Settings {
    /// Reads `config/` (or `$COPYDESK_CONFIG_DIR`) and the environment, then validates.
    pub fn load() -> Result<Self, ConfigError> {
        let dir = std::env::var("COPYDESK_CONFIG_DIR").unwrap_or_else(|_| "config".into());
        let env = std::env::var("COPYDESK_ENV").unwrap_or_else(|_| "development".into());
        let settings: Settings = config::Config::builder()
            .add_source(config::File::with_name(&format!("{dir}/default")).required(false))
            .add_source(config::File::with_name(&format!("{dir}/{env}")).required(false))
            .add_source(
                config::Environment::with_prefix("COPYDESK")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("server.cors_allowed_origins")
                    .with_list_parse_key("outbound.allowed_networks")
                    .try_parsing(true),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot: formats, ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.database.url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                "must start with sqlite: or postgres://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if let Some(r) = self.redis.url() {
            if !(r.starts_with("redis://") || r.starts_with("rediss://")) {
                return Err(invalid(
                    "redis.url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        if let Some(p) = &self.server.public_url {
            if !(p.starts_with("http://") || p.starts_with("https://")) {
                return Err(invalid("server.public_url", "must be an http(s) URL"));
            }
        }
        if self.server.host.parse::<IpAddr>().is_err() && self.server.host != "localhost" {
            return Err(invalid("server.host", "must be an IP address or localhost"));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(invalid("server.body_limit_bytes", "must be at least 1024"));
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.expose().len() < 32 {
            return Err(invalid("auth.jwt_secret", "must be at least 32 characters"));
        }
        let key = self.security.encryption_key.expose();
        if !key.is_empty() && (key.len() != 64 || hex::decode(key).is_err()) {
            return Err(invalid(
                "security.encryption_key",
                "must be 64 hex characters (32 bytes)",
            ));
        }
        if self.auth.access_ttl_secs == 0 || self.auth.access_ttl_secs > 3600 {
            return Err(invalid(
                "auth.access_ttl_secs",
                "must be between 1 and 3600",
            ));
        }
        if self.auth.refresh_idle_ttl_secs > self.auth.refresh_absolute_ttl_secs {
            return Err(invalid(
                "auth.refresh_idle_ttl_secs",
                "must not exceed auth.refresh_absolute_ttl_secs",
            ));
        }
        if self.auth.login_max_failures_per_account == 0 || self.auth.login_window_secs == 0 {
            return Err(invalid(
                "auth.login_max_failures_per_account",
                "limits and window must be positive",
            ));
        }
        if let Some(h) = &self.smtp.host {
            if h.trim().is_empty() {
                return Err(invalid("smtp.host", "must not be empty when set"));
            }
            if !self.smtp.from.contains('@') {
                return Err(invalid(
                    "smtp.from",
                    "must be an email address, e.g. Copydesk <noreply@example.com>",
                ));
            }
        }
        let c = &self.collab;
        if c.max_frame_bytes < 1024
            || c.outbound_queue == 0
            || c.heartbeat_secs == 0
            || c.repair_interval_secs == 0
        {
            return Err(invalid("collab", "max_frame_bytes >= 1024 and outbound_queue, heartbeat_secs, repair_interval_secs > 0"));
        }
        if c.compact_every == 0 || c.awareness_timeout_secs == 0 {
            return Err(invalid(
                "collab.compact_every",
                "compact_every and awareness_timeout_secs must be positive",
            ));
        }
        if c.max_connections_per_user == 0
            || c.max_connections_per_ip == 0
            || c.max_messages_per_sec == 0
            || c.max_awareness_bytes < 256
            || c.recheck_secs == 0
        {
            return Err(invalid(
                "collab.max_connections_per_user",
                "connection caps, max_messages_per_sec and recheck_secs must be positive; max_awareness_bytes >= 256",
            ));
        }
        if self.auth.ws_ticket_ttl_secs == 0 || self.auth.ws_ticket_ttl_secs > 300 {
            return Err(invalid(
                "auth.ws_ticket_ttl_secs",
                "must be between 1 and 300",
            ));
        }
        if self.auth.email_window_secs == 0 {
            return Err(invalid("auth.email_window_secs", "must be positive"));
        }
        let j = &self.jobs;
        if j.concurrency == 0 || j.lease_secs < 3 || j.poll_ms == 0 {
            return Err(invalid(
                "jobs.concurrency",
                "concurrency and poll_ms must be positive, lease_secs at least 3",
            ));
        }
        if let Err(e) = crate::jobs::cron_schedule(&j.maintenance_cron, &j.time_zone) {
            return Err(invalid("jobs.maintenance_cron", e.to_string()));
        }
        if let Err(e) = self.outbound.networks() {
            return Err(invalid("outbound.allowed_networks", e));
        }
        let w = &self.webhooks;
        if w.timeout_secs == 0 || w.max_in_flight_per_endpoint == 0 || w.disable_after_days == 0 {
            return Err(invalid(
                "webhooks.timeout_secs",
                "timeout_secs, max_in_flight_per_endpoint and disable_after_days must be positive",
            ));
        }
        let p = &self.push;
        if !(p.subject.starts_with("mailto:") || p.subject.starts_with("https://")) {
            return Err(invalid(
                "push.subject",
                "must be a mailto: or https: URL (RFC 8292)",
            ));
        }
        if !p.vapid_private_key.is_empty() {
            if let Err(e) =
                crate::notify::push::vapid::VapidKey::from_b64(p.vapid_private_key.expose())
            {
                return Err(invalid("push.vapid_private_key", e));
            }
        }
        if p.ttl_secs > 2_419_200 || p.timeout_secs == 0 {
            return Err(invalid(
                "push.ttl_secs",
                "ttl_secs at most 2419200 (28 days), timeout_secs positive",
            ));
        }
        if let Err(e) =
            crate::jobs::cron_schedule(&self.notifications.digest_cron, &self.jobs.time_zone)
        {
            return Err(invalid("notifications.digest_cron", e.to_string()));
        }
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err(invalid("log.format", "must be json or pretty"));
        }
        for o in &self.server.cors_allowed_origins {
            if !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(invalid(
                    "server.cors_allowed_origins",
                    format!("{o:?} is not an http(s) origin"),
                ));
            }
        }
        Ok(())
    }

    /// The base URL used in emailed links.
    pub fn public_url(&self, bound_port: u16) -> String {
        match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}:{}", self.server.host, bound_port),
        }
    }

    pub fn mail_outbox_dir(&self) -> PathBuf {
        self.mail
            .outbox_dir
            .clone()
            .unwrap_or_else(|| self.database.data_dir.join("mail"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let mut s = Settings::default();
        s.auth.jwt_secret = Secret::new("super-secret-value-that-is-long-enough");
        let printed = format!("{s:?}");
        assert!(!printed.contains("super-secret"));
        assert!(printed.contains("***"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut s = Settings::default();
        s.database.url = Some(Secret::new("mysql://x"));
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("database.url") && err.contains("COPYDESK__DATABASE__URL"),
            "{err}"
        );

        let mut s = Settings::default();
        s.auth.jwt_secret = Secret::new("short");
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("auth.jwt_secret"));
    }

    #[test]
    fn push_settings_are_checked() {
        let mut s = Settings::default();
        s.push.vapid_private_key = Secret::new("not-a-key");
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("push.vapid_private_key"), "{err}");
        assert!(!err.contains("not-a-key"), "the value is not echoed: {err}");
        let mut s = Settings::default();
        s.push.subject = "ops@example.com".into();
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("push.subject"));
        let mut s = Settings::default();
        s.push.vapid_private_key =
            Secret::new(crate::notify::push::vapid::VapidKey::generate().private_b64());
        s.validate().unwrap();
        s.notifications.digest_cron = "every day".into();
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("notifications.digest_cron"));
    }

    #[test]
    fn default_database_is_sqlite_under_data_dir() {
        let s = Settings::default();
        assert_eq!(s.database.url(), "sqlite://data/copydesk.db?mode=rwc");
        assert!(!s.database.is_postgres());
        s.validate().unwrap();
    }
}
