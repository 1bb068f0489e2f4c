//! The servers of a run and their sales: livecart (started here or reached by URL) set up
//! through its public API, and the peer designs set up through their bench endpoint.

use crate::database::Database;
use crate::gate::Counts;
use crate::peers::{Design, GateCounts};
use crate::process::Server;
use crate::setup::{Api, Sale, HOT_LIMIT, HOT_STOCK};
use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use std::path::Path;

/// What kind of server a target is, for the report and the ratios.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// livecart on `backend` (`SQLite`, `PostgreSQL`, or `remote` for --url).
    Livecart {
        backend: String,
    },
    Peer {
        design: Design,
    },
}

/// A server under load, its process (when this tool started it) and its database.
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub base: String,
    pub pid: Option<u32>,
    server: Option<Server>,
    database: Option<Database>,
    api: Api,
    merchant: Option<String>,
    client: reqwest::Client,
}

/// A sale on a target: the listing and the buyers' tokens.
pub struct Prepared {
    pub sale: Sale,
    pub buyers: Vec<String>,
}

impl Target {
    /// A livecart someone else runs.
    pub fn remote(url: &str, merchant: Option<String>, pid: Option<u32>) -> Target {
        Target {
            name: "livecart".into(),
            kind: Kind::Livecart {
                backend: "remote".into(),
            },
            base: url.trim_end_matches('/').to_owned(),
            pid,
            server: None,
            database: None,
            api: Api::new(url),
            merchant,
            client: reqwest::Client::new(),
        }
    }

    /// livecart's release binary on a fresh `database`.
    pub async fn livecart(bin: &Path, database: Database, out: &Path) -> anyhow::Result<Target> {
        let label = database.label();
        // The database URL is absolute; the data dir only matters for relative paths.
        let data_dir = std::env::temp_dir();
        let log = out.join(format!("livecart-{}.log", label.to_lowercase()));
        let mut server = Server::livecart(bin, &database.url(), &data_dir, &log)?;
        server
            .ready("/readyz")
            .await
            .with_context(|| format!("livecart on {label} (log: {})", log.display()))?;
        Ok(Target {
            name: format!("livecart {label}"),
            kind: Kind::Livecart { backend: label.into() },
            base: server.base.clone(),
            pid: Some(server.pid()),
            api: Api::new(&server.base),
            server: Some(server),
            database: Some(database),
            merchant: None,
            client: reqwest::Client::new(),
        })
    }

    /// A peer design as its own process (`exe peer …`, `exe` being this tool's executable), with
    /// a fresh PostgreSQL database when it stores orders.
    pub async fn peer(
        exe: &Path,
        design: Design,
        postgres: Option<&str>,
        redis: Option<&str>,
        out: &Path,
    ) -> anyhow::Result<Target> {
        let mut args = vec![design_arg(design).to_owned()];
        let database = match design {
            Design::Echo => None,
            _ => {
                let admin = postgres.context("this peer needs --postgres")?;
                let database = Database::postgres(admin)?;
                args.extend(["--database-url".into(), database.url()]);
                Some(database)
            }
        };
        if design == Design::RedisLua {
            args.extend([
                "--redis-url".into(),
                redis.context("this peer needs --redis")?.to_owned(),
            ]);
        }
        let log = out.join(format!("peer-{}.log", design_arg(design)));
        let mut server = Server::peer(exe, &args, &log)?;
        server.ready("/healthz").await?;
        Ok(Target {
            name: design.label().into(),
            kind: Kind::Peer { design },
            base: server.base.clone(),
            pid: Some(server.pid()),
            api: Api::new(&server.base),
            server: Some(server),
            database,
            merchant: None,
            client: reqwest::Client::new(),
        })
    }

    pub fn is_livecart(&self) -> bool {
        matches!(self.kind, Kind::Livecart { .. })
    }

    /// Whether the target keeps orders, so the gates apply (not the echo).
    pub fn is_gated(&self) -> bool {
        self.kind != Kind::Peer { design: Design::Echo }
    }

