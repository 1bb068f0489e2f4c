//! Structured logs through `tracing` (to stderr, so a command's output on stdout stays clean;
//! the filter comes from `RUST_LOG`, default `info`; plain text or JSON lines by `log.format`),
//! and the process's Prometheus recorder with a description of every metric.

use crate::gateway::metrics::{DURATION, REQUESTS};
use crate::settings::LogFormat;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::IsTerminal;
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat) {
    init_with_default("info", format);
}

/// As `init`, with another default level (the test suite keeps to warnings).
pub fn init_with_default(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    // A second init (tests start many apps) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour_wanted()).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}

/// Colour codes only for a person at a terminal: a file, a pipe or a collector gets plain text,
/// and `NO_COLOR` (https://no-color.org) turns colour off everywhere.
fn colour_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Bucket bounds, in seconds, of every `*_seconds` histogram: from half a millisecond (an order
/// decided in memory and committed in a batch) to ten seconds (a request past every deadline).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder; installed once even when tests start many apps.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Histograms named `*_seconds` are exported as Prometheus histograms (buckets), so
            // latencies can be aggregated across processes; the others stay summaries.
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); ours then stays empty.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe_metrics();
            }
            handle
        })
        .clone()
}

/// The Prometheus text of every metric, with the gauges that are read when asked (the actors'
/// mailbox depths) brought up to date first.
pub fn render(handle: &PrometheusHandle) -> String {
    for depth in livecart_actors::mailbox::depths() {
        metrics::gauge!(MAILBOX_DEPTH, "actor" => depth.actor()).set(depth.waiting() as f64);
    }
    handle.render()
}

const MAILBOX_DEPTH: &str = "livecart_actor_mailbox_depth";

