//! Just enough HTTP/1.1 to buy Copydesk WebSocket tickets: `POST /api/auth/ws-ticket` with
//! the access JWT as a bearer token answers 201 `{"ticket": "…", "expires_in": 30}`; the
//! ticket then goes in the socket URL (`?ticket=`) and works once. One short-lived TCP
//! connection per ticket (`Connection: close`), read to the end.

use anyhow::{anyhow, bail, Context as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `host:port` of a `ws://host:port/…` URL.
pub fn authority(ws_url: &str) -> anyhow::Result<String> {
    let rest = ws_url.strip_prefix("ws://").context("expected a ws:// URL")?;
    let auth = rest.split(['/', '?']).next().unwrap_or("");
    if auth.is_empty() {
        bail!("no host in {ws_url}");
    }
    Ok(if auth.contains(':') && !auth.ends_with(']') { auth.to_owned() } else { format!("{auth}:80") })
}

/// A fresh single-use ticket from the server at `authority` for the holder of `bearer`.
pub async fn ws_ticket(authority: &str, bearer: &str) -> anyhow::Result<String> {
    let (status, body) = post(authority, "/api/auth/ws-ticket", bearer).await?;
    if status != 201 && status != 200 {
        bail!("POST /api/auth/ws-ticket answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).context("ws-ticket: body is not JSON")?;
    v.get("ticket")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("ws-ticket: no \"ticket\" in {v}"))
}

async fn post(authority: &str, path: &str, bearer: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(authority).await.with_context(|| format!("connect {authority}"))?;
    s.set_nodelay(true)?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {bearer}\r\n\
         Content-Length: 0\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    s.read_to_end(&mut buf).await?;
    parse_response(&buf)
}

/// Status and body of a complete response (Content-Length, chunked, or read-to-close).
pub fn parse_response(buf: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n").context("truncated HTTP response")?;
    let head = std::str::from_utf8(&buf[..end]).context("HTTP head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line {status_line:?}"))?;
    let (mut length, mut chunked) = (None, false);
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "content-length" {
            length = v.parse::<usize>().ok();
        } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    let rest = &buf[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        if rest.len() < n {
            bail!("HTTP body shorter than its Content-Length");
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut b: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = memchr::memmem::find(b, b"\r\n").context("truncated chunk size")?;
        let size_s = std::str::from_utf8(&b[..eol])?.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_s, 16).with_context(|| format!("bad chunk size {size_s:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked() {
        let r = b"HTTP/1.1 201 Created\r\ncontent-length: 32\r\ncontent-type: application/json\r\n\r\n{\"ticket\":\"abc\",\"expires_in\":30}";
        let (s, b) = parse_response(r).unwrap();
        assert_eq!(s, 201);
        assert_eq!(b, b"{\"ticket\":\"abc\",\"expires_in\":30}");
        let r = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\r\n\r\n3\r\ncde\r\n0\r\n\r\n";
        let (s, b) = parse_response(r).unwrap();
        assert_eq!(s, 401);
        assert_eq!(b, b"ab\r\ncde");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn authority_of_ws_urls() {
        assert_eq!(authority("ws://127.0.0.1:8080/api/collab/x").unwrap(), "127.0.0.1:8080");
        assert_eq!(authority("ws://localhost").unwrap(), "localhost:80");
        assert_eq!(authority("ws://[::1]:9000/").unwrap(), "[::1]:9000");
    }
}
