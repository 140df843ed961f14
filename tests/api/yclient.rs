//! A y-websocket client for tests: speaks the wire protocol like the npm `y-websocket`
//! provider (SyncStep1 on connect, answers the server's SyncStep1, applies updates, sends
//! its own edits as Update messages, and awareness).
//!
//! Sockets authenticate with a single-use ticket (`POST /api/auth/ws-ticket`, then
//! `?ticket=`); see `TestApp::ticket`.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web::Bytes;
use awc::ws::{CloseCode, Frame, Message};
use copydesk_actors::protocol::{self, AwarenessUpdate, AwarenessUpdateEntry, Incoming};
use futures_util::{SinkExt, StreamExt};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, StateVector, Text, Transact, Update};

use crate::helpers::{Session, TestApp};

type Conn = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// How long `until`/`until_closed` wait before failing the test (a bound for a hang, not a
/// timing assertion).
const WAIT: Duration = Duration::from_secs(20);

pub struct YClient {
    conn: Conn,
    pub doc: yrs::Doc,
    /// The server sent y-protocols "permission denied" at least once.
    pub denied: bool,
    /// How many "permission denied" messages arrived.
    pub denials: usize,
    pub closed: Option<(u16, String)>,
    /// Awareness states seen, by client id (None = removed).
    pub awareness: HashMap<u64, Option<String>>,
    /// Pings the server sent (its heartbeat ticks, as seen by this connection).
    pub pings: usize,
    /// Sync messages carrying an update (SyncStep2 or Update) received.
    pub updates_received: usize,
    synced: bool,
}

pub fn ws_url(http: &str, path: &str) -> String {
    format!("{}{}", http.replacen("http", "ws", 1), path)
}

impl YClient {
    /// Connects to `/api/collab/{post_id}?ticket=…` and waits for the initial sync.
    pub async fn connect(base: &str, post_id: &str, ticket: &str) -> Self {
        match Self::try_connect(base, post_id, ticket).await {
            Ok(c) => c,
            Err(e) => panic!("websocket connects: {e:?}"),
        }
    }

    /// Gets a ticket for `s` from `app` and connects with it.
    pub async fn open(app: &TestApp, post_id: &str, s: &Session) -> Self {
        let t = app.ticket(s).await;
        Self::connect(&app.addr, post_id, &t).await
    }

    /// Like `connect`, but a refused upgrade is returned instead of failing the test.
    pub async fn try_connect(
        base: &str,
        post_id: &str,
        ticket: &str,
    ) -> Result<Self, awc::error::WsClientError> {
        let url = ws_url(base, &format!("/api/collab/{post_id}?ticket={ticket}"));
        let (_, conn) = awc::Client::new()
            .ws(url)
            .max_frame_size(4 * 1024 * 1024)
            .connect()
            .await?;
        let mut c = Self {
            conn,
            doc: copydesk_actors::doc::new_doc(None),
            denied: false,
            denials: 0,
            closed: None,
            awareness: HashMap::new(),
            pings: 0,
            updates_received: 0,
            synced: false,
        };
        c.send_raw(protocol::sync_step1(&StateVector::default()))
            .await;
        c.until(|c| c.synced).await;
        Ok(c)
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.conn.send(Message::Binary(Bytes::from(bytes))).await;
    }

    pub fn caption(&self) -> String {
        let t = self.doc.get_or_insert_text("caption");
        t.get_string(&self.doc.transact())
    }

    /// Whether this client's document holds anything written by yrs client `id`.
    pub fn has_edits_of(&self, id: u64) -> bool {
        self.doc
            .transact()
            .state_vector()
            .contains_client(&yrs::block::ClientID::new(id))
    }

    /// Types `text` at `index` in the caption and sends the update.
    pub async fn type_at(&mut self, index: u32, text: &str) {
        let t = self.doc.get_or_insert_text("caption");
        let before = self.doc.transact().state_vector();
        t.insert(&mut self.doc.transact_mut(), index, text);
        let update = self.doc.transact().encode_state_as_update_v1(&before);
        self.send_raw(protocol::update(update)).await;
    }

    pub async fn append(&mut self, text: &str) {
        let len = self.caption().encode_utf16().count() as u32;
        self.type_at(len, text).await;
    }

    /// Runs `f` on the local document and sends whatever it changed as one update.
    pub async fn edit(&mut self, f: impl FnOnce(&yrs::Doc)) {
        let before = self.doc.transact().state_vector();
        f(&self.doc);
        let update = self.doc.transact().encode_state_as_update_v1(&before);
        self.send_raw(protocol::update(update)).await;
    }

