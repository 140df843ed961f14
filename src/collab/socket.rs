//! `GET /api/collab/{post_id}?token=…`: the y-websocket protocol over actix-ws.
//!
//! Authentication and the role check happen before the upgrade, so nothing is held for an
//! unauthenticated client. Each connection is one task: it decodes and validates frames
//! (in parallel with every other connection — the post's session only sees valid
//! messages), forwards them to the session, writes what the session queues for it, and
//! keeps a heartbeat. Any protocol error closes this connection with a close code that
//! says why; the server and every other session go on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use copydesk_actors::ports::PeerUser;
use copydesk_actors::post_session::{Frame, Join, Leave, Outbound, PostSession};
use copydesk_actors::protocol::{self, close};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::auth::extract::authenticate;
use crate::error::ApiError;
use crate::posts;
use crate::roles::Action;
use crate::state::AppState;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

#[derive(Deserialize)]
pub struct TokenQuery {
    pub token: Option<String>,
}

fn reason(code: u16, text: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(text.to_string()),
    })
}

pub async fn collab_socket(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<Uuid>,
    query: web::Query<TokenQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = query
        .token
        .as_deref()
        .ok_or_else(ApiError::unauthenticated)?;
    let user = authenticate(&state, token).await?;
    let (post, m) = posts::load_visible(&state, &user, path.into_inner()).await?;
    let can_write = m.can(Action::PostEdit);
    let session = state
        .collab
        .session(post.workspace_id, post.id)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("collab session: {e}")))?;
    let (res, ws, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::BadRequest("websocket_required", e.to_string()))?;
    let cfg = &state.settings.collab;
    let (tx, rx) = mpsc::channel(cfg.outbound_queue);
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    session.do_send(Join {
        conn,
        tx,
        can_write,
        user: PeerUser {
            id: user.id,
            name: user.name.clone(),
        },
    });
    let limits = Limits {
        frame: cfg.max_frame_bytes,
        heartbeat: Duration::from_secs(cfg.heartbeat_secs),
    };
    actix_web::rt::spawn(run(ws, stream, rx, session, conn, limits));
    Ok(res)
}

struct Limits {
    frame: usize,
    heartbeat: Duration,
}

async fn run(
    mut ws: actix_ws::Session,
    stream: actix_ws::MessageStream,
    mut rx: mpsc::Receiver<Outbound>,
    session: actix::Addr<PostSession>,
    conn: u64,
    limits: Limits,
) {
    let mut stream = stream
        .max_frame_size(limits.frame)
        .aggregate_continuations()
        .max_continuation_size(limits.frame);
    let mut heartbeat = tokio::time::interval(limits.heartbeat);
    heartbeat.tick().await;
    let mut last_seen = Instant::now();
    let close_reason = loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(AggregatedMessage::Binary(bytes))) => {
                    last_seen = Instant::now();
                    match protocol::parse_frame(&bytes) {
                        Ok(msgs) => session.do_send(Frame { conn, msgs }),
                        Err(e) => break reason(e.code, &e.reason),
                    }
                }
                Some(Ok(AggregatedMessage::Text(_))) => break reason(close::UNSUPPORTED, "the y-websocket protocol uses binary frames"),
                Some(Ok(AggregatedMessage::Ping(p))) => {
                    last_seen = Instant::now();
                    if ws.pong(&p).await.is_err() { break None; }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => last_seen = Instant::now(),
                Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                Some(Err(actix_ws::ProtocolError::Overflow)) => break reason(close::TOO_BIG, "frame over the size limit"),
                Some(Err(e)) => break reason(close::INVALID_PAYLOAD, &e.to_string()),
            },
            out = rx.recv() => match out {
                Some(Outbound::Frame(b)) => if ws.binary(b).await.is_err() { break None },
                Some(Outbound::Close(code, text)) => break reason(code, &text),
                // The session dropped us: we fell too far behind (or it stopped).
                None => break reason(close::TRY_AGAIN, "too far behind; reconnect to resync"),
            },
            _ = heartbeat.tick() => {
                if last_seen.elapsed() > limits.heartbeat * 3 {
                    break reason(close::GOING_AWAY, "no heartbeat");
                }
                if ws.ping(b"").await.is_err() { break None; }
            }
        }
    };
    session.do_send(Leave { conn });
    let _ = ws.close(close_reason).await;
}
