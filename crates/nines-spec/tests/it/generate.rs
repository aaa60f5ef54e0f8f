//! Tests of rule generation: every case of Sloth's integration suite, compared by meaning
//! (parsed YAML, PromQL ASTs, floats within 1e-9), and the shape of the exact style.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nines_core::Span;
use nines_spec::generate::{self, GenerateOptions, RuleStyle};
use nines_spec::{LoadOptions, load};
use promql_parser::parser::{self, Expr};
use yaml_serde::Value;

use crate::support::conformance;

/// Labels whose values name the generator rather than the rules.
const IGNORED_LABELS: [&str; 3] = ["sloth_version", "sloth_mode", "cmd"];

struct Case {
    input: &'static str,
    flags: &'static str,
    expected: &'static str,
}

/// The table of `shared/conformance/README.md`.
const CASES: &[Case] = &[
    Case {
        input: "in-base.yaml",
        flags: "",
        expected: "out-base.yaml.tpl",
    },
    Case {
        input: "in-base-k8s.yaml",
        flags: "",
        expected: "out-base-k8s.yaml.tpl",
    },
    Case {
        input: "in-base.yaml",
        flags: "--disable-alerts",
        expected: "out-base-no-alerts.yaml.tpl",
    },
    Case {
        input: "in-base.yaml",
        flags: "--disable-recordings",
        expected: "out-base-no-recordings.yaml.tpl",
    },
    Case {
        input: "in-base.yaml",
        flags: "-l exk1=exv1 -l exk2=exv2",
        expected: "out-base-extra-labels.yaml.tpl",
    },
    Case {
        input: "in-multifile.yaml",
        flags: "",
        expected: "out-multifile.yaml.tpl",
    },
    Case {
        input: "in-multifile-k8s.yaml",
        flags: "",
        expected: "out-multifile-k8s.yaml.tpl",
    },
    Case {
        input: "in-openslo.yaml",
        flags: "",
        expected: "out-openslo.yaml.tpl",
    },
    Case {
        input: "in-base.yaml",
        flags: "--default-slo-period 28d",
        expected: "out-base-28d.yaml.tpl",
    },
    Case {
        input: "in-base.yaml",
        flags: "--default-slo-period 7d --windows",
        expected: "out-base-custom-windows-7d.yaml.tpl",
    },
];

/// Load and generate options from a case's flags.
fn options(flags: &str) -> (LoadOptions, GenerateOptions) {
    let mut load_options = LoadOptions::default();
    let mut generate_options = GenerateOptions::default();
    let mut words = flags.split_whitespace();
    while let Some(flag) = words.next() {
        match flag {
            "--disable-alerts" => generate_options.disable_alerts = true,
            "--disable-recordings" => generate_options.disable_recordings = true,
            "-l" => {
                let pair = words.next().expect("-l takes key=value");
                let (key, value) = pair.split_once('=').expect("key=value");
                generate_options
                    .extra_labels
                    .insert(key.to_string(), value.to_string());
            }
            "--default-slo-period" => {
                load_options.default_period =
                    Span::parse(words.next().expect("a period")).expect("valid period");
            }
            "--windows" => {
                load_options.alert_windows =
                    nines_spec::sloth::load_alert_windows(&conformance("sloth/windows"))
                        .expect("7d windows");
            }
            other => panic!("unknown flag {other}"),
        }
    }
    (load_options, generate_options)
}

fn generate_case(input: &PathBuf, flags: &str, style: RuleStyle) -> String {
    let (load_options, mut generate_options) = options(flags);
    generate_options.style = style;
    let loaded = load(std::slice::from_ref(input), &load_options);
    assert!(!loaded.report.has_errors(), "{}", loaded.report);
    let generated = generate::generate(&loaded.catalog, &generate_options).expect("rules");
    generate::to_yaml(&generated.files, &generate_options).expect("yaml")
}

/// Renders Sloth's test template: its escaped `{{` and the version placeholder.
fn render_template(text: &str) -> String {
    text.replace("{{\"{{", "{{")
        .replace("}}\"}}", "}}")
        .replace("{{ .version }}", "VERSION")
}

fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    yaml_serde::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).expect("valid YAML"))
        .filter(|value| !value.is_null())
        .collect()
}

/// Strips parentheses (the tree already holds precedence) and rounds numbers to 1e-9.
fn normalize(expr: Expr) -> Expr {
    let boxed = |expr: Box<Expr>| Box::new(normalize(*expr));
    match expr {
        Expr::Paren(paren) => normalize(*paren.expr),
        Expr::NumberLiteral(mut number) => {
            number.val = (number.val * 1e9).round() / 1e9;
            Expr::NumberLiteral(number)
        }
        Expr::Aggregate(mut aggregate) => {
            aggregate.expr = boxed(aggregate.expr);
            aggregate.param = aggregate.param.map(boxed);
            Expr::Aggregate(aggregate)
        }
        Expr::Unary(mut unary) => {
            unary.expr = boxed(unary.expr);
            Expr::Unary(unary)
        }
        Expr::Binary(mut binary) => {
            binary.lhs = boxed(binary.lhs);
            binary.rhs = boxed(binary.rhs);
            Expr::Binary(binary)
        }
        Expr::Subquery(mut subquery) => {
            subquery.expr = boxed(subquery.expr);
            Expr::Subquery(subquery)
        }
        Expr::Call(mut call) => {
            call.args.args = call.args.args.into_iter().map(boxed).collect();
            Expr::Call(call)
        }
        other => other,
    }
}

