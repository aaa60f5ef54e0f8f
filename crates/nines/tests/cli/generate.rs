//! `nines generate prometheus` end to end: every Sloth conformance case, in both rule
//! styles, with the output checked by the real `promtool`.

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

/// One stretch of steady traffic.
struct Phase {
    minutes: u32,
    requests_per_second: f64,
    error_ratio: f64,
}

/// Quiet hours with a high error ratio: 8h a day at 200 req/s with 0.02% errors, 16h at 2 req/s
/// with 1% errors (a flaky batch client at night, say).
fn quiet_hours(days: u32) -> Vec<Phase> {
    (0..days)
        .flat_map(|_| {
            [
                Phase {
                    minutes: 8 * 60,
                    requests_per_second: 200.0,
                    error_ratio: 0.0002,
                },
                Phase {
                    minutes: 16 * 60,
                    requests_per_second: 2.0,
                    error_ratio: 0.01,
                },
            ]
        })
        .collect()
}

/// A daily 2h peak at 1000 req/s, 10 req/s otherwise, 0.05% errors, except one 2% incident
/// during the peak of `incident_day`.
fn peak_incident(days: u32, incident_day: u32) -> Vec<Phase> {
    (0..days)
        .flat_map(|day| {
            let peak_errors = if day == incident_day { 0.02 } else { 0.0005 };
            [
                Phase {
                    minutes: 2 * 60,
                    requests_per_second: 1000.0,
                    error_ratio: peak_errors,
                },
                Phase {
                    minutes: 22 * 60,
                    requests_per_second: 10.0,
                    error_ratio: 0.0005,
                },
            ]
        })
        .collect()
}

/// A counter sampled every minute, in promtool's expanding notation.
fn counter_values(phases: &[Phase], errors: bool) -> String {
    let mut value = 0.0_f64;
    let mut parts = vec!["0".to_string()];
    for phase in phases {
        let share = if errors {
            phase.error_ratio
        } else {
            1.0 - phase.error_ratio
        };
        let per_minute = phase.requests_per_second * 60.0 * share;
        parts.push(format!(
            "{}+{}x{}",
            value + per_minute,
            per_minute,
            phase.minutes - 1
        ));
        value += per_minute * f64::from(phase.minutes);
    }
    parts.join(" ")
}

/// Errors over requests: the true error ratio of the period.
fn traffic_weighted_ratio(phases: &[Phase]) -> f64 {
    let requests = |phase: &Phase| phase.requests_per_second * f64::from(phase.minutes);
    let errors: f64 = phases
        .iter()
        .map(|phase| requests(phase) * phase.error_ratio)
        .sum();
    errors / phases.iter().map(requests).sum::<f64>()
}

/// The mean of the error ratio over time, each 5-minute bucket weighing the same.
fn time_averaged_ratio(phases: &[Phase]) -> f64 {
    let minutes: f64 = phases.iter().map(|phase| f64::from(phase.minutes)).sum();
    phases
        .iter()
        .map(|phase| f64::from(phase.minutes) * phase.error_ratio)
        .sum::<f64>()
        / minutes
}

/// The period ratio each style records on spiky traffic, checked by `promtool test rules`
/// against the ratio it should be: the exact style gives the true, traffic-weighted ratio;
/// Sloth's gives the time average of 5-minute ratios. A 7-day period keeps promtool quick
/// (the bias does not depend on the period's length). docs/rule-styles.md shows the numbers.
#[test]
fn rule_styles_differ_on_spiky_traffic_in_promtool() {
    let Some(promtool) = promtool() else { return };
    let folder = scratch("styles");
    let spec = r#"version: prometheus/v1
service: shop
slos:
  - name: quiet-hours
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="quiet",code="500"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="quiet"}[{{.window}}]))
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
  - name: peak-incident
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="peak",code="500"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="peak"}[{{.window}}]))
    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
