//! The one writer of a connection: drains the session's outbox into the socket. It is the only
//! place that waits on the client, so a slow reader slows nobody else; when it stops (client
//! gone, or the close frame sent) the session is told to stop.

use actix::Addr;
use actix_ws::{CloseCode as WsCloseCode, CloseReason, Session};
use livecart_actors::session::actor::Disconnect;
use livecart_actors::session::{CloseCode, Outgoing, SessionActor, SharedOutbox};
use std::sync::Arc;

pub async fn drain(mut socket: Session, outbox: Arc<SharedOutbox>, session: Addr<SessionActor>) {
    while let Some(item) = outbox.next().await {
        let sent = match item {
            Outgoing::Text(text) => socket.text(text).await,
            Outgoing::Ping => socket.ping(b"").await,
            Outgoing::Pong(payload) => socket.pong(&payload).await,
            Outgoing::Close { code, reason } => {
                metrics::counter!("livecart_ws_closed_total", "code" => code.code().to_string()).increment(1);
                let reason = CloseReason {
                    code: ws_code(code),
                    description: Some(reason),
                };
                let _ = socket.close(Some(reason)).await;
                break;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    session.do_send(Disconnect);
}

fn ws_code(code: CloseCode) -> WsCloseCode {
    match code {
        CloseCode::Normal => WsCloseCode::Normal,
        CloseCode::GoingAway => WsCloseCode::Away,
        CloseCode::TooBig => WsCloseCode::Size,
        other => WsCloseCode::Other(other.code()),
    }
}
