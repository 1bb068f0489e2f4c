//! The baseline: a bare actix-web 4 server whose one endpoint echoes a JSON body.
//!
//! DESIGN.md states the order path's target as a ratio to this server measured in the same run,
//! with the same client, on the same machine, so the figures carry over to any machine. It parses
//! and serializes JSON like the order handler but does nothing else: what the order path costs
//! beyond it is authentication, the actor hop and the durable commit.

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use std::net::{SocketAddr, TcpListener};

/// `POST /echo`: the JSON body back, parsed and serialized again.
async fn echo(body: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(body.into_inner())
}

/// A running echo server on a free loopback port.
pub struct EchoServer {
    pub address: SocketAddr,
    handle: ServerHandle,
}

impl EchoServer {
    /// Binds 127.0.0.1:0 with actix-web's default worker count, as livecart's server does.
    pub fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let address = listener.local_addr().expect("a bound listener has an address");
        let server = HttpServer::new(|| App::new().route("/echo", web::post().to(echo)))
            .listen(listener)
            .expect("actix-web accepts a bound listener")
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        EchoServer { address, handle }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}
