//! `GET /api/collab/{post_id}?ticket=…`: the y-websocket protocol, on the connection's own
//! stream once upgraded (`crate::http::upgrade`, `crate::http::websocket`).
//!
//! The ticket and the role check happen before the upgrade, so nothing is held for an
//! unauthenticated client. Each connection is one task: it decodes and validates frames (in
//! parallel with every other connection — the post's session only sees valid messages:
//! edits within the REST rules, awareness stamped with the real user), forwards them to the
//! session, and keeps a heartbeat. The session writes to the connection itself
//! ([`crate::http::websocket::WsSender`]: straight to the stream, no task woken per peer);
//! the task only finishes writes the kernel did not take at once. It also keeps the
//! connection's access true while open (see [`super::guard`]): token expiry (4401), in-band
//! renewal, revocation and lost access (4403), demotion to read-only. Any protocol error
//! closes this connection with a close code that says why; the server and every other
//! session go on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_http::ws::{CloseCode, CloseReason};
use actix_web::{web, HttpRequest, HttpResponse};
use copydesk_actors::edit_rules::EditRules;
use copydesk_actors::ports::PeerUser;
use copydesk_actors::post_session::{Frame, Join, Leave, PeerSink, PeerTx, PostSession, SetAccess};
use copydesk_actors::protocol::{self, close, AwarenessUpdate, Incoming};
use uuid::Uuid;

use super::guard::{self, Bucket, Closing, Periodic, SocketAccess, TicketQuery};
use crate::access::{RecheckSignal, Registration, Scope};
use crate::auth::extract::RequestMeta;
use crate::error::ApiError;
use crate::http::upgrade;
use crate::http::websocket::{Served, WsError, WsMessage, WsSender, WsSocket};
use crate::posts;
use crate::roles::Action;
use crate::state::AppState;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

fn reason(code: u16, text: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(text.to_string()),
    })
}

pub async fn collab_socket(
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<TicketQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let access = SocketAccess::from_query(&state, &query).await?;
    let (post, m) = posts::load_visible(&state, &access.user, path.into_inner()).await?;
    let can_write = m.can(Action::PostEdit);
    let cfg = &state.settings.collab;
    let (registration, recheck_asked) = state.sockets.register(
        access.user.id,
        RequestMeta::from_request(&req).ip,
        Scope::Post {
            workspace_id: post.workspace_id,
            post_id: post.id,
        },
        cfg.max_connections_per_user,
        cfg.max_connections_per_ip,
    )?;
    let session = state
        .collab
        .session(post.workspace_id, post.id)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("collab session: {e}")))?;
    actix_http::ws::verify_handshake(req.head())
        .map_err(|e| ApiError::BadRequest("websocket_required", e.to_string()))?;
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let user = PeerUser {
        id: access.user.id,
        name: access.user.name.clone(),
    };
    let max_queued = cfg.outbound_queue;
    let c = Conn {
        state: state.clone(),
        access,
        post_id: post.id,
        can_write,
        session,
        conn,
        bucket: Bucket::new(cfg.max_messages_per_sec),
        rules: state.edit_rules.clone(),
    };
    upgrade::accept(&req, move |socket| {
        // The session writes this connection's frames itself, straight to the socket.
        c.session.do_send(Join {
            conn,
            tx: PeerTx::new(Sink(socket.writer.sender(max_queued))),
            can_write,
            user,
        });
        crate::rt::spawn(c.run(socket, recheck_asked, registration));
    })
}

/// The session's end of a connection.
struct Sink(WsSender);

impl PeerSink for Sink {
    fn send(&self, frames: &[bytes::Bytes]) -> bool {
        self.0.send(frames)
    }

    fn close(&self, code: u16, reason: &str) {
        self.0.close(code, reason)
    }
}

struct Conn {
    state: web::Data<AppState>,
    access: SocketAccess,
    post_id: Uuid,
    can_write: bool,
    session: actix::Addr<PostSession>,
    conn: u64,
    bucket: Bucket,
    rules: std::sync::Arc<EditRules>,
}

