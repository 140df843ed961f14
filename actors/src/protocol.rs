//! The y-websocket wire protocol (y-protocols sync + awareness), transport-free.
//!
//! [`parse_frame`] turns one WebSocket frame into the messages it holds (a frame may carry
//! several) and validates every payload completely — updates are decoded, awareness JSON is
//! parsed — so malformed input is rejected at the connection, before it reaches a shared
//! document. Decoding runs under `catch_unwind`: whatever bytes arrive, the worst outcome is
//! an error for that one connection.

use std::panic::{catch_unwind, AssertUnwindSafe};

use yrs::encoding::read::{Cursor, Read};
use yrs::encoding::write::Write;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{StateVector, Update};

pub use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};

const MSG_SYNC: u64 = 0;
const MSG_AWARENESS: u64 = 1;
const MSG_AUTH: u64 = 2;
const MSG_QUERY_AWARENESS: u64 = 3;

/// WebSocket close codes this server uses.
pub mod close {
    /// The frame could not be decoded (RFC 6455 "invalid frame payload data").
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message type this server does not speak ("unsupported data").
    pub const UNSUPPORTED: u16 = 1003;
    /// Frame over the size limit ("message too big").
    pub const TOO_BIG: u16 = 1009;
    /// The client could not keep up; reconnect and resync ("try again later").
    pub const TRY_AGAIN: u16 = 1013;
    /// The server is going away (shutdown, document unloaded).
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: too many messages, a refused edit.
    pub const POLICY: u16 = 1008;
    /// The access token behind the connection expired or was revoked: refresh, reconnect
    /// with a new ticket (or re-authenticate in band before it expires).
    pub const AUTH_EXPIRED: u16 = 4401;
    /// The user lost access to what this connection shows (removed, post deleted or no
    /// longer shared): do not reconnect blindly.
    pub const ACCESS_LOST: u16 = 4403;
    /// The server could not save and let go of the document: reconnect to resync.
    pub const SERVER_ERROR: u16 = 1011;
}

/// One decoded, validated client message.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    SyncStep1(StateVector),
    /// SyncStep2 or Update: a document update (v1), already checked to decode.
    Update(Vec<u8>),
    Awareness(AwarenessUpdate),
    AwarenessQuery,
    /// A y-protocols auth message from the client; y-websocket clients never send one, ignored.
    Auth,
    /// In-band re-authentication (our extension of the auth message, subtype 1): a fresh
    /// access token that extends the connection's access to its expiry.
    AuthToken(String),
}

/// y-protocols auth subtype: permission denied (server → client).
const AUTH_PERMISSION_DENIED: u64 = 0;
/// Our auth subtype: a fresh access token (client → server), see [`auth_token`].
const AUTH_TOKEN: u64 = 1;
const MAX_TOKEN_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: u16,
    pub reason: String,
}

impl ProtocolError {
    fn invalid(reason: impl Into<String>) -> Self {
        Self {
            code: close::INVALID_PAYLOAD,
            reason: reason.into(),
        }
    }
}

/// Yjs client ids are at most 53 bits (they travel as JavaScript numbers); yrs asserts it
/// when it builds one, so a larger id must be refused before the bytes reach yrs.
const MAX_CLIENT_ID: u64 = (1 << 53) - 1;

fn client_id(c: &mut Cursor<'_>) -> Result<(), ProtocolError> {
    let id: u64 = c.read_var().map_err(malformed)?;
    if id > MAX_CLIENT_ID {
        return Err(ProtocolError::invalid("client id out of range"));
    }
    Ok(())
}

/// Checks every client id in a v1 state vector.
fn scan_state_vector(sv: &[u8]) -> Result<(), ProtocolError> {
    let mut c = Cursor::new(sv);
    let n: u32 = c.read_var().map_err(malformed)?;
    for _ in 0..n {
        client_id(&mut c)?;
        let _clock: u32 = c.read_var().map_err(malformed)?;
    }
    Ok(())
}

