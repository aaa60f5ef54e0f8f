//! Tests of the sloth reader: Sloth's own validation cases, inline cases for each check, alert
//! windows, and what a spec becomes.

use std::path::PathBuf;

use nines_core::{Severity, Span};
use nines_spec::{Level, LoadOptions, Sli, load, load_texts};

use crate::support::conformance;

/// Every diagnostic, as `level line:path: message` with the file left out.
fn render(report: &nines_spec::Report) -> Vec<String> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            let level = if d.level == Level::Error {
                "error"
            } else {
                "warning"
            };
            format!("{level} {}:{}: {}", d.line, d.path, d.message)
        })
        .collect()
}

fn diagnostics(paths: &[PathBuf], options: &LoadOptions) -> Vec<String> {
    render(&load(paths, options).report)
}

const IGNORED_PAGE_ALERT: &str = "warning 21:slos[0].alerting.pageAlert: `pageAlert` is ignored: Sloth reads `page_alert` in prometheus/v1 specs, so these alert settings have no effect";
const IGNORED_TICKET_ALERT: &str = "warning 24:slos[0].alerting.ticketAlert: `ticketAlert` is ignored: Sloth reads `ticket_alert` in prometheus/v1 specs, so these alert settings have no effect";

#[test]
fn sloth_good_specs_load_without_errors() {
    let expected: &[(&str, &[&str])] = &[
        ("good-aa.yaml", &[IGNORED_PAGE_ALERT, IGNORED_TICKET_ALERT]),
        ("good-ab.yaml", &[IGNORED_PAGE_ALERT, IGNORED_TICKET_ALERT]),
        ("good-ba.yaml", &[IGNORED_PAGE_ALERT, IGNORED_TICKET_ALERT]),
        ("good-k8s.yaml", &[]),
        ("good-multi-k8s.yaml", &[]),
        ("good-multi.yaml", &[]),
        ("good-openslo.yaml", &[]),
    ];
    let folder = conformance("sloth/testdata/validate/good");
    let mut on_disk: Vec<String> = std::fs::read_dir(&folder)
        .expect("conformance folder")
        .filter_map(|entry| {
            entry
                .ok()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = expected.iter().map(|(file, _)| *file).collect();
    assert_eq!(on_disk, listed, "every good case is listed");
    for (file, want) in expected {
        let loaded = load(&[folder.join(file)], &LoadOptions::default());
        assert_eq!(render(&loaded.report), *want, "{file}");
        assert!(!loaded.catalog.slos.is_empty(), "{file} has SLOs");
    }
}

#[test]
fn sloth_bad_specs_are_rejected_saying_why() {
    let objective_101 = "error 28:slos[1].objective: objective 101 is out of range: it is a percentage above 0 and at most 100";
    let expected: &[(&str, &[&str])] = &[
        (
            "validate/bad/bad-aa.yaml",
            &[IGNORED_PAGE_ALERT, IGNORED_TICKET_ALERT, objective_101],
        ),
        (
            "validate/bad/bad-ab.yaml",
            &[IGNORED_PAGE_ALERT, IGNORED_TICKET_ALERT, objective_101],
        ),
        (
            "validate/bad/bad-ba.yaml",
            &[IGNORED_PAGE_ALERT, IGNORED_TICKET_ALERT, objective_101],
        ),
        (
            "validate/bad/bad-k8s.yaml",
            &["error 7:spec.service: service is required"],
        ),
        (
            "validate/bad/bad-multi-k8s.yaml",
            &[
                "error 22:spec.slos[0].alerting.name: alerting.name is required while page or ticket alerts are enabled (it names both alerts); or set pageAlert.disable and ticketAlert.disable",
            ],
        ),
        (
            "validate/bad/bad-multi.yaml",
            &["error 77:slos[1].sli: an SLI type is required: set one of events, raw or plugin"],
        ),
        (
            "validate/bad/bad-openslo.yaml",
            &[
                "error 22:spec.timeWindows[0]: time window of 28 Day is not supported: Sloth reads OpenSLO v1alpha SLOs with a 30 Day window only",
            ],
        ),
        (
            "in-invalid-version.yaml",
            &[
                "error 1:version: unsupported version \"prometheus/v999\": expected \"nines/v1\" (nines) or \"prometheus/v1\" (Sloth)",
            ],
        ),
    ];
    let bad_on_disk = std::fs::read_dir(conformance("sloth/testdata/validate/bad"))
        .expect("conformance folder")
        .count();
    assert_eq!(bad_on_disk, expected.len() - 1, "every bad case is listed");
    for (file, want) in expected {
        let loaded = load(
            &[conformance("sloth/testdata").join(file)],
            &LoadOptions::default(),
        );
        assert!(loaded.report.has_errors(), "{file} must be rejected");
        assert_eq!(render(&loaded.report), *want, "{file}");
    }
}

#[test]
fn sloth_duplicates_across_files_are_reported() {
    let root = conformance("sloth/testdata/validate_with_duplicates");
    let cases: &[(&[&str], &str)] = &[
        (
            &["bad-prom-multi-duplicates.yaml"],
            "duplicate SLO id \"svc01-slo1\"",
        ),
        (
            &[
                "prom/bad-prom-1-original.yaml",
                "prom/bad-prom-1-duplicate.yaml",
            ],
            "duplicate SLO id \"svc01-slo1\"",
        ),
        (
            &[
                "k8s/bad-k8s-1-original.yaml",
                "k8s/bad-k8s-1-duplicate.yaml",
            ],
            "duplicate SLO id \"svc01-slo1\"",
        ),
        (
            &[
                "openslo/bad-openslo-1-original.yaml",
                "openslo/bad-openslo-1-duplicate.yaml",
            ],
            "duplicate SLO id \"svc01-slo1-0\"",
        ),
    ];
    for (files, want) in cases {
        let paths: Vec<PathBuf> = files.iter().map(|file| root.join(file)).collect();
        let errors: Vec<String> = diagnostics(&paths, &LoadOptions::default())
            .into_iter()
            .filter(|line| line.starts_with("error"))
            .collect();
        let all_duplicates = errors.iter().all(|line| line.contains("duplicate SLO id"));
        assert!(
            all_duplicates && errors.iter().any(|line| line.contains(want)),
            "{files:?}: {errors:#?}"
        );
    }
}

/// Inline specs, one problem each: (spec text, expected diagnostics).
#[test]
fn sloth_checks_each_field() {
    let spec = |slo: &str| {
        format!(
            "version: prometheus/v1\nservice: svc\nslos:\n  - name: ok\n    objective: 99\n{slo}    alerting:\n      page_alert: {{disable: true}}\n      ticket_alert: {{disable: true}}\n"
        )
    };
    let events = |error: &str, total: &str| {
        format!(
            "    sli:\n      events:\n        error_query: {error}\n        total_query: {total}\n"
        )
    };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            spec(&events("sum(rate(e[5m]))", "sum(rate(t[{{.window}}]))")),
            vec![
                "error 8:slos[0].sli.events.error_query: query must contain the {{.window}} placeholder where the range goes, like rate(x[{{.window}}])",
            ],
        ),
        (
            spec(&events(
                "sum(rate(e[{{.window}}])",
                "sum(rate(t[{{.window}}]))",
            )),
            vec![
                "error 8:slos[0].sli.events.error_query: invalid PromQL: unclosed left parenthesis",
            ],
        ),
        (
            spec(&events(
                "sum(rate(t[{{.window}}]))",
                "sum(rate(t[{{.window}}]))",
            )),
            vec![
                "error 7:slos[0].sli.events: the error and total queries are the same: the error ratio would always be 1",
            ],
        ),
        (
            spec(
                "    labels: {\"bad-key\": v, empty: \"\"}\n    sli: {raw: {error_ratio_query: \"x[{{.window}}]\"}}\n",
            ),
            vec![
                "error 6:slos[0].labels.bad-key: label key \"bad-key\" is not a valid Prometheus label name: use letters, digits and '_', not starting with a digit",
                "error 6:slos[0].labels.empty: label \"empty\" has an empty value",
            ],
        ),
        (
            spec("    sli: {plugin: {id: sloth-common/availability, options: {filter: x}}}\n"),
            vec![
                "warning 6:slos[0].sli.plugin: SLI plugin \"sloth-common/availability\" is kept but nines cannot run Sloth plugins (Go code loaded by Sloth), so no rules can be generated for this SLO; write its queries under sli.events or sli.raw",
            ],
        ),
        (
            spec(
                "    sli: {raw: {error_ratio_query: \"x[{{.window}}]\"}, events: {error_query: \"e[{{.window}}]\", total_query: \"t[{{.window}}]\"}}\n",
            ),
            vec!["error 6:slos[0].sli: only one SLI type is allowed, found events and raw"],
        ),
        (
            spec("    sli: {raw: {error_ratio_query: \"x[{{.window}}]\", extra: 1}}\n"),
            vec![
                "error 6:slos[0].sli.raw.extra: unknown field `extra`, expected `error_ratio_query`",
            ],
        ),
        (
            spec("    objective: 100\n    sli: {raw: {error_ratio_query: \"x[{{.window}}]\"}}\n")
                .replace("    objective: 99\n", ""),
            vec![
                "error 5:slos[0].objective: objective 100 leaves no error budget: nines needs an objective below 100 (Sloth accepts 100)",
            ],
        ),
    ];
    let mut got_all = Vec::new();
    let mut want_all = Vec::new();
    for (text, want) in cases {
        let loaded = load_texts(
            &[("spec.yaml".to_string(), text.clone())],
            &LoadOptions::default(),
        );
        got_all.push(render(&loaded.report));
        want_all.push(want);
    }
    assert_eq!(got_all, want_all);
}

