use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends! {
    async fn health_readiness_metrics_and_openapi_are_served(backend) {
        let app = spawn_app(backend).await;
        expect_status(app.get("/healthz", None).await, StatusCode::OK).await;
        expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
        let metrics = app.get("/metrics", None).await;
        assert_eq!(metrics.status(), StatusCode::OK);
        let doc = expect_status(app.get("/openapi.json", None).await, StatusCode::OK).await;
        for path in ["/v1/auth/register", "/v1/rooms/{room_id}/orders", "/v1/orders/{order_id}/cancel", "/v1/coupons", "/v1/rooms/{room_id}/ws", "/v1/rooms/{room_id}/mutes"] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
        }
        expect_error(app.get("/v1/rooms/not-a-uuid", None).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.get(&format!("/v1/rooms/{}", uuid::Uuid::new_v4()), None).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(app.get("/no/such/route", None).await, StatusCode::NOT_FOUND, "not_found").await;
    }
}

on_both_backends! {
    async fn readiness_names_each_part_and_says_when_redis_is_away_but_stays_ready(backend) {
        let app = spawn_app(backend).await;
        let ready = expect_status(app.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(ready["checks"]["database"], true, "{ready}");
        assert_eq!(ready["checks"]["journal"], true, "{ready}");
        assert_eq!(ready["checks"]["relay"], true, "{ready}");
        assert!(ready["checks"]["redis"].is_null(), "Redis is not configured: {ready}");

        let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let with_redis = spawn_app_with(fresh_database(backend), |s| s.redis.url = redis).await;
        let ready = expect_status(with_redis.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(ready["checks"]["redis"], true, "{ready}");

        // Nothing listens on port 9 here: Redis is configured and away. Orders go on without it,
        // so the node stays in rotation and says it is degraded.
        let away = spawn_app_with(fresh_database(backend), |s| s.redis.url = "redis://127.0.0.1:9".into()).await;
        let body = expect_status(away.get("/readyz", None).await, StatusCode::OK).await;
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["checks"]["redis"], false, "{body}");
    }
}

/// The `src` and `href` values of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
            }
        }
    }
    found
}

