//! WebSocket upgrades that hand the connection's TCP stream to the socket.
//!
//! actix-http passes every request that asks for an upgrade (`Connection: upgrade`) to this
//! service with the connection itself. The request still goes through the whole app —
//! routing, middleware, the handler's authentication and checks — and:
//!
//! - when the handler accepted the socket ([`accept`]: a 101 carrying the socket's start),
//!   the 101 is written, the stream is taken out of actix-http (with whatever the client
//!   already sent after its handshake) and the socket starts on it ([`super::websocket`]);
//! - otherwise its answer (a JSON error) is written and the connection closes.
//!
//! So a socket costs its stream and its task, not actix-http's per-connection buffers.

use std::rc::Rc;

use actix_codec::Framed;
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::h1::{self, Message};
use actix_http::{ConnectionType, Request, Response, StatusCode};
use actix_service::boxed::{BoxService, BoxServiceFactory};
use actix_service::{fn_factory, fn_service, Service, ServiceFactory};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::websocket::WsSocket;
use crate::error::ApiError;

/// The app, as a service from an HTTP request to a response (errors rendered).
pub type AppService = BoxService<Request, Response<BoxBody>, Response<BoxBody>>;
pub type AppFactory = BoxServiceFactory<(), Request, Response<BoxBody>, Response<BoxBody>, ()>;

/// What starts a socket once its 101 is on the wire; carried in the 101's extensions.
struct Start(Box<dyn FnOnce(WsSocket)>);

/// In a handler: checks the WebSocket handshake and answers 101; `start` gets the socket
/// once the 101 has been written. (Nothing starts if the handshake is not valid: 400.)
pub fn accept(
    req: &HttpRequest,
    start: impl FnOnce(WsSocket) + 'static,
) -> Result<HttpResponse, ApiError> {
    actix_http::ws::verify_handshake(req.head())
        .map_err(|e| ApiError::BadRequest("websocket_required", e.to_string()))?;
    let key = req
        .headers()
        .get(actix_web::http::header::SEC_WEBSOCKET_KEY)
        .map(|k| actix_http::ws::hash_key(k.as_ref()))
        .ok_or_else(|| {
            ApiError::BadRequest("websocket_required", "no Sec-WebSocket-Key".to_string())
        })?;
    let accept = std::str::from_utf8(&key)
        .expect("base64 is ASCII")
        .to_string();
    let mut res = HttpResponse::SwitchingProtocols()
        .upgrade("websocket")
        .insert_header((actix_web::http::header::SEC_WEBSOCKET_ACCEPT, accept))
        .finish();
    res.extensions_mut().insert(Start(Box::new(start)));
    Ok(res)
}

/// The upgrade service for actix-http, built on each worker from `app` (its own instance of
/// the app, beside the one serving plain requests).
pub fn factory(
    app: impl Fn() -> AppFactory + Clone + 'static,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = actix_web::Error,
    InitError = (),
> {
    fn_factory(move || {
        let app = app();
        async move {
            let svc: Rc<AppService> = Rc::new(app.new_service(()).await?);
            Ok(fn_service(
                move |(req, framed): (Request, Framed<TcpStream, h1::Codec>)| {
                    let svc = svc.clone();
                    // The socket's task, when one starts, is spawned (`crate::rt`): this
                    // future — the connection's in actix-http — ends with the handshake.
                    crate::rt::Entered::new(handle(svc, req, framed))
                },
            ))
        }
    })
}

async fn handle(
    app: Rc<AppService>,
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error> {
    let res = app.call(req).await.unwrap_or_else(|r| r);
    let (mut head, body) = res.into_parts();
    let start = head.extensions_mut().remove::<Start>();
    if let (Some(start), StatusCode::SWITCHING_PROTOCOLS) = (start, head.status()) {
        framed.send(Message::Item((head, BodySize::None))).await?;
        let parts = framed.into_parts();
        (start.0)(WsSocket::new(parts.io, parts.read_buf));
        return Ok(());
    }
    // Not upgraded (no ticket, no such post, not a WebSocket request…): the answer, then
    // the connection closes.
    head.head_mut().set_connection_type(ConnectionType::Close);
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))?;
    framed
        .send(Message::Item((head, BodySize::Sized(bytes.len() as u64))))
        .await?;
    if !bytes.is_empty() {
        framed.send(Message::Chunk(Some(bytes))).await?;
    }
    framed.send(Message::Chunk(None)).await?;
    let _ = framed.into_parts().io.shutdown().await;
    Ok(())
}

/// Boxes an app-like service factory for [`factory`] and the plain-request side.
pub fn boxed<S, B>(app: S) -> AppFactory
where
    S: ServiceFactory<
            Request,
            Config = (),
            Response = Response<B>,
            Error = Response<BoxBody>,
            InitError = (),
        > + 'static,
    S::Future: 'static,
    S::Service: 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    actix_service::boxed::factory(actix_service::ServiceFactoryExt::map(
        app,
        |r: Response<B>| r.map_into_boxed_body(),
    ))
}
