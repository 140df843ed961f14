//! Outgoing email through lettre over SMTP, or — when no SMTP host is configured — into
//! `.eml` files in the outbox directory, so a fresh single-machine install still delivers
//! its sign-up and reset links somewhere a person can read them.
//!
//! Auth flows send in the background ([`Mailer::send_later`]) so a response never waits on
//! (or reveals through its timing) a mail server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
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

/// One message with an HTML and a plain-text part (`multipart/alternative`), extra headers
/// (e.g. `List-Unsubscribe`) and, optionally, a fixed `Message-ID` (a resend after a crash
/// then carries the same id, which mail clients fold).
pub struct RichEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: Vec<(String, String)>,
    /// Without angle brackets, e.g. `abc.notify@copydesk.example`.
    pub message_id: Option<String>,
}

/// Plain 8-bit text when every line fits RFC 5322's 998-byte limit, so links stay whole in
/// every mail client and readable in the outbox files (lettre would otherwise pick
/// quoted-printable for any line over 76 characters, splitting links with `=`).
fn plain_body(text: &str) -> Body {
    if !text.contains('\0') && text.lines().all(|l| l.len() <= 998) {
        let crlf = text.lines().collect::<Vec<_>>().join("\r\n") + "\r\n";
        return Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit);
    }
    Body::new(text.to_string())
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
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(plain_body(&email.body)),
            )?;
        self.deliver(msg).await
    }

    /// Sends a [`RichEmail`].
    pub async fn send_rich(&self, email: &RichEmail) -> anyhow::Result<()> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(email.to.parse()?)
            .subject(email.subject.clone());
        if let Some(id) = &email.message_id {
            b = b.message_id(Some(format!("<{id}>")));
        }
        for (name, value) in &email.headers {
            b = b.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii(name.clone())
                    .map_err(|_| anyhow::anyhow!("invalid header name {name:?}"))?,
                value.clone(),
            ));
        }
        let msg = b.multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(plain_body(&email.text)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(plain_body(&email.html)),
                ),
        )?;
        self.deliver(msg).await
    }

    async fn deliver(&self, msg: Message) -> anyhow::Result<()> {
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
                // Created 0600 from the start: a mail holds a secret link.
                let path = dir.join(name);
                let body = msg.formatted();
                tokio::task::spawn_blocking(move || crate::keys::write_private(&path, &body))
                    .await??;
            }
        }
        Ok(())
    }

    /// Sends without making the caller wait. A failed attempt (the mail server down or
    /// slow for a moment) is tried again after 1 s and 4 s; failures are logged (without
    /// the body, which holds a secret link). A mail can arrive twice if a server took it
    /// but its answer was lost — harmless for the links sent this way, where the newest
    /// one counts.
    pub fn send_later(self: &Arc<Self>, email: Email) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            for attempt in 1..=SEND_ATTEMPTS {
                match this.send(&email).await {
                    Ok(()) => return,
                    Err(e) if attempt < SEND_ATTEMPTS => {
                        tracing::warn!(error = %e, subject = %email.subject, attempt, "could not send email; trying again");
                        tokio::time::sleep(wait).await;
                        wait *= 4;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, subject = %email.subject, "could not send email")
                    }
                }
            }
        });
    }
}

/// Attempts of [`Mailer::send_later`].
const SEND_ATTEMPTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn outbox_mail_keeps_links_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::default();
        s.mail.outbox_dir = Some(dir.path().to_path_buf());
        let m = Mailer::from_settings(&s).unwrap();
        let link = format!(
            "http://127.0.0.1:8080/verify-email?token={}",
            "A".repeat(43)
        );
        m.send(&Email {
            to: "a@example.com".into(),
            subject: "Hi".into(),
            body: format!("Hello Zoë,\n\n{link}\n"),
        })
        .await
        .unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(&link), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 8bit"), "{text}");
    }
}
