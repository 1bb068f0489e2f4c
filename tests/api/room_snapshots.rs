//! A room's chat and likes outlive its actor: after a restart (or passivation) the room resumes
//! in the same chat epoch, with its likes, and a viewer reconnecting with its epoch and offset
//! gets exactly the messages it missed. With Redis configured the snapshot lives there, without
//! it in the SQL database.

use crate::helpers::*;
use serde_json::json;

/// Chats and likes in a room, restarts the app, and checks what a reconnecting viewer gets.
async fn chat_and_likes_survive_a_restart(backend: Backend, redis: Option<String>) {
    let with_redis = redis.clone();
    let app = spawn_app_with(fresh_database(backend), move |s| {
        s.redis.url = with_redis.unwrap_or_default()
    })
    .await;
    let merchant = app.merchant().await;
    let room = app.live_room(&merchant).await;
    let viewer = app.guest().await;
    let (mut ws, welcome) = app.ws(room, &viewer.token).await;
    let epoch = welcome["epoch"].as_u64().expect("epoch");
    let mut offsets = Vec::new();
    for text in ["first", "second", "third"] {
        ws.send_json(json!({"type": "chat", "text": text})).await;
        let chat = ws.until(|f| f["type"] == "chat" && f["text"] == text).await;
        offsets.push(chat["offset"].as_u64().expect("offset"));
    }
    ws.send_json(json!({"type": "like", "count": 5})).await;
    ws.until(|f| f["type"] == "likes" && f["total"] == 5).await;
    ws.close().await;
    let database = app.stop().await;

    let redis_url = redis.clone();
    let app = spawn_app_with(database, move |s| s.redis.url = redis_url.unwrap_or_default()).await;
    let (mut ws, welcome) = app.ws_resume(room, &viewer.token, Some((epoch, offsets[0]))).await;
    assert_eq!(welcome["epoch"].as_u64(), Some(epoch), "the same epoch: {welcome}");
    assert_eq!(welcome["room"]["like_count"], 5, "{welcome}");
    assert_eq!(welcome["recovered"], true, "{welcome}");
    let second = ws.next_json().await;
    let third = ws.next_json().await;
    assert_eq!(
        (second["text"].as_str(), third["text"].as_str()),
        (Some("second"), Some("third"))
    );
    assert_eq!(third["offset"].as_u64(), Some(offsets[2]));
    ws.send_json(json!({"type": "chat", "text": "fourth"})).await;
    let fourth = ws.until(|f| f["type"] == "chat" && f["text"] == "fourth").await;
    let fourth_offset = fourth["offset"].as_u64().expect("offset");
    assert!(fourth_offset > offsets[2], "offsets go on: {fourth_offset}");
    // A viewer who saw the third message resumes with exactly the fourth.
    let (mut late, welcome) = app.ws_resume(room, &viewer.token, Some((epoch, offsets[2]))).await;
    assert_eq!(welcome["recovered"], true, "{welcome}");
    assert_eq!(late.next_json().await["text"], "fourth");
}

on_both_backends! {
    async fn chat_likes_and_the_epoch_survive_a_restart_in_sql(backend) {
        chat_and_likes_survive_a_restart(backend, None).await;
    }

    async fn chat_likes_and_the_epoch_survive_a_restart_in_redis(backend) {
        let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        chat_and_likes_survive_a_restart(backend, Some(redis)).await;
    }
}
