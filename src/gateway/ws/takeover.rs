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
use actix_codec::{Encoder, Framed};
use actix_http::body::{self, BodySize, BoxBody, MessageBody};
use actix_http::h1::{self, Message};
use actix_http::{ConnectionType, HttpMessage, Request, Response, StatusCode};
use actix_web::dev::{fn_factory, fn_service, AppConfig, Service, ServiceFactory, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::web::BytesMut;
use futures_util::future::LocalBoxFuture;
use std::convert::Infallible;
use std::rc::Rc;
use tokio::io::AsyncWriteExt;

/// The upgrade service of one worker: its own instance of the app, built with `config`.
pub fn service<F, B>(
    app: F,
    config: AppConfig,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, h1::Codec>),
    Config = (),
    Response = (),
    Error = Infallible,
    InitError = (),
>
where
    F: ServiceFactory<Request, Config = AppConfig, Response = ServiceResponse<B>, Error = actix_web::Error>,
    F::Service: 'static,
    B: MessageBody + 'static,
    F::InitError: std::fmt::Debug,
{
    fn_factory(move || {
        let building = app.new_service(config.clone());
        async move {
            let app = Rc::new(building.await.map_err(|e| {
                tracing::error!(error = ?e, "the app behind the WebSocket upgrade could not start");
            })?);
            Ok(fn_service(move |(req, framed)| {
                // Boxed: the HTTP/1 dispatcher keeps this future in its own state, and every
                // connection, upgraded or not, would pay for its size.
                Box::pin(take_over(app.clone(), req, framed)) as LocalBoxFuture<'static, Result<(), Infallible>>
            }))
        }
    })
}

async fn take_over<S, B>(app: Rc<S>, req: Request, framed: Framed<TcpStream, h1::Codec>) -> Result<(), Infallible>
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
                return Ok(());
            }
            if let Err(e) = io.write_all(&out).await {
                tracing::debug!(error = %e, "the client left during the WebSocket handshake");
                return Ok(());
            }
            // What the client sent after its request is its first frames; past this point
            // nothing of the HTTP connection stays allocated.
            let connection = Connection::new(io, &parts.read_buf, writer);
            drop((out, codec, parts.read_buf, parts.write_buf));
            connection.await;
        }
        _ => {
            // The bodies here are the contract's small JSON errors, already whole.
            let body = body::to_bytes(body).await.unwrap_or_default();
            head.head_mut().set_connection_type(ConnectionType::Close);
            let encoded = codec
                .encode(Message::Item((head, BodySize::Sized(body.len() as u64))), &mut out)
                .and_then(|()| codec.encode(Message::Chunk(Some(body)), &mut out))
                .and_then(|()| codec.encode(Message::Chunk(None), &mut out));
            if let Err(e) = encoded {
                tracing::debug!(error = %e, "the answer to an upgrade request could not be encoded");
                return Ok(());
            }
            if let Err(e) = async {
                io.write_all(&out).await?;
                io.shutdown().await
            }
            .await
            {
                tracing::debug!(error = %e, "the client left before the answer to its upgrade request");
            }
        }
    }
    Ok(())
}
