//! The writing half of a [`super::WsSocket`], and [`WsSender`], through which a post's
//! session writes to its peers' sockets directly.

use std::io;
use std::sync::{Arc, Mutex};

use actix_codec::Encoder;
use actix_http::ws::{CloseReason, Codec, Message};
use bytes::{Buf, Bytes, BytesMut};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::WRITE_TIMEOUT;

/// The writing half. Frames are encoded and written at once; whatever the kernel does not
/// take waits in `out` (no allocation while it is empty), and only then does anything wait
/// — at most `WRITE_TIMEOUT` for the peer to read. The half can be shared
/// ([`WsWriter::sender`]): a sender on another task or thread writes frames to the stream
/// directly, in order with this half's own writes, without waking the connection's task
/// unless something is left over for it to finish.
pub struct WsWriter {
    shared: Arc<Shared>,
}

struct Shared {
    io: OwnedWriteHalf,
    st: Mutex<WriteState>,
    /// Wakes the connection's task: bytes left to write, a close asked for, or the sender
    /// gone.
    wake: Notify,
}

#[derive(Default)]
struct WriteState {
    codec: Codec,
    /// Encoded bytes not yet written; empty (no allocation) between writes.
    out: BytesMut,
    /// Frames from the sender waiting in `out`.
    queued: usize,
    /// A write failed: the stream is broken.
    broken: bool,
    /// The close frame was sent: nothing goes after it.
    closed: bool,
    /// Asked for by the sender.
    close: Option<(u16, String)>,
    /// The sender was dropped.
    detached: bool,
}

/// What a [`WsWriter::serve`] found.
pub enum Served {
    /// Everything queued is written.
    Open,
    /// The sender asked for a close with this code and reason.
    Close(u16, String),
    /// The sender let go of the connection.
    Detached,
}

impl WriteState {
    fn push(&mut self, msg: Message) {
        // Encoding a server frame cannot fail (no size limit on what we send).
        let _ = self.codec.encode(msg, &mut self.out);
    }

