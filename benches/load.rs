//! `cargo bench --bench load -- [OPTIONS]`: the load tool (`load/`, also the `livecart-load`
//! binary) with the livecart binary this bench build made, so a plain `cargo bench --bench load`
//! measures the current commit. `livecart-load --help` (or `-- --help` here) lists the options;
//! docs/BENCHMARKS.md says what each figure means.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // cargo passes `--bench` to every bench binary; the tool's options are the rest.
    let args = std::env::args().filter(|a| a != "--bench");
    livecart_load::main_with(args, Some(PathBuf::from(env!("CARGO_BIN_EXE_livecart"))))
}
