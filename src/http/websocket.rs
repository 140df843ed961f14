//! A WebSocket on the connection's own TCP stream, with no buffer held while it is idle.
//!
//! After the handshake ([`super::upgrade`]) a socket is read and written here directly:
//! frames are decoded with actix-http's codec (server side: client frames must be masked)
//! from a read buffer that is allocated when data arrives and released when it has all been
//! decoded, and each outgoing frame is encoded and written at once. An idle connection holds
//! its stream, the codec state and nothing else — where actix-http's dispatcher keeps 16 KiB
//! of read and write buffers per connection for its whole life.
//!
//! [`WsReader::next`] is cancel-safe (bytes read stay in the reader), so it can sit in a
//! `select!` beside the writes.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_codec::{Decoder, Encoder};
use actix_http::ws::{CloseReason, Codec, Frame, Item, Message, ProtocolError};
use bytes::{Buf, Bytes, BytesMut};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// How much a read asks the kernel for at once.
const READ_CHUNK: usize = 4096;

/// A peer that takes longer than this to accept one frame is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A whole message (continuations joined).
#[derive(Debug)]
pub enum WsMessage {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseReason>),
}

#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// A frame or a message over the limit.
    #[error("frame over the size limit")]
    Overflow,
    #[error("{0}")]
    Protocol(String),
}

/// The two halves of an upgraded connection.
pub struct WsSocket {
    pub reader: WsReader,
    pub writer: WsWriter,
}

impl WsSocket {
    /// `leftover`: bytes the client sent after its handshake that were already read.
    pub fn new(io: TcpStream, leftover: BytesMut) -> Self {
        let (r, w) = io.into_split();
        Self {
            reader: WsReader {
                io: r,
                buf: leftover,
                codec: Codec::new(),
                partial: None,
                max_message: usize::MAX,
                eof: false,
            },
            writer: WsWriter::new(w),
        }
    }

    /// The largest frame, and the largest message once continuations are joined.
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.reader.codec = Codec::new().max_size(bytes);
        self.reader.max_message = bytes;
        self
    }
}

/// A message being assembled from continuation frames.
struct Partial {
    text: bool,
    data: BytesMut,
}

pub struct WsReader {
    io: OwnedReadHalf,
    buf: BytesMut,
    codec: Codec,
    partial: Option<Partial>,
    max_message: usize,
    eof: bool,
}

impl WsReader {
    /// The next message; `None` when the peer closed the stream (or it broke).
    pub async fn next(&mut self) -> Option<Result<WsMessage, WsError>> {
        loop {
            if self.eof {
                return None;
            }
            while !self.buf.is_empty() {
                match self.codec.decode(&mut self.buf) {
                    Ok(Some(frame)) => match self.assemble(frame) {
                        Ok(Some(m)) => {
                            self.release_if_empty();
                            return Some(Ok(m));
                        }
                        Ok(None) => {}
                        Err(e) => return Some(Err(self.fail(e))),
                    },
                    Ok(None) => break,
                    Err(ProtocolError::Overflow) => return Some(Err(self.fail(WsError::Overflow))),
                    Err(e) => return Some(Err(self.fail(WsError::Protocol(e.to_string())))),
                }
            }
            self.release_if_empty();
            if self.io.readable().await.is_err() {
                self.eof = true;
                return None;
            }
            self.buf.reserve(READ_CHUNK);
            match self.io.try_read_buf(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    self.eof = true;
                    return None;
                }
            }
        }
    }

    /// Everything read was decoded: hold no memory while waiting. (Messages already
    /// returned keep their part of the allocation alive only as long as they live.)
    fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// After an error nothing more is read.
    fn fail(&mut self, e: WsError) -> WsError {
        self.eof = true;
        self.buf = BytesMut::new();
        self.partial = None;
        e
    }

    fn assemble(&mut self, frame: Frame) -> Result<Option<WsMessage>, WsError> {
        Ok(Some(match frame {
            Frame::Text(b) => {
                if self.partial.is_some() {
                    return Err(WsError::Protocol(
                        "a new message began inside a fragmented one".into(),
                    ));
                }
                WsMessage::Text(utf8(b)?)
            }
            Frame::Binary(b) => {
                if self.partial.is_some() {
                    return Err(WsError::Protocol(
                        "a new message began inside a fragmented one".into(),
                    ));
                }
                WsMessage::Binary(b)
            }
            Frame::Ping(b) => WsMessage::Ping(b),
            Frame::Pong(b) => WsMessage::Pong(b),
            Frame::Close(r) => WsMessage::Close(r),
            Frame::Continuation(item) => return self.continuation(item),
        }))
    }

    fn continuation(&mut self, item: Item) -> Result<Option<WsMessage>, WsError> {
        match item {
            Item::FirstText(b) => self.begin(true, b),
            Item::FirstBinary(b) => self.begin(false, b),
            Item::Continue(b) => {
                let p = self
                    .partial
                    .as_mut()
                    .ok_or_else(|| WsError::Protocol("a continuation with no message".into()))?;
                p.data.extend_from_slice(&b);
                self.check_size()?;
                Ok(None)
            }
            Item::Last(b) => {
                let mut p = self
                    .partial
                    .take()
                    .ok_or_else(|| WsError::Protocol("a continuation with no message".into()))?;
                p.data.extend_from_slice(&b);
                if p.data.len() > self.max_message {
                    return Err(WsError::Overflow);
                }
                let data = p.data.freeze();
                Ok(Some(if p.text {
                    WsMessage::Text(utf8(data)?)
                } else {
                    WsMessage::Binary(data)
                }))
            }
        }
    }

    fn begin(&mut self, text: bool, first: Bytes) -> Result<Option<WsMessage>, WsError> {
        if self.partial.is_some() {
            return Err(WsError::Protocol(
                "a fragmented message began inside another".into(),
            ));
        }
        self.partial = Some(Partial {
            text,
            data: BytesMut::from(&first[..]),
        });
        self.check_size()?;
        Ok(None)
    }

    fn check_size(&self) -> Result<(), WsError> {
        match &self.partial {
            Some(p) if p.data.len() > self.max_message => Err(WsError::Overflow),
            _ => Ok(()),
        }
    }
}