/// Walks a v1 update's structure, checking every client id (struct groups, origins, parent
/// ids, the delete set) without building yrs values that assert on them.
fn scan_update(u: &[u8]) -> Result<(), ProtocolError> {
    let mut c = Cursor::new(u);
    let groups: u32 = c.read_var().map_err(malformed)?;
    for _ in 0..groups {
        let structs: u32 = c.read_var().map_err(malformed)?;
        client_id(&mut c)?;
        let mut clock: u32 = c.read_var().map_err(malformed)?;
        for _ in 0..structs {
            let info = c.read_u8().map_err(malformed)?;
            match info {
                0 | 10 => {
                    let len: u32 = c.read_var().map_err(malformed)?;
                    clock = clock.checked_add(len).ok_or_else(|| {
                        ProtocolError::invalid("a skipped range past the last clock")
                    })?;
                }
                info => {
                    let content = info & 0b1_1111;
                    if info & 0x80 != 0 {
                        client_id(&mut c)?;
                        let _: u32 = c.read_var().map_err(malformed)?;
                    }
                    if info & 0x40 != 0 {
                        client_id(&mut c)?;
                        let _: u32 = c.read_var().map_err(malformed)?;
                    }
                    if info & 0xC0 == 0 {
                        let named: u32 = c.read_var().map_err(malformed)?;
                        if named == 1 {
                            c.read_string().map_err(malformed)?;
                        } else {
                            client_id(&mut c)?;
                            let _: u32 = c.read_var().map_err(malformed)?;
                        }
                        if info & 0x20 != 0 {
                            c.read_string().map_err(malformed)?;
                        }
                    }
                    skip_content(&mut c, content)?;
                }
            }
        }
    }
    let ds: u32 = c.read_var().map_err(malformed)?;
    for _ in 0..ds {
        client_id(&mut c)?;
        let ranges: u32 = c.read_var().map_err(malformed)?;
        for _ in 0..ranges {
            let clock: u32 = c.read_var().map_err(malformed)?;
            let len: u32 = c.read_var().map_err(malformed)?;
            // yrs adds the two (and asserts on the overflow in debug builds).
            if clock.checked_add(len).is_none() {
                return Err(ProtocolError::invalid(
                    "a deleted range past the last clock",
                ));
            }
        }
    }
    Ok(())
}

/// Skips one item's content (v1 encoding), by its content ref.
fn skip_content(c: &mut Cursor<'_>, content: u8) -> Result<(), ProtocolError> {
    match content {
        1 => {
            let _len: u32 = c.read_var().map_err(malformed)?;
        }
        2 => {
            let n: u32 = c.read_var().map_err(malformed)?;
            for _ in 0..n {
                c.read_string().map_err(malformed)?;
            }
        }
        3 => {
            c.read_buf().map_err(malformed)?;
        }
        4 | 5 => {
            c.read_string().map_err(malformed)?;
        }
        6 => {
            c.read_string().map_err(malformed)?;
            c.read_string().map_err(malformed)?;
        }
        7 => {
            let type_ref: u8 = c.read_var().map_err(malformed)?;
            if type_ref == 3 || type_ref == 5 {
                c.read_string().map_err(malformed)?;
            }
        }
        8 => {
            let n: u32 = c.read_var().map_err(malformed)?;
            for _ in 0..n {
                yrs::Any::decode(c).map_err(malformed)?;
            }
        }
        9 => {
            c.read_string().map_err(malformed)?;
            yrs::Any::decode(c).map_err(malformed)?;
        }
        other => {
            return Err(ProtocolError::invalid(format!(
                "unknown content type {other}"
            )));
        }
    }
    Ok(())
}

/// Checks the client ids of an awareness update.
fn scan_awareness(a: &[u8]) -> Result<(), ProtocolError> {
    let mut c = Cursor::new(a);
    let n: u32 = c.read_var().map_err(malformed)?;
    for _ in 0..n {
        client_id(&mut c)?;
        let _clock: u32 = c.read_var().map_err(malformed)?;
        c.read_string().map_err(malformed)?;
    }
    Ok(())
}

fn validate_update(u: &[u8]) -> Result<(), ProtocolError> {
    scan_update(u)?;
    Update::decode_v1(u)
        .map(|_| ())
        .map_err(|e| ProtocolError::invalid(format!("malformed document update: {e}")))
}