#[test]
fn sloth_spec_becomes_slo_definitions() {
    let loaded = load(
        &[conformance("sloth/testdata/in-base.yaml")],
        &LoadOptions::default(),
    );
    assert!(!loaded.report.has_errors(), "{}", loaded.report);
    let ids: Vec<&str> = loaded
        .catalog
        .slos
        .iter()
        .map(|slo| slo.id.as_str())
        .collect();
    assert_eq!(ids, ["svc01-slo1", "svc01-slo02"]);
    let slo = &loaded.catalog.slos[0];
    assert!((slo.spec.objective.get() - 0.999).abs() < 1e-12);
    assert!(!slo.window_from_file);
    assert_eq!(slo.spec.window.nominal_period(), Span::days(30));
    assert_eq!(
        slo.labels.get("global01k1").map(String::as_str),
        Some("global01v1")
    );
    assert_eq!(slo.alerting.name.as_deref(), Some("myServiceAlert"));
    assert_eq!(
        slo.alerting
            .page
            .labels
            .get("alert03k1")
            .map(String::as_str),
        Some("alert03v1")
    );
    assert!(matches!(
        slo.sli,
        Sli::EventQueries {
            errors: Some(_),
            good: None,
            ..
        }
    ));
    let windows: Vec<(Severity, String, String)> = slo
        .spec
        .policy
        .pairs
        .iter()
        .map(|pair| {
            (
                pair.severity,
                pair.short_window.to_string(),
                pair.long_window.to_string(),
            )
        })
        .collect();
    let expected = [("5m", "1h"), ("30m", "6h"), ("2h", "1d"), ("6h", "3d")];
    for ((_, short, long), (want_short, want_long)) in windows.iter().zip(expected) {
        assert_eq!((short.as_str(), long.as_str()), (want_short, want_long));
    }

    let k8s = load(
        &[conformance("sloth/testdata/in-base-k8s.yaml")],
        &LoadOptions::default(),
    );
    let meta = k8s.catalog.slos[0]
        .kubernetes
        .as_ref()
        .expect("kubernetes metadata");
    assert_eq!(
        (meta.name.as_str(), meta.namespace.as_deref()),
        ("svc", Some("test-ns"))
    );

    let openslo = load(
        &[conformance("sloth/testdata/in-openslo.yaml")],
        &LoadOptions::default(),
    );
    let ids: Vec<&str> = openslo
        .catalog
        .slos
        .iter()
        .map(|slo| slo.id.as_str())
        .collect();
    assert_eq!(ids, ["svc01-slo1-0"]);
    assert!(openslo.catalog.slos[0].alerting.page.disable);
}

