//! Integration tests of the nines binary: `nines generate prometheus` on every Sloth
//! conformance case, in both rule styles, with the output checked by the real `promtool`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use yaml_serde::{Mapping, Value};

const NINES: &str = env!("CARGO_BIN_EXE_nines");

fn conformance(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance")
        .join(relative)
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("nines-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("scratch folder");
    folder
}

/// `promtool`, or `None` (with a loud notice) when it is missing outside CI.
fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|folder| folder.join("promtool"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool not found on PATH, and CI=true requires it"
        );
        eprintln!(
            "\n\n==== SKIPPED: promtool not found on PATH; the generated rules were not checked ====\n\n"
        );
    }
    found
}

/// (input, flags) of the conformance table, flags as given to the binary.
fn cases() -> Vec<(&'static str, Vec<String>)> {
    let windows = conformance("sloth/windows").display().to_string();
    let flags = |text: &str| {
        text.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    vec![
        ("in-base.yaml", flags("")),
        ("in-base-k8s.yaml", flags("")),
        ("in-base.yaml", flags("--disable-alerts")),
        ("in-base.yaml", flags("--disable-recordings")),
        ("in-base.yaml", flags("-l exk1=exv1 -l exk2=exv2")),
        ("in-multifile.yaml", flags("")),
        ("in-multifile-k8s.yaml", flags("")),
        ("in-openslo.yaml", flags("")),
        ("in-base.yaml", flags("--default-slo-period 28d")),
        (
            "in-base.yaml",
            flags(&format!(
                "--default-slo-period 7d --slo-period-windows-path {windows}"
            )),
        ),
    ]
}

fn generate(input: &str, flags: &[String], style: &str, out: &Path) -> std::process::Output {
    Command::new(NINES)
        .args(["generate", "prometheus", "-i"])
        .arg(conformance("sloth/testdata").join(input))
        .arg("-o")
        .arg(out)
        .args(["--style", style])
        .args(flags)
        .output()
        .expect("nines runs")
}

/// Splits a generated file into plain rule files, one per document; a `PrometheusRule`
/// object gives its `spec`.
fn rule_files(generated: &Path, folder: &Path, stem: &str) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(generated).expect("generated file");
    let mut files = Vec::new();
    for (index, document) in yaml_serde::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(document).expect("generated YAML parses");
        if value.is_null() {
            continue;
        }
        let groups = match value.get("kind").and_then(Value::as_str) {
            Some("PrometheusRule") => value["spec"].clone(),
            _ => value,
        };
        let mut plain = Mapping::new();
        plain.insert(Value::from("groups"), groups["groups"].clone());
        let file = folder.join(format!("{stem}-{index}.yaml"));
        std::fs::write(&file, yaml_serde::to_string(&plain).expect("yaml"))
            .expect("write rule file");
        files.push(file);
    }
    files
}

#[test]
fn generate_prometheus_passes_promtool_for_every_case_and_style() {
    let Some(promtool) = promtool() else { return };
    let folder = scratch("promtool");
    let mut failures = Vec::new();
    for (index, (input, flags)) in cases().iter().enumerate() {
        for style in ["sloth", "exact"] {
            let case = format!("{input} {} --style {style}", flags.join(" "));
            let out = folder.join(format!("case-{index}-{style}.yaml"));
            let run = generate(input, flags, style, &out);
            if !run.status.success() {
                failures.push(format!(
                    "{case}: nines failed: {}",
                    String::from_utf8_lossy(&run.stderr)
                ));
                continue;
            }
            let files = rule_files(&out, &folder, &format!("case-{index}-{style}"));
            assert!(!files.is_empty(), "{case}: no documents");
            let check = Command::new(&promtool)
                .args(["check", "rules"])
                .args(&files)
                .output()
                .expect("promtool runs");
            if !check.status.success() {
                failures.push(format!(
                    "{case}: promtool check rules failed:\n{}{}",
                    String::from_utf8_lossy(&check.stdout),
                    String::from_utf8_lossy(&check.stderr)
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn generate_prometheus_refuses_an_invalid_spec_and_writes_nothing() {
    let folder = scratch("invalid");
    let out = folder.join("out.yaml");
    let run = generate("in-invalid-version.yaml", &[], "sloth", &out);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(!out.exists(), "no output is written");
    assert!(
        stderr.contains(
            "in-invalid-version.yaml:1:1: error: version: unsupported version \"prometheus/v999\""
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 errors, 0 warnings: no rules written"),
        "{stderr}"
    );
}

#[test]
fn generate_prometheus_rejects_bad_extra_labels() {
    let folder = scratch("labels");
    let run = generate(
        "in-base.yaml",
        &["-l".to_string(), "bad-key=x".to_string()],
        "sloth",
        &folder.join("out.yaml"),
    );
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "error: -l \"bad-key=x\": \"bad-key\" is not a valid Prometheus label name\n"
    );
}
