//! A client of the JSON event stream (`/api/events?ticket=…`): keeps every event it saw,
//! the close code, and can re-authenticate in band.

use std::time::Duration;

use awc::ws::{Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use crate::helpers::{Session, TestApp};
use crate::yclient::ws_url;

type Conn = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

const WAIT: Duration = Duration::from_secs(20);

pub struct EvClient {
    conn: Conn,
    /// Every JSON message received, in order.
    pub seen: Vec<Value>,
    pub closed: Option<(u16, String)>,
    pub pings: usize,
}

impl EvClient {
    pub async fn connect(base: &str, ticket: &str, since: Option<&str>) -> Self {
        match Self::try_connect(base, ticket, since).await {
            Ok(c) => c,
            Err(e) => panic!("event socket connects: {e:?}"),
        }
    }

    pub async fn try_connect(
        base: &str,
        ticket: &str,
        since: Option<&str>,
    ) -> Result<Self, awc::error::WsClientError> {
        let mut path = format!("/api/events?ticket={ticket}");
        if let Some(s) = since {
            path.push_str(&format!("&since={s}"));
        }
        let (_, conn) = awc::Client::new().ws(ws_url(base, &path)).connect().await?;
        Ok(Self {
            conn,
            seen: Vec::new(),
            closed: None,
            pings: 0,
        })
    }

    /// Gets a ticket for `s` from `app` and connects with it.
    pub async fn open(app: &TestApp, s: &Session) -> Self {
        let t = app.ticket(s).await;
        Self::connect(&app.addr, &t, None).await
    }

    pub async fn send_text(&mut self, text: &str) {
        let _ = self.conn.send(Message::Text(text.to_string().into())).await;
    }

    /// In-band re-authentication: `{"type":"auth","token":…}`.
    pub async fn reauth(&mut self, access: &str) {
        let msg = serde_json::json!({ "type": "auth", "token": access }).to_string();
        self.send_text(&msg).await;
    }

    async fn step(&mut self, deadline: tokio::time::Instant, what: &str) -> Option<Value> {
        match tokio::time::timeout_at(deadline, self.conn.next()).await {
            Ok(Some(Ok(Frame::Text(t)))) => {
                let v: Value = serde_json::from_slice(&t).expect("events are JSON");
                self.seen.push(v.clone());
                Some(v)
            }
            Ok(Some(Ok(Frame::Close(reason)))) => {
                let r = reason.map(|r| (u16::from(r.code), r.description.unwrap_or_default()));
                self.closed = Some(r.unwrap_or((1000, String::new())));
                None
            }
            Ok(Some(Ok(Frame::Ping(p)))) => {
                self.pings += 1;
                let _ = self.conn.send(Message::Pong(p)).await;
                None
            }
            Ok(Some(Ok(_))) => None,
            Ok(Some(Err(_))) | Ok(None) => {
                self.closed.get_or_insert((1006, "eof".into()));
                None
            }
            Err(_) => panic!("timed out waiting for {what}; seen {:?}", self.seen),
        }
    }

    /// The next message matching `pred`; fails the test if the socket closes first.
    pub async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(c) = &self.closed {
                panic!(
                    "event socket closed ({c:?}) before {what}; seen {:?}",
                    self.seen
                );
            }
            if let Some(v) = self.step(deadline, what).await {
                if pred(&v) {
                    return v;
                }
            }
        }
    }

    /// The next event of `kind` (skipping others, e.g. presence).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        self.next_matching(kind, |v| v["type"] == kind).await
    }

    /// Reads until the server closes the socket; returns the close code and reason.
    pub async fn until_closed(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.closed.is_none() {
            self.step(deadline, "the server to close the event socket")
                .await;
        }
        self.closed.clone().unwrap()
    }

    /// Waits for `n` more server heartbeats while staying open.
    pub async fn until_pings(&mut self, n: usize) {
        let target = self.pings + n;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.pings < target {
            if let Some(c) = &self.closed {
                panic!("event socket closed: {c:?}");
            }
            self.step(deadline, "heartbeats").await;
        }
    }

    /// Events seen so far whose `data` mentions `needle` anywhere.
    pub fn seen_mentioning(&self, needle: &str) -> Vec<&Value> {
        self.seen
            .iter()
            .filter(|v| v.to_string().contains(needle))
            .collect()
    }
}
