//! The live room over WebSocket, with real clients: upgrade checks, chat, likes, viewers,
//! pinned, live status, buying in the stream, recovery and moderation.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

on_both_backends! {
    async fn the_upgrade_needs_a_valid_token_and_a_permitted_origin(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let viewer = app.guest().await;
        let room = app.room(&merchant).await;
        assert_eq!(app.try_ws(room, "", None).await.err(), Some(401));
        assert_eq!(app.try_ws(room, "token=not-a-jwt", None).await.err(), Some(401));
        let query = format!("token={}", viewer.token);
        assert_eq!(app.try_ws(room, &query, Some("https://evil.example")).await.err(), Some(403));
        assert_eq!(app.try_ws(uuid::Uuid::new_v4(), &query, None).await.err(), Some(404));
        assert_eq!(app.try_ws(room, &format!("{query}&epoch=abc"), None).await.err(), Some(400));
        let own = app.address.clone();
        let mut client = app.try_ws(room, &query, Some(&own)).await.expect("our own origin may connect");
        assert_eq!(client.next_json().await["type"], "welcome");
    }

    async fn chat_likes_and_viewers_reach_every_viewer(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (alice, bob) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (mut a, welcome) = app.ws(room, &alice.token).await;
        assert_eq!(welcome["room"]["status"], "live");
        assert_eq!(welcome["recovered"], false);
        let (mut b1, _) = app.ws(room, &bob.token).await;
        let (mut b2, _) = app.ws(room, &bob.token).await;

        a.send_json(json!({"type": "chat", "text": "first!"})).await;
        a.send_json(json!({"type": "chat", "text": "second"})).await;
        let one = b1.until_type("chat").await;
        let two = b1.until_type("chat").await;
        assert_eq!((one["text"].clone(), two["text"].clone()), (json!("first!"), json!("second")));
        assert!(two["offset"].as_u64() > one["offset"].as_u64(), "offsets increase");
        assert_eq!(one["user_id"], json!(alice.id));
        assert_eq!(b2.until_type("chat").await["text"], "first!");

        a.send_json(json!({"type": "like", "count": 3})).await;
        b1.send_json(json!({"type": "like", "count": 2})).await;
        for client in [&mut a, &mut b1, &mut b2] {
            // Likes and viewers are flushed on their own ticks: either may come first.
            let (mut likes, mut viewers) = (false, false);
            while !(likes && viewers) {
                let frame = client.until(|f| f["type"] == "likes" || f["type"] == "viewers").await;
                likes |= frame["type"] == "likes" && frame["total"] == 5;
                // Two distinct users, although Bob has two connections.
                viewers |= frame["type"] == "viewers" && frame["count"] == 2;
            }
        }
        let view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        assert_eq!((view["viewer_count"].clone(), view["like_count"].clone()), (json!(2), json!(5)));

        b2.close().await;
        b1.close().await;
        a.until(|f| f["type"] == "viewers" && f["count"] == 1).await;
    }

    async fn status_pin_and_sale_open_are_pushed(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let viewer = app.guest().await;
        let room = app.room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 5, 1).await;
        let (mut client, welcome) = app.ws(room, &viewer.token).await;
        assert_eq!(welcome["listings"][0]["id"], json!(listing));
        assert_eq!(welcome["listings"][0]["stock_left"], 5);

        app.start(&merchant, room).await;
        assert_eq!(client.until_type("live_status").await["status"], "live");
        assert_eq!(client.until_type("sale_open").await["listing_id"], json!(listing));
        let res = app.post(&format!("/v1/rooms/{room}/listings/{listing}/pin"), Some(&merchant.token), json!({})).await;
        expect_status(res, StatusCode::OK).await;
        assert_eq!(client.until_type("pinned").await["listing_id"], json!(listing));
    }

    async fn a_buy_frame_places_an_order_and_everyone_sees_the_stock(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (buyer, watcher) = (app.guest().await, app.guest().await);
        let room = app.room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 2).await;
        let (mut b, _) = app.ws(room, &buyer.token).await;
        let (mut w, _) = app.ws(room, &watcher.token).await;

        b.send_json(json!({"type": "buy", "request_id": "r-0", "listing_id": listing, "quantity": 1})).await;
        let refused = b.until_type("order").await;
        assert_eq!(refused["request_id"], "r-0");
        assert_eq!(refused["error"]["error"], "live_not_started");

        app.start(&merchant, room).await;
        b.send_json(json!({"type": "buy", "request_id": "r-1", "listing_id": listing, "quantity": 2})).await;
        let placed = b.until_type("order").await;
        assert_eq!(placed["request_id"], "r-1");
        assert_eq!(placed["order"]["status"], "reserved");
        assert_eq!(placed["order"]["quantity"], 2);
        for client in [&mut b, &mut w] {
            client.until(|f| f["type"] == "stock" && f["stock_left"] == 8).await;
        }
        b.send_json(json!({"type": "buy", "request_id": "r-2", "listing_id": listing, "quantity": 0})).await;
        assert_eq!(b.until_type("order").await["error"]["error"], "invalid_quantity");
        b.send_json(json!({"type": "buy", "request_id": "r-3", "listing_id": listing, "quantity": 1})).await;
        assert_eq!(b.until_type("order").await["error"]["error"], "limit_exceeded");
        assert_eq!(app.stored_orders(listing).await.len(), 1);
    }

    async fn a_buy_frame_resent_after_a_reconnect_with_its_request_id_places_one_order(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let buyer = app.guest().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 10, 5).await;

        // The answer arrived, then the connection dropped; the client resends to be sure.
        let buy = json!({"type": "buy", "request_id": "buy-7f3a", "listing_id": listing, "quantity": 2});
        let (mut first, _) = app.ws(room, &buyer.token).await;
        first.send_json(buy.clone()).await;
        let placed = first.until_type("order").await;
        assert_eq!(placed["order"]["status"], "reserved", "{placed}");
        drop(first);
        let (mut second, _) = app.ws(room, &buyer.token).await;
        second.send_json(buy.clone()).await;
        let again = second.until_type("order").await;
        assert_eq!(again["request_id"], "buy-7f3a");
        assert_eq!(again["order"]["id"], placed["order"]["id"], "the same order: {again}");
        assert_eq!(app.stock_left(room, listing).await, 8, "stock taken once");
        assert_eq!(app.stored_orders(listing).await.len(), 1, "one row");

        // The connection dropped before the answer: the resent frame gets the one order.
        let lost = json!({"type": "buy", "request_id": "buy-9c21", "listing_id": listing, "quantity": 1});
        let (mut third, _) = app.ws(room, &buyer.token).await;
        third.send_json(lost.clone()).await;
        drop(third);
        let (mut fourth, _) = app.ws(room, &buyer.token).await;
        fourth.send_json(lost).await;
        let answer = fourth.until_type("order").await;
        assert_eq!(answer["order"]["quantity"], 1, "{answer}");
        let stored = app.stored_orders(listing).await;
        assert_eq!(stored.len(), 2, "one row per request_id");
        assert!(stored.iter().any(|o| json!(o.id) == answer["order"]["id"]));
        assert_eq!(app.stock_left(room, listing).await, 7);

        // The same request_id for another buy is refused, as a reused Idempotency-Key is. Matched
        // by request_id: `fourth` may get a second `order` frame for "buy-9c21" first (the
        // buy its connection replaced, answered unasked, besides the answer to the resend).
        let other = json!({"type": "buy", "request_id": "buy-7f3a", "listing_id": listing, "quantity": 1});
        fourth.send_json(other).await;
        let refused = fourth.until(|f| f["type"] == "order" && f["request_id"] == "buy-7f3a").await;
        assert_eq!(refused["error"]["error"], "idempotency_key_reused", "{refused}");
        for bad in ["".to_owned(), "has space".to_owned(), "x".repeat(256), "ключ".to_owned()] {
            fourth.send_json(json!({"type": "buy", "request_id": bad, "listing_id": listing, "quantity": 1})).await;
            let refused = fourth.until_type("order").await;
            assert_eq!(refused["request_id"], json!(bad));
            assert_eq!(refused["error"]["error"], "invalid_field", "{refused}");
        }
        assert_eq!(app.stored_orders(listing).await.len(), 2, "refusals take nothing");
        assert_eq!(app.stock_left(room, listing).await, 7);
    }

    async fn reconnecting_with_epoch_and_offset_replays_exactly_the_missed_chat(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (reader, talker) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (mut t, _) = app.ws(room, &talker.token).await;
        t.send_json(json!({"type": "chat", "text": "before"})).await;
        t.until_type("chat").await;
        let (r, welcome) = app.ws(room, &reader.token).await;
        let epoch = welcome["epoch"].as_u64().expect("epoch");
        let offset = welcome["offset"].as_u64().expect("offset");
        assert_eq!(offset, 1);
        r.close().await;

        for text in ["one", "two", "three"] {
            t.send_json(json!({"type": "chat", "text": text})).await;
            t.until(|f| f["type"] == "chat" && f["text"] == text).await;
        }
        let (mut r, welcome) = app.ws_resume(room, &reader.token, Some((epoch, offset))).await;
        assert_eq!(welcome["recovered"], true);
        for (text, expected_offset) in [("one", 2), ("two", 3), ("three", 4)] {
            let chat = r.next_json().await;
            assert_eq!((chat["type"].clone(), chat["text"].clone()), (json!("chat"), json!(text)));
            assert_eq!(chat["offset"], expected_offset);
        }
        t.send_json(json!({"type": "chat", "text": "live again"})).await;
        let next = r.until_type("chat").await;
        assert_eq!(next["text"], "live again", "nothing is replayed twice");

        let (mut stale, welcome) = app.ws_resume(room, &reader.token, Some((epoch + 1, offset))).await;
        assert_eq!(welcome["recovered"], false);
        assert!(stale.none_of_type_within("chat", Duration::from_millis(400)).await, "a stale epoch replays nothing");
        let (_, future) = app.ws_resume(room, &reader.token, Some((epoch, 999))).await;
        assert_eq!(future["recovered"], false);
    }

    async fn merchants_mute_and_delete_chat(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (troll, fan) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (mut t, _) = app.ws(room, &troll.token).await;
        let (mut f, _) = app.ws(room, &fan.token).await;

        t.send_json(json!({"type": "chat", "text": "spam"})).await;
        let spam = f.until_type("chat").await;
        let offset = spam["offset"].as_u64().expect("offset");
        let res = app.client.delete(app.url(&format!("/v1/rooms/{room}/chat/{offset}"))).bearer_auth(&merchant.token).send().await.expect("sent");
        expect_status(res, StatusCode::OK).await;
        assert_eq!(f.until_type("chat_deleted").await["offset"], offset);
        let res = app.client.delete(app.url(&format!("/v1/rooms/{room}/chat/{offset}"))).bearer_auth(&merchant.token).send().await.expect("sent");
        expect_error(res, StatusCode::NOT_FOUND, "not_found").await;

        let res = app.post(&format!("/v1/rooms/{room}/mutes"), Some(&fan.token), json!({"user_id": troll.id})).await;
        expect_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app.post(&format!("/v1/rooms/{room}/mutes"), Some(&merchant.token), json!({"user_id": troll.id})).await;
        expect_status(res, StatusCode::OK).await;
        t.send_json(json!({"type": "chat", "text": "more spam"})).await;
        assert_eq!(t.until_type("error").await["error"], "muted");
        assert!(f.none_of_type_within("chat", Duration::from_millis(400)).await, "a muted user's chat goes nowhere");

        let res = app.client.delete(app.url(&format!("/v1/rooms/{room}/mutes/{}", troll.id))).bearer_auth(&merchant.token).send().await.expect("sent");
        expect_status(res, StatusCode::OK).await;
        t.send_json(json!({"type": "chat", "text": "sorry"})).await;
        assert_eq!(f.until_type("chat").await["text"], "sorry");
    }

    async fn malformed_frames_get_an_error_frame_or_a_documented_close(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let (viewer, other) = (app.guest().await, app.guest().await);
        let room = app.live_room(&merchant).await;
        let (mut c, _) = app.ws(room, &viewer.token).await;
        for bad in [
            "not json".to_owned(),
            json!({"type": "dance"}).to_string(),
            json!({"type": "like", "count": "lots"}).to_string(),
            json!({"type": "buy", "request_id": 5, "listing_id": "x", "quantity": 1}).to_string(),
            json!({"text": "no type"}).to_string(),
        ] {
            c.send_text(bad).await;
            assert_eq!(c.until_type("error").await["error"], "bad_request");
        }
        c.send_json(json!({"type": "chat", "text": ""})).await;
        assert_eq!(c.until_type("error").await["error"], "invalid_field");
        c.send_json(json!({"type": "chat", "text": "x".repeat(501)})).await;
        assert_eq!(c.until_type("error").await["error"], "invalid_field");
        c.send_json(json!({"type": "ping"})).await;
        c.until_type("pong").await;

        c.send_text("x".repeat(1024 * 1024)).await;
        assert_eq!(c.close_code().await, Some(1009), "a 1 MiB frame is closed as too big");

        // The room lives on.
        let (mut o, _) = app.ws(room, &other.token).await;
        o.send_json(json!({"type": "chat", "text": "still here"})).await;
        assert_eq!(o.until_type("chat").await["text"], "still here");
    }
}