    /// The room WebSocket base, `ws://host:port`.
    pub fn ws_base(&self) -> String {
        self.base.replacen("http", "ws", 1)
    }

    /// A sale of `stock` units with `per_user_limit`, and `buyers` buyers' tokens.
    pub async fn prepare(&mut self, stock: u64, per_user_limit: u64, buyers: usize) -> anyhow::Result<Prepared> {
        match self.kind {
            Kind::Livecart { .. } => {
                let merchant = match &self.merchant {
                    Some(m) => m.clone(),
                    None => {
                        let m = self.api.merchant().await?;
                        self.merchant = Some(m.clone());
                        m
                    }
                };
                let room = self.api.live_room(&merchant).await?;
                let sale = self.api.listing(&merchant, &room, stock, per_user_limit).await?;
                let buyers = self.api.guests(buyers).await?;
                Ok(Prepared { sale, buyers })
            }
            Kind::Peer { .. } => {
                let body = json!({"stock": stock, "per_user_limit": per_user_limit, "buyers": buyers});
                let res = self
                    .client
                    .post(format!("{}/bench/setup", self.base))
                    .json(&body)
                    .send()
                    .await?;
                let status = res.status();
                let v: serde_json::Value = res.json().await?;
                anyhow::ensure!(status.is_success(), "setup answered {status}: {v}");
                let text = |k: &str| v[k].as_str().map(str::to_owned).context("setup's answer");
                let buyers = v["tokens"]
                    .as_array()
                    .context("tokens")?
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect();
                Ok(Prepared {
                    sale: Sale {
                        room: text("room")?,
                        listing: text("listing")?,
                        stock,
                        per_user_limit,
                        merchant: None,
                    },
                    buyers,
                })
            }
        }
    }

    /// The hot sale: stock and limit no pass can reach.
    pub async fn prepare_hot(&mut self, buyers: usize) -> anyhow::Result<Prepared> {
        self.prepare(HOT_STOCK, HOT_LIMIT, buyers).await
    }

    /// The server's side of a sale, read back from its storage (livecart: its public API, as
    /// the sale's `buyers`).
    pub async fn counts(&self, sale: &Sale, buyers: &[String], acked: u64) -> anyhow::Result<Counts> {
        match self.kind {
            Kind::Livecart { .. } => {
                let stock_left = self.api.stock_left(sale).await?;
                let rows = self.api.orders(sale, buyers).await?;
                Ok(Counts {
                    acked,
                    unanswered: 0,
                    stock: sale.stock,
                    stock_left,
                    rows: rows.count,
                    row_units: rows.units,
                    max_per_user: rows.max_per_user(),
                    per_user_limit: sale.per_user_limit,
                })
            }
            Kind::Peer { .. } => {
                let url = format!("{}/bench/gate?listing={}", self.base, sale.listing);
                let res = self.client.get(url).send().await?;
                anyhow::ensure!(
                    res.status().is_success(),
                    "the peer's gate read answered {}",
                    res.status()
                );
                let g: GateCounts = res.json().await?;
                Ok(Counts {
                    acked,
                    unanswered: 0,
                    stock: g.stock,
                    // Below zero is oversold: reported as nothing left, and the rows show the excess.
                    stock_left: g.stock_left.max(0) as u64,
                    rows: g.rows,
                    row_units: g.row_units,
                    max_per_user: g.max_per_user,
                    per_user_limit: sale.per_user_limit,
                })
            }
        }
    }

    /// What livecart counted about itself (`GET /metrics`), to explain the client's figures.
    pub async fn metrics(&self) -> Option<String> {
        if !self.is_livecart() {
            return None;
        }
        let res = self.client.get(format!("{}/metrics", self.base)).send().await.ok()?;
        res.text().await.ok()
    }

    /// Stops the server this tool started and removes its database.
    pub fn close(mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        if let Some(database) = self.database.take() {
            database.remove();
        }
    }
}

fn design_arg(design: Design) -> &'static str {
    match design {
        Design::Echo => "echo",
        Design::RedisLua => "redis-lua",
        Design::PgRowLock => "pg-row-lock",
    }
}
