//! A y-websocket client for tests: speaks the wire protocol like the npm `y-websocket`
//! provider (SyncStep1 on connect, answers the server's SyncStep1, applies updates, sends
//! its own edits as Update messages, and awareness).

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web::Bytes;
use awc::ws::{CloseCode, Frame, Message};
use copydesk_actors::protocol::{self, AwarenessUpdate, AwarenessUpdateEntry, Incoming};
use futures_util::{SinkExt, StreamExt};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, StateVector, Text, Transact, Update};

type Conn = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

pub struct YClient {
    conn: Conn,
    pub doc: yrs::Doc,
    pub denied: bool,
    pub closed: Option<(u16, String)>,
    /// Awareness states seen, by client id (None = removed).
    pub awareness: HashMap<u64, Option<String>>,
    synced: bool,
}

pub fn ws_url(http: &str, path: &str) -> String {
    format!("{}{}", http.replacen("http", "ws", 1), path)
}

impl YClient {
    pub async fn connect(base: &str, post_id: &str, token: &str) -> Self {
        let url = ws_url(base, &format!("/api/collab/{post_id}?token={token}"));
        let (_, conn) = awc::Client::new()
            .ws(url)
            .max_frame_size(4 * 1024 * 1024)
            .connect()
            .await
            .expect("websocket connects");
        let mut c = Self {
            conn,
            doc: copydesk_actors::doc::new_doc(None),
            denied: false,
            closed: None,
            awareness: HashMap::new(),
            synced: false,
        };
        c.send_raw(protocol::sync_step1(&StateVector::default()))
            .await;
        c.until(|c| c.synced).await;
        c
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        let _ = self.conn.send(Message::Binary(Bytes::from(bytes))).await;
    }

    pub fn caption(&self) -> String {
        let t = self.doc.get_or_insert_text("caption");
        t.get_string(&self.doc.transact())
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

    pub async fn set_awareness(&mut self, clock: u32, json: &str) {
        let mut clients = HashMap::new();
        clients.insert(
            self.doc.client_id(),
            AwarenessUpdateEntry {
                clock,
                json: json.into(),
            },
        );
        self.send_raw(protocol::awareness(AwarenessUpdate { clients }))
            .await;
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
                        }
                        Incoming::Awareness(a) => {
                            for (id, e) in a.clients {
                                let v = (e.json.as_ref() != "null").then(|| e.json.to_string());
                                self.awareness.insert(id.get(), v);
                            }
                        }
                        Incoming::Auth => self.denied = true,
                        Incoming::AwarenessQuery => {}
                    }
                }
            }
            Frame::Close(reason) => {
                let r = reason.map(|r| (u16::from(r.code), r.description.unwrap_or_default()));
                self.closed = Some(r.unwrap_or((u16::from(CloseCode::Normal), String::new())));
            }
            Frame::Ping(p) => {
                let _ = self.conn.send(Message::Pong(p)).await;
            }
            _ => {}
        }
    }

    /// Processes incoming frames until `pred` holds; fails the test after 10 s.
    pub async fn until(&mut self, pred: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !pred(self) {
            if self.closed.is_some() {
                panic!("connection closed: {:?}", self.closed);
            }
            match tokio::time::timeout_at(deadline, self.conn.next()).await {
                Ok(Some(Ok(frame))) => self.handle(frame).await,
                Ok(Some(Err(e))) => panic!("protocol error: {e}"),
                Ok(None) => {
                    self.closed.get_or_insert((1006, "eof".into()));
                }
                Err(_) => panic!("timed out; caption is {:?}", self.caption()),
            }
        }
    }

    /// Reads until the server closes the connection; returns the close code.
    pub async fn until_closed(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.closed.is_none() {
            match tokio::time::timeout_at(deadline, self.conn.next()).await {
                Ok(Some(Ok(frame))) => self.handle(frame).await,
                Ok(Some(Err(_))) | Ok(None) => self.closed = Some((1006, "eof".into())),
                Err(_) => panic!("the server did not close the connection"),
            }
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
