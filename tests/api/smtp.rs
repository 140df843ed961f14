//! A minimal SMTP server for tests: accepts every message over plain SMTP and keeps it, so
//! tests read exactly what Copydesk sent through lettre.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    /// The message body with quoted-printable soft breaks and `=3D` undone.
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The token in the first link containing `marker` (e.g. `verify-email?token=`).
    pub fn token_after(&self, marker: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(marker)? + marker.len();
        Some(
            text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect(),
        )
    }
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    pub async fn start() -> (Self, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = SmtpSink::default();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(sock).await;
                });
            }
        });
        (sink, port)
    }

    async fn session(&self, sock: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 localhost test SMTP\r\n").await?;
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_ascii_uppercase();
            if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                w.write_all(b"250-localhost\r\n250 8BITMIME\r\n").await?;
            } else if cmd.starts_with("MAIL FROM") {
                to.clear();
                w.write_all(b"250 OK\r\n").await?;
            } else if cmd.starts_with("RCPT TO") {
                let addr = line.trim_end()[8..]
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_lowercase();
                to.push(addr);
                w.write_all(b"250 OK\r\n").await?;
            } else if cmd == "DATA" {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                self.mails.lock().unwrap().push(Mail {
                    to: to.clone(),
                    data,
                });
                self.arrived.notify_waiters();
                w.write_all(b"250 OK queued\r\n").await?;
            } else if cmd == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"250 OK\r\n").await?;
            }
        }
    }

    pub fn all_to(&self, addr: &str) -> Vec<Mail> {
        self.mails
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == addr))
            .cloned()
            .collect()
    }

    /// Waits for the `n`-th message (1-based) to `addr`; fails the test after 15 s.
    pub async fn nth_to(&self, addr: &str, n: usize) -> Mail {
        self.wait(addr, &format!("email #{n}"), |mails| {
            mails.get(n - 1).cloned()
        })
        .await
    }

    /// Waits for the first message to `addr` whose text contains `marker`.
    pub async fn containing(&self, addr: &str, marker: &str) -> Mail {
        self.wait(addr, marker, |mails| {
            mails.iter().find(|m| m.text().contains(marker)).cloned()
        })
        .await
    }

    /// Waits for a message to `addr` containing `marker` that arrived after the first
    /// `after` messages to that address (`after` = `all_to(addr).len()` taken earlier).
    pub async fn next_containing(&self, addr: &str, marker: &str, after: usize) -> Mail {
        self.wait(addr, marker, |mails| {
            mails
                .iter()
                .skip(after)
                .find(|m| m.text().contains(marker))
                .cloned()
        })
        .await
    }

    /// How many messages to `addr` arrived so far.
    pub fn count_to(&self, addr: &str) -> usize {
        self.all_to(addr).len()
    }

    /// Every message to `addr` whose text contains `marker`.
    pub fn all_containing(&self, addr: &str, marker: &str) -> Vec<Mail> {
        self.all_to(addr)
            .into_iter()
            .filter(|m| m.text().contains(marker))
            .collect()
    }

    async fn wait(&self, addr: &str, what: &str, pick: impl Fn(&[Mail]) -> Option<Mail>) -> Mail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(m) = pick(&self.all_to(addr)) {
                return m;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no {what} to {addr} arrived");
            }
        }
    }
}