/// The HELP line of every metric the server records. A metric shows once it has a value.
fn describe_metrics() {
    describe_counter!(REQUESTS, "HTTP requests answered, by method, route pattern and status");
    describe_histogram!(
        DURATION,
        Unit::Seconds,
        "HTTP request latency, by method and route pattern"
    );
    describe_counter!(
        "livecart_orders_placed_total",
        "Orders reserved and durable (HTTP and WebSocket)"
    );
    describe_counter!(
        "livecart_orders_refused_total",
        "Orders refused by a rule, by reason (sold_out, limit_exceeded, …)"
    );
    describe_counter!(
        "livecart_orders_timed_out_total",
        "Orders answered 503 because they were not durable within orders.deadline_ms"
    );
    describe_histogram!(
        "livecart_place_order_seconds",
        Unit::Seconds,
        "Time to decide an order and make it durable"
    );
    describe_gauge!(
        MAILBOX_DEPTH,
        Unit::Count,
        "Messages sent to actors of a kind (inventory: reservations; room: joins, leaves, chat, likes) and not yet handled"
    );
    describe_histogram!(
        "livecart_journal_commit_seconds",
        Unit::Seconds,
        "Time for the journal to write and commit one batch (one transaction), before the log is made durable"
    );
    describe_histogram!(
        "livecart_journal_sync_seconds",
        Unit::Seconds,
        "Time to make the log durable after the journal's commits (fdatasync on SQLite, a flush on PostgreSQL), before their batches are answered"
    );
    describe_histogram!(
        "livecart_journal_batches_per_sync",
        Unit::Count,
        "Journal batches answered by one sync of the log"
    );
    describe_gauge!(
        "livecart_outbox_lag_seconds",
        Unit::Seconds,
        "Age of the oldest event the outbox relay found unpublished on its last pass; 0 when it had caught up"
    );
    describe_histogram!(
        "livecart_sqlite_write_turn_seconds",
        Unit::Seconds,
        "SQLite only: time each writer of the process waited for the database's write turn, and held it, by holder (journal, snapshots, leases, checkpoint, writes) and phase (waited, held)"
    );
    describe_histogram!(
        "livecart_journal_batch_size",
        Unit::Count,
        "Entries committed together in one journal transaction"
    );
    describe_counter!(
        "livecart_journal_failed_batches_total",
        "Journal batches that did not commit (their waiters got 503)"
    );
    describe_counter!(
        "livecart_journal_overloaded_total",
        "Entries refused at once because the journal queue was full"
    );
    describe_counter!(
        "livecart_outbox_published_total",
        "Outbox events published to the event bus"
    );
    describe_counter!(
        "livecart_outbox_relay_restarts_total",
        "Restarts of the outbox relay by its supervisor"
    );
    describe_counter!("livecart_coupons_issued_total", "Coupons issued by room campaigns");
    describe_counter!(
        "livecart_coupons_revoked_total",
        "Coupons revoked because their order was cancelled or expired"
    );
    describe_counter!(
        "livecart_rate_limited_total",
        "Requests and connections refused with 429 by a rate limit or cap"
    );
    describe_counter!(
        "livecart_password_hashes_refused_total",
        "Registers and logins answered 503 because no hashing turn came in time"
    );
    describe_counter!(
        "livecart_rooms_restarted_total",
        "Room actors started again after they stopped"
    );
    describe_gauge!("livecart_ws_open", "Room WebSockets open now");
    describe_counter!("livecart_ws_connections_total", "Room WebSockets opened");
    describe_counter!(
        "livecart_ws_closed_total",
        "Room WebSockets closed by the server, by close code"
    );
    describe_counter!(
        "livecart_ws_frames_dropped_total",
        "Droppable frames (chat, likes) not queued to a slow viewer"
    );
    describe_counter!(
        "livecart_ws_frames_refused_total",
        "Must-deliver frames that could not be queued; the viewer is closed to resync"
    );
    describe_counter!(
        "livecart_ws_frames_rate_limited_total",
        "Client frames refused by the per-connection frame rate"
    );
    describe_counter!(
        "livecart_orders_expired_total",
        "Reservations expired unpaid at their deadline (their stock returned)"
    );
    describe_counter!(
        "livecart_payments_settled_total",
        "Payments confirmed by the provider, by outcome (paid, refunded)"
    );
    describe_counter!(
        "livecart_rooms_passivated_total",
        "Idle rooms stopped and left to be rebuilt on their next request"
    );
    describe_counter!(
        "livecart_snapshots_written_total",
        "Room and listing snapshots written behind"
    );
    describe_counter!(
        "livecart_snapshots_failed_total",
        "Room and listing snapshot writes that failed (Redis or SQL away); retried on a later tick"
    );
    describe_counter!(
        "livecart_listing_loads_total",
        "Listings started, by where their holdings came from: a current snapshot, or their orders"
    );
    describe_counter!(
        "livecart_listing_load_order_rows_total",
        "Order rows (per-buyer sums and reserved orders) read to rebuild listings without a current snapshot"
    );
    describe_counter!(
        "livecart_outbox_relay_failures_total",
        "Outbox relay batches that failed (storage or the bus away); retried with backoff"
    );
    describe_counter!(
        "livecart_stream_published_total",
        "Events added to the Redis event stream"
    );
    describe_counter!(
        "livecart_stream_publish_failures_total",
        "Relay batches the Redis event stream did not take; retried"
    );
    describe_counter!(
        "livecart_stream_entries_handled_total",
        "Stream entries handled and acknowledged by a consumer group"
    );
    describe_counter!(
        "livecart_stream_entries_claimed_total",
        "Stream entries claimed from a consumer that stopped before acknowledging"
    );
    describe_counter!(
        "livecart_stream_entries_lost_total",
        "Stream entries that vanished before a consumer handled them (trimmed)"
    );
    describe_counter!(
        "livecart_stream_entries_undecodable_total",
        "Stream entries that could not be read as events (acknowledged and skipped)"
    );
    describe_counter!(
        "livecart_stream_consumer_failures_total",
        "Stream consumer steps that failed, by stage; retried with backoff"
    );
}