on_both_backends! {
    async fn the_merchant_unpins_and_viewers_see_nothing_pinned(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 5, 1).await;
        let viewer = app.guest().await;
        let (mut ws, _) = app.ws(room, &viewer.token).await;
        let pin = format!("/v1/rooms/{room}/listings/{listing}/pin");
        expect_status(app.post(&pin, Some(&merchant.token), json!({})).await, StatusCode::OK).await;
        ws.until(|f| f["type"] == "pinned" && f["listing_id"] == json!(listing)).await;

        let unpin = |token: &str| app.client.delete(app.url(&format!("/v1/rooms/{room}/pin"))).bearer_auth(token).send();
        let rival = app.merchant().await;
        expect_error(unpin(&rival.token).await.expect("sent"), StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(unpin(&merchant.token).await.expect("sent").status(), StatusCode::NO_CONTENT);
        ws.until(|f| f["type"] == "pinned" && f["listing_id"].is_null()).await;
        let view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        assert!(view["pinned_listing_id"].is_null(), "{view}");
        assert_eq!(unpin(&merchant.token).await.expect("sent").status(), StatusCode::NO_CONTENT, "a no-op again");
        let (_, welcome) = app.ws(room, &viewer.token).await;
        assert!(welcome["room"]["pinned_listing_id"].is_null(), "{welcome}");
    }
}