fn validate_awareness(a: &AwarenessUpdate) -> Result<(), ProtocolError> {
    for e in a.clients.values() {
        if e.json.as_ref() != "null" && serde_json::from_str::<serde_json::Value>(&e.json).is_err()
        {
            return Err(ProtocolError::invalid("awareness state is not JSON"));
        }
    }
    Ok(())
}

fn malformed(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::invalid(format!("malformed message: {e}"))
}

/// Reads the outer framing (lib0 varints, as y-protocols writes it) so message boundaries
/// are exact, then fully decodes each payload.
fn parse_inner(frame: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
    if frame.is_empty() {
        return Err(ProtocolError::invalid("empty frame"));
    }
    let mut c = Cursor::new(frame);
    let mut out = Vec::new();
    while c.has_content() {
        let tag: u64 = c.read_var().map_err(malformed)?;
        out.push(match tag {
            MSG_SYNC => {
                let sub: u64 = c.read_var().map_err(malformed)?;
                let buf = c.read_buf().map_err(malformed)?;
                match sub {
                    0 => {
                        scan_state_vector(buf)?;
                        Incoming::SyncStep1(StateVector::decode_v1(buf).map_err(malformed)?)
                    }
                    1 | 2 => {
                        validate_update(buf)?;
                        Incoming::Update(buf.to_vec())
                    }
                    other => {
                        return Err(ProtocolError::invalid(format!(
                            "unknown sync message {other}"
                        )))
                    }
                }
            }
            MSG_AWARENESS => {
                let buf = c.read_buf().map_err(malformed)?;
                scan_awareness(buf)?;
                let a = AwarenessUpdate::decode_v1(buf).map_err(malformed)?;
                validate_awareness(&a)?;
                Incoming::Awareness(a)
            }
            MSG_AUTH => match c.read_var::<u64>().map_err(malformed)? {
                AUTH_PERMISSION_DENIED => {
                    c.read_string().map_err(malformed)?;
                    Incoming::Auth
                }
                AUTH_TOKEN => {
                    let token = c.read_string().map_err(malformed)?;
                    if token.len() > MAX_TOKEN_BYTES {
                        return Err(ProtocolError::invalid("auth token too long"));
                    }
                    Incoming::AuthToken(token.to_string())
                }
                other => {
                    return Err(ProtocolError::invalid(format!(
                        "unknown auth message {other}"
                    )))
                }
            },
            MSG_QUERY_AWARENESS => Incoming::AwarenessQuery,
            other => {
                return Err(ProtocolError {
                    code: close::UNSUPPORTED,
                    reason: format!("unknown message type {other}"),
                })
            }
        });
    }
    Ok(out)
}

/// Decodes every message in a frame, or explains why the connection must close. A panic
/// in a decoder (a bug in a dependency) costs this one connection, never the server.
pub fn parse_frame(frame: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
    catch_unwind(AssertUnwindSafe(|| parse_inner(frame)))
        .unwrap_or_else(|_| Err(ProtocolError::invalid("undecodable message")))
}

/// [`parse_frame`] without the panic guard, for fuzzing: there, a panic must fail the test
/// instead of turning into a close code.
#[doc(hidden)]
pub fn parse_frame_unguarded(frame: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
    parse_inner(frame)
}

/// The in-band re-authentication message: auth (2), subtype token (1), the access token.
pub fn auth_token(token: &str) -> Vec<u8> {
    let mut e = EncoderV1::new();
    e.write_var(MSG_AUTH);
    e.write_var(AUTH_TOKEN);
    e.write_string(token);
    e.to_vec()
}

fn encode(msg: &Message) -> Vec<u8> {
    let mut e = EncoderV1::new();
    msg.encode(&mut e);
    e.to_vec()
}

pub fn sync_step1(sv: &StateVector) -> Vec<u8> {
    encode(&Message::Sync(SyncMessage::SyncStep1(sv.clone())))
}

pub fn sync_step2(update: Vec<u8>) -> Vec<u8> {
    encode(&Message::Sync(SyncMessage::SyncStep2(update)))
}

pub fn update(update: Vec<u8>) -> Vec<u8> {
    encode(&Message::Sync(SyncMessage::Update(update)))
}