fn meaning(expr: &str) -> String {
    let parsed = parser::parse(expr).unwrap_or_else(|err| panic!("invalid PromQL {expr:?}: {err}"));
    format!("{:?}", normalize(parsed))
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Mapping(mapping)) = value else {
        return BTreeMap::new();
    };
    mapping
        .iter()
        .filter_map(|(key, value)| {
            let key = key.as_str()?.to_string();
            let value = match value {
                Value::String(text) => text.clone(),
                other => yaml_serde::to_string(other).ok()?.trim().to_string(),
            };
            (!IGNORED_LABELS.contains(&key.as_str())).then_some((key, value))
        })
        .collect()
}

/// Every difference between two rule groups lists, each naming the place.
fn compare_groups(place: &str, got: &Value, want: &Value, differences: &mut Vec<String>) {
    let (Some(got), Some(want)) = (got.as_sequence(), want.as_sequence()) else {
        differences.push(format!("{place}: groups missing"));
        return;
    };
    let names = |groups: &[Value]| -> Vec<String> {
        groups
            .iter()
            .map(|group| group["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    if names(got) != names(want) {
        differences.push(format!(
            "{place}: groups {:?} != {:?}",
            names(got),
            names(want)
        ));
        return;
    }
    for (got_group, want_group) in got.iter().zip(want) {
        let group = format!(
            "{place}/{}",
            want_group["name"].as_str().unwrap_or_default()
        );
        if got_group.get("interval") != want_group.get("interval") {
            differences.push(format!("{group}: interval differs"));
        }
        let (Some(got_rules), Some(want_rules)) = (
            got_group["rules"].as_sequence(),
            want_group["rules"].as_sequence(),
        ) else {
            differences.push(format!("{group}: rules missing"));
            continue;
        };
        if got_rules.len() != want_rules.len() {
            differences.push(format!(
                "{group}: {} rules != {}",
                got_rules.len(),
                want_rules.len()
            ));
            continue;
        }
        for (index, (got_rule, want_rule)) in got_rules.iter().zip(want_rules).enumerate() {
            let rule = format!("{group}/rules[{index}]");
            for key in ["record", "alert"] {
                if got_rule.get(key) != want_rule.get(key) {
                    differences.push(format!(
                        "{rule}: {key} {:?} != {:?}",
                        got_rule.get(key),
                        want_rule.get(key)
                    ));
                }
            }
            for key in ["labels", "annotations"] {
                let (got_map, want_map) = (
                    string_map(got_rule.get(key)),
                    string_map(want_rule.get(key)),
                );
                if got_map != want_map {
                    differences.push(format!("{rule}: {key} {got_map:?} != {want_map:?}"));
                }
            }
            let got_expr = got_rule["expr"].as_str().unwrap_or_default();
            let want_expr = want_rule["expr"].as_str().unwrap_or_default();
            if meaning(got_expr) != meaning(want_expr) {
                differences.push(format!("{rule}: expr\n{got_expr}\n!=\n{want_expr}"));
            }
        }
    }
}

fn compare_documents(case: &str, got: &str, want: &str) -> Vec<String> {
    let (got, want) = (documents(got), documents(&render_template(want)));
    let mut differences = Vec::new();
    if got.len() != want.len() {
        return vec![format!("{case}: {} documents != {}", got.len(), want.len())];
    }
    for (index, (got, want)) in got.iter().zip(&want).enumerate() {
        let place = format!("{case}[{index}]");
        if want.get("kind").is_some() {
            for key in ["apiVersion", "kind", "metadata"] {
                if got.get(key) != want.get(key) {
                    differences.push(format!(
                        "{place}: {key} {:?} != {:?}",
                        got.get(key),
                        want.get(key)
                    ));
                }
            }
            compare_groups(
                &place,
                &got["spec"]["groups"],
                &want["spec"]["groups"],
                &mut differences,
            );
        } else {
            compare_groups(&place, &got["groups"], &want["groups"], &mut differences);
        }
    }
    differences
}

#[test]
fn generate_matches_every_sloth_conformance_case() {
    let mut differences = Vec::new();
    for case in CASES {
        let name = format!("{} {} -> {}", case.input, case.flags, case.expected);
        let got = generate_case(
            &conformance("sloth/testdata").join(case.input),
            case.flags,
            RuleStyle::Sloth,
        );
        let want = std::fs::read_to_string(conformance("sloth/testdata").join(case.expected))
            .expect("expected output");
        differences.extend(compare_documents(&name, &got, &want));
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn generate_comparison_catches_a_changed_rule() {
    let want = std::fs::read_to_string(conformance("sloth/testdata/out-base.yaml.tpl"))
        .expect("expected output");
    let got = render_template(&want);
    assert!(compare_documents("same", &got, &want).is_empty());
    for (from, to) in [
        ("(14.4 * ", "(14.5 * "),
        ("sloth_window: 6h", "sloth_window: 7h"),
        ("[30m]", "[31m]"),
        ("alert04v1", "x"),
    ] {
        let changed = got.replacen(from, to, 1);
        assert!(
            !compare_documents("changed", &changed, &want).is_empty(),
            "{from} -> {to} must be caught"
        );
    }
}

#[test]
fn generate_refuses_sli_plugins() {
    let text = "version: prometheus/v1\nservice: svc\nslos:\n  - name: ab\n    objective: 99\n    sli: {plugin: {id: sloth-common/availability}}\n    alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}\n";
    let loaded = nines_spec::load_texts(
        &[("spec.yaml".to_string(), text.to_string())],
        &LoadOptions::default(),
    );
    assert!(!loaded.report.has_errors());
    let report = generate::generate(&loaded.catalog, &GenerateOptions::default())
        .expect_err("plugins cannot be generated");
    let messages: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "SLO \"svc-ab\": cannot generate rules for SLI plugin \"sloth-common/availability\": nines cannot run Sloth plugins; write the queries under sli.events or sli.raw"
        ]
    );
}

#[test]
fn generate_exact_style_sums_buckets() {
    let text = generate_case(
        &conformance("sloth/testdata/in-base.yaml"),
        "",
        RuleStyle::Exact,
    );
    let documents = documents(&text);
    let groups = documents[0]["groups"].as_sequence().expect("groups");
    let summary: Vec<(String, Option<String>, usize)> = groups
        .iter()
        .map(|group| {
            (
                group["name"].as_str().unwrap_or_default().to_string(),
                group
                    .get("interval")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                group["rules"]
                    .as_sequence()
                    .map(Vec::len)
                    .unwrap_or_default(),
            )
        })
        .collect();
    // slo1 (events): one 5m group with 2 counts, 8 windows, 7 meta and 2 alerts; slo02 (raw) falls
    // back to Sloth's three groups without alerts.
    assert_eq!(
        summary,
        [
            (
                "nines-slo-exact-svc01-slo1".to_string(),
                Some("5m".to_string()),
                19
            ),
            ("sloth-slo-sli-recordings-svc01-slo02".to_string(), None, 8),
            ("sloth-slo-meta-recordings-svc01-slo02".to_string(), None, 7),
        ]
    );
    let rules = groups[0]["rules"].as_sequence().expect("rules");
    let by_record = |name: &str| {
        rules
            .iter()
            .find(|rule| rule["record"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    let filter = "{sloth_id=\"svc01-slo1\", sloth_service=\"svc01\", sloth_slo=\"slo1\"}";
    let expected = [
        (
            "slo:sli_error_events:increase5m",
            "(sum(rate(http_request_duration_seconds_count{job=\"myservice\",code=~\"(5..|429)\"}[5m]))) * 300",
        ),
        (
            "slo:sli_total_events:increase5m",
            "(sum(rate(http_request_duration_seconds_count{job=\"myservice\"}[5m]))) * 300",
        ),
        (
            "slo:sli_error:ratio_rate30d",
            &format!(
                "sum_over_time(slo:sli_error_events:increase5m{filter}[29d23h59m59s]) / ignoring (sloth_window) sum_over_time(slo:sli_total_events:increase5m{filter}[29d23h59m59s])"
            ),
        ),
        (
            "slo:sli_error:ratio_rate1h",
            &format!(
                "sum_over_time(slo:sli_error_events:increase5m{filter}[59m59s]) / ignoring (sloth_window) sum_over_time(slo:sli_total_events:increase5m{filter}[59m59s])"
            ),
        ),
    ];
    for (record, expr) in expected {
        let rule = by_record(record);
        assert_eq!(
            meaning(rule["expr"].as_str().unwrap_or_default()),
            meaning(expr),
            "{record}"
        );
    }
    assert_eq!(
        by_record("slo:sli_error:ratio_rate30d")["labels"]["sloth_window"].as_str(),
        Some("30d")
    );
    let alert_exprs: Vec<&str> = rules
        .iter()
        .filter(|rule| rule.get("alert").is_some())
        .filter_map(|rule| rule["expr"].as_str())
        .collect();
    assert_eq!(alert_exprs.len(), 2);
    assert!(
        alert_exprs[0].contains("slo:sli_error:ratio_rate5m")
            && alert_exprs[0].contains("(14.4 * 0.001)")
    );
}
