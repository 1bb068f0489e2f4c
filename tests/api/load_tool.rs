//! The load tool (`load/`, `livecart-load`) against a test server: a short run with small
//! numbers, through the public API only (`--url`), whose correctness gates must pass and whose
//! JSON report must be written. Its speed figures are not checked here: that is `cargo bench`.

use crate::helpers::*;
use serde_json::Value;

on_both_backends! {
    async fn a_short_load_run_passes_its_gates_and_writes_its_report(backend) {
        let app = spawn_app(backend).await;
        let out = std::env::temp_dir().join(format!("livecart_load_test_{}", uuid::Uuid::new_v4().simple()));
        let args: Vec<String> = [
            "livecart-load", "--url", &app.api.address, "--no-peers",
            // The server runs in this process: its memory and CPU time are this process's.
            "--server-pid", &std::process::id().to_string(),
            "--connections", "4", "--seconds", "1", "--warm-up", "0.2", "--buyers", "6",
            "--sellout-stock", "10", "--viewers", "5", "--chat-rate", "20", "--idle-viewers", "5",
            "--client-threads", "1", "--quiet", "--out", out.to_str().expect("a UTF-8 temp dir"),
        ]
        .map(String::from)
        .to_vec();
        // The tool blocks on a runtime of its own; the app keeps serving on this test's runtime.
        let code = actix_web::rt::task::spawn_blocking(move || livecart_load::run_with(args, None))
            .await
            .expect("the tool ran");
        assert_eq!(code, livecart_load::PASSED, "the tool's gates pass (its table is in the test's output)");

        let report: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("the JSON report is written"))
            .expect("the report is JSON");
        assert_eq!(report["gates_passed"], true);
        let target = &report["targets"][0];
        let passes = target["passes"].as_array().expect("passes");
        let shapes: Vec<(&str, &str)> = passes
            .iter()
            .map(|p| (p["transport"].as_str().unwrap_or("?"), p["pacing"].as_str().unwrap_or("?")))
            .collect();
        assert_eq!(
            shapes,
            [("http", "closed"), ("http", "open"), ("ws", "closed"), ("ws", "open"), ("http", "sell-out")]
        );
        for pass in passes {
            assert!(pass["acked"].as_u64() > Some(0), "every pass had orders acknowledged: {pass}");
            // A 503 acknowledges nothing (the contract allows it under load; the gates still count
            // every unit); any other error is the tool's or the server's fault.
            let errors = pass["errors"].as_object().expect("errors by code");
            assert!(errors.keys().all(|code| code == "503 unavailable"), "errors: {pass}");
        }
        let gates = target["gates"].as_array().expect("gates");
        assert!(gates.len() >= 8, "the hot listing's and the sell-out's gates: {gates:?}");
        assert!(gates.iter().all(|g| g["passed"] == true), "{gates:?}");
        assert!(report["fanout"]["latency"]["acked_total"].as_u64() > Some(0), "fan-out frames were timed");
        assert_eq!(report["idle"]["connected"], 5);
        for plot in ["throughput-4.svg", "latency-4.svg", "fanout.svg"] {
            let svg = std::fs::read_to_string(out.join(plot)).expect("the plot is written");
            assert!(svg.starts_with("<svg"), "{plot} is an SVG");
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}
