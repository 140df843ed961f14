//! The wire format: lib0 variable-length encoding and the message layouts of y-protocols
//! (y-websocket) and of Hocuspocus, which prefixes every message with the document name.
//!
//! Parsing is zero-copy: payloads are slices of the received frame, because readers only scan
//! update bytes for markers and never decode them.

/// y-protocols outer message types (the first varUint of a message).
pub const MSG_SYNC: u64 = 0;
pub const MSG_AWARENESS: u64 = 1;
pub const MSG_AUTH: u64 = 2;
pub const MSG_QUERY_AWARENESS: u64 = 3;
/// Hocuspocus only: a sync message that must not trigger another SyncStep1.
pub const MSG_HP_SYNC_REPLY: u64 = 4;
pub const MSG_HP_STATELESS: u64 = 5;
pub const MSG_HP_BROADCAST_STATELESS: u64 = 6;
pub const MSG_HP_CLOSE: u64 = 7;
pub const MSG_HP_SYNC_STATUS: u64 = 8;

/// Sync sub-types.
pub const SYNC_STEP1: u64 = 0;
pub const SYNC_STEP2: u64 = 1;
pub const SYNC_UPDATE: u64 = 2;

/// Hocuspocus auth sub-types.
pub const HP_AUTH_TOKEN: u64 = 0;
pub const HP_AUTH_PERMISSION_DENIED: u64 = 1;
pub const HP_AUTH_AUTHENTICATED: u64 = 2;

/// A Yjs v1 update with no structs and an empty delete set.
pub const EMPTY_UPDATE: [u8; 2] = [0, 0];
/// An empty state vector (no clients known): "send me everything".
pub const EMPTY_STATE_VECTOR: [u8; 1] = [0];

pub fn write_var_uint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

pub fn write_var_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    write_var_uint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// lib0 varString: the UTF-8 bytes with a varUint length.
pub fn write_var_string(buf: &mut Vec<u8>, s: &str) {
    write_var_bytes(buf, s.as_bytes());
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn var_uint(&mut self) -> Option<u64> {
        let mut n: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            if shift > 63 {
                return None;
            }
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
            shift += 7;
        }
    }

    pub fn var_bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.var_uint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

/// How a server frames messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Plain y-protocols (y-websocket, Copydesk): the room is in the URL.
    YWebsocket,
    /// Hocuspocus: `varString(documentName)` before every message.
    Hocuspocus,
}

