//! The HTTP server's upgrade path: a request that asks to switch protocols comes here with its
//! socket, out of actix-http's HTTP/1 dispatcher and its two 8 KiB buffers.
//!
//! The request still goes through the whole app (middleware, routing, the room route's checks in
//! [`super::upgrade::connect`]), so whatever it asks for gets the answer any request would: a
//! refusal in the contract's shape, a 404 for a path that is not a room. The answer is written
//! with the connection's HTTP/1 codec. When it is the 101 of an accepted session, the socket is
//! driven by a [`Connection`] from then on; otherwise the connection closes after the answer, as
//! it did when the dispatcher answered an upgrade request itself.

use super::connection::Connection;
use super::upgrade::{Accepted, Upgradable};
use crate::gateway::shared_app::SharedApp;
use actix_codec::{Encoder, Framed};
use actix_http::body::{self, BodySize, BoxBody, MessageBody};
use actix_http::h1::{self, Message};
use actix_http::{ConnectionType, HttpMessage, Request, Response, StatusCode};
use actix_web::dev::{fn_factory, fn_service, AppConfig, Service, ServiceFactory, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::web::BytesMut;
use futures_util::future::LocalBoxFuture;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWriteExt;

/// The upgrade service of one worker, running requests through the worker's `app`.
pub fn service<F, B>(
    app: SharedApp<F>,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = Infallible,
    InitError = (),
>
where
    F: ServiceFactory<Request, Config = AppConfig, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    F::InitError: std::fmt::Debug,
{
    fn_factory(move || {
        let app = app.clone();
        async move {
            let app = app.instance().await.map_err(|e| {
                tracing::error!(error = ?e, "the app behind the WebSocket upgrade could not start");
            })?;
            Ok(fn_service(move |(req, framed)| {
                Takeover::Answering(Box::pin(answer(app.clone(), req, framed)))
            }))
        }
    })
}

/// What the HTTP/1 dispatcher keeps for an upgraded connection, in its own state, for the
/// connection's life: so it is small. The answer's future (the app's call, the handshake) is
/// boxed and gone once answered; the connection that follows is held inline.
#[allow(
    clippy::large_enum_variant,
    reason = "the connection lives inline in the dispatcher's state, which is larger anyway; boxing it is an allocation per viewer"
)]
pub enum Takeover {
    Answering(LocalBoxFuture<'static, Option<Connection<TcpStream>>>),
    Driving(Connection<TcpStream>),
}

impl Future for Takeover {
    type Output = Result<(), Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match &mut *self {
                Takeover::Answering(answering) => match ready!(answering.as_mut().poll(cx)) {
                    Some(connection) => self.set(Takeover::Driving(connection)),
                    None => return Poll::Ready(Ok(())),
                },
                Takeover::Driving(connection) => return Pin::new(connection).poll(cx).map(Ok),
            }
        }
    }
}

/// Runs the request through the app and writes its answer; the connection to drive when the
/// answer is the 101 of an accepted session.
async fn answer<S, B>(app: Rc<S>, req: Request, framed: Framed<TcpStream, h1::Codec>) -> Option<Connection<TcpStream>>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    req.extensions_mut().insert(Upgradable);
    let mut response: Response<BoxBody> = match app.call(req).await {
        Ok(res) => res.map_into_boxed_body().into(),
        Err(err) => err.error_response().into(),
    };
    drop(app);
    let accepted = response.extensions_mut().remove::<Accepted>();
    let parts = framed.into_parts();
    let (mut io, mut codec) = (parts.io, parts.codec);
    let (mut head, body) = response.into_parts();
    let mut out = BytesMut::new();
    match accepted {
        Some(Accepted(writer)) if head.status() == StatusCode::SWITCHING_PROTOCOLS => {
            if let Err(e) = codec.encode(Message::Item((head, BodySize::None)), &mut out) {
                tracing::debug!(error = %e, "the WebSocket handshake could not be encoded");
                return None;
            }
            if let Err(e) = io.write_all(&out).await {
                tracing::debug!(error = %e, "the client left during the WebSocket handshake");
                return None;
            }
            // What the client sent after its request is its first frames; past this point
            // nothing of the HTTP connection stays allocated.
            Some(Connection::new(io, &parts.read_buf, writer))
        }
        _ => {
            // Written whole: the contract's small JSON errors, or whatever page a path that is
            // not a room answers (no route of the app streams its body).
            let body = match body::to_bytes(body).await {
                Ok(body) => body,
                Err(e) => {
                    tracing::warn!(error = %e, "the answer to an upgrade request could not be read");
                    return None;
                }
            };
            head.head_mut().set_connection_type(ConnectionType::Close);
            let encoded = codec
                .encode(Message::Item((head, BodySize::Sized(body.len() as u64))), &mut out)
                .and_then(|()| codec.encode(Message::Chunk(Some(body)), &mut out))
                .and_then(|()| codec.encode(Message::Chunk(None), &mut out));
            if let Err(e) = encoded {
                tracing::debug!(error = %e, "the answer to an upgrade request could not be encoded");
                return None;
            }
            if let Err(e) = async {
                io.write_all(&out).await?;
                io.shutdown().await
            }
            .await
            {
                tracing::debug!(error = %e, "the client left before the answer to its upgrade request");
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_dispatcher_keeps_per_upgraded_connection_is_small() {
        // The dispatcher's own state for a connection is about 1 KiB; an upgraded connection
        // should add little or nothing to it (docs/BENCHMARKS.md, "Where an idle viewer's memory is").
        let size = std::mem::size_of::<Takeover>();
        assert!(size <= 512, "Takeover is {size} bytes");
    }
}