impl Conn {
    /// The connection's task, held by every open connection, idle ones too — so it is a
    /// plain function returning one `async move` block that uses what it captured in place:
    /// an `async fn` keeps its arguments twice in its future (as arguments and again as
    /// locals), which here was ~400 bytes per connection.
    fn run(
        mut self,
        socket: WsSocket,
        recheck_asked: RecheckSignal,
        registration: Registration,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let cfg = &self.state.settings.collab;
        let heartbeat_every = Duration::from_secs(cfg.heartbeat_secs);
        let mut periodic = Periodic::new(heartbeat_every, Duration::from_secs(cfg.recheck_secs));
        let mut socket = socket.max_size(cfg.max_frame_bytes);
        async move {
            let WsSocket {
                reader: stream,
                writer: ws,
            } = &mut socket;
            let timer = tokio::time::sleep_until(periodic.next());
            tokio::pin!(timer);
            let mut deadline = self.state.clock.sleep_until(self.access.expires_at);
            let mut last_seen = Instant::now();
            let close_reason = loop {
                tokio::select! {
                    msg = stream.next() => match msg {
                        Some(Ok(WsMessage::Binary(bytes))) => {
                            last_seen = Instant::now();
                            if !self.bucket.take() {
                                break reason(close::POLICY, "too many messages; slow down");
                            }
                            match protocol::parse_frame(&bytes) {
                                Ok(msgs) => match self.screen(msgs).await {
                                    Ok((msgs, renewed)) => {
                                        if renewed {
                                            deadline = self.state.clock.sleep_until(self.access.expires_at);
                                        }
                                        if !msgs.is_empty() {
                                            self.session.do_send(Frame { conn: self.conn, msgs });
                                        }
                                    }
                                    Err((code, text)) => break reason(code, &text),
                                },
                                Err(e) => break reason(e.code, &e.reason),
                            }
                        }
                        Some(Ok(WsMessage::Text(_))) => break reason(close::UNSUPPORTED, "the y-websocket protocol uses binary frames"),
                        Some(Ok(WsMessage::Ping(p))) => {
                            last_seen = Instant::now();
                            if ws.pong(&p).await.is_err() { break None; }
                        }
                        Some(Ok(WsMessage::Pong(_))) => last_seen = Instant::now(),
                        Some(Ok(WsMessage::Close(_))) | None => break None,
                        Some(Err(WsError::Overflow)) => break reason(close::TOO_BIG, "frame over the size limit"),
                        Some(Err(e)) => break reason(close::INVALID_PAYLOAD, &e.to_string()),
                    },
                    _ = ws.woken() => match ws.serve().await {
                        Ok(Served::Open) => {}
                        Ok(Served::Close(code, text)) => break reason(code, &text),
                        // The session let go of us: we fell too far behind (or it stopped).
                        Ok(Served::Detached) => break reason(close::TRY_AGAIN, "too far behind; reconnect to resync"),
                        Err(_) => break None,
                    },
                    _ = &mut deadline => break reason(guard::EXPIRED.0, guard::EXPIRED.1),
                    _ = recheck_asked.requested() => {
                        if let Some((code, text)) = Box::pin(self.recheck()).await { break reason(code, text); }
                    }
                    _ = &mut timer => {
                        let due = periodic.due(tokio::time::Instant::now());
                        timer.as_mut().reset(periodic.next());
                        if due.recheck {
                            if let Some((code, text)) = Box::pin(self.recheck()).await { break reason(code, text); }
                        }
                        if due.ping {
                            if last_seen.elapsed() > heartbeat_every * 3 {
                                break reason(close::GOING_AWAY, "no heartbeat");
                            }
                            if ws.ping(b"").await.is_err() { break None; }
                        }
                    }
                }
            };
            self.session.do_send(Leave { conn: self.conn });
            let _ = ws.close(close_reason).await;
            // Unregistered once the socket is closed.
            drop(registration);
        }
    }

    /// Applies this connection's rules to a frame's messages: in-band auth is handled here;
    /// edits must pass the REST rules; awareness is bounded and stamped with the user.
    /// Returns what goes on to the session and whether the access was renewed.
    async fn screen(
        &mut self,
        msgs: Vec<Incoming>,
    ) -> Result<(Vec<Incoming>, bool), (u16, String)> {
        let mut out = Vec::with_capacity(msgs.len());
        let mut renewed = false;
        for m in msgs {
            match m {
                Incoming::AuthToken(jwt) => {
                    // Boxed, like the re-checks: a storage call's future is large, and it
                    // would otherwise be part of every idle connection's task.
                    Box::pin(self.access.renew(&self.state, &jwt))
                        .await
                        .map_err(|(c, t)| (c, t.to_string()))?;
                    renewed = true;
                }
                Incoming::Update(u) if self.can_write => {
                    self.rules
                        .check_update(&u)
                        .map_err(|e| (close::POLICY, format!("edit refused: {e}")))?;
                    out.push(Incoming::Update(u));
                }
                Incoming::Awareness(a) => {
                    let max = self.state.settings.collab.max_awareness_bytes;
                    let mut clients = std::collections::HashMap::new();
                    for (id, mut e) in a.clients {
                        let stamped = guard::stamp_awareness(&e.json, &self.access.user, max)
                            .map_err(|why| (close::POLICY, why.to_string()))?;
                        e.json = stamped.into();
                        clients.insert(id, e);
                    }
                    out.push(Incoming::Awareness(AwarenessUpdate { clients }));
                }
                other => out.push(other),
            }
        }
        Ok((out, renewed))
    }

    /// Checks the connection's access again; `Some` when it must close.
    async fn recheck(&mut self) -> Option<Closing> {
        match self.access.recheck_user(&self.state).await {
            Ok(()) => {}
            Err(Some(c)) => return Some(c),
            Err(None) => return None,
        }
        match posts::load_visible(&self.state, &self.access.user, self.post_id).await {
            Ok((_, m)) => {
                let can_write = m.can(Action::PostEdit);
                if can_write != self.can_write {
                    self.can_write = can_write;
                    self.session.do_send(SetAccess {
                        conn: self.conn,
                        can_write,
                    });
                }
                None
            }
            Err(ApiError::NotFound(_)) => {
                Some((close::ACCESS_LOST, "you no longer have access to this post"))
            }
            Err(e) => {
                tracing::warn!(error = %e, "socket access re-check failed; keeping the socket for now");
                None
            }
        }
    }
}
