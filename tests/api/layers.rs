//! The layering rules, checked on the source: the application reaches storage only through its
//! ports, the gateway only through use cases, and the domain crate knows no storage or web crate.
//! A violation fails naming the file, the line and what it named.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Each `file:line: word` where a file under `dir` names one of `forbidden`.
fn violations(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let files = rust_files(&root);
    assert!(!files.is_empty(), "no Rust files under {}", root.display());
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            for word in forbidden.iter().filter(|w| line.contains(*w)) {
                found.push(format!(
                    "{dir}/{}:{}: {word}",
                    file.strip_prefix(&root).unwrap_or(&file).display(),
                    n + 1
                ));
            }
        }
    }
    found
}

#[test]
fn the_application_reaches_storage_only_through_its_ports() {
    let found = violations(
        "src/application",
        &["infrastructure", "diesel", "deadpool", "actix_web", "external::"],
    );
    assert!(
        found.is_empty(),
        "the application names an adapter or a driver:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_gateway_calls_use_cases_and_never_storage() {
    let found = violations("src/gateway", &["infrastructure", "diesel", "deadpool", ".storage"]);
    assert!(
        found.is_empty(),
        "the gateway reaches past the use cases:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_domain_crate_knows_no_storage_or_web_crate() {
    let found = violations(
        "actors/src",
        &["diesel", "redis", "deadpool", "actix_web", "actix-web", "livecart::"],
    );
    assert!(
        found.is_empty(),
        "the domain names a storage or web crate:\n{}",
        found.join("\n")
    );
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/Cargo.toml"))
        .expect("actors/Cargo.toml");
    let dependencies: Vec<&str> = manifest
        .lines()
        .skip_while(|l| l.trim() != "[dependencies]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split('=').next().map(str::trim))
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect();
    for crate_name in ["diesel", "redis", "deadpool-redis", "actix-web", "actix-ws"] {
        assert!(
            !dependencies.contains(&crate_name),
            "actors/Cargo.toml depends on {crate_name}"
        );
    }
}