"#;
    std::fs::write(folder.join("spec.yaml"), spec).expect("spec");
    let days = 7;
    let scenarios = [
        ("quiet-hours", "quiet", quiet_hours(days)),
        ("peak-incident", "peak", peak_incident(days, 4)),
    ];
    let mut series = String::new();
    for (_, job, phases) in &scenarios {
        for (code, errors) in [("200", false), ("500", true)] {
            series.push_str(&format!(
                "      - series: 'http_requests_total{{job=\"{job}\",code=\"{code}\"}}'\n        values: '{}'\n",
                counter_values(phases, errors)
            ));
        }
    }
    let mut runs = Vec::new();
    for style in ["sloth", "exact"] {
        let rules = folder.join(format!("rules-{style}.yaml"));
        let run = Command::new(NINES)
            .args([
                "generate",
                "prometheus",
                "--default-slo-period",
                "7d",
                "--slo-period-windows-path",
            ])
            .arg(conformance("sloth/windows"))
            .arg("-i")
            .arg(folder.join("spec.yaml"))
            .arg("-o")
            .arg(&rules)
            .args(["--style", style])
            .output()
            .expect("nines runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let mut checks = String::new();
        for (slo, _, phases) in &scenarios {
            let ratio = if style == "exact" {
                traffic_weighted_ratio(phases)
            } else {
                time_averaged_ratio(phases)
            };
            // Only the period ratio: Sloth's budget-remaining rules sit in another group, which
            // one run evaluated before the period ratio's group at the same instant (a stale read).
            checks.push_str(&format!(
                "      - expr: count(abs(slo:sli_error:ratio_rate1w{{sloth_slo=\"{slo}\"}} - {ratio:e}) < 1e-9)\n        eval_time: {days}d\n        exp_samples: [{{labels: '{{}}', value: 1}}]\n"
            ));
        }
        let test = format!(
            "rule_files: [{}]\nevaluation_interval: 5m\ntests:\n  - interval: 1m\n    input_series:\n{series}    promql_expr_test:\n{checks}",
            rules.display()
        );
        let test_file = folder.join(format!("test-{style}.yaml"));
        std::fs::write(&test_file, test).expect("promtool test file");
        let promtool = promtool.clone();
        runs.push((
            style,
            std::thread::spawn(move || {
                Command::new(promtool)
                    .args(["test", "rules"])
                    .arg(test_file)
                    .output()
            }),
        ));
    }
    let mut failures = Vec::new();
    for (style, run) in runs {
        let output = run.join().expect("promtool thread").expect("promtool runs");
        if !output.status.success() {
            failures.push(format!(
                "{style}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The bias itself: Sloth's period ratio is 17 times too high on quiet hours and 4 times too
    // low on the peak incident.
    let quiet = quiet_hours(days);
    let peak = peak_incident(days, 4);
    assert!(time_averaged_ratio(&quiet) / traffic_weighted_ratio(&quiet) > 17.0);
    assert!(traffic_weighted_ratio(&peak) / time_averaged_ratio(&peak) > 4.0);
}

#[test]
fn generate_prometheus_covers_the_native_examples_and_passes_promtool() {
    let folder = scratch("native");
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for style in ["sloth", "exact"] {
        let out = folder.join(format!("native-{style}.yaml"));
        let run = Command::new(NINES)
            .args(["generate", "prometheus", "-i"])
            .arg(&examples)
            .arg("-o")
            .arg(&out)
            .args(["--style", style])
            .output()
            .expect("nines runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = std::fs::read_to_string(&out).unwrap();
        // Counter selectors become rates; the latency SLI counts its threshold bucket.
        assert!(
            text.contains(r#"http_requests_total{job="checkout",code=~"5.."}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_bucket{job="checkout",le="0.3"}"#),
            "{text}"
        );
        assert!(text.contains("alert: CheckoutLatencyBudgetBurn"), "{text}");
        assert!(
            text.contains("runbook_url: https://runbooks.example.com/checkout-latency"),
            "{text}"
        );
        if let Some(promtool) = promtool() {
            let files = rule_files(&out, &folder, &format!("native-{style}"));
            let check = Command::new(&promtool)
                .args(["check", "rules"])
                .args(&files)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}",
                String::from_utf8_lossy(&check.stdout)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
}