fn utf8(b: Bytes) -> Result<String, WsError> {
    String::from_utf8(b.to_vec())
        .map_err(|_| WsError::Protocol("a text message that is not UTF-8".into()))
}

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
    fn new(io: OwnedWriteHalf) -> Self {
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
mod tests {
    use super::*;
    use actix_http::ws::{CloseCode, Item};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server-side socket and the raw client stream connected to it.
    async fn pair(max: usize) -> (WsSocket, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (WsSocket::new(server, BytesMut::new()).max_size(max), client)
    }

    /// Frames as a browser sends them (masked).
    fn client_frames(msgs: Vec<Message>) -> BytesMut {
        let mut c = Codec::new().client_mode();
        let mut out = BytesMut::new();
        for m in msgs {
            c.encode(m, &mut out).unwrap();
        }
        out
    }

    #[actix_web::test]
    async fn fragments_are_joined_and_byte_by_byte_input_decodes() {
        let (mut s, mut client) = pair(1024).await;
        let bytes = client_frames(vec![
            Message::Continuation(Item::FirstBinary(Bytes::from_static(b"ab"))),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Continuation(Item::Continue(Bytes::from_static(b"cd"))),
            Message::Continuation(Item::Last(Bytes::from_static(b"ef"))),
            Message::Text("héllo".into()),
        ]);
        // One byte per write: frames split across reads must still decode.
        let writer = tokio::spawn(async move {
            for b in bytes.iter() {
                client.write_all(&[*b]).await.unwrap();
                client.flush().await.unwrap();
            }
            client
        });
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(s.reader.next().await.unwrap().unwrap());
        }
        assert!(
            matches!(&got[0], WsMessage::Ping(p) if &p[..] == b"p"),
            "{got:?}"
        );
        assert!(
            matches!(&got[1], WsMessage::Binary(b) if &b[..] == b"abcdef"),
            "{got:?}"
        );
        assert!(
            matches!(&got[2], WsMessage::Text(t) if t == "héllo"),
            "{got:?}"
        );
        let mut client = writer.await.unwrap();
        // Idle: everything was decoded, and the reader holds no buffer.
        assert_eq!(s.reader.buf.capacity(), 0);

        // The server's frames arrive unmasked, and a close ends the stream.
        s.writer.binary(Bytes::from_static(b"xyz")).await.unwrap();
        s.writer
            .close(Some(CloseReason {
                code: CloseCode::from(4403),
                description: Some("gone".into()),
            }))
            .await
            .unwrap();
        let mut raw = Vec::new();
        client.read_to_end(&mut raw).await.unwrap();
        let mut c = Codec::new().client_mode();
        let mut buf = BytesMut::from(&raw[..]);
        assert!(matches!(c.decode(&mut buf).unwrap(), Some(Frame::Binary(b)) if &b[..] == b"xyz"));
        assert!(matches!(
            c.decode(&mut buf).unwrap(),
            Some(Frame::Close(Some(r))) if u16::from(r.code) == 4403
        ));
        assert!(s.writer.binary(Bytes::from_static(b"late")).await.is_err());
    }

    #[actix_web::test]
    async fn oversized_frames_and_messages_and_bad_text_are_errors() {
        let (mut s, mut client) = pair(8).await;
        client
            .write_all(&client_frames(vec![Message::Binary(Bytes::from_static(
                b"123456789",
            ))]))
            .await
            .unwrap();
        assert!(matches!(
            s.reader.next().await,
            Some(Err(WsError::Overflow))
        ));
        assert!(
            s.reader.next().await.is_none(),
            "nothing is read after an error"
        );

        let (mut s, mut client) = pair(8).await;
        client
            .write_all(&client_frames(vec![
                Message::Continuation(Item::FirstBinary(Bytes::from_static(b"12345"))),
                Message::Continuation(Item::Last(Bytes::from_static(b"6789"))),
            ]))
            .await
            .unwrap();
        assert!(matches!(
            s.reader.next().await,
            Some(Err(WsError::Overflow))
        ));

        let (mut s, mut client) = pair(64).await;
        let mut c = Codec::new().client_mode();
        let mut out = BytesMut::new();
        c.encode(Message::Binary(Bytes::from_static(&[0xff, 0xfe])), &mut out)
            .unwrap();
        out[0] = (out[0] & 0xf0) | 0x1; // the same payload, as a text frame
        client.write_all(&out).await.unwrap();
        assert!(matches!(
            s.reader.next().await,
            Some(Err(WsError::Protocol(_)))
        ));

        // An unmasked (server-style) frame from a client is refused.
        let (mut s, mut client) = pair(64).await;
        let mut out = BytesMut::new();
        Codec::new()
            .encode(Message::Binary(Bytes::from_static(b"x")), &mut out)
            .unwrap();
        client.write_all(&out).await.unwrap();
        assert!(matches!(
            s.reader.next().await,
            Some(Err(WsError::Protocol(_)))
        ));

        // A peer that goes away ends the stream.
        let (mut s, client) = pair(64).await;
        drop(client);
        assert!(s.reader.next().await.is_none());
    }
}

#[cfg(test)]
mod sender_tests {
    use super::*;
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
