//! livecart itself, started in process as `tests/api/helpers.rs` does, and set up for the
//! fan-out bench through the public API (the load tool's `setup::Api`): one merchant, one live
//! room, one listing, and a crowd of guests. (The load tool starts livecart as its own process
//! instead; this bench measures client and server in one process.)

use actix_web::dev::ServerHandle;
use actix_web::rt::System;
use livecart::settings::Settings;
use livecart::startup::Application;
use livecart_load::database::Database;
use livecart_load::setup::{Api, HOT_LIMIT, HOT_STOCK};
use std::net::SocketAddr;

/// A running livecart with a live room whose one listing is on sale.
pub struct Shop {
    pub address: SocketAddr,
    pub room: String,
    /// One JWT per guest.
    pub buyer_tokens: Vec<String>,
    handle: ServerHandle,
    /// The shop's own actix System, so that closing the shop also ends what `Application::build`
    /// starts beside the HTTP server (the outbox relay task, the actor arbiters): a shop still
    /// draining its outbox must not load the machine during the next backend's passes.
    system: std::thread::JoinHandle<()>,
    database: Database,
}

impl Shop {
    /// Starts livecart on `database` with the test settings (rate limits off, port 0) and sets
    /// up the sale through the public API, as a merchant and its viewers would.
    pub async fn open(database: Database, buyers: usize) -> Shop {
        let mut settings = Settings::load_for("test").expect("config/test.toml loads");
        settings.database.url = database.url();
        settings.server.bind = "127.0.0.1:0".into();
        settings.limits.enabled = false;
        let (started, running) = tokio::sync::oneshot::channel();
        let system = std::thread::Builder::new()
            .name("bench-shop".into())
            .spawn(move || serve(settings, started))
            .expect("the shop's thread starts");
        let (port, handle) = running.await.expect("livecart starts on a fresh database");
        let address = SocketAddr::from(([127, 0, 0, 1], port));

        let api = Api::new(&format!("http://{address}"));
        let merchant = api.merchant().await.expect("a merchant registers");
        let room = api.live_room(&merchant).await.expect("a room goes live");
        api.listing(&merchant, &room, HOT_STOCK, HOT_LIMIT)
            .await
            .expect("a listing is placed");
        let buyer_tokens = api.guests(buyers).await.expect("guests join");
        Shop {
            address,
            room,
            buyer_tokens,
            handle,
            system,
            database,
        }
    }

    /// Stops the server, then the shop's System (its relay and actors), then removes its data.
    pub async fn close(self) {
        self.handle.stop(true).await;
        let system = self.system;
        actix_web::rt::task::spawn_blocking(move || system.join())
            .await
            .expect("the join task ran")
            .expect("the shop's System shut down cleanly");
        self.database.remove();
    }
}

/// The shop's thread: livecart on its own actix System until its server is stopped; then the
/// System stops its arbiters and dropping the runtime cancels the relay task.
fn serve(settings: Settings, started: tokio::sync::oneshot::Sender<(u16, ServerHandle)>) {
    let system = System::new();
    system.block_on(async move {
        let app = Application::build(settings).await.expect("livecart starts");
        // The bench awaits this; if it has gone, it has panicked already.
        let _ = started.send((app.port(), app.handle()));
        app.run_until_stopped().await.expect("the server runs until stopped");
        System::current().stop();
    });
}