#[test]
fn sloth_periods_need_alert_windows() {
    let spec = conformance("sloth/testdata/in-base.yaml");
    let seven_days = LoadOptions {
        default_period: Span::days(7),
        ..LoadOptions::default()
    };
    let errors = diagnostics(std::slice::from_ref(&spec), &seven_days);
    assert_eq!(
        errors[0],
        "error 6:slos[0]: no alert windows for the SLO period 7d: the built-in ones are for 30d and 28d; give AlertWindows for 7d with --slo-period-windows-path"
    );

    let windows = nines_spec::sloth::load_alert_windows(&conformance("sloth/windows"))
        .expect("7d windows load");
    let policy = &windows[&Span::days(7)];
    let factors: Vec<f64> = policy
        .pairs
        .iter()
        .map(|pair| pair.factor(Span::days(7)))
        .collect();
    for (got, want) in factors.iter().zip([13.44, 3.5, 1.4, 0.98]) {
        assert!((got - want).abs() < 1e-9, "{got} != {want}");
    }
    let with_windows = LoadOptions {
        default_period: Span::days(7),
        alert_windows: windows,
        ..LoadOptions::default()
    };
    assert!(!load(&[spec], &with_windows).report.has_errors());
}

#[test]
fn sloth_alert_windows_report_every_problem() {
    let folder = std::env::temp_dir().join(format!("nines-alert-windows-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("temp folder");
    let text = "apiVersion: sloth.slok.dev/v1\nkind: AlertWindows\nspec:\n  sloPeriod: 7x\n  page:\n    quick: {errorBudgetPercent: 0, shortWindow: 5m, longWindow: 1h}\n    slow: {errorBudgetPercent: 5, shortWindow: 6h, longWindow: 6h}\n  ticket:\n    quick: {errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}\n    slow: {errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}\n";
    std::fs::write(folder.join("bad.yaml"), text).expect("write");
    let report = nines_spec::sloth::load_alert_windows(&folder).expect_err("bad windows");
    let _ = std::fs::remove_dir_all(&folder);
    assert_eq!(
        render(&report),
        [
            "error 4:spec.sloPeriod: invalid duration \"7x\": expected a number followed by a unit (s, m, h, d, w), for example 5m or 30d",
            "error 6:spec.page.quick.errorBudgetPercent: errorBudgetPercent 0 must be above 0 and at most 100",
        ]
    );
}

#[test]
fn sloth_alert_windows_read_the_older_format() {
    let folder = std::env::temp_dir().join(format!("nines-legacy-windows-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("temp folder");
    let text = "version: alertWindows/v1\nsloPeriod: 30d\npage:\n  quick: {errorBudgetPercent: 2, shortWindow: 5m, longWindow: 1h}\n  slow: {errorBudgetPercent: 5, shortWindow: 30m, longWindow: 6h}\nticket:\n  quick: {errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}\n  slow: {errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}\n";
    std::fs::write(folder.join("30d.yaml"), text).expect("write");
    let loaded = nines_spec::sloth::load_alert_windows(&folder);
    let _ = std::fs::remove_dir_all(&folder);
    let windows = loaded.expect("older format loads");
    let builtin = nines_spec::sloth::builtin_alert_windows(Span::days(30)).expect("built-in 30d");
    assert_eq!(windows.get(&Span::days(30)), Some(&builtin));
}

#[test]
fn sloth_openslo_fields_sloth_ignores_are_named() {
    let text = "apiVersion: openslo/v1alpha\nkind: SLO\nmetadata: {name: checkout}\nspec:\n  service: shop\n  budgetingMethod: Timeslices\n  objectives:\n    - target: 0.99\n      timeSliceTarget: 0.9\n      ratioMetrics:\n        good: {source: prometheus, queryType: promql, query: 'sum(rate(ok[{{.window}}]))'}\n        total: {source: prometheus, queryType: promql, query: 'sum(rate(all[{{.window}}]))'}\n  timeWindows:\n    - {count: 30, unit: Day, isRolling: false}\n";
    let loaded = load_texts(
        &[("slo.yaml".to_string(), text.to_string())],
        &LoadOptions::default(),
    );
    assert_eq!(
        render(&loaded.report),
        [
            "warning 6:spec.budgetingMethod: budgetingMethod \"Timeslices\" is read as Occurrences: Sloth's rules count events, not time slices",
            "warning 9:spec.objectives[0].timeSliceTarget: timeSliceTarget is ignored: Sloth reads a ratio objective from target, ratioMetrics.good and ratioMetrics.total",
            "warning 14:spec.timeWindows[0]: a calendar window is read as a rolling one: Sloth's rules only know rolling windows",
        ]
    );
    assert_eq!(loaded.catalog.slos.len(), 1);
}
