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
use std::time::Duration;

use actix_codec::Decoder;
use actix_http::ws::{CloseReason, Codec, Frame, Item, ProtocolError};
use bytes::{Bytes, BytesMut};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

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

mod writer;
pub use writer::{Served, WsSender, WsWriter};

#[cfg(test)]
mod tests {
    use super::*;
    use actix_codec::Encoder;
    use actix_http::ws::Message;
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