    pub async fn set_awareness(&mut self, clock: u32, json: &str) {
        let id = self.client_id();
        self.set_awareness_for(id, clock, json).await;
    }

    /// Sends an awareness update for any client id (its own or not).
    pub async fn set_awareness_for(&mut self, client_id: u64, clock: u32, json: &str) {
        let mut clients = HashMap::new();
        clients.insert(
            yrs::block::ClientID::new(client_id),
            AwarenessUpdateEntry {
                clock,
                json: json.into(),
            },
        );
        self.send_raw(protocol::awareness(AwarenessUpdate { clients }))
            .await;
    }

    /// In-band re-authentication with a fresh access token.
    pub async fn reauth(&mut self, access: &str) {
        self.send_raw(protocol::auth_token(access)).await;
    }

    /// Asks the server for its state and waits for the answer: everything this connection
    /// sent before has been handled by the server's session when this returns (or the
    /// server closed the connection).
    pub async fn round_trip(&mut self) {
        let n = self.updates_received;
        let sv = self.doc.transact().state_vector();
        self.send_raw(protocol::sync_step1(&sv)).await;
        self.until_or_closed(|c| c.updates_received > n).await;
    }

    async fn handle(&mut self, frame: Frame) {
        match frame {
            Frame::Binary(b) => {
                for msg in protocol::parse_frame(&b).expect("server frames are well-formed") {
                    match msg {
                        Incoming::SyncStep1(sv) => {
                            let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                            self.send_raw(protocol::sync_step2(diff)).await;
                        }
                        Incoming::Update(u) => {
                            self.doc
                                .transact_mut()
                                .apply_update(Update::decode_v1(&u).unwrap())
                                .unwrap();
                            self.synced = true;
                            self.updates_received += 1;
                        }
                        Incoming::Awareness(a) => {
                            for (id, e) in a.clients {
                                let v = (e.json.as_ref() != "null").then(|| e.json.to_string());
                                self.awareness.insert(id.get(), v);
                            }
                        }
                        Incoming::Auth { .. } => {
                            self.denied = true;
                            self.denials += 1;
                        }
                        _ => {}
                    }
                }
            }
            Frame::Close(reason) => {
                let r = reason.map(|r| (u16::from(r.code), r.description.unwrap_or_default()));
                self.closed = Some(r.unwrap_or((u16::from(CloseCode::Normal), String::new())));
            }
            Frame::Ping(p) => {
                self.pings += 1;
                let _ = self.conn.send(Message::Pong(p)).await;
            }
            _ => {}
        }
    }

    /// Reads one frame (or the end of the stream); fails the test after `WAIT`.
    async fn step(&mut self, deadline: tokio::time::Instant, what: &str) {
        match tokio::time::timeout_at(deadline, self.conn.next()).await {
            Ok(Some(Ok(frame))) => self.handle(frame).await,
            Ok(Some(Err(_))) | Ok(None) => {
                self.closed.get_or_insert((1006, "eof".into()));
            }
            Err(_) => panic!(
                "timed out waiting for {what}; caption is {:?}",
                self.caption()
            ),
        }
    }

    /// Processes incoming frames until `pred` holds; fails the test if the connection
    /// closes first or after 20 s.
    pub async fn until(&mut self, pred: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !pred(self) {
            if self.closed.is_some() {
                panic!("connection closed: {:?}", self.closed);
            }
            self.step(deadline, "a condition").await;
        }
    }

    /// Processes incoming frames until `pred` holds or the connection closes.
    pub async fn until_or_closed(&mut self, pred: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !pred(self) && self.closed.is_none() {
            self.step(deadline, "a condition or the close").await;
        }
    }

    /// Waits for `n` more server heartbeats while staying connected: a bound on "the server
    /// has had time to look at this connection again", without sleeping.
    pub async fn until_pings(&mut self, n: usize) {
        let target = self.pings + n;
        self.until(|c| c.pings >= target).await;
    }

    /// Reads until the server closes the connection; returns the close code and reason.
    pub async fn until_closed(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.closed.is_none() {
            self.step(deadline, "the server to close the connection")
                .await;
        }
        self.closed.clone().unwrap()
    }

    pub async fn close(mut self) {
        let _ = self.conn.send(Message::Close(None)).await;
    }

    /// Whether the update decodes (for asserting on raw bytes).
    #[allow(dead_code)]
    pub fn decodes(u: &[u8]) -> bool {
        Update::decode_v1(u).is_ok()
    }
}
