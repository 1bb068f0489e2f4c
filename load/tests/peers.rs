//! The peer designs as the load tool runs them: each started as its own process
//! (`livecart-load peer …`) on a real PostgreSQL (and Redis for the Lua design), driven by a
//! short flash sale with small numbers, and judged by the same gates as livecart. Speed is not
//! checked here (that is `cargo bench --bench load`).

use livecart_load::peers::Design;
use livecart_load::scenario::{flash, Timing};
use livecart_load::target::Target;
use std::path::Path;
use std::time::Duration;

fn postgres() -> String {
    std::env::var("LIVECART_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn redis() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn a_short_flash_sale_passes_every_gate(design: Design) {
    let out = std::env::temp_dir().join(format!("livecart_load_peers_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&out).expect("a temp dir");
    let exe = Path::new(env!("CARGO_BIN_EXE_livecart-load"));
    let mut target = Target::peer(exe, design, Some(&postgres()), Some(&redis()), &out)
        .await
        .expect("the peer starts");
    let hot = target.prepare_hot(8).await.expect("a hot listing and buyers");
    let plan = flash::Plan {
        connections: vec![4],
        open_fraction: 0.5,
        sellout_stock: 12,
        timing: Timing {
            warm_up: Duration::from_millis(100),
            measure: Duration::from_millis(500),
            quiet: true,
        },
    };
    let outcome = flash::run(&mut target, &hot, &plan).await;
    target.close();
    let _ = std::fs::remove_dir_all(&out);
    let outcome = outcome.expect("the flash sale ran");

    let shapes: Vec<(&str, &str)> = outcome.passes.iter().map(|p| (p.transport, p.pacing)).collect();
    assert_eq!(shapes, [("http", "closed"), ("http", "open"), ("http", "sell-out")]);
    for pass in &outcome.passes {
        assert!(pass.figures.acked > 0, "{pass:?}");
        assert_eq!(pass.figures.error_count(), 0, "{pass:?}");
    }
    let sellout = &outcome.passes[2].figures;
    assert_eq!(sellout.acked_total, 12, "the sell-out sold its 12 units and no more");
    assert!(
        sellout.refused.contains_key("409 sold_out"),
        "then refused: {sellout:?}"
    );
    assert!(outcome.gates.len() >= 9, "{:?}", outcome.gates);
    let failed: Vec<_> = outcome.gates.iter().filter(|g| !g.passed).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

#[tokio::test]
async fn the_postgresql_row_lock_design_passes_every_gate() {
    a_short_flash_sale_passes_every_gate(Design::PgRowLock).await;
}

#[tokio::test]
async fn the_redis_lua_design_passes_every_gate() {
    a_short_flash_sale_passes_every_gate(Design::RedisLua).await;
}

#[tokio::test]
async fn the_echo_answers_every_order_and_has_no_gates() {
    let out = std::env::temp_dir().join(format!("livecart_load_echo_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&out).expect("a temp dir");
    let exe = Path::new(env!("CARGO_BIN_EXE_livecart-load"));
    let mut target = Target::peer(exe, Design::Echo, None, None, &out)
        .await
        .expect("the echo starts");
    let hot = target.prepare_hot(4).await.expect("tokens");
    let plan = flash::Plan {
        connections: vec![2],
        open_fraction: 0.5,
        sellout_stock: 10,
        timing: Timing {
            warm_up: Duration::ZERO,
            measure: Duration::from_millis(300),
            quiet: true,
        },
    };
    let outcome = flash::run(&mut target, &hot, &plan).await;
    target.close();
    let _ = std::fs::remove_dir_all(&out);
    let outcome = outcome.expect("the passes ran");
    assert_eq!(outcome.passes.len(), 2, "closed and open; no sell-out without storage");
    assert!(outcome
        .passes
        .iter()
        .all(|p| p.figures.acked > 0 && p.figures.error_count() == 0));
    assert!(outcome.gates.is_empty());
}
