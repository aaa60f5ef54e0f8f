//! Repository checks that run inside `cargo test`: layering of the crates, file headers,
//! forbidden test attributes, formatting.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(folder: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The crates in dependency order: each may depend only on crates before it.
const LAYERS: [&str; 5] = [
    "nines-core",
    "nines-spec",
    "nines-store",
    "nines-server",
    "nines",
];

#[test]
fn crates_depend_only_down_the_layers() {
    for (rank, name) in LAYERS.iter().enumerate() {
        let manifest = root().join("crates").join(name).join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let dependencies = text.split("[dependencies]").nth(1).unwrap_or("");
        let dependencies = dependencies.split("\n[").next().unwrap_or("");
        for line in dependencies.lines() {
            let dependency = line.split(['=', '.', ' ']).next().unwrap_or("").trim();
            if let Some(dep_rank) = LAYERS.iter().position(|layer| *layer == dependency) {
                assert!(
                    dep_rank < rank,
                    "{name} depends on {dependency}, against the layering in ARCHITECTURE.md"
                );
            }
        }
    }
}

#[test]
fn the_core_stays_pure() {
    let manifest = std::fs::read_to_string(root().join("crates/nines-core/Cargo.toml")).unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let names: Vec<&str> = dependencies
        .lines()
        .filter_map(|line| line.split(['=', '.', ' ']).next())
        .filter(|name| !name.is_empty())
        .collect();
    assert_eq!(
        names,
        ["jiff", "thiserror", "regex"],
        "nines-core takes no IO, async or serde dependencies (regex: label matchers)"
    );
    let mut files = Vec::new();
    rust_files(&root().join("crates/nines-core/src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in [
            "Timestamp::now",
            "SystemTime::now",
            "Instant::now",
            "std::fs",
            "std::net",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: the core reads no clock and does no IO",
                file.display()
            );
        }
    }
}

#[test]
fn every_file_says_what_it_owns_and_no_test_is_switched_off() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    assert!(files.len() > 10);
    let ignore = ["#[", "ignore]"].concat();
    let should_panic = ["#[", "should_panic"].concat();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} must open with a `//!` line saying what it owns",
            file.display()
        );
        assert!(
            !text.contains(&ignore),
            "{} switches a test off",
            file.display()
        );
        assert!(
            !text.contains(&should_panic),
            "{} expects a panic; test the error instead",
            file.display()
        );
    }
}

#[test]
fn code_is_formatted() {
    let output = Command::new("cargo")
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(root())
        .output();
    match output {
        Ok(output) => assert!(
            output.status.success(),
            "cargo fmt --check found unformatted code:\n{}",
            String::from_utf8_lossy(&output.stdout)
        ),
        Err(err) => panic!("cannot run cargo fmt: {err}"),
    }
}
