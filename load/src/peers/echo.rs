//! The ceiling: a bare actix-web 4 server whose order endpoint parses the JSON body and sends it
//! back with 201. It does what every order handler must (parse and serialize JSON over
//! keep-alive HTTP/1) and nothing else, so what the others cost beyond it is their design.
//! Moved here from the old `order_path` bench.

use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpResponse};
use serde_json::json;

async fn echo(body: web::Json<serde_json::Value>) -> HttpResponse {
    HttpResponse::Created().json(body.into_inner())
}

/// No storage, so no listing: setup hands out tokens that are never checked, and there is no gate.
async fn setup(body: web::Json<serde_json::Value>) -> HttpResponse {
    let buyers = body["buyers"].as_u64().unwrap_or(0);
    let tokens: Vec<String> = (0..buyers).map(|i| format!("echo-buyer-{i}")).collect();
    HttpResponse::Created()
        .json(json!({"room": uuid::Uuid::new_v4(), "listing": uuid::Uuid::new_v4(), "tokens": tokens}))
}

pub fn app() -> App<
    impl ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse, Error = actix_web::Error, InitError = ()>,
> {
    App::new()
        .route("/healthz", web::get().to(HttpResponse::Ok))
        .route("/bench/setup", web::post().to(setup))
        .route("/v1/rooms/{room}/orders", web::post().to(echo))
}
