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
    /// The message as text: each MIME part that says it is quoted-printable is decoded (soft
    /// line breaks and `=XX` escapes); every other part is kept as it is. (Decoding all of it
    /// would corrupt plain text: a link whose token starts with `3D` after `token=` would lose
    /// those two characters.)
    pub fn text(&self) -> String {
        let mut out: Vec<u8> = Vec::with_capacity(self.data.len());
        let mut boundaries: Vec<String> = Vec::new();
        let mut in_headers = true;
        let mut qp = false;
        for line in self.data.split_inclusive('\n') {
            let bare = line.trim_end_matches(['\r', '\n']);
            if in_headers {
                let lower = bare.to_ascii_lowercase();
                if bare.is_empty() {
                    in_headers = false;
                } else if let Some(v) = lower.strip_prefix("content-transfer-encoding:") {
                    qp = v.trim() == "quoted-printable";
                } else if let Some(i) = lower.find("boundary=") {
                    let b = bare[i + "boundary=".len()..].trim_matches(['"', ';', ' ']);
                    boundaries.push(format!("--{b}"));
                }
                out.extend_from_slice(line.as_bytes());
            } else if boundaries.iter().any(|b| bare.starts_with(b.as_str())) {
                // The next part: its own headers, its own encoding.
                in_headers = true;
                qp = false;
                out.extend_from_slice(line.as_bytes());
            } else if qp {
                decode_quoted_printable_line(line, &mut out);
            } else {
                out.extend_from_slice(line.as_bytes());
            }
        }
        String::from_utf8_lossy(&out).into_owned()
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

/// Decodes one line of a quoted-printable body onto `out`: a trailing `=` joins it to the next
/// line, `=XX` is the byte XX.
fn decode_quoted_printable_line(line: &str, out: &mut Vec<u8>) {
    let (body, soft) = match line.trim_end_matches(['\r', '\n']).strip_suffix('=') {
        Some(b) => (b, true),
        None => (line.trim_end_matches(['\r', '\n']), false),
    };
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    if !soft {
        out.extend_from_slice(b"\r\n");
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
                    // The client doubled a line's leading dot (RFC 5321 transparency).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
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

#[cfg(test)]
mod tests {
    use super::Mail;

    fn mail(data: &str) -> Mail {
        Mail {
            to: vec!["a@example.com".into()],
            data: data.replace('\n', "\r\n"),
        }
    }

    #[test]
    fn a_plain_text_link_is_read_as_it_is() {
        // Copydesk sends account mail as 8-bit text: `=3D` there is not an escape.
        let m = mail(
            "Subject: Hi\nContent-Transfer-Encoding: 8bit\n\nhttp://x/invite?token=3DAbc-_9\n",
        );
        assert_eq!(m.token_after("invite?token=").unwrap(), "3DAbc-_9");
    }

    #[test]
    fn a_quoted_printable_part_is_decoded() {
        let m = mail(concat!(
            "Content-Type: multipart/alternative; boundary=\"B\"\n\n",
            "--B\nContent-Transfer-Encoding: 8bit\n\ntoken=3Dplain\n",
            "--B\nContent-Transfer-Encoding: quoted-printable\n\n",
            "<a href=3D\"http://x/?token=3D3DAb=\nc\">caf=C3=\n=A9</a>\n--B--\n",
        ));
        let text = m.text();
        assert!(text.contains("token=3Dplain"), "{text}");
        assert!(
            text.contains("<a href=\"http://x/?token=3DAbc\">café</a>"),
            "{text}"
        );
    }
}
