//! Outgoing email through lettre over SMTP, or — when no SMTP host is configured — into
//! `.eml` files in the outbox directory, so a fresh single-machine install still delivers
//! its sign-up and reset links somewhere a person can read them.
//!
//! Auth flows send in the background ([`Mailer::send_later`]) so a response never waits on
//! (or reveals through its timing) a mail server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Settings, SmtpTls};

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// One message, plain text.
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Mailer {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        let from: Mailbox = s
            .smtp
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid setting `smtp.from`: {e}"))?;
        let transport = match &s.smtp.host {
            None => Transport::Outbox(s.mail_outbox_dir()),
            Some(host) => {
                let mut b = match s.smtp.tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
                }
                .port(s.smtp.port)
                .timeout(Some(Duration::from_secs(s.smtp.timeout_secs)));
                if let Some(user) = &s.smtp.username {
                    b = b.credentials(Credentials::new(
                        user.clone(),
                        s.smtp.password.expose().to_owned(),
                    ));
                }
                Transport::Smtp(b.build())
            }
        };
        Ok(Self { transport, from })
    }

    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "smtp".into(),
            Transport::Outbox(dir) => format!("outbox directory {}", dir.display()),
        }
    }

    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let msg = Message::builder()
            .from(self.from.clone())
            .to(email.to.parse()?)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(msg).await?;
            }
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
                    uuid::Uuid::new_v4()
                );
                tokio::fs::write(dir.join(name), msg.formatted()).await?;
            }
        }
        Ok(())
    }

    /// Sends without making the caller wait; failures are logged (without the body, which
    /// holds a secret link).
    pub fn send_later(self: &Arc<Self>, email: Email) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.send(&email).await {
                tracing::error!(error = %e, subject = %email.subject, "could not send email");
            }
        });
    }
}
