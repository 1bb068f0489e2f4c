//! Setting up a sale and reading it back, through the public API only (`docs/api.md`): what a
//! load tester can do against any deployed livecart. The peers answer the same order endpoint
//! but set up and count through their own two bench endpoints (`peers/mod.rs`).

use anyhow::{bail, Context};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Units and limit of the hot listing the throughput passes share: the most the contract
/// allows, so no pass sells out or meets the limit (the sell-out pass checks those).
pub const HOT_STOCK: u64 = 100_000_000;
pub const HOT_LIMIT: u64 = 10_000;

/// Guests are created this many at a time.
const CREATING: usize = 32;

/// Buyers' orders are read back this many at a time.
const READING: usize = 16;

/// A listing on sale and the people around it.
#[derive(Debug, Clone)]
pub struct Sale {
    pub room: String,
    pub listing: String,
    pub stock: u64,
    pub per_user_limit: u64,
    /// The merchant's token, to read the room's orders back (livecart only).
    pub merchant: Option<String>,
}

/// The public API of one livecart, for setup and read-back.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self.client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let text = res.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, token, body).await?;
        if status != expected {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }

    /// A new merchant, registered for this run: its token.
    pub async fn merchant(&self) -> anyhow::Result<String> {
        let name = format!("load{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let body = json!({"username": name, "password": "a-long-load-tool-password", "role": "merchant"});
        let v = self
            .expect(
                reqwest::Method::POST,
                "/v1/auth/register",
                None,
                Some(body),
                StatusCode::CREATED,
            )
            .await?;
        token_of(&v)
    }

    /// A live room of `merchant`: its id.
    pub async fn live_room(&self, merchant: &str) -> anyhow::Result<String> {
        let body = json!({"title": "livecart-load flash sale"});
        let room = self
            .expect(
                reqwest::Method::POST,
                "/v1/rooms",
                Some(merchant),
                Some(body),
                StatusCode::CREATED,
            )
            .await?;
        let room = id_of(&room)?;
        self.expect(
            reqwest::Method::POST,
            &format!("/v1/rooms/{room}/start"),
            Some(merchant),
            Some(json!({})),
            StatusCode::OK,
        )
        .await?;
        Ok(room)
    }

    /// A listing of `stock` units, open at once, in a live room.
    pub async fn listing(&self, merchant: &str, room: &str, stock: u64, per_user_limit: u64) -> anyhow::Result<Sale> {
        let body =
            json!({"title": "Jasmine 250g", "price_cents": 3900, "stock": stock, "per_user_limit": per_user_limit});
        let path = format!("/v1/rooms/{room}/listings");
        let listing = self
            .expect(
                reqwest::Method::POST,
                &path,
                Some(merchant),
                Some(body),
                StatusCode::CREATED,
            )
            .await?;
        Ok(Sale {
            room: room.to_owned(),
            listing: id_of(&listing)?,
            stock,
            per_user_limit,
            merchant: Some(merchant.to_owned()),
        })
    }

    /// `n` guest viewers' tokens, created `CREATING` at a time.
    pub async fn guests(&self, n: usize) -> anyhow::Result<Vec<String>> {
        let calls = (0..n).map(|i| {
            let body = json!({"nickname": format!("buyer{i}")});
            async move {
                let v = self
                    .expect(
                        reqwest::Method::POST,
                        "/v1/auth/guest",
                        None,
                        Some(body),
                        StatusCode::CREATED,
                    )
                    .await?;
                token_of(&v)
            }
        });
        futures_util::stream::iter(calls)
            .buffered(CREATING)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// The listing's units still for sale.
    pub async fn stock_left(&self, sale: &Sale) -> anyhow::Result<u64> {
        let path = format!("/v1/rooms/{}/listings", sale.room);
        let v = self
            .expect(reqwest::Method::GET, &path, None, None, StatusCode::OK)
            .await?;
        let listings = v
            .as_array()
            .or_else(|| v["items"].as_array())
            .context("a list of listings")?;
        listings
            .iter()
            .find(|l| l["id"].as_str() == Some(sale.listing.as_str()))
            .and_then(|l| l["stock_left"].as_u64())
            .context("the listing is listed with its stock_left")
    }

    /// Every order of the listing that holds stock (reserved or paid), read back through the
    /// public API as each buyer (`GET /v1/orders`, the caller's orders), `READING` buyers at a
    /// time. The merchant's view (`GET /v1/rooms/{id}/orders?listing_id=…`, following `next`)
    /// would do too, but it sorts every order of the listing for each page of 200, so reading
    /// back a hot listing's hundreds of thousands of orders that way takes many minutes.
    pub async fn orders(&self, sale: &Sale, buyers: &[String]) -> anyhow::Result<Rows> {
        let reads = buyers.iter().map(|token| async move {
            let v = self
                .expect(reqwest::Method::GET, "/v1/orders", Some(token), None, StatusCode::OK)
                .await?;
            let orders = v
                .as_array()
                .or_else(|| v["items"].as_array())
                .context("a list of orders")?
                .clone();
            anyhow::Ok(orders)
        });
        let pages: Vec<_> = futures_util::stream::iter(reads)
            .buffer_unordered(READING)
            .collect()
            .await;
        let mut rows = Rows::default();
        for orders in pages {
            for order in orders? {
                if order["listing_id"].as_str() != Some(sale.listing.as_str()) {
                    continue;
                }
                if matches!(order["status"].as_str(), Some("reserved" | "paid")) {
                    let user = order["user_id"].as_str().context("an order names its buyer")?;
                    let quantity = order["quantity"].as_u64().context("an order has a quantity")?;
                    rows.add(user, quantity);
                }
            }
        }
        Ok(rows)
    }
}

/// Order rows that hold stock, as read back from a server.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    pub count: u64,
    pub units: u64,
    pub per_user: HashMap<String, u64>,
}

impl Rows {
    pub fn add(&mut self, user: &str, quantity: u64) {
        self.count += 1;
        self.units += quantity;
        *self.per_user.entry(user.to_owned()).or_default() += quantity;
    }

    pub fn max_per_user(&self) -> u64 {
        self.per_user.values().copied().max().unwrap_or(0)
    }
}

fn token_of(v: &Value) -> anyhow::Result<String> {
    v["token"]
        .as_str()
        .map(str::to_owned)
        .context("the answer carries a token")
}

fn id_of(v: &Value) -> anyhow::Result<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .context("the created resource has an id")
}