/// One decoded incoming message. Payload slices borrow the frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    SyncStep1(&'a [u8]),
    SyncStep2(&'a [u8]),
    Update(&'a [u8]),
    Awareness(&'a [u8]),
    QueryAwareness,
    Authenticated,
    PermissionDenied(&'a [u8]),
    /// Hocuspocus acknowledges every applied update with one of these.
    SyncStatus(bool),
    /// A message that was understood but is of no interest (stateless, close, ...).
    Ignored(u64),
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The frame ended in the middle of a message.
    Truncated,
    /// A message type whose layout is unknown: the rest of the frame cannot be read.
    UnknownType(u64),
}

/// Calls `on_msg` for every message in one WebSocket frame. A frame may carry several
/// messages back to back (Copydesk batches them); stock servers send one per frame.
pub fn parse_frame<'a>(
    framing: Framing,
    frame: &'a [u8],
    mut on_msg: impl FnMut(Msg<'a>),
) -> Result<usize, ParseError> {
    let mut r = Reader::new(frame);
    let mut count = 0;
    while !r.at_end() {
        if framing == Framing::Hocuspocus {
            r.var_bytes().ok_or(ParseError::Truncated)?; // document name
        }
        let ty = r.var_uint().ok_or(ParseError::Truncated)?;
        let msg = match ty {
            MSG_SYNC | MSG_HP_SYNC_REPLY => {
                let sub = r.var_uint().ok_or(ParseError::Truncated)?;
                let payload = r.var_bytes().ok_or(ParseError::Truncated)?;
                match sub {
                    SYNC_STEP1 => Msg::SyncStep1(payload),
                    SYNC_STEP2 => Msg::SyncStep2(payload),
                    SYNC_UPDATE => Msg::Update(payload),
                    other => return Err(ParseError::UnknownType(other)),
                }
            }
            MSG_AWARENESS => Msg::Awareness(r.var_bytes().ok_or(ParseError::Truncated)?),
            MSG_QUERY_AWARENESS => Msg::QueryAwareness,
            MSG_AUTH => {
                let sub = r.var_uint().ok_or(ParseError::Truncated)?;
                let text = r.var_bytes().ok_or(ParseError::Truncated)?;
                match (framing, sub) {
                    (Framing::Hocuspocus, HP_AUTH_AUTHENTICATED) => Msg::Authenticated,
                    (Framing::Hocuspocus, HP_AUTH_PERMISSION_DENIED) => Msg::PermissionDenied(text),
                    // y-protocols/auth: sub-type 0 is "permission denied" + reason.
                    (Framing::YWebsocket, 0) => Msg::PermissionDenied(text),
                    _ => Msg::Ignored(ty),
                }
            }
            MSG_HP_SYNC_STATUS if framing == Framing::Hocuspocus => {
                Msg::SyncStatus(r.var_uint().ok_or(ParseError::Truncated)? != 0)
            }
            MSG_HP_STATELESS | MSG_HP_BROADCAST_STATELESS if framing == Framing::Hocuspocus => {
                r.var_bytes().ok_or(ParseError::Truncated)?;
                Msg::Ignored(ty)
            }
            MSG_HP_CLOSE if framing == Framing::Hocuspocus => {
                // Carries an optional reason string to the end of the message.
                let _ = r.var_bytes();
                Msg::Ignored(ty)
            }
            other => return Err(ParseError::UnknownType(other)),
        };
        on_msg(msg);
        count += 1;
    }
    Ok(count)
}

/// Builds outgoing messages for one document, with the framing its server expects.
#[derive(Clone)]
pub struct Encoder {
    framing: Framing,
    doc_name: String,
}

impl Encoder {
    pub fn new(framing: Framing, doc_name: &str) -> Self {
        Self { framing, doc_name: doc_name.to_owned() }
    }

    fn start(&self, capacity: usize) -> Vec<u8> {
        let mut buf = Vec::with_capacity(capacity + self.doc_name.len() + 8);
        if self.framing == Framing::Hocuspocus {
            write_var_string(&mut buf, &self.doc_name);
        }
        buf
    }

    pub fn sync(&self, sub: u64, payload: &[u8]) -> Vec<u8> {
        let mut buf = self.start(payload.len() + 8);
        write_var_uint(&mut buf, MSG_SYNC);
        write_var_uint(&mut buf, sub);
        write_var_bytes(&mut buf, payload);
        buf
    }

    pub fn sync_step1(&self, state_vector: &[u8]) -> Vec<u8> {
        self.sync(SYNC_STEP1, state_vector)
    }

    pub fn sync_step2(&self, update: &[u8]) -> Vec<u8> {
        self.sync(SYNC_STEP2, update)
    }

    pub fn update(&self, update: &[u8]) -> Vec<u8> {
        self.sync(SYNC_UPDATE, update)
    }

    pub fn awareness(&self, awareness_update: &[u8]) -> Vec<u8> {
        let mut buf = self.start(awareness_update.len() + 4);
        write_var_uint(&mut buf, MSG_AWARENESS);
        write_var_bytes(&mut buf, awareness_update);
        buf
    }

    /// Hocuspocus: the token message a client sends before syncing a document.
    pub fn hp_auth(&self, token: &str) -> Vec<u8> {
        let mut buf = self.start(token.len() + 4);
        write_var_uint(&mut buf, MSG_AUTH);
        write_var_uint(&mut buf, HP_AUTH_TOKEN);
        write_var_string(&mut buf, token);
        buf
    }
}

/// An awareness update carrying one client's state (y-protocols/awareness layout:
/// count, then per client: clientID, clock, JSON state as varString).
pub fn awareness_update(client_id: u64, clock: u64, state_json: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(state_json.len() + 16);
    write_var_uint(&mut buf, 1);
    write_var_uint(&mut buf, client_id);
    write_var_uint(&mut buf, clock);
    write_var_string(&mut buf, state_json);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_uint_round_trips() {
        for n in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, 1 << 53] {
            let mut b = Vec::new();
            write_var_uint(&mut b, n);
            assert_eq!(Reader::new(&b).var_uint(), Some(n));
        }
        let mut b = Vec::new();
        write_var_uint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
    }

    #[test]
    fn parses_several_messages_in_one_frame() {
        let e = Encoder::new(Framing::YWebsocket, "x");
        let mut frame = e.sync_step1(&EMPTY_STATE_VECTOR);
        frame.extend(e.update(b"abc"));
        frame.extend(e.awareness(b"zz"));
        frame.extend(e.sync_step2(&EMPTY_UPDATE));
        let mut got = Vec::new();
        let n = parse_frame(Framing::YWebsocket, &frame, |m| got.push(format!("{m:?}"))).unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            got,
            [
                "SyncStep1([0])",
                "Update([97, 98, 99])",
                "Awareness([122, 122])",
                "SyncStep2([0, 0])"
            ]
        );
    }

    #[test]
    fn hocuspocus_framing_and_auth() {
        let e = Encoder::new(Framing::Hocuspocus, "doc-1");
        let auth = e.hp_auth("t");
        assert_eq!(auth, [5, b'd', b'o', b'c', b'-', b'1', 2, 0, 1, b't']);
        // The server's "authenticated" reply: name, type 2, sub-type 2, scope.
        let mut reply = Vec::new();
        write_var_string(&mut reply, "doc-1");
        write_var_uint(&mut reply, MSG_AUTH);
        write_var_uint(&mut reply, HP_AUTH_AUTHENTICATED);
        write_var_string(&mut reply, "read-write");
        write_var_string(&mut reply, "doc-1");
        write_var_uint(&mut reply, MSG_HP_SYNC_STATUS);
        write_var_uint(&mut reply, 1);
        reply.extend(e.update(b"u"));
        let mut got = Vec::new();
        parse_frame(Framing::Hocuspocus, &reply, |m| got.push(format!("{m:?}"))).unwrap();
        assert_eq!(got, ["Authenticated", "SyncStatus(true)", "Update([117])"]);
    }

    #[test]
    fn truncated_and_unknown_are_errors() {
        let e = Encoder::new(Framing::YWebsocket, "x");
        let f = e.update(b"abcdef");
        assert_eq!(parse_frame(Framing::YWebsocket, &f[..f.len() - 1], |_| {}), Err(ParseError::Truncated));
        assert_eq!(parse_frame(Framing::YWebsocket, &[9, 0], |_| {}), Err(ParseError::UnknownType(9)));
    }
}
