//! When storage fails, nothing is acknowledged and nothing changes; when it is back, orders flow.

use crate::helpers::*;
use diesel::connection::SimpleConnection;
use reqwest::StatusCode;
use serde_json::json;

impl TestApp {
    /// Runs SQL on the app's own database, behind the server's back.
    pub async fn execute_sql(&self, sql: &'static str) {
        let pool = self.storage.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().expect("a connection");
            conn.batch_execute(sql).expect("the statement runs");
        })
        .await
        .expect("the task");
    }
}

on_both_backends! {
    async fn a_failed_commit_answers_503_and_changes_nothing(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 10).await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;

        app.execute_sql("ALTER TABLE orders_orders RENAME TO orders_orders_away").await;
        let res = app.order(&buyer, room, listing, json!(2), Some("while-down")).await;
        expect_error(res, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
        assert_eq!(app.stock_left(room, listing).await, 9, "the refused reservation was undone");

        app.execute_sql("ALTER TABLE orders_orders_away RENAME TO orders_orders").await;
        // The same key again: the failed attempt left nothing behind, so this one creates.
        let res = app.order(&buyer, room, listing, json!(2), Some("while-down")).await;
        expect_status(res, StatusCode::CREATED).await;
        assert_eq!(app.stock_left(room, listing).await, 7);
        assert_eq!(app.stored_orders(listing).await.len(), 2, "only acknowledged orders are stored");
    }
}