pub fn awareness(update: AwarenessUpdate) -> Vec<u8> {
    encode(&Message::Awareness(update))
}

/// y-protocols auth "permission denied", which y-websocket clients surface as an event.
pub fn permission_denied(reason: &str) -> Vec<u8> {
    encode(&Message::Auth(Some(reason.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Array, Doc, GetString, Map, ReadTxn, Text, Transact};

    fn an_update() -> Vec<u8> {
        let doc = Doc::new();
        let t = doc.get_or_insert_text("caption");
        t.insert(&mut doc.transact_mut(), 0, "hi");
        let u = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        u
    }

    #[test]
    fn several_messages_in_one_frame() {
        let mut frame = sync_step1(&StateVector::default());
        frame.extend(update(an_update()));
        frame.extend(encode(&Message::AwarenessQuery));
        let msgs = parse_frame(&frame).unwrap();
        assert_eq!(msgs.len(), 3);
        assert!(matches!(msgs[1], Incoming::Update(_)));
        // And the update really is the one we sent.
        if let Incoming::Update(u) = &msgs[1] {
            let doc = Doc::new();
            doc.transact_mut()
                .apply_update(Update::decode_v1(u).unwrap())
                .unwrap();
            assert_eq!(
                doc.get_or_insert_text("caption")
                    .get_string(&doc.transact()),
                "hi"
            );
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        let mut truncated = update(an_update());
        truncated.truncate(truncated.len() - 3);
        let absurd_length = vec![0u8, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2];
        let bad_update = vec![0u8, 2, 3, 0xff, 0xff, 0xff];
        let truncated_varint = vec![0u8, 0, 0x80];
        for frame in [
            truncated,
            absurd_length,
            bad_update,
            truncated_varint,
            vec![],
            vec![0u8, 9],
        ] {
            let err = parse_frame(&frame).unwrap_err();
            assert_eq!(err.code, close::INVALID_PAYLOAD, "{frame:?}");
        }
        assert_eq!(parse_frame(&[7, 0]).unwrap_err().code, close::UNSUPPORTED);
    }

    #[test]
    fn client_ids_beyond_53_bits_are_refused_not_panicked_on() {
        // A SyncStep1 naming client 2^53 (found by the fuzzer: yrs asserts on it).
        let sv = [0u8, 0, 10, 1, 128, 128, 128, 128, 128, 128, 128, 16, 0];
        assert_eq!(
            parse_frame_unguarded(&sv).unwrap_err().code,
            close::INVALID_PAYLOAD
        );
        // A real update still passes the scan.
        assert!(scan_update(&an_update()).is_ok());
        let doc = Doc::new();
        let m = doc.get_or_insert_map("meta");
        m.insert(&mut doc.transact_mut(), "title", "t");
        let a = doc.get_or_insert_array("media");
        a.insert(
            &mut doc.transact_mut(),
            0,
            yrs::Any::from_json(r#"{"url":"https://x","n":[1,2.5,null,true]}"#).unwrap(),
        );
        let u = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert!(scan_update(&u).is_ok());
    }

    #[test]
    fn auth_token_round_trip() {
        let msgs = parse_frame(&auth_token("abc.def")).unwrap();
        assert_eq!(msgs, vec![Incoming::AuthToken("abc.def".into())]);
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            parse_frame(&auth_token(&long)).unwrap_err().code,
            close::INVALID_PAYLOAD
        );
        assert!(parse_frame(&[2, 7]).is_err());
    }

    #[test]
    fn awareness_round_trip_and_bad_json() {
        let mut clients = std::collections::HashMap::new();
        clients.insert(
            yrs::block::ClientID::new(5),
            AwarenessUpdateEntry {
                clock: 1,
                json: r#"{"user":{"name":"A"}}"#.into(),
            },
        );
        let frame = awareness(AwarenessUpdate {
            clients: clients.clone(),
        });
        assert!(
            matches!(&parse_frame(&frame).unwrap()[0], Incoming::Awareness(a) if a.clients.len() == 1)
        );
        clients
            .values_mut()
            .for_each(|e| e.json = "{not json".into());
        assert!(parse_frame(&awareness(AwarenessUpdate { clients })).is_err());
    }
}
