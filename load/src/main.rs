//! `livecart-load`: see `lib.rs` and `livecart-load --help`.

fn main() -> std::process::ExitCode {
    livecart_load::main_with(std::env::args(), None)
}