on_both_backends! {
    async fn the_api_page_is_served_with_local_assets_only(backend) {
        let app = spawn_app(backend).await;
        // `/docs` sends the browser to `/docs/`, where the page's relative links resolve.
        let page = app.get("/docs", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.url().path(), "/docs/");
        let content_type = page.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let html = page.text().await.expect("text");
        let assets = references(&html);
        assert!(assets.iter().any(|a| a.ends_with(".js")), "the page loads its scripts: {assets:?}");
        for asset in &assets {
            assert!(!asset.contains("//"), "{asset} is not local");
            let file = asset.trim_start_matches("./");
            let res = app.get(&format!("/docs/{file}"), None).await;
            assert_eq!(res.status(), StatusCode::OK, "{asset}");
            assert!(!res.bytes().await.expect("body").is_empty(), "{asset} is empty");
        }
        let init = app.get("/docs/swagger-initializer.js", None).await.text().await.expect("text");
        assert!(init.contains("\"/openapi.json\""), "the page reads our document: {init}");
        expect_error(app.get("/docs/no-such-file.js", None).await, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn metrics_describe_themselves_and_count_requests_by_route_pattern(backend) {
        let app = spawn_app(backend).await;
        let room = uuid::Uuid::new_v4();
        let user = uuid::Uuid::new_v4();
        // No token: 401, a status no other test asks of this route.
        let res = app.client.delete(app.url(&format!("/v1/rooms/{room}/mutes/{user}"))).send().await.expect("sent");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let text = app.get("/metrics", None).await.text().await.expect("text");
        for line in [
            "# HELP livecart_http_requests_total ",
            "# TYPE livecart_http_requests_total counter",
            "# HELP livecart_http_request_duration_seconds ",
            "# TYPE livecart_http_request_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        let counted = text.lines().any(|l| {
            l.starts_with("livecart_http_requests_total{")
                && l.contains("method=\"DELETE\"")
                && l.contains("route=\"/v1/rooms/{room_id}/mutes/{user_id}\"")
                && l.contains("status=\"401\"")
        });
        assert!(counted, "the request is counted by its route pattern:\n{text}");
        assert!(
            text.contains("livecart_http_request_duration_seconds_bucket{method=\"DELETE\",route=\"/v1/rooms/{room_id}/mutes/{user_id}\",le="),
            "its latency is in buckets:\n{text}"
        );
        assert!(!text.contains(&room.to_string()), "a raw path with ids became a label:\n{text}");
        // Every metric shown has its HELP and TYPE lines.
        for name in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).map(|l| l.split(['{', ' ']).next().unwrap_or_default()) {
            let base = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(text.contains(&format!("# HELP {base} ")), "{base} has no HELP line:\n{text}");
            assert!(text.contains(&format!("# TYPE {base} ")), "{base} has no TYPE line");
        }
    }

    async fn metrics_show_journal_commits_mailbox_depths_and_outbox_lag(backend) {
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 5, 1).await;
        let buyer = app.guest().await;
        expect_status(app.order(&buyer, room, listing, json!(1), None).await, StatusCode::CREATED).await;
        let text = app.get("/metrics", None).await.text().await.expect("text");
        for line in [
            "# TYPE livecart_journal_commit_seconds histogram",
            "livecart_journal_commit_seconds_bucket{le=\"0.0005\"}",
            "# TYPE livecart_actor_mailbox_depth gauge",
            "livecart_actor_mailbox_depth{actor=\"inventory\"} ",
            "livecart_actor_mailbox_depth{actor=\"room\"} ",
            "# TYPE livecart_outbox_lag_seconds gauge",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        // On SQLite, where the process's writers take turns, the journal's turn is timed (the
        // registry is the process's: other tests' apps may have added to it too).
        if backend == Backend::Sqlite {
            for phase in ["waited", "held"] {
                let turn = format!("livecart_sqlite_write_turn_seconds_count{{holder=\"journal\",phase=\"{phase}\"}}");
                assert!(text.contains(&turn), "{turn:?} missing from:\n{text}");
            }
        }
        let commits = text
            .lines()
            .find_map(|l| l.strip_prefix("livecart_journal_commit_seconds_count "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        assert!(commits >= 1, "the order's batch is counted:\n{text}");
    }

    async fn order_metrics_count_placed_refused_and_time_each_order(backend) {
        // The order path records through handles made once (application/order_metrics.rs),
        // not per call: each series must still reach /metrics, with its labels and HELP.
        let app = spawn_app(backend).await;
        let merchant = app.merchant().await;
        let room = app.live_room(&merchant).await;
        let listing = app.simple_listing(&merchant, room, 1, 5).await;
        let buyers = app.guests(2).await;
        expect_status(app.order(&buyers[0], room, listing, serde_json::json!(1), None).await, StatusCode::CREATED).await;
        expect_error(app.order(&buyers[1], room, listing, serde_json::json!(1), None).await, StatusCode::CONFLICT, "sold_out").await;
        let text = app.get("/metrics", None).await.text().await.expect("text");
        let sample = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        assert!(sample("livecart_orders_placed_total ") >= 1.0, "the order is counted:\n{text}");
        assert!(
            sample("livecart_orders_refused_total{reason=\"sold_out\"} ") >= 1.0,
            "the refusal is counted by its reason:\n{text}"
        );
        assert!(sample("livecart_place_order_seconds_count ") >= 2.0, "both orders are timed:\n{text}");
        assert!(text.contains("livecart_place_order_seconds_bucket{le="), "in buckets:\n{text}");
        for name in ["livecart_orders_placed_total", "livecart_orders_refused_total", "livecart_place_order_seconds"] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name} has no HELP line:\n{text}");
        }
    }

    async fn invented_methods_share_one_metric_series(backend) {
        let app = spawn_app(backend).await;
        for n in 0..3 {
            let method = reqwest::Method::from_bytes(format!("INVENTED{n}").as_bytes()).expect("a method");
            let res = app.client.request(method, app.url("/v1/rooms")).send().await.expect("sent");
            assert!(res.status().is_client_error(), "{}", res.status());
        }
        let text = app.get("/metrics", None).await.text().await.expect("text");
        assert!(!text.contains("INVENTED"), "a client's method became a label:\n{text}");
        assert!(text.contains("method=\"OTHER\""), "counted under OTHER:\n{text}");
    }
}
