//! SIGTERM in the middle of a burst of HTTP and WebSocket orders: the process stops within its
//! deadline, every order a client was told about is stored, nothing stored was answered with an
//! error, and every WebSocket client was told to reconnect (close 1001).

use crate::helpers::*;
use crate::process::ServerProcess;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// What a client was told about one request (by its idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Told {
    Ordered(String),
    Refused(String),
}

#[derive(QueryableByName)]
struct KeyedOrder {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
}

/// Every stored order of the listing, by idempotency key.
fn stored_by_key(database_url: &str, listing: Uuid) -> HashMap<String, String> {
    let sql = format!(
        "SELECT id, idempotency_key AS key FROM orders_orders WHERE listing_id = '{listing}' AND idempotency_key IS NOT NULL"
    );
    let rows: Vec<KeyedOrder> = match database_url.strip_prefix("sqlite://") {
        Some(path) => diesel::sql_query(sql).load(&mut SqliteConnection::establish(path).expect("sqlite")),
        None => diesel::sql_query(sql).load(&mut PgConnection::establish(database_url).expect("postgres")),
    }
    .expect("orders readable");
    rows.into_iter().map(|r| (r.key, r.id)).collect()
}

/// One buyer over HTTP, one order at a time, until the server stops answering.
async fn http_lane(api: Api, buyer: User, room: Uuid, listing: Uuid, lane: usize) -> Vec<(String, Told)> {
    let mut told = Vec::new();
    for i in 0.. {
        let key = format!("h-{lane}-{i}");
        let sent = api
            .client
            .post(api.url(&format!("/v1/rooms/{room}/orders")))
            .bearer_auth(&buyer.token)
            .header("Idempotency-Key", &key)
            .json(&json!({"listing_id": listing, "quantity": 1}))
            .timeout(Duration::from_secs(20))
            .send()
            .await;
        // No answer (the server has stopped): the client was told nothing.
        let Ok(res) = sent else { break };
        let status = res.status();
        let Ok(body) = res.json::<Value>().await else { break };
        if status == StatusCode::CREATED {
            told.push((key, Told::Ordered(body["id"].as_str().expect("id").to_owned())));
        } else {
            told.push((key, Told::Refused(format!("{status} {}", body["error"]))));
            if status == StatusCode::SERVICE_UNAVAILABLE {
                break;
            }
        }
    }
    told
}

/// One buyer over the WebSocket, one buy at a time, until the server closes; with the close code.
async fn ws_lane(api: Api, buyer: User, room: Uuid, listing: Uuid, lane: usize) -> (Vec<(String, Told)>, Option<u16>) {
    let (mut client, _welcome) = api.ws(room, &buyer.token).await;
    let mut told = Vec::new();
    for i in 0.. {
        let key = format!("w-{lane}-{i}");
        let buy = json!({"type": "buy", "request_id": key, "listing_id": listing, "quantity": 1});
        if client.socket.send(Message::text(buy.to_string())).await.is_err() {
            return (told, None);
        }
        loop {
            match tokio::time::timeout(Duration::from_secs(20), client.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).expect("JSON");
                    if frame["type"] == "order" && frame["request_id"] == json!(key) {
                        let outcome = match frame["order"]["id"].as_str() {
                            Some(id) => Told::Ordered(id.to_owned()),
                            None => Told::Refused(frame["error"]["error"].to_string()),
                        };
                        told.push((key, outcome));
                        break;
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => return (told, frame.map(|f| u16::from(f.code))),
                Ok(Some(Ok(_))) => {}
                _ => return (told, None),
            }
        }
    }
    (told, None)
}

on_both_backends! {
    async fn sigterm_during_a_burst_stops_cleanly_and_loses_nothing_acknowledged(backend) {
        let database = fresh_database(backend);
        let mut server = ServerProcess::start(&database.url, &[("LIVECART__SERVER__SHUTDOWN_TIMEOUT_S", "10")]).await;
        let api = Api::new(server.address.clone());
        let merchant = api.merchant().await;
        let room = api.live_room(&merchant).await;
        let listing = api.simple_listing(&merchant, room, 100_000, 10_000).await;
        let http_buyers = api.guests(8).await;
        let ws_buyers = api.guests(8).await;

        let http: Vec<_> = http_buyers.into_iter().enumerate()
            .map(|(lane, buyer)| actix_web::rt::spawn(http_lane(Api::new(server.address.clone()), buyer, room, listing, lane)))
            .collect();
        let ws: Vec<_> = ws_buyers.into_iter().enumerate()
            .map(|(lane, buyer)| actix_web::rt::spawn(ws_lane(Api::new(server.address.clone()), buyer, room, listing, lane)))
            .collect();
        tokio::time::sleep(Duration::from_millis(800)).await;
        server.terminate();
        let code = server.exit_code(Duration::from_secs(20)).await;
        assert_eq!(code, Some(0), "a clean exit; log: {}", server.log_text());

        let mut told: Vec<(String, Told)> = Vec::new();
        for lane in http {
            told.extend(lane.await.expect("http lane"));
        }
        for lane in ws {
            let (answers, close) = lane.await.expect("ws lane");
            assert_eq!(close, Some(1001), "every viewer is told to reconnect");
            told.extend(answers);
        }
        let ordered = told.iter().filter(|(_, t)| matches!(t, Told::Ordered(_))).count();
        assert!(ordered > 0, "the burst was under way");
        let stored = stored_by_key(&database.url, listing);
        for (key, answer) in &told {
            match answer {
                Told::Ordered(id) => assert_eq!(stored.get(key), Some(id), "acknowledged {key} must be stored"),
                Told::Refused(why) => assert!(!stored.contains_key(key), "{key} was stored but answered {why}"),
            }
        }
    }
}