    /// Writes what it can of `out` without waiting: `Ok(true)` when all is written.
    fn write_out(&mut self, io: &OwnedWriteHalf) -> io::Result<bool> {
        if self.broken {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken"));
        }
        while !self.out.is_empty() {
            match io.try_write(&self.out) {
                Ok(0) => return Err(self.fail(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.out.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(self.fail(e)),
            }
        }
        self.out = BytesMut::new();
        self.queued = 0;
        Ok(true)
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        self.broken = true;
        self.out = BytesMut::new();
        self.queued = 0;
        e
    }
}

/// A binary frame's header as the server sends it (final, unmasked).
fn binary_header(len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x82;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if len <= u16::MAX as usize {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

/// At most this many frames go into one vectored write (two slices each).
const WRITEV_FRAMES: usize = 256;

impl WsWriter {
    pub(super) fn new(io: OwnedWriteHalf) -> Self {
        Self {
            shared: Arc::new(Shared {
                io,
                st: Mutex::new(WriteState::default()),
                wake: Notify::new(),
            }),
        }
    }

    /// A handle that writes binary frames from anywhere (see [`WsSender`]); at most
    /// `max_queued` of its frames wait for the peer before it refuses more.
    pub fn sender(&self, max_queued: usize) -> WsSender {
        WsSender {
            shared: self.shared.clone(),
            max_queued,
        }
    }

    /// Resolves when the sender left something for this half to do; then call
    /// [`Self::serve`]. Cancel-safe (a wake-up is kept until taken).
    pub async fn woken(&self) {
        self.shared.wake.notified().await
    }

    /// Finishes the sender's writes (waiting for the peer if it must) and says what else
    /// the sender asked for.
    pub async fn serve(&mut self) -> io::Result<Served> {
        self.flush().await?;
        let mut st = self.lock();
        if let Some((code, text)) = st.close.take() {
            return Ok(Served::Close(code, text));
        }
        Ok(if st.detached {
            Served::Detached
        } else {
            Served::Open
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WriteState> {
        self.shared.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes everything queued. The usual case is one non-blocking write and no timer;
    /// only a full socket buffer waits — at most `WRITE_TIMEOUT` for the peer to read.
    pub async fn flush(&mut self) -> io::Result<()> {
        loop {
            {
                let mut st = self.lock();
                if st.closed {
                    st.out = BytesMut::new();
                    return Err(io::Error::new(io::ErrorKind::NotConnected, "closed"));
                }
                if st.write_out(&self.shared.io)? {
                    return Ok(());
                }
            }
            match tokio::time::timeout(WRITE_TIMEOUT, self.shared.io.writable()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.lock().fail(e)),
                Err(_) => {
                    return Err(self.lock().fail(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the peer does not read",
                    )))
                }
            }
        }
    }

    async fn send(&mut self, msg: Message) -> io::Result<()> {
        self.lock().push(msg);
        self.flush().await
    }

    pub async fn binary(&mut self, data: Bytes) -> io::Result<()> {
        self.send(Message::Binary(data)).await
    }

    pub async fn text(&mut self, text: impl Into<String>) -> io::Result<()> {
        self.send(Message::Text(text.into().into())).await
    }

    pub async fn ping(&mut self, data: &[u8]) -> io::Result<()> {
        self.send(Message::Ping(Bytes::copy_from_slice(data))).await
    }

    pub async fn pong(&mut self, data: &[u8]) -> io::Result<()> {
        self.send(Message::Pong(Bytes::copy_from_slice(data))).await
    }

    /// Sends a close frame (with `reason`) after whatever is queued, and ends the stream;
    /// nothing is sent after it.
    pub async fn close(&mut self, reason: Option<CloseReason>) -> io::Result<()> {
        let sent = self.send(Message::Close(reason)).await;
        self.lock().closed = true;
        let stream: &TcpStream = self.shared.io.as_ref();
        let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
        sent
    }
}

/// Writes binary frames to a socket from any task or thread: straight to the stream when
/// nothing is waiting (one vectored write for all the frames given, no task woken), else
/// queued behind what waits, for the connection's task to finish. Dropping it wakes the
/// connection's task with [`Served::Detached`].
pub struct WsSender {
    shared: Arc<Shared>,
    max_queued: usize,
}

impl WsSender {
    /// Sends `frames` in order; `false` if the connection is broken or already has
    /// `max_queued` frames waiting for the peer.
    pub fn send(&self, frames: &[Bytes]) -> bool {
        let mut st = self.shared.st.lock().unwrap_or_else(|e| e.into_inner());
        if st.broken || st.closed || st.close.is_some() {
            return false;
        }
        let mut rest = frames;
        if st.out.is_empty() {
            let Written(whole, part) = match self.write_direct(frames) {
                Ok(w) => w,
                Err(_) => {
                    st.broken = true;
                    drop(st);
                    self.shared.wake.notify_one();
                    return false;
                }
            };
            rest = &frames[whole..];
            if part > 0 {
                // A frame the kernel took in part: the rest of it goes first, whatever the
                // limit (the stream must stay whole).
                let (h, n) = binary_header(rest[0].len());
                let skip_body = part.saturating_sub(n);
                if part < n {
                    st.out.extend_from_slice(&h[part..n]);
                }
                st.out.extend_from_slice(&rest[0][skip_body..]);
                st.queued += 1;
                rest = &rest[1..];
            }
            if st.out.is_empty() {
                return true;
            }
        }
        if st.queued + rest.len() > self.max_queued {
            return false;
        }
        st.queued += rest.len();
        for f in rest {
            st.push(Message::Binary(f.clone()));
        }
        drop(st);
        self.shared.wake.notify_one();
        true
    }

    /// Asks the connection's task to close with `code` after what was sent.
    pub fn close(&self, code: u16, reason: &str) {
        self.shared
            .st
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close
            .get_or_insert_with(|| (code, reason.to_string()));
        self.shared.wake.notify_one();
    }

    /// Writes as many whole frames as the kernel takes, in vectored writes. Returns how
    /// many frames went whole and how many bytes of the next one.
    fn write_direct(&self, frames: &[Bytes]) -> io::Result<Written> {
        let mut done = 0;
        while done < frames.len() {
            let chunk = &frames[done..frames.len().min(done + WRITEV_FRAMES)];
            let headers: Vec<([u8; 10], usize)> =
                chunk.iter().map(|f| binary_header(f.len())).collect();
            let mut slices = Vec::with_capacity(chunk.len() * 2);
            for (f, (h, n)) in chunk.iter().zip(&headers) {
                slices.push(io::IoSlice::new(&h[..*n]));
                slices.push(io::IoSlice::new(f));
            }
            let mut wrote = match self.shared.io.try_write_vectored(&slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            for (f, (_, n)) in chunk.iter().zip(&headers) {
                let len = n + f.len();
                if wrote < len {
                    return Ok(Written(done, wrote));
                }
                wrote -= len;
                done += 1;
            }
        }
        Ok(Written(done, 0))
    }
}

/// Whole frames written, and bytes of the next one.
struct Written(usize, usize);

impl Drop for WsSender {
    fn drop(&mut self) {
        self.shared
            .st
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .detached = true;
        self.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod sender_tests {
    use super::super::WsSocket;
    use super::*;
    use actix_codec::Decoder;
    use actix_http::ws::Frame;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    async fn pair() -> (WsSocket, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (WsSocket::new(server, BytesMut::new()), client)
    }

    /// Reads frames until `n` binary ones arrived (their payloads, in order).
    async fn read_binary(client: &mut TcpStream, n: usize) -> Vec<Bytes> {
        let mut c = Codec::new().client_mode().max_size(usize::MAX);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        while got.len() < n {
            while let Some(f) = c.decode(&mut buf).unwrap() {
                match f {
                    Frame::Binary(b) => got.push(b),
                    other => panic!("unexpected frame {other:?}"),
                }
            }
            if got.len() < n {
                assert!(client.read_buf(&mut buf).await.unwrap() > 0, "stream ended");
            }
        }
        got
    }

    #[actix_web::test]
    async fn a_sender_writes_whole_frames_in_order_queues_what_waits_and_refuses_past_its_limit() {
        let (s, mut client) = pair().await;
        let WsSocket { writer: mut ws, .. } = s;
        let sender = ws.sender(64);
        // Small, 16-bit and 64-bit lengths, in one call: straight to the stream.
        let frames: Vec<Bytes> = [5usize, 300, 70_000]
            .iter()
            .enumerate()
            .map(|(i, n)| Bytes::from(vec![i as u8 + 1; *n]))
            .collect();
        assert!(sender.send(&frames));
        assert_eq!(read_binary(&mut client, 3).await, frames);

        // The client stops reading: frames pile up in the kernel, then in the queue, and
        // past 64 queued frames the sender refuses (the session drops such a peer).
        let big = Bytes::from(vec![7u8; 256 * 1024]);
        let mut sent = 0usize;
        while sender.send(std::slice::from_ref(&big)) {
            sent += 1;
            assert!(sent < 10_000, "the sender never refused");
        }
        assert!(sent > 64, "the kernel took some frames at once: {sent}");
        // The connection's task finishes the writes once the client reads again; every
        // accepted frame arrives whole and in order.
        let reader = tokio::spawn(async move {
            let got = read_binary(&mut client, sent).await;
            (got, client)
        });
        ws.woken().await;
        assert!(matches!(ws.serve().await, Ok(Served::Open)));
        let (got, mut client) = reader.await.unwrap();
        assert_eq!(got.len(), sent);
        assert!(got.iter().all(|b| b == &big));

        // A close asked by the sender comes after what it sent; dropping it detaches.
        assert!(sender.send(&frames[..1]));
        sender.close(4000, "bye");
        assert!(!sender.send(&frames[..1]), "nothing is taken after a close");
        ws.woken().await;
        assert!(matches!(ws.serve().await, Ok(Served::Close(4000, t)) if t == "bye"));
        assert_eq!(read_binary(&mut client, 1).await, frames[..1].to_vec());
        drop(sender);
        ws.woken().await;
        assert!(matches!(ws.serve().await, Ok(Served::Detached)));
    }
}