on_both_backends! {
    async fn viewers_hear_when_a_sale_window_closes_and_errors_name_the_refused_frame(backend) {
        use livecart_actors::Clock;
        let clock = std::sync::Arc::new(livecart_actors::ManualClock::new(chrono::Utc::now()));
        let app = spawn_app_with_clock(fresh_database(backend), clock.clone(), |_| {}).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let ends_at = (clock.now() + chrono::Duration::minutes(1)).to_rfc3339();
        let body = json!({"title": "Oolong", "price_cents": 500, "stock": 5, "per_user_limit": 5, "ends_at": ends_at});
        let listing = app.listing(&merchant, room, body).await;
        let viewer = app.guest().await;
        let (mut ws, _) = app.ws(room, &viewer.token).await;

        ws.send_json(json!({"type": "like", "count": 0})).await;
        let refused = ws.until_type("error").await;
        assert_eq!((refused["error"].as_str(), refused["frame"].as_str()), (Some("invalid_field"), Some("like")), "{refused}");
        ws.send_json(json!({"type": "chat", "text": "   "})).await;
        let refused = ws.until_type("error").await;
        assert_eq!(refused["frame"], "chat", "{refused}");

        clock.advance(chrono::Duration::minutes(2));
        let ended = ws.until_type("sale_ended").await;
        assert_eq!(ended["listing_id"], json!(listing), "{ended}");
        ws.send_json(json!({"type": "buy", "request_id": "late-1", "listing_id": listing, "quantity": 1})).await;
        let answer = ws.until(|f| f["type"] == "order" && f["request_id"] == "late-1").await;
        assert_eq!(answer["error"]["error"], "sale_ended", "{answer}");
    }
}

on_both_backends! {
    async fn the_welcome_carries_the_rooms_title_and_play_urls(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let viewer = app.guest().await;
        let (_ws, welcome) = app.ws(room, &viewer.token).await;
        let view = expect_status(app.get(&format!("/v1/rooms/{room}"), None).await, StatusCode::OK).await;
        assert_eq!(welcome["room"]["title"], view["title"], "{welcome}");
        assert_eq!(welcome["room"]["play"], view["play"], "{welcome}");
        assert!(welcome["room"]["play"]["hls"].as_str().is_some_and(|u| u.ends_with(".m3u8")), "{welcome}");
    }
}
